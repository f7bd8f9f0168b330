import { Writable } from 'node:stream';
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAliyunSmsSim, type AliyunSmsSim } from '../../../test/aliyun-sms-sim.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { maskPhone } from '../../crypto/pii.js';
import { acsDate, acsPercentEncode, AliyunSmsError, AliyunSmsSender, signAcs3 } from './aliyun-sms.js';
import { smsOutbox } from './auth.schema.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('ACS3-HMAC-SHA256 signing (known answers)', () => {
  it('reproduces the worked example of the Alibaba Cloud V3 signature document', () => {
    // help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature, the RunInstances example:
    // canonical request hash 7ea06492..., signature 06563a9e... (also recomputed with openssl, see below).
    const signed = signAcs3({
      method: 'POST',
      host: 'ecs.cn-shanghai.aliyuncs.com',
      action: 'RunInstances',
      version: '2014-05-26',
      query: { RegionId: 'cn-shanghai', ImageId: 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd' },
      body: '',
      date: '2023-10-26T10:22:32Z',
      nonce: '3156853299f313e23d1673dc12e1703d',
      accessKeyId: 'YourAccessKeyId',
      accessKeySecret: 'YourAccessKeySecret',
    });
    expect(signed.stringToSign).toBe('ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259');
    expect(signed.signature).toBe('06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0');
    expect(signed.headers['authorization']).toBe(
      'ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0',
    );
  });

  it('signs a SendSms request to the value openssl computes from the same canonical request', () => {
    // Expected values from a shell, independently of this code:
    //   printf 'POST\n/\nPhoneNumbers=13800138000&SignName=%E6%99%BA...&TemplateParam=%7B%22code%22%3A%22123456%22%7D\nhost:...\n...' > cr
    //   openssl dgst -sha256 cr                                  -> 7631f097...
    //   printf 'ACS3-HMAC-SHA256\n7631f097...' | openssl dgst -sha256 -hmac testSecret123   -> 3818f02a...
    const signed = signAcs3({
      method: 'POST',
      host: 'dysmsapi.aliyuncs.com',
      action: 'SendSms',
      version: '2017-05-25',
      query: { TemplateParam: '{"code":"123456"}', TemplateCode: 'SMS_123456789', SignName: '智慧社区', PhoneNumbers: '13800138000' },
      body: '',
      date: '2024-05-01T08:00:00Z',
      nonce: '0123456789abcdef0123456789abcdef',
      accessKeyId: 'LTAI5tTestKeyId',
      accessKeySecret: 'testSecret123',
    });
    expect(signed.canonicalRequest).toBe(
      [
        'POST',
        '/',
        'PhoneNumbers=13800138000&SignName=%E6%99%BA%E6%85%A7%E7%A4%BE%E5%8C%BA&TemplateCode=SMS_123456789&TemplateParam=%7B%22code%22%3A%22123456%22%7D',
        'host:dysmsapi.aliyuncs.com',
        'x-acs-action:SendSms',
        `x-acs-content-sha256:${EMPTY_SHA256}`,
        'x-acs-date:2024-05-01T08:00:00Z',
        'x-acs-signature-nonce:0123456789abcdef0123456789abcdef',
        'x-acs-version:2017-05-25',
        '',
        'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version',
        EMPTY_SHA256,
      ].join('\n'),
    );
    expect(signed.stringToSign).toBe('ACS3-HMAC-SHA256\n7631f097611eccde9670b85b68a7c584727279b6de5f0c73c434764e8ab6b6a8');
    expect(signed.signature).toBe('3818f02a49c0e6a2bc8c15484125eaaa6dd984304f583bacc2c640cc0995adad');
    expect(signed.headers['x-acs-content-sha256']).toBe(EMPTY_SHA256);
  });

  it('percent-encodes as RFC 3986 (space %20, * %2A, ~ kept) and dates to the second', () => {
    expect(acsPercentEncode("a b*c~d!'()+/=&")).toBe('a%20b%2Ac~d%21%27%28%29%2B%2F%3D%26');
    expect(acsPercentEncode('é')).toBe('%C3%A9');
    expect(acsDate(new Date('2024-05-01T08:00:00.987Z'))).toBe('2024-05-01T08:00:00Z');
  });
});

const KEY_ID = 'LTAI5tSimulatorKey';
const SECRET = 'sim-secret-0123456789';
const SIGN_NAME = '智慧社区';
const TEMPLATE = 'SMS_465000001';

let sim: AliyunSmsSim;
let h: Harness;
let wrongSecret: Harness;
const lines: string[] = [];
const logTo = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});

const aliyunEnv = (secret: string) => ({
  SMS_PROVIDER: 'aliyun',
  ALIYUN_SMS_ACCESS_KEY_ID: KEY_ID,
  ALIYUN_SMS_ACCESS_KEY_SECRET: secret,
  ALIYUN_SMS_SIGN_NAME: SIGN_NAME,
  ALIYUN_SMS_TEMPLATE_CODE: TEMPLATE,
  ALIYUN_SMS_ENDPOINT: sim.endpoint,
});

beforeAll(async () => {
  sim = await startAliyunSmsSim({ [KEY_ID]: SECRET }, { signName: SIGN_NAME, templateCode: TEMPLATE });
  h = await createHarness({ env: aliyunEnv(SECRET), logTo });
  wrongSecret = await createHarness({ env: aliyunEnv('not-the-secret'), logTo });
});
afterAll(async () => {
  await h?.close();
  await wrongSecret?.close();
  await sim?.close();
});

const phonesUsed: string[] = [];
let counter = 0;
function freshPhone(): { phone: string; ip: string } {
  counter++;
  const phone = `1350000${String(counter).padStart(4, '0')}`;
  phonesUsed.push(phone);
  return { phone, ip: `10.44.0.${counter}` };
}

const post = (harness: Harness, path: string, body: unknown, ip: string) =>
  harness.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip }, body: JSON.stringify(body) });

async function outboxRows(harness: Harness, phone: string) {
  return harness.deps.db.select().from(smsOutbox).where(eq(smsOutbox.phoneMasked, maskPhone(phone))).orderBy(desc(smsOutbox.createdAt));
}

describe('Aliyun SMS adapter against the simulator', () => {
  it('is the sender deps.ts chooses for SMS_PROVIDER=aliyun', () => {
    expect(h.deps.sms).toBeInstanceOf(AliyunSmsSender);
    expect(h.deps.sms.provider).toBe('aliyun');
  });

  it('delivers a login code: the simulator gets the phone and template param, and the code logs in', async () => {
    const { phone, ip } = freshPhone();
    const sent = await post(h, '/v1/auth/sms-codes', { phone: `+86 ${phone}` }, ip);
    expect(sent.status).toBe(202);

    const got = sim.received.at(-1)!;
    expect(got).toMatchObject({ phone, signName: SIGN_NAME, templateCode: TEMPLATE, code: 'OK' });
    expect(Object.keys(got.templateParam)).toEqual(['code']);
    const code = got.templateParam['code']!;
    expect(code).toMatch(/^\d{6}$/);

    const login = await post(h, '/v1/auth/resident-login', { phone, code }, ip);
    expect(login.status).toBe(200);

    const [row] = await outboxRows(h, phone);
    expect(row).toMatchObject({ provider: 'aliyun', delivered: true, error: null, phoneMasked: maskPhone(phone), template: 'login_code' });
    expect(row!.providerMessageId).toMatch(/^\d+\^0$/);
    expect(h.deps.vault.decrypt(row!.phoneEnc, 'phone')).toBe(phone);
    expect(JSON.stringify(row)).not.toContain(phone);
    // The code went to the phone only: the stored text has it blanked.
    expect(row!.body).not.toContain(code);
  });

  it('answers 502 sms-delivery-failed and records the refusal when the signature does not match (wrong secret)', async () => {
    const { phone, ip } = freshPhone();
    const before = sim.received.length;
    const res = await post(wrongSecret, '/v1/auth/sms-codes', { phone }, ip);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { type: string }).type).toBe('/problems/sms-delivery-failed');
    expect(sim.answers.at(-1)).toBe('SignatureDoesNotMatch');
    expect(sim.received.length).toBe(before);

    const [row] = await outboxRows(wrongSecret, phone);
    expect(row).toMatchObject({ provider: 'aliyun', delivered: false, error: 'SignatureDoesNotMatch: Specified signature does not match our calculation.' });
    expect(row!.providerMessageId).toMatch(/^[0-9A-F-]{36}$/); // the RequestId, for a support ticket
    expect(JSON.stringify(row)).not.toContain(phone);
  });

  it('answers 502 on isv.BUSINESS_LIMIT_CONTROL, spends the code, and records the error', async () => {
    const { phone, ip } = freshPhone();
    sim.failNext('isv.BUSINESS_LIMIT_CONTROL', '触发分钟级流控Permits:1');
    const res = await post(h, '/v1/auth/sms-codes', { phone }, ip);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { type: string }).type).toBe('/problems/sms-delivery-failed');
    const refused = sim.received.at(-1)!;
    expect(refused).toMatchObject({ phone, code: 'isv.BUSINESS_LIMIT_CONTROL' });

    const [row] = await outboxRows(h, phone);
    expect(row).toMatchObject({ delivered: false, error: 'isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控Permits:1' });
    // The undelivered code is dead even though it reached the carrier.
    const login = await post(h, '/v1/auth/resident-login', { phone, code: refused.templateParam['code'] }, ip);
    expect(login.status).toBe(400);
  });

  it('gives up after the timeout and records it', async () => {
    const { phone } = freshPhone();
    const sender = new AliyunSmsSender(h.deps, { accessKeyId: KEY_ID, accessKeySecret: SECRET, signName: SIGN_NAME, templateCode: TEMPLATE, endpoint: sim.endpoint, timeoutMs: 200 });
    sim.delayMs = 1000;
    try {
      const error = await sender.send({ phone, template: 'login_code', params: { code: '123456' } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AliyunSmsError);
      expect((error as AliyunSmsError).providerCode).toBe('Timeout');
      expect((error as Error).message).not.toContain(phone);
    } finally {
      sim.delayMs = 0;
    }
    const [row] = await outboxRows(h, phone);
    expect(row).toMatchObject({ delivered: false, error: 'Timeout: no answer within 200 ms' });
  });

  it('the simulator refuses a stale date and a reused nonce, as Alibaba Cloud does', async () => {
    const url = new URL(sim.endpoint);
    const sign = (date: Date, nonce: string) =>
      signAcs3({
        method: 'POST',
        host: url.host,
        action: 'SendSms',
        version: '2017-05-25',
        query: { PhoneNumbers: '13500009999', SignName: SIGN_NAME, TemplateCode: TEMPLATE, TemplateParam: '{"code":"000000"}' },
        body: '',
        date: acsDate(date),
        nonce,
        accessKeyId: KEY_ID,
        accessKeySecret: SECRET,
      });
    const send = async (signed: ReturnType<typeof sign>) => {
      const res = await fetch(`${sim.endpoint}/?${signed.queryString}`, { method: 'POST', headers: signed.headers });
      return { status: res.status, body: (await res.json()) as { Code: string } };
    };
    const stale = await send(sign(new Date(Date.now() - 16 * 60_000), 'stale-nonce-1'));
    expect(stale).toMatchObject({ status: 400, body: { Code: 'InvalidTimeStamp.Expired' } });

    const once = sign(new Date(), 'replayed-nonce-1');
    expect((await send(once)).body.Code).toBe('OK');
    expect(await send(once)).toMatchObject({ status: 400, body: { Code: 'SignatureNonceUsed' } });

    // A query string altered after signing no longer matches.
    const tampered = sign(new Date(), 'tampered-nonce-1');
    const res = await fetch(`${sim.endpoint}/?${tampered.queryString.replace('13500009999', '13500008888')}`, { method: 'POST', headers: tampered.headers });
    expect(((await res.json()) as { Code: string }).Code).toBe('SignatureDoesNotMatch');
  });

  it('never writes a phone number in clear to the log', () => {
    const log = lines.join('');
    expect(log).toContain('SMS sent through Aliyun');
    expect(log).toContain('Aliyun SMS refused the message');
    expect(log).toContain(maskPhone(phonesUsed[0]!));
    for (const phone of phonesUsed) expect(log, `log holds ${maskPhone(phone)}`).not.toContain(phone);
  });
});
