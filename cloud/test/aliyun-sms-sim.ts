import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Alibaba Cloud SMS (dysmsapi SendSms 2017-05-25) on 127.0.0.1, speaking its wire format.
 * It checks a request the way the gateway does, from what it RECEIVES: it rebuilds the V3 canonical
 * request from the raw query string and headers with its own canonicalisation (deliberately not the
 * adapter's helpers), checks the content hash, the credential, the signature, the date (15 minutes) and
 * that no nonce comes twice, then answers like Alibaba Cloud.
 * Rules: https://help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature
 */
export type SimReceived = {
  phone: string;
  signName: string;
  templateCode: string;
  templateParam: Record<string, string>;
  code: string;
};

export type AliyunSmsSim = {
  endpoint: string;
  /** Every request that passed authentication, in order. */
  received: SimReceived[];
  /** Every answer code given, authentication failures included. */
  answers: string[];
  /** The next n authenticated sends get this business error instead of OK (HTTP 200, as Aliyun does). */
  failNext(code: string, message: string, n?: number): void;
  /** Holds each answer this long (for timeouts). */
  delayMs: number;
  close(): Promise<void>;
};

/** RFC 3986, byte by byte over UTF-8: unreserved characters stay, everything else becomes %XX (upper case). */
function rfc3986(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function parseRawQuery(raw: string): [string, string][] {
  if (raw === '') return [];
  return raw.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    return [decodeURIComponent(name), decodeURIComponent(value)];
  });
}

export async function startAliyunSmsSim(credentials: Record<string, string>, options: { signName: string; templateCode: string }): Promise<AliyunSmsSim> {
  const seenNonces = new Set<string>();
  const forced: { code: string; message: string }[] = [];
  const sim: Omit<AliyunSmsSim, 'endpoint' | 'close'> = {
    received: [],
    answers: [],
    delayMs: 0,
    failNext(code, message, n = 1) {
      for (let i = 0; i < n; i++) forced.push({ code, message });
    },
  };

  const answer = async (res: ServerResponse, status: number, body: Record<string, string>) => {
    if (sim.delayMs > 0) await new Promise((r) => setTimeout(r, sim.delayMs));
    sim.answers.push(body['Code'] ?? '?');
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify({ RequestId: randomUUID().toUpperCase(), ...body }));
  };
  const refuse = (res: ServerResponse, status: number, code: string, message: string) => answer(res, status, { Code: code, Message: message, HostId: 'dysmsapi.aliyuncs.com' });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);

    const auth = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(String(req.headers['authorization'] ?? ''));
    if (!auth) return refuse(res, 400, 'MissingAuthorization', 'Authorization is mandatory for this action.');
    const [, keyId, signedHeaderList, givenSignature] = auth as unknown as [string, string, string, string];
    const secret = credentials[keyId];
    if (secret === undefined) return refuse(res, 404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

    const signedNames = signedHeaderList.split(';');
    const lower = (s: string) => s.toLowerCase();
    const mustSign = Object.keys(req.headers).filter((n) => n === 'host' || n.startsWith('x-acs-'));
    if (signedNames.some((n) => n !== lower(n)) || [...signedNames].sort().join(';') !== signedHeaderList || mustSign.some((n) => !signedNames.includes(n))) {
      return refuse(res, 400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation.');
    }
    const contentSha = String(req.headers['x-acs-content-sha256'] ?? '');
    if (contentSha !== createHash('sha256').update(body).digest('hex')) return refuse(res, 400, 'ContentSHA256NotMatch', 'The x-acs-content-sha256 does not match the body.');

    let params: [string, string][];
    try {
      params = parseRawQuery(rawQuery);
    } catch {
      return refuse(res, 400, 'InvalidParameter', 'The query string is not valid percent-encoding.');
    }
    const canonicalQuery = params
      .map(([n, v]) => [rfc3986(n), rfc3986(v)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([n, v]) => `${n}=${v}`)
      .join('&');
    let canonicalHeaders = '';
    for (const name of signedNames) canonicalHeaders += `${name}:${String(req.headers[name] ?? '').trim()}\n`;
    const canonicalRequest = `${req.method}\n${path}\n${canonicalQuery}\n${canonicalHeaders}\n${signedHeaderList}\n${contentSha}`;
    const stringToSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')}`;
    const expected = Buffer.from(createHmac('sha256', secret).update(stringToSign, 'utf8').digest('hex'));
    if (expected.length !== givenSignature.length || !timingSafeEqual(expected, Buffer.from(givenSignature))) {
      return refuse(res, 400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation.');
    }

    const date = String(req.headers['x-acs-date'] ?? '');
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(date)) return refuse(res, 400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    if (Math.abs(Date.now() - Date.parse(date)) > 15 * 60_000) return refuse(res, 400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    const nonce = String(req.headers['x-acs-signature-nonce'] ?? '');
    if (!nonce) return refuse(res, 400, 'MissingSignatureNonce', 'SignatureNonce is mandatory for this action.');
    if (seenNonces.has(nonce)) return refuse(res, 400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    seenNonces.add(nonce);

    if (req.method !== 'POST' || path !== '/' || req.headers['x-acs-action'] !== 'SendSms' || req.headers['x-acs-version'] !== '2017-05-25') {
      return refuse(res, 404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
    }
    const p = new Map(params);
    const phone = p.get('PhoneNumbers') ?? '';
    let templateParam: Record<string, string> = {};
    try {
      templateParam = JSON.parse(p.get('TemplateParam') ?? '{}') as Record<string, string>;
    } catch {
      return answer(res, 200, { Code: 'isv.INVALID_JSON_PARAM', Message: 'JSON参数不合法，只接受字符串值' });
    }
    if (!/^1\d{10}$/.test(phone)) return answer(res, 200, { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '非法手机号' });
    if (p.get('SignName') !== options.signName) return answer(res, 200, { Code: 'isv.SMS_SIGNATURE_ILLEGAL', Message: '该账号下找不到对应签名' });
    if (p.get('TemplateCode') !== options.templateCode) return answer(res, 200, { Code: 'isv.SMS_TEMPLATE_ILLEGAL', Message: '该账号下找不到对应模板' });
    const failure = forced.shift();
    sim.received.push({ phone, signName: p.get('SignName')!, templateCode: p.get('TemplateCode')!, templateParam, code: failure?.code ?? 'OK' });
    if (failure) return answer(res, 200, { Code: failure.code, Message: failure.message });
    return answer(res, 200, { Code: 'OK', Message: 'OK', BizId: `${Date.now()}^0` });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(sim, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
