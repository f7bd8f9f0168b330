import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { AppDeps } from '../../context.js';
import { maskPhone } from '../../crypto/pii.js';
import { smsOutbox } from './auth.schema.js';
import { renderSms, type SmsMessage, type SmsReceipt, type SmsSender } from './sms-sender.js';

export const ALIYUN_SMS_DEFAULT_ENDPOINT = 'https://dysmsapi.aliyuncs.com';
export const ALIYUN_SMS_ACTION = 'SendSms';
export const ALIYUN_SMS_VERSION = '2017-05-25';
export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

/*
 * Alibaba Cloud OpenAPI request signature V3 (ACS3-HMAC-SHA256), as documented in
 * "V3版本请求体&签名机制" / "Request syntax and signature method V3":
 *   https://help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature
 *   https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature
 *
 *   CanonicalRequest = HTTPRequestMethod '\n' CanonicalURI '\n' CanonicalQueryString '\n'
 *                      CanonicalHeaders '\n' SignedHeaders '\n' HashedRequestPayload
 *   - CanonicalURI: "/" for an RPC-style API such as SendSms.
 *   - CanonicalQueryString: parameters sorted by name; name and value each percent-encoded as RFC 3986
 *     over UTF-8 (A-Z a-z 0-9 - _ . ~ kept; space -> %20, * -> %2A, ~ not encoded), joined "name=value"
 *     with "&"; a parameter without a value gets the empty string.
 *   - CanonicalHeaders: every signed header as lower-case-name ":" trimmed-value "\n", sorted by name
 *     (so the block ends in "\n" and the request holds an empty line before SignedHeaders).
 *   - SignedHeaders: the same lower-case names joined with ";". Every common header except
 *     Authorization is signed (host and the x-acs-* headers).
 *   - HashedRequestPayload: hex SHA-256 of the body, also sent as x-acs-content-sha256; the empty body of
 *     a query-string request hashes to e3b0c442...b855.
 *   StringToSign = "ACS3-HMAC-SHA256\n" + hex SHA-256(CanonicalRequest)
 *   Signature    = hex HMAC-SHA256(AccessKeySecret, StringToSign)
 *   Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<...>,Signature=<...>
 *   x-acs-date is ISO 8601 UTC to the second (2018-01-01T12:00:00Z) and must be within 15 minutes of the
 *   server's clock; x-acs-signature-nonce must differ on every request (replay protection).
 * The worked example of that document (RunInstances, signature 06563a9e...) is a test in aliyun-sms.test.ts.
 */

/** RFC 3986 percent-encoding of the V3 signature: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function acsPercentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');

export type Acs3Input = {
  method: 'GET' | 'POST';
  /** The host header as sent: name, plus ":port" when the port is not the scheme's default. */
  host: string;
  action: string;
  version: string;
  query: Record<string, string>;
  body: string;
  /** yyyy-MM-ddTHH:mm:ssZ */
  date: string;
  nonce: string;
  accessKeyId: string;
  accessKeySecret: string;
};

export type Acs3Signed = {
  /** The canonical query string, which is also the query string to send, byte for byte. */
  queryString: string;
  /** Every header to send, authorization included. */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
};

/** Signs one request with ACS3-HMAC-SHA256 (see the comment above for the rules and their source). */
export function signAcs3(input: Acs3Input): Acs3Signed {
  const queryString = Object.keys(input.query)
    .sort()
    .map((name) => `${acsPercentEncode(name)}=${acsPercentEncode(input.query[name] ?? '')}`)
    .join('&');
  const hashedPayload = sha256Hex(input.body);
  const signed: Record<string, string> = {
    host: input.host,
    'x-acs-action': input.action,
    'x-acs-content-sha256': hashedPayload,
    'x-acs-date': input.date,
    'x-acs-signature-nonce': input.nonce,
    'x-acs-version': input.version,
  };
  const names = Object.keys(signed).sort();
  const canonicalHeaders = names.map((name) => `${name}:${signed[name]!.trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [input.method, '/', queryString, canonicalHeaders, signedHeaders, hashedPayload].join('\n');
  const stringToSign = `${ACS3_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', input.accessKeySecret).update(stringToSign, 'utf8').digest('hex');
  return {
    queryString,
    headers: { ...signed, authorization: `${ACS3_ALGORITHM} Credential=${input.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}` },
    canonicalRequest,
    stringToSign,
    signature,
  };
}

/** 2024-05-01T08:00:00.123Z -> 2024-05-01T08:00:00Z */
export function acsDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export type AliyunSmsOptions = {
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  templateCode: string;
  endpoint?: string;
  timeoutMs?: number;
  /** The wall clock the signature date comes from: Alibaba Cloud checks it against its own. */
  clock?: () => Date;
};

type Outcome = { ok: true; bizId: string | null; requestId: string | null } | { ok: false; code: string; message: string; requestId: string | null };

type SendSmsResponse = { Code?: unknown; Message?: unknown; BizId?: unknown; RequestId?: unknown };

/** A send that Alibaba Cloud did not accept. The message names the code, never the phone. */
export class AliyunSmsError extends Error {
  constructor(
    /** Not `code`: the logger redacts every `code` field (login codes), and this one should be read. */
    readonly providerCode: string,
    detail: string,
    readonly requestId: string | null,
  ) {
    super(`Aliyun SendSms failed: ${providerCode}${detail ? ` (${detail})` : ''}`);
    this.name = 'AliyunSmsError';
  }
}

/**
 * Alibaba Cloud SMS (dysmsapi SendSms, 2017-05-25), signed with V3. Every attempt, accepted or not, is
 * recorded in sms_outbox with the phone encrypted and masked, the BizId (or, without one, the RequestId)
 * and the error; the stored text has the code blanked, since it went to the phone and nowhere else.
 * Anything but Code "OK" (a carrier refusal, a non-2xx answer, a timeout, a network error) throws
 * AliyunSmsError, which sendLoginCode turns into 502 sms-delivery-failed.
 */
export class AliyunSmsSender implements SmsSender {
  readonly provider = 'aliyun';
  private readonly endpoint: URL;

  constructor(
    private readonly deps: Pick<AppDeps, 'db' | 'vault' | 'log' | 'now'>,
    private readonly options: AliyunSmsOptions,
  ) {
    this.endpoint = new URL(options.endpoint ?? ALIYUN_SMS_DEFAULT_ENDPOINT);
  }

  async send(message: SmsMessage): Promise<SmsReceipt> {
    const to = maskPhone(message.phone);
    const outcome = await this.call(message);
    const blanked = Object.fromEntries(Object.keys(message.params).map((k) => [k, '******']));
    const error = outcome.ok ? null : `${outcome.code}: ${outcome.message}`.slice(0, 500);
    await this.deps.db.insert(smsOutbox).values({
      phoneEnc: this.deps.vault.encrypt(message.phone, 'phone'),
      phoneMasked: to,
      template: message.template,
      body: renderSms({ ...message, params: blanked }),
      provider: this.provider,
      delivered: outcome.ok,
      providerMessageId: outcome.ok ? (outcome.bizId ?? outcome.requestId) : outcome.requestId,
      error,
      createdAt: this.deps.now(),
    });
    if (!outcome.ok) {
      this.deps.log.warn({ to, template: message.template, providerCode: outcome.code, requestId: outcome.requestId }, 'Aliyun SMS refused the message');
      throw new AliyunSmsError(outcome.code, outcome.message, outcome.requestId);
    }
    this.deps.log.info({ to, template: message.template, bizId: outcome.bizId, requestId: outcome.requestId }, 'SMS sent through Aliyun');
    return { provider: this.provider, messageId: outcome.bizId ?? outcome.requestId };
  }

  private async call(message: SmsMessage): Promise<Outcome> {
    // The carrier's own message could quote the number back; it is stored and logged, so mask it.
    const scrub = (text: string) => text.replaceAll(message.phone, maskPhone(message.phone)).slice(0, 300);
    const timeoutMs = this.options.timeoutMs ?? 5000;
    const signed = signAcs3({
      method: 'POST',
      host: this.endpoint.host,
      action: ALIYUN_SMS_ACTION,
      version: ALIYUN_SMS_VERSION,
      query: {
        PhoneNumbers: message.phone,
        SignName: this.options.signName,
        TemplateCode: this.options.templateCode,
        TemplateParam: JSON.stringify(message.params),
      },
      body: '',
      date: acsDate((this.options.clock ?? (() => new Date()))()),
      nonce: randomBytes(16).toString('hex'),
      accessKeyId: this.options.accessKeyId,
      accessKeySecret: this.options.accessKeySecret,
    });
    const url = new URL('/', this.endpoint);
    // Sent exactly as signed: the server recomputes the canonical query string from what it receives.
    url.search = `?${signed.queryString}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method: 'POST', headers: signed.headers, signal: AbortSignal.timeout(timeoutMs) });
      text = await response.text();
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') return { ok: false, code: 'Timeout', message: `no answer within ${timeoutMs} ms`, requestId: null };
      const cause = (error as { cause?: { code?: unknown } }).cause?.code;
      return { ok: false, code: 'NetworkError', message: scrub(typeof cause === 'string' ? cause : (error as Error).message), requestId: null };
    }
    let body: SendSmsResponse | null = null;
    try {
      body = JSON.parse(text) as SendSmsResponse;
    } catch {
      body = null;
    }
    const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    const requestId = str(body?.RequestId);
    const code = str(body?.Code);
    if (response.ok && code === 'OK') return { ok: true, bizId: str(body?.BizId), requestId };
    return {
      ok: false,
      code: code ?? `HTTP${response.status}`,
      message: scrub(str(body?.Message) ?? (response.ok ? 'answer without Code "OK"' : `HTTP ${response.status}`)),
      requestId,
    };
  }
}
