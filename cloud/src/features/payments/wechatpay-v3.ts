/**
 * WeChat Pay API v3 (微信支付 APIv3) wire protocol for a direct merchant (普通商户), as pure functions: no
 * HTTP client, no database, no clock or randomness that the caller cannot pin. Used on both sides:
 *
 * - merchant side (our cloud's WeChat Pay adapter): sign requests, verify the platform's response and
 *   callback signatures, decrypt callback resources, build request bodies and paths, sign the JSAPI
 *   payment parameters for the phone, read the trade bill;
 * - platform side (the local sandbox that plays WeChat Pay's servers): verify a merchant's request,
 *   sign responses and callbacks, encrypt callback resources, write the trade bill.
 *
 * Official documents (中文, pay.weixin.qq.com; the older `docs/merchant/...` addresses redirect to the
 * `doc/v3/merchant/<id>` pages). Addresses marked (*) were written from memory of the site's layout and
 * not re-checked when this was written; the others were read.
 * - 签名生成 (signature generation), the `Authorization` header:
 *   https://pay.weixin.qq.com/doc/v3/merchant/4012365336 ,
 *   https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-generation.html
 * - 签名验证 (signature verification) of responses and callbacks, with platform certificates or the newer
 *   微信支付公钥 (`PUB_KEY_ID_…` serials):
 *   https://pay.weixin.qq.com/docs/merchant/development/interface-rules/signature-verification.html (*),
 *   https://pay.weixin.qq.com/docs/merchant/development/interface-rules/build-verify-sign-src.html
 * - 证书和回调报文解密 (certificate and callback decryption), AEAD_AES_256_GCM:
 *   https://pay.weixin.qq.com/docs/merchant/development/interface-rules/certificate-callback-decryption.html
 * - Native下单: https://pay.weixin.qq.com/doc/v3/merchant/4012791877
 * - JSAPI/小程序下单: https://pay.weixin.qq.com/doc/v3/merchant/4012791897
 * - JSAPI调起支付 (paySign): https://pay.weixin.qq.com/doc/v3/merchant/4012791857
 * - 商户订单号查询订单: https://pay.weixin.qq.com/doc/v3/merchant/4013070356
 * - 关闭订单: https://pay.weixin.qq.com/doc/v3/merchant/4013070360
 * - 支付成功回调通知 (TRANSACTION.SUCCESS):
 *   https://pay.weixin.qq.com/docs/merchant/apis/native-payment/payment-notice.html (*)
 * - 申请退款: https://pay.weixin.qq.com/docs/merchant/apis/native-payment/create.html (*)
 * - 退款结果通知 (REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED):
 *   https://pay.weixin.qq.com/doc/v3/merchant/4012082022
 * - 申请交易账单: https://pay.weixin.qq.com/docs/merchant/apis/native-payment/get-trade-bill.html
 * - 交易账单文件格式说明: https://pay.weixin.qq.com/docs/merchant/products/bill-download/format-trade.html
 *
 * Conventions here: money is always integer fen (分), the unit the API itself uses; times sent to WeChat
 * Pay are RFC 3339 in Beijing time (`+08:00`); verification functions return a typed result with a stable
 * `reason` and never throw on hostile input; parsers of incoming data throw {@link WechatPayFormatError}
 * with a message naming the field; builders throw `RangeError` on arguments we would never send.
 */
import {
  X509Certificate,
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  randomInt,
  randomUUID,
  sign as rsaSign,
  verify as rsaVerify,
  type KeyObject,
} from 'node:crypto';
import { parseYuanText, yuanText } from '@estate/protocol';

// ---------------------------------------------------------------------------------------------------
// Shared

/** The only signature scheme of APIv3: SHA256withRSA (PKCS#1 v1.5) with a 2048-bit key, base64. */
export const SIGNATURE_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat Pay refuses requests, and merchants should refuse responses and callbacks, older or newer than this. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** A key as PEM text (PKCS#8 / PKCS#1 / SPKI, or an X.509 certificate for public keys) or a `KeyObject`. */
export type KeyInput = string | KeyObject;

/** Incoming data that does not follow the protocol (a body, a notification, a bill). */
export class WechatPayFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WechatPayFormatError';
  }
}

/** HTTP headers as Node gives them (`IncomingMessage.headers`), a plain record, or a fetch `Headers`. */
export type HeaderBag = Headers | { readonly [name: string]: string | readonly string[] | undefined };

const REPEATED = Symbol('repeated header');

/** Case-insensitive header lookup. A header repeated with different values is reported as {@link REPEATED}. */
function readHeader(headers: HeaderBag, name: string): string | undefined | typeof REPEATED {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  let found: string | undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    const values = typeof value === 'string' ? [value] : value;
    for (const v of values) {
      if (found !== undefined && found !== v) return REPEATED;
      found = v;
    }
  }
  return found;
}

function toPrivateKey(key: KeyInput): KeyObject {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  if (k.type !== 'private') throw new TypeError('a private key is needed to sign');
  if (k.asymmetricKeyType !== 'rsa') throw new TypeError(`WeChat Pay signs with RSA keys, not ${k.asymmetricKeyType ?? 'unknown'}`);
  return k;
}

function toPublicKey(key: KeyInput): KeyObject {
  let k: KeyObject;
  if (typeof key !== 'string') k = key.type === 'public' ? key : createPublicKey(key);
  else if (key.includes('-----BEGIN CERTIFICATE-----')) k = new X509Certificate(key).publicKey;
  else k = createPublicKey(key);
  if (k.asymmetricKeyType !== 'rsa') throw new TypeError(`WeChat Pay verifies with RSA keys, not ${k.asymmetricKeyType ?? 'unknown'}`);
  return k;
}

function rsaSha256Sign(message: string, privateKey: KeyInput): string {
  return rsaSign('sha256', Buffer.from(message, 'utf8'), { key: toPrivateKey(privateKey), padding: constants.RSA_PKCS1_PADDING }).toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** RSA signature check; false for anything that is not a well-formed base64 signature. */
function rsaSha256Verify(message: string, signatureBase64: string, publicKey: KeyInput): boolean {
  if (signatureBase64.length === 0 || !BASE64.test(signatureBase64)) return false;
  return rsaVerify(
    'sha256',
    Buffer.from(message, 'utf8'),
    { key: toPublicKey(publicKey), padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(signatureBase64, 'base64'),
  );
}

/** Seconds since the epoch, as WeChat Pay counts them. */
export function epochSeconds(at: Date = new Date()): number {
  return Math.floor(at.getTime() / 1000);
}

/** 32 upper-case hex characters, like the documents' examples (`593BEC0C930BF1AFEB40B4A08C8FB242`). */
export function randomNonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** A value that goes into a signed line or a quoted header field: printable ASCII, no `"` `,` or spaces. */
function assertToken(what: string, value: string): void {
  if (!/^[\x21-\x7e]+$/.test(value) || value.includes('"') || value.includes(',')) {
    throw new RangeError(`${what} must be printable ASCII without spaces, quotes or commas, got ${JSON.stringify(value)}`);
  }
}

function assertTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError(`timestamp must be whole seconds since the epoch, got ${timestamp}`);
}

function timestampSkew(timestamp: string, now: Date, maxSkewSeconds: number): string | null {
  const skew = epochSeconds(now) - Number(timestamp);
  if (Math.abs(skew) <= maxSkewSeconds) return null;
  return skew > 0 ? `timestamp is ${skew} s old (limit ${maxSkewSeconds} s)` : `timestamp is ${-skew} s in the future (limit ${maxSkewSeconds} s)`;
}

// ---------------------------------------------------------------------------------------------------
// Request signature (签名生成): merchant signs, platform (sandbox) verifies

export interface RequestSignatureInput {
  /** HTTP method; upper-cased. */
  method: string;
  /** The URL without scheme and host, with the query string exactly as sent: `/v3/pay/transactions/out-trade-no/X?mchid=1`. */
  urlPathWithQuery: string;
  /** Whole seconds since the epoch. */
  timestamp: number;
  nonce: string;
  /** The exact body bytes sent (as a string); '' for GET and for requests without a body. */
  body: string;
}

/**
 * The signed message of a request: five lines, each ending in `\n`, the last one included:
 * `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`.
 */
export function requestSignatureMessage(input: RequestSignatureInput): string {
  const method = input.method.toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new RangeError(`not an HTTP method: ${JSON.stringify(input.method)}`);
  if (!input.urlPathWithQuery.startsWith('/') || /[\s]/.test(input.urlPathWithQuery)) {
    throw new RangeError(`the signed URL is the path and query only (no scheme, host or spaces), got ${JSON.stringify(input.urlPathWithQuery)}`);
  }
  assertTimestamp(input.timestamp);
  assertToken('nonce', input.nonce);
  return `${method}\n${input.urlPathWithQuery}\n${input.timestamp}\n${input.nonce}\n${input.body}\n`;
}

export interface SignRequestInput {
  method: string;
  urlPathWithQuery: string;
  /** The exact JSON string that will be sent; omit (or '') for GET. */
  body?: string;
  /** 商户号. */
  mchid: string;
  /** Serial number of the merchant API certificate (商户API证书序列号) whose private key signs. */
  serialNo: string;
  /** The merchant API private key (`apiclient_key.pem`). */
  privateKey: KeyInput;
  /** Defaults to now. */
  timestamp?: number;
  /** Defaults to 32 random hex characters. */
  nonce?: string;
}

/**
 * The `Authorization` header value of a merchant request:
 * `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`.
 * Send exactly `body` and `urlPathWithQuery` as signed: any re-serialisation breaks the signature.
 */
export function signRequest(input: SignRequestInput): string {
  assertToken('mchid', input.mchid);
  assertToken('serialNo', input.serialNo);
  const timestamp = input.timestamp ?? epochSeconds();
  const nonce = input.nonce ?? randomNonce();
  const message = requestSignatureMessage({ method: input.method, urlPathWithQuery: input.urlPathWithQuery, timestamp, nonce, body: input.body ?? '' });
  const signature = rsaSha256Sign(message, input.privateKey);
  return `${SIGNATURE_SCHEME} mchid="${input.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${input.serialNo}"`;
}

export interface AuthorizationFields {
  mchid: string;
  nonceStr: string;
  signature: string;
  /** Decimal seconds, as sent. */
  timestamp: string;
  serialNo: string;
}

const AUTHORIZATION_PARAM = /\s*([A-Za-z_]+)="([^"]*)"\s*(?:,|$)/y;
const AUTHORIZATION_KEYS = { mchid: 'mchid', nonce_str: 'nonceStr', signature: 'signature', timestamp: 'timestamp', serial_no: 'serialNo' } as const;

/**
 * Reads an `Authorization` header. The five parameters may come in any order (the document says so);
 * unknown parameters are ignored, a repeated one is refused. Throws {@link WechatPayFormatError}.
 */
export function parseAuthorization(header: string): AuthorizationFields {
  const trimmed = header.trim();
  const prefix = `${SIGNATURE_SCHEME} `;
  if (!trimmed.startsWith(prefix)) throw new WechatPayFormatError(`Authorization must start with "${prefix}"`);
  const params = trimmed.slice(prefix.length);
  const found: Partial<Record<keyof AuthorizationFields, string>> = {};
  AUTHORIZATION_PARAM.lastIndex = 0;
  while (AUTHORIZATION_PARAM.lastIndex < params.length) {
    const start = AUTHORIZATION_PARAM.lastIndex;
    const m = AUTHORIZATION_PARAM.exec(params);
    if (!m) throw new WechatPayFormatError(`Authorization parameters are not name="value" pairs at offset ${start}`);
    const name = m[1]!;
    if (!Object.hasOwn(AUTHORIZATION_KEYS, name)) continue;
    const field = AUTHORIZATION_KEYS[name as keyof typeof AUTHORIZATION_KEYS];
    if (found[field] !== undefined) throw new WechatPayFormatError(`Authorization repeats ${name}`);
    found[field] = m[2]!;
  }
  for (const [name, field] of Object.entries(AUTHORIZATION_KEYS)) {
    if (!found[field]) throw new WechatPayFormatError(`Authorization lacks ${name}`);
  }
  if (!/^\d{1,12}$/.test(found.timestamp!)) throw new WechatPayFormatError('Authorization timestamp must be decimal seconds');
  return found as AuthorizationFields;
}

export type RequestVerificationFailure =
  | 'missing-header'
  | 'malformed-authorization'
  | 'mchid-mismatch'
  | 'unknown-serial'
  | 'stale-timestamp'
  | 'bad-signature';

export type RequestVerification =
  | { ok: true; mchid: string; serialNo: string }
  | { ok: false; reason: RequestVerificationFailure; detail: string };

export interface VerifyRequestInput {
  /** The method, path-with-query and body of the request as actually received: never taken from the header. */
  method: string;
  urlPathWithQuery: string;
  body: string;
  /** The `Authorization` header as received. */
  authorization: string | undefined;
  /** The merchant's public keys by certificate serial number (`serial_no`). */
  keys: ReadonlyMap<string, KeyInput>;
  /** When set, a request naming another `mchid` is refused. */
  expectedMchid?: string;
  now?: Date;
  maxSkewSeconds?: number;
}

/**
 * Platform side (the sandbox): checks a merchant request the way WeChat Pay does (it answers 401
 * `SIGN_ERROR` when this fails). The message is rebuilt from what was received, so a signature made for
 * another path, query, method or body does not pass.
 */
export function verifyRequestSignature(input: VerifyRequestInput): RequestVerification {
  if (input.authorization === undefined || input.authorization === '') return { ok: false, reason: 'missing-header', detail: 'no Authorization header' };
  let auth: AuthorizationFields;
  try {
    auth = parseAuthorization(input.authorization);
  } catch (err) {
    return { ok: false, reason: 'malformed-authorization', detail: (err as Error).message };
  }
  if (input.expectedMchid !== undefined && auth.mchid !== input.expectedMchid) {
    return { ok: false, reason: 'mchid-mismatch', detail: `signed by mchid ${auth.mchid}, expected ${input.expectedMchid}` };
  }
  const key = input.keys.get(auth.serialNo);
  if (key === undefined) return { ok: false, reason: 'unknown-serial', detail: `no merchant certificate with serial ${auth.serialNo}` };
  const stale = timestampSkew(auth.timestamp, input.now ?? new Date(), input.maxSkewSeconds ?? MAX_CLOCK_SKEW_SECONDS);
  if (stale) return { ok: false, reason: 'stale-timestamp', detail: stale };
  let message: string;
  try {
    message = requestSignatureMessage({
      method: input.method,
      urlPathWithQuery: input.urlPathWithQuery,
      timestamp: Number(auth.timestamp),
      nonce: auth.nonceStr,
      body: input.body,
    });
  } catch (err) {
    return { ok: false, reason: 'bad-signature', detail: (err as Error).message };
  }
  if (!rsaSha256Verify(message, auth.signature, key)) return { ok: false, reason: 'bad-signature', detail: 'signature does not match the request' };
  return { ok: true, mchid: auth.mchid, serialNo: auth.serialNo };
}

// ---------------------------------------------------------------------------------------------------
// Response and callback signature (签名验证): platform signs, merchant verifies

/** The signed message of a response or callback: `TIMESTAMP\nNONCE\nBODY\n` (body '' for 204 No Content). */
export function responseSignatureMessage(input: { timestamp: number; nonce: string; body: string }): string {
  assertTimestamp(input.timestamp);
  assertToken('nonce', input.nonce);
  return `${input.timestamp}\n${input.nonce}\n${input.body}\n`;
}

/** A type alias (not an interface) so it can be passed wherever a {@link HeaderBag} is expected. */
export type PlatformSignatureHeaders = {
  'Wechatpay-Timestamp': string;
  'Wechatpay-Nonce': string;
  'Wechatpay-Signature': string;
  'Wechatpay-Serial': string;
  'Wechatpay-Signature-Type': typeof SIGNATURE_SCHEME;
};

export interface SignResponseInput {
  /** The exact body bytes sent (as a string); '' when there is none. */
  body: string;
  /** Platform certificate serial, or a 微信支付公钥 id such as `PUB_KEY_ID_0000000000000024101100397200000006`. */
  serial: string;
  /** The platform's private key. */
  privateKey: KeyInput;
  /** Defaults to now. */
  timestamp?: number;
  /** Defaults to 32 random hex characters. */
  nonce?: string;
}

/** Platform side (the sandbox): the headers WeChat Pay puts on every response and callback request. */
export function signResponse(input: SignResponseInput): PlatformSignatureHeaders {
  assertToken('serial', input.serial);
  const timestamp = input.timestamp ?? epochSeconds();
  const nonce = input.nonce ?? randomBytes(16).toString('hex');
  const signature = rsaSha256Sign(responseSignatureMessage({ timestamp, nonce, body: input.body }), input.privateKey);
  return {
    'Wechatpay-Timestamp': String(timestamp),
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': input.serial,
    'Wechatpay-Signature-Type': SIGNATURE_SCHEME,
  };
}

export type PlatformVerificationFailure = 'missing-header' | 'unknown-serial' | 'stale-timestamp' | 'bad-signature';

export type PlatformVerification = { ok: true; serial: string } | { ok: false; reason: PlatformVerificationFailure; detail: string };

export interface VerifyPlatformInput {
  headers: HeaderBag;
  /** The raw body as received, before any JSON parsing. */
  body: string;
  /**
   * WeChat Pay's public keys by the id that `Wechatpay-Serial` names: platform certificate serials and
   * 微信支付公钥 ids (`PUB_KEY_ID_…`) alike. Values may be public-key PEM, certificate PEM or KeyObjects.
   */
  keys: ReadonlyMap<string, KeyInput>;
  now?: Date;
  maxSkewSeconds?: number;
}

/**
 * Merchant side: verifies a response or a callback from WeChat Pay. Header names are case-insensitive.
 * `missing-header` also covers a malformed or repeated header. WeChat Pay sometimes sends deliberately
 * wrong signatures (`WECHATPAY/SIGNTEST/…`) to check that merchants verify: they fail as `bad-signature`.
 * Only after `ok` may the body be trusted (and only then JSON-parsed).
 */
export function verifyPlatformSignature(input: VerifyPlatformInput): PlatformVerification {
  const values: string[] = [];
  for (const name of ['Wechatpay-Timestamp', 'Wechatpay-Nonce', 'Wechatpay-Signature', 'Wechatpay-Serial']) {
    const value = readHeader(input.headers, name);
    if (value === undefined || value === '') return { ok: false, reason: 'missing-header', detail: `no ${name} header` };
    if (value === REPEATED) return { ok: false, reason: 'missing-header', detail: `${name} header appears more than once` };
    values.push(value);
  }
  const [ts, nc, sig, sn] = values as [string, string, string, string];
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'missing-header', detail: 'Wechatpay-Timestamp is not decimal seconds' };
  const type = readHeader(input.headers, 'Wechatpay-Signature-Type');
  if (type === REPEATED) return { ok: false, reason: 'missing-header', detail: 'Wechatpay-Signature-Type header appears more than once' };
  const key = input.keys.get(sn);
  if (key === undefined) return { ok: false, reason: 'unknown-serial', detail: `no WeChat Pay public key or certificate with serial ${sn}` };
  const stale = timestampSkew(ts, input.now ?? new Date(), input.maxSkewSeconds ?? MAX_CLOCK_SKEW_SECONDS);
  if (stale) return { ok: false, reason: 'stale-timestamp', detail: stale };
  if (type !== undefined && type !== SIGNATURE_SCHEME) return { ok: false, reason: 'bad-signature', detail: `unsupported Wechatpay-Signature-Type ${type}` };
  let message: string;
  try {
    message = responseSignatureMessage({ timestamp: Number(ts), nonce: nc, body: input.body });
  } catch (err) {
    return { ok: false, reason: 'bad-signature', detail: (err as Error).message };
  }
  if (!rsaSha256Verify(message, sig, key)) return { ok: false, reason: 'bad-signature', detail: 'signature does not match the body' };
  return { ok: true, serial: sn };
}

// ---------------------------------------------------------------------------------------------------
// Callback resource encryption (证书和回调报文解密): AEAD_AES_256_GCM with the APIv3 key

export const RESOURCE_ALGORITHM = 'AEAD_AES_256_GCM';
const GCM_TAG_BYTES = 16;

/** `original_type` of the resources we handle. */
export type ResourceOriginalType = 'transaction' | 'refund';

/** The `resource` object of a notification (and of the platform certificate download). */
export interface EncryptedResource {
  original_type?: string;
  algorithm: string;
  /** base64 of ciphertext || 16-byte GCM tag. */
  ciphertext: string;
  /** May be empty (or absent): then the associated data is the empty string. */
  associated_data?: string;
  /** The GCM nonce (IV) as text, 12 characters in practice; unrelated to the signature nonce. */
  nonce: string;
}

export type DecryptResult = { ok: true; plaintext: string } | { ok: false; reason: 'unsupported-algorithm' | 'bad-ciphertext'; detail: string };

function apiV3KeyBytes(apiV3Key: string | Uint8Array): Buffer {
  const key = typeof apiV3Key === 'string' ? Buffer.from(apiV3Key, 'utf8') : Buffer.from(apiV3Key);
  if (key.length !== 32) throw new RangeError(`the APIv3 key (APIv3密钥) is 32 bytes, got ${key.length}`);
  return key;
}

/**
 * Merchant side: opens a notification's `resource`. A wrong key, nonce or associated data, or any changed
 * byte, fails the GCM tag check: `bad-ciphertext`. A wrongly sized APIv3 key is a configuration error and
 * throws `RangeError`.
 */
export function decryptResource(resource: EncryptedResource, apiV3Key: string | Uint8Array): DecryptResult {
  const key = apiV3KeyBytes(apiV3Key);
  if (resource.algorithm !== RESOURCE_ALGORITHM) return { ok: false, reason: 'unsupported-algorithm', detail: `algorithm ${String(resource.algorithm)} is not ${RESOURCE_ALGORITHM}` };
  if (typeof resource.ciphertext !== 'string' || !BASE64.test(resource.ciphertext)) return { ok: false, reason: 'bad-ciphertext', detail: 'ciphertext is not base64' };
  if (typeof resource.nonce !== 'string' || resource.nonce === '') return { ok: false, reason: 'bad-ciphertext', detail: 'nonce is missing' };
  const sealed = Buffer.from(resource.ciphertext, 'base64');
  if (sealed.length < GCM_TAG_BYTES) return { ok: false, reason: 'bad-ciphertext', detail: 'ciphertext is shorter than the GCM tag' };
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(resource.nonce, 'utf8'), { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)), decipher.final()]);
    return { ok: true, plaintext: new TextDecoder('utf-8', { fatal: true }).decode(plain) };
  } catch (_err) {
    return { ok: false, reason: 'bad-ciphertext', detail: 'GCM authentication failed (wrong APIv3 key, nonce, associated data, or altered ciphertext)' };
  }
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface EncryptResourceOptions {
  /** What the plaintext is: 'transaction' for payments, 'refund' for refunds. */
  originalType: string;
  /** WeChat Pay uses 'transaction' / 'refund' here too; '' is allowed. */
  associatedData: string;
  /** Defaults to 12 random letters and digits. */
  nonce?: string;
}

/** Platform side (the sandbox): seals a resource exactly as a real notification carries it. */
export function encryptResource(plaintext: string, apiV3Key: string | Uint8Array, options: EncryptResourceOptions): Required<EncryptedResource> {
  const key = apiV3KeyBytes(apiV3Key);
  const nonce = options.nonce ?? Array.from({ length: 12 }, () => NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)]).join('');
  if (nonce === '') throw new RangeError('the GCM nonce must not be empty');
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'), { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(Buffer.from(options.associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    original_type: options.originalType,
    algorithm: RESOURCE_ALGORITHM,
    ciphertext: body.toString('base64'),
    associated_data: options.associatedData,
    nonce,
  };
}

// ---------------------------------------------------------------------------------------------------
// Notifications (支付成功回调通知, 退款结果通知)

export const NOTIFICATION_EVENT_TYPES = ['TRANSACTION.SUCCESS', 'REFUND.SUCCESS', 'REFUND.ABNORMAL', 'REFUND.CLOSED'] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];

/** The default `summary` WeChat Pay writes per event. */
export const NOTIFICATION_SUMMARIES: Readonly<Record<NotificationEventType, string>> = {
  'TRANSACTION.SUCCESS': '支付成功',
  'REFUND.SUCCESS': '退款成功',
  'REFUND.ABNORMAL': '退款异常',
  'REFUND.CLOSED': '退款关闭',
};

/** The JSON body WeChat Pay POSTs to `notify_url`. */
export interface WechatPayNotification {
  /** e.g. `EV-2018022511223320873`; the same id is re-sent on retries. */
  id: string;
  /** RFC 3339, e.g. `2015-05-20T13:29:35+08:00`. */
  create_time: string;
  event_type: NotificationEventType;
  resource_type: 'encrypt-resource';
  summary: string;
  resource: EncryptedResource;
}

/**
 * Reads a notification envelope (after its signature was verified). An `event_type` outside
 * {@link NOTIFICATION_EVENT_TYPES} is refused: we never ask for others. Throws {@link WechatPayFormatError}.
 */
export function parseNotification(body: string): WechatPayNotification {
  const o = parseJsonObject(body, 'notification');
  const resource = readObject(o, 'resource', 'notification');
  if (readString(o, 'resource_type', 'notification') !== 'encrypt-resource') throw new WechatPayFormatError('notification.resource_type must be "encrypt-resource"');
  const associated = resource['associated_data'];
  if (associated !== undefined && associated !== null && typeof associated !== 'string') throw new WechatPayFormatError('notification.resource.associated_data must be a string');
  const originalType = readOptionalString(resource, 'original_type', 'notification.resource');
  return {
    id: readString(o, 'id', 'notification'),
    create_time: readString(o, 'create_time', 'notification'),
    event_type: readEnum(o, 'event_type', 'notification', NOTIFICATION_EVENT_TYPES),
    resource_type: 'encrypt-resource',
    summary: readOptionalString(o, 'summary', 'notification') ?? '',
    resource: {
      ...(originalType === undefined ? {} : { original_type: originalType }),
      algorithm: readString(resource, 'algorithm', 'notification.resource'),
      ciphertext: readString(resource, 'ciphertext', 'notification.resource'),
      associated_data: typeof associated === 'string' ? associated : '',
      nonce: readString(resource, 'nonce', 'notification.resource'),
    },
  };
}

export interface BuildNotificationInput {
  eventType: NotificationEventType;
  /** The decrypted resource: a transaction or refund object, serialised by the caller or here. */
  resource: Transaction | Refund | string;
  apiV3Key: string | Uint8Array;
  /** Defaults to `EV-` and a random id. */
  id?: string;
  /** Defaults to now. */
  createTime?: Date;
  /** Defaults to {@link NOTIFICATION_SUMMARIES}. */
  summary?: string;
  /** Defaults to random. */
  nonce?: string;
}

/** Platform side (the sandbox): a notification body ready to sign with {@link signResponse} and POST. */
export function buildNotification(input: BuildNotificationInput): WechatPayNotification {
  const originalType: ResourceOriginalType = input.eventType === 'TRANSACTION.SUCCESS' ? 'transaction' : 'refund';
  const plaintext = typeof input.resource === 'string' ? input.resource : JSON.stringify(input.resource);
  return {
    id: input.id ?? `EV-${randomUUID()}`,
    create_time: formatRfc3339Beijing(input.createTime ?? new Date()),
    event_type: input.eventType,
    resource_type: 'encrypt-resource',
    summary: input.summary ?? NOTIFICATION_SUMMARIES[input.eventType],
    resource: encryptResource(plaintext, input.apiV3Key, { originalType, associatedData: originalType, ...(input.nonce === undefined ? {} : { nonce: input.nonce }) }),
  };
}

export type OpenNotificationResult =
  | { ok: true; notification: WechatPayNotification; plaintext: string }
  | { ok: false; reason: PlatformVerificationFailure | 'malformed-notification' | 'unsupported-algorithm' | 'bad-ciphertext'; detail: string };

/**
 * Merchant side, in the only safe order: verify the signature over the raw body, then parse the
 * envelope, then decrypt. Parse the plaintext with {@link parseTransaction} or {@link parseRefund} by
 * `notification.event_type`. Answer WeChat Pay with 200/204 on success; on failure a 4XX/5XX with
 * `{"code":"FAIL","message":"…"}` makes it retry (15s/15s/30s/3m/10m/20m/30m/… over about 24 h).
 */
export function openNotification(input: VerifyPlatformInput & { apiV3Key: string | Uint8Array }): OpenNotificationResult {
  const verified = verifyPlatformSignature(input);
  if (!verified.ok) return verified;
  let notification: WechatPayNotification;
  try {
    notification = parseNotification(input.body);
  } catch (err) {
    if (!(err instanceof WechatPayFormatError)) throw err;
    return { ok: false, reason: 'malformed-notification', detail: err.message };
  }
  const opened = decryptResource(notification.resource, input.apiV3Key);
  if (!opened.ok) return opened;
  return { ok: true, notification, plaintext: opened.plaintext };
}

// ---------------------------------------------------------------------------------------------------
// Transactions and refunds (decrypted resources, query responses)

export const TRADE_TYPES = ['JSAPI', 'NATIVE', 'APP', 'MICROPAY', 'MWEB', 'FACEPAY'] as const;
export type TradeType = (typeof TRADE_TYPES)[number];
export const TRADE_STATES = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'] as const;
export type TradeState = (typeof TRADE_STATES)[number];
/** States in which the user has paid: WeChat Pay then always reports who paid, when and how much. */
export type PaidTradeState = Extract<TradeState, 'SUCCESS' | 'REFUND'>;

interface TransactionBase {
  appid: string;
  mchid: string;
  out_trade_no: string;
  trade_state_desc?: string;
  attach?: string;
}

/** A transaction that was paid (SUCCESS, or REFUND: 转入退款). Amounts in fen. */
export interface PaidTransaction extends TransactionBase {
  trade_state: PaidTradeState;
  transaction_id: string;
  trade_type: TradeType;
  /** RFC 3339 with offset. */
  success_time: string;
  bank_type?: string;
  payer: { openid: string };
  amount: { total: number; payer_total: number; currency: 'CNY'; payer_currency: 'CNY' };
}

/** A transaction not (or no longer) payable: the query API returns these with fewer fields. */
export interface UnpaidTransaction extends TransactionBase {
  trade_state: Exclude<TradeState, PaidTradeState>;
  transaction_id?: string;
  trade_type?: TradeType;
  success_time?: string;
  bank_type?: string;
  payer?: { openid?: string };
  amount?: { total?: number; payer_total?: number; currency?: 'CNY'; payer_currency?: 'CNY' };
}

/** The decrypted TRANSACTION.SUCCESS resource, or the 查询订单 response body. */
export type Transaction = PaidTransaction | UnpaidTransaction;

/**
 * Validates a transaction (decrypted notification plaintext or query response body). For SUCCESS and
 * REFUND every field a paid order carries is required; for other states those fields are checked only
 * when present. Amounts must be non-negative safe integers (fen), currency CNY. Unknown fields are
 * dropped. Throws {@link WechatPayFormatError} naming the field.
 */
export function parseTransaction(plaintext: string): Transaction {
  const o = parseJsonObject(plaintext, 'transaction');
  const p = 'transaction';
  const base: TransactionBase = {
    appid: readString(o, 'appid', p),
    mchid: readString(o, 'mchid', p),
    out_trade_no: readString(o, 'out_trade_no', p),
    ...optional('trade_state_desc', readOptionalString(o, 'trade_state_desc', p)),
    ...optional('attach', readOptionalString(o, 'attach', p)),
  };
  const tradeState = readEnum(o, 'trade_state', p, TRADE_STATES);
  const bankType = readOptionalString(o, 'bank_type', p);
  if (tradeState === 'SUCCESS' || tradeState === 'REFUND') {
    const payer = readObject(o, 'payer', p);
    const amount = readObject(o, 'amount', p);
    return {
      ...base,
      trade_state: tradeState,
      transaction_id: readString(o, 'transaction_id', p),
      trade_type: readEnum(o, 'trade_type', p, TRADE_TYPES),
      success_time: readRfc3339(o, 'success_time', p),
      ...optional('bank_type', bankType),
      payer: { openid: readString(payer, 'openid', `${p}.payer`) },
      amount: {
        total: readFen(amount, 'total', `${p}.amount`),
        payer_total: readFen(amount, 'payer_total', `${p}.amount`),
        currency: readEnum(amount, 'currency', `${p}.amount`, ['CNY'] as const),
        payer_currency: readEnum(amount, 'payer_currency', `${p}.amount`, ['CNY'] as const),
      },
    };
  }
  const tx: UnpaidTransaction = { ...base, trade_state: tradeState };
  const transactionId = readOptionalString(o, 'transaction_id', p);
  if (transactionId !== undefined) tx.transaction_id = transactionId;
  if (o['trade_type'] !== undefined && o['trade_type'] !== '') tx.trade_type = readEnum(o, 'trade_type', p, TRADE_TYPES);
  if (o['success_time'] !== undefined && o['success_time'] !== '') tx.success_time = readRfc3339(o, 'success_time', p);
  if (bankType !== undefined) tx.bank_type = bankType;
  if (o['payer'] !== undefined) {
    const payer = readObject(o, 'payer', p);
    const openid = readOptionalString(payer, 'openid', `${p}.payer`);
    tx.payer = openid === undefined ? {} : { openid };
  }
  if (o['amount'] !== undefined) {
    const amount = readObject(o, 'amount', p);
    const a: NonNullable<UnpaidTransaction['amount']> = {};
    for (const k of ['total', 'payer_total'] as const) if (amount[k] !== undefined) a[k] = readFen(amount, k, `${p}.amount`);
    for (const k of ['currency', 'payer_currency'] as const) if (amount[k] !== undefined) a[k] = readEnum(amount, k, `${p}.amount`, ['CNY'] as const);
    tx.amount = a;
  }
  return tx;
}

export const REFUND_STATUSES = ['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/**
 * A refund: the decrypted REFUND.* resource, or the 申请退款 / 查询单笔退款 response body (which names the
 * status `status` instead of `refund_status` and carries no `mchid`; {@link parseRefund} folds both).
 */
export interface Refund {
  mchid?: string;
  out_trade_no: string;
  transaction_id: string;
  out_refund_no: string;
  refund_id: string;
  refund_status: RefundStatus;
  /** Present once the refund succeeded. */
  success_time?: string;
  /** e.g. `支付用户零钱`, `招商银行信用卡0403`. */
  user_received_account?: string;
  amount: { total: number; refund: number; payer_total: number; payer_refund: number; currency?: 'CNY' };
}

/** Validates a refund (see {@link Refund}); `refund` may not exceed `total`. Throws {@link WechatPayFormatError}. */
export function parseRefund(plaintext: string): Refund {
  const o = parseJsonObject(plaintext, 'refund');
  const p = 'refund';
  const statusKey = o['refund_status'] !== undefined ? 'refund_status' : 'status';
  const amount = readObject(o, 'amount', p);
  const refund: Refund = {
    ...optional('mchid', readOptionalString(o, 'mchid', p)),
    out_trade_no: readString(o, 'out_trade_no', p),
    transaction_id: readString(o, 'transaction_id', p),
    out_refund_no: readString(o, 'out_refund_no', p),
    refund_id: readString(o, 'refund_id', p),
    refund_status: readEnum(o, statusKey, p, REFUND_STATUSES),
    ...optional('user_received_account', readOptionalString(o, 'user_received_account', p)),
    amount: {
      total: readFen(amount, 'total', `${p}.amount`),
      refund: readFen(amount, 'refund', `${p}.amount`),
      payer_total: readFen(amount, 'payer_total', `${p}.amount`),
      payer_refund: readFen(amount, 'payer_refund', `${p}.amount`),
      ...(amount['currency'] === undefined ? {} : { currency: readEnum(amount, 'currency', `${p}.amount`, ['CNY'] as const) }),
    },
  };
  if (o['success_time'] !== undefined && o['success_time'] !== '') refund.success_time = readRfc3339(o, 'success_time', p);
  if (refund.refund_status === 'SUCCESS' && refund.success_time === undefined && statusKey === 'refund_status') {
    throw new WechatPayFormatError('refund.success_time is required when refund_status is SUCCESS');
  }
  if (refund.amount.refund > refund.amount.total) throw new WechatPayFormatError(`refund.amount.refund (${refund.amount.refund}) exceeds amount.total (${refund.amount.total})`);
  return refund;
}

/** Native下单 answers `{ "code_url": "weixin://wxpay/bizpayurl?pr=…" }`: the QR code content. */
export function parseNativeOrderResponse(body: string): { code_url: string } {
  return { code_url: readString(parseJsonObject(body, 'native order response'), 'code_url', 'native order response') };
}

/** JSAPI下单 answers `{ "prepay_id": "wx…" }`, valid for two hours. */
export function parseJsapiOrderResponse(body: string): { prepay_id: string } {
  return { prepay_id: readString(parseJsonObject(body, 'jsapi order response'), 'prepay_id', 'jsapi order response') };
}

/** The body of every 4XX/5XX answer, e.g. `{"code":"SIGN_ERROR","message":"签名错误"}`. */
export interface WechatPayErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

// ---------------------------------------------------------------------------------------------------
// Request bodies and paths (Native下单, JSAPI下单, 查询订单, 关闭订单, 申请退款, 申请交易账单)

export const PATHS = {
  nativeOrder: '/v3/pay/transactions/native',
  jsapiOrder: '/v3/pay/transactions/jsapi',
  refunds: '/v3/refund/domestic/refunds',
  tradeBill: '/v3/bill/tradebill',
} as const;

/** GET: 商户订单号查询订单. */
export function queryByOutTradeNoPath(outTradeNo: string, mchid: string): string {
  assertOutTradeNo(outTradeNo);
  assertToken('mchid', mchid);
  return `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(mchid)}`;
}

/** GET: 微信支付订单号查询订单. */
export function queryByTransactionIdPath(transactionId: string, mchid: string): string {
  assertToken('transactionId', transactionId);
  assertToken('mchid', mchid);
  return `/v3/pay/transactions/id/${encodeURIComponent(transactionId)}?mchid=${encodeURIComponent(mchid)}`;
}

/** POST with {@link closeOrderBody}: 关闭订单; answers 204 No Content. */
export function closeOrderPath(outTradeNo: string): string {
  assertOutTradeNo(outTradeNo);
  return `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`;
}

/** GET: 查询单笔退款 (by 商户退款单号). */
export function queryRefundPath(outRefundNo: string): string {
  assertOutRefundNo(outRefundNo);
  return `${PATHS.refunds}/${encodeURIComponent(outRefundNo)}`;
}

export type TradeBillType = 'ALL' | 'SUCCESS' | 'REFUND';

/** GET: 申请交易账单, `bill_date` YYYY-MM-DD (Beijing calendar day, within the last three months). */
export function tradeBillPath(billDate: string, billType: TradeBillType = 'ALL'): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || d.toISOString().slice(0, 10) !== billDate) throw new RangeError(`bill_date must be a calendar date YYYY-MM-DD, got ${JSON.stringify(billDate)}`);
  if (!['ALL', 'SUCCESS', 'REFUND'].includes(billType)) throw new RangeError(`bill_type must be ALL, SUCCESS or REFUND, got ${billType}`);
  return `${PATHS.tradeBill}?bill_date=${billDate}&bill_type=${billType}`;
}

/** `2025-03-31T14:05:09+08:00`: RFC 3339 in Beijing time, whole seconds, as `time_expire` wants it. */
export function formatRfc3339Beijing(at: Date): string {
  const ms = at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  const t = new Date(Math.floor(ms / 1000) * 1000 + 8 * 3600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${String(t.getUTCFullYear()).padStart(4, '0')}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())}T${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())}+08:00`;
}

export interface OrderInput {
  /** 公众账号ID / 小程序 appid bound to the merchant. */
  appid: string;
  mchid: string;
  /** 商品描述, at most 127 characters; shown in the payer's WeChat bill. */
  description: string;
  /** 商户订单号: 6–32 of `0-9 A-Z a-z _ - | *`, unique per merchant. */
  outTradeNo: string;
  /** Order total in fen, at least 1. */
  totalFen: number;
  /**
   * Where the result is POSTed: no query string. WeChat Pay requires HTTPS; http is accepted here only
   * so the local sandbox can call back, the adapter's configuration must insist on https in production.
   */
  notifyUrl: string;
  /** 支付结束时间: after it the user can no longer pay (the order is not closed by it). */
  timeExpire?: Date;
  /** 商户数据包, at most 128 characters, returned as is in queries and notifications. */
  attach?: string;
}

export interface NativeOrderRequest {
  appid: string;
  mchid: string;
  description: string;
  out_trade_no: string;
  time_expire?: string;
  attach?: string;
  notify_url: string;
  amount: { total: number; currency: 'CNY' };
}

export interface JsapiOrderRequest extends NativeOrderRequest {
  payer: { openid: string };
}

/** Body of POST {@link PATHS.nativeOrder}. Serialise once (`JSON.stringify`) and sign and send that string. */
export function nativeOrderBody(input: OrderInput): NativeOrderRequest {
  assertToken('appid', input.appid);
  assertToken('mchid', input.mchid);
  assertOutTradeNo(input.outTradeNo);
  const description = input.description.trim();
  if (description === '' || [...description].length > 127) throw new RangeError('description must be 1–127 characters');
  if (input.attach !== undefined && [...input.attach].length > 128) throw new RangeError('attach must be at most 128 characters');
  assertFen('totalFen', input.totalFen, 1);
  assertNotifyUrl(input.notifyUrl);
  return {
    appid: input.appid,
    mchid: input.mchid,
    description,
    out_trade_no: input.outTradeNo,
    ...(input.timeExpire === undefined ? {} : { time_expire: formatRfc3339Beijing(input.timeExpire) }),
    ...(input.attach === undefined ? {} : { attach: input.attach }),
    notify_url: input.notifyUrl,
    amount: { total: input.totalFen, currency: 'CNY' },
  };
}

/** Body of POST {@link PATHS.jsapiOrder}: as Native, plus the payer's openid under this appid. */
export function jsapiOrderBody(input: OrderInput & { openid: string }): JsapiOrderRequest {
  assertToken('openid', input.openid);
  return { ...nativeOrderBody(input), payer: { openid: input.openid } };
}

export interface RefundInput {
  /** Exactly one of the two identifies the paid order. */
  outTradeNo?: string;
  transactionId?: string;
  /** 商户退款单号: 1–64 of `0-9 A-Z a-z _ - | * @`; re-sending the same number refunds only once. */
  outRefundNo: string;
  /** At most 80 bytes (UTF-8); shown to the payer. */
  reason?: string;
  notifyUrl?: string;
  refundFen: number;
  /** The original order total in fen. */
  totalFen: number;
}

export interface RefundRequest {
  transaction_id?: string;
  out_trade_no?: string;
  out_refund_no: string;
  reason?: string;
  notify_url?: string;
  amount: { refund: number; total: number; currency: 'CNY' };
}

/** Body of POST {@link PATHS.refunds} (申请退款). */
export function refundBody(input: RefundInput): RefundRequest {
  if ((input.outTradeNo === undefined) === (input.transactionId === undefined)) throw new RangeError('give exactly one of outTradeNo and transactionId');
  if (input.outTradeNo !== undefined) assertOutTradeNo(input.outTradeNo);
  if (input.transactionId !== undefined) assertToken('transactionId', input.transactionId);
  assertOutRefundNo(input.outRefundNo);
  if (input.reason !== undefined && Buffer.byteLength(input.reason, 'utf8') > 80) throw new RangeError('reason must be at most 80 bytes');
  if (input.notifyUrl !== undefined) assertNotifyUrl(input.notifyUrl);
  assertFen('refundFen', input.refundFen, 1);
  assertFen('totalFen', input.totalFen, 1);
  if (input.refundFen > input.totalFen) throw new RangeError(`refundFen (${input.refundFen}) exceeds totalFen (${input.totalFen})`);
  return {
    ...(input.transactionId === undefined ? {} : { transaction_id: input.transactionId }),
    ...(input.outTradeNo === undefined ? {} : { out_trade_no: input.outTradeNo }),
    out_refund_no: input.outRefundNo,
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.notifyUrl === undefined ? {} : { notify_url: input.notifyUrl }),
    amount: { refund: input.refundFen, total: input.totalFen, currency: 'CNY' },
  };
}

/** Body of POST {@link closeOrderPath}. */
export function closeOrderBody(mchid: string): { mchid: string } {
  assertToken('mchid', mchid);
  return { mchid };
}

function assertOutTradeNo(outTradeNo: string): void {
  if (!/^[0-9A-Za-z_\-|*]{6,32}$/.test(outTradeNo)) throw new RangeError(`out_trade_no must be 6–32 of 0-9 A-Z a-z _ - | *, got ${JSON.stringify(outTradeNo)}`);
}

function assertOutRefundNo(outRefundNo: string): void {
  if (!/^[0-9A-Za-z_\-|*@]{1,64}$/.test(outRefundNo)) throw new RangeError(`out_refund_no must be 1–64 of 0-9 A-Z a-z _ - | * @, got ${JSON.stringify(outRefundNo)}`);
}

function assertFen(what: string, fen: number, min: number): void {
  if (!Number.isSafeInteger(fen) || fen < min) throw new RangeError(`${what} must be an integer number of fen ≥ ${min}, got ${fen}`);
}

function assertNotifyUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (_err) {
    throw new RangeError(`notify_url is not an absolute URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new RangeError('notify_url must be https (http only for the local sandbox)');
  if (parsed.search !== '' || parsed.hash !== '' || url.includes('?')) throw new RangeError('notify_url must not carry a query string or fragment');
  if (url.length > 255) throw new RangeError('notify_url must be at most 255 characters');
}

// ---------------------------------------------------------------------------------------------------
// JSAPI payment parameters for the phone (JSAPI调起支付 / 小程序调起支付 paySign)

export interface JsapiPayParams {
  appId: string;
  /** Seconds, as a string. */
  timeStamp: string;
  nonceStr: string;
  /** `prepay_id=…`. */
  package: string;
  signType: 'RSA';
  paySign: string;
}

/** The signed message: `appId\ntimeStamp\nnonceStr\npackage\n` (signType is not signed). */
export function jsapiPaySignMessage(params: Pick<JsapiPayParams, 'appId' | 'timeStamp' | 'nonceStr' | 'package'>): string {
  return `${params.appId}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`;
}

/**
 * What the page passes to `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` or `wx.requestPayment`,
 * signed with the merchant API private key (the same key that signs API requests).
 */
export function jsapiPayParams(input: { appId: string; prepayId: string; privateKey: KeyInput; timestamp?: number; nonce?: string }): JsapiPayParams {
  assertToken('appId', input.appId);
  assertToken('prepayId', input.prepayId);
  const timestamp = input.timestamp ?? epochSeconds();
  assertTimestamp(timestamp);
  const nonceStr = input.nonce ?? randomNonce();
  assertToken('nonce', nonceStr);
  if (nonceStr.length > 32) throw new RangeError('nonceStr must be at most 32 characters');
  const unsigned = { appId: input.appId, timeStamp: String(timestamp), nonceStr, package: `prepay_id=${input.prepayId}` };
  return { ...unsigned, signType: 'RSA', paySign: rsaSha256Sign(jsapiPaySignMessage(unsigned), input.privateKey) };
}

/** Platform side (the sandbox's cashier page): checks a paySign against the merchant's public key. */
export function verifyJsapiPaySign(params: JsapiPayParams, merchantPublicKey: KeyInput): boolean {
  if (params.signType !== 'RSA') return false;
  return rsaSha256Verify(jsapiPaySignMessage(params), params.paySign, merchantPublicKey);
}

// ---------------------------------------------------------------------------------------------------
// Trade bill (申请交易账单 + 交易账单文件格式)

/** 申请交易账单 answers where to fetch the file and its digest. */
export interface TradeBillResponse {
  hash_type: 'SHA1';
  hash_value: string;
  download_url: string;
}

export function parseTradeBillResponse(body: string): TradeBillResponse {
  const o = parseJsonObject(body, 'trade bill response');
  const hashValue = readString(o, 'hash_value', 'trade bill response');
  if (!/^[0-9a-fA-F]{40}$/.test(hashValue)) throw new WechatPayFormatError('trade bill response.hash_value must be 40 hex characters (SHA1)');
  return {
    hash_type: readEnum(o, 'hash_type', 'trade bill response', ['SHA1'] as const),
    hash_value: hashValue.toLowerCase(),
    download_url: readString(o, 'download_url', 'trade bill response'),
  };
}

/**
 * SHA1 hex of the downloaded bill file bytes: compare with `hash_value`. The file download response is
 * not signed by WeChat Pay; this digest (from a signed response) is what vouches for it.
 */
export function billFileHash(content: string | Uint8Array): string {
  return createHash('sha1').update(typeof content === 'string' ? Buffer.from(content, 'utf8') : content).digest('hex');
}

/** Detail columns of an ALL bill, in the documented order. */
export const TRADE_BILL_ALL_COLUMNS = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
] as const;

/** Detail columns holding yuan with (at most) two decimals; 手续费 has five and is not read. */
const BILL_YUAN_COLUMNS = ['应结订单金额', '代金券金额', '退款金额', '充值券退款金额', '订单金额', '申请退款金额'] as const;

/** Summary columns (the last two lines of a bill). */
export const TRADE_BILL_SUMMARY_COLUMNS = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'] as const;

export interface TradeBillRow {
  /** `2025-03-31 14:05:09`, Beijing time, as written in the bill. */
  tradeTime: string;
  appid: string;
  mchid: string;
  transactionId: string;
  outTradeNo: string;
  /** SUCCESS for a payment line, REFUND for a refund line (REVOKED exists for 付款码 payments). */
  tradeState: string;
  /** 订单金额 (falls back to 应结订单金额 in files without that column), fen. */
  amountFen: number;
  /** Refund lines only. */
  refundId?: string;
  outRefundNo?: string;
  refundFen?: number;
  /** 用户标识. */
  openid?: string;
  /** 交易类型. */
  tradeType?: string;
  /** 商品名称. */
  description?: string;
}

export interface TradeBillSummary {
  /** 总交易单数. */
  totalCount: number;
  /** 应结订单总金额. */
  settlementTotalFen: number;
  /** 退款总金额. */
  refundTotalFen: number;
  /** 订单总金额, when the file has that column. */
  orderTotalFen?: number;
}

export interface TradeBill {
  rows: TradeBillRow[];
  summary: TradeBillSummary;
}

/**
 * Yuan as written in bills (`12.34`, `0.01`, `100`) to integer fen, by string arithmetic only. Refuses
 * signs, more than two decimals, and anything that is not plain decimal digits. Throws
 * {@link WechatPayFormatError}.
 */
export function yuanToFen(yuan: string): number {
  try {
    return parseYuanText(yuan);
  } catch (error) {
    throw new WechatPayFormatError(`amount ${JSON.stringify(yuan)}: ${(error as Error).message}`);
  }
}

/** Integer fen to the bill's yuan text with two decimals: 1230 → `12.30`. */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError(`fen must be a non-negative safe integer, got ${fen}`);
  return yuanText(fen);
}

/** Splits a detail or summary line: every field starts with a backtick, fields are separated by commas. */
function splitBillLine(line: string, lineNo: number): string[] {
  if (!line.startsWith('`')) throw new WechatPayFormatError(`bill line ${lineNo}: fields must start with a backtick`);
  // Splitting on ",`" (not ",") keeps commas inside a value, e.g. in 商品名称.
  return line.slice(1).split(',`');
}

/**
 * Reads a trade bill file (申请交易账单 → download_url): a header line, detail lines whose every field is
 * prefixed with a backtick, then the summary header (`总交易单数,…`) and the summary line. Columns are
 * found by name, so the ALL, SUCCESS and REFUND layouts all read. Amounts become fen exactly. A UTF-8
 * BOM and CRLF line ends are accepted. The summary is returned as written, not checked against the rows.
 * Throws {@link WechatPayFormatError} naming the line.
 */
export function parseTradeBill(text: string): TradeBill {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 3) throw new WechatPayFormatError('bill is too short: it needs a header, a summary header and a summary line');
  const header = lines[0]!.split(',').map((h) => h.trim());
  const col = (name: string): number => header.indexOf(name);
  const need = (name: string): number => {
    const i = col(name);
    if (i < 0) throw new WechatPayFormatError(`bill header lacks the column ${name}`);
    return i;
  };
  const iTime = need('交易时间');
  const iAppid = need('公众账号ID');
  const iMchid = need('商户号');
  const iTxn = need('微信订单号');
  const iOut = need('商户订单号');
  const iState = need('交易状态');
  const iAmount = col('订单金额') >= 0 ? col('订单金额') : need('应结订单金额');
  const iRefundId = col('微信退款单号');
  const iOutRefund = col('商户退款单号');
  const iRefund = col('退款金额');
  const iOpenid = col('用户标识');
  const iType = col('交易类型');
  const iDesc = col('商品名称');

  const summaryAt = lines.findIndex((l, i) => i > 0 && l.startsWith('总交易单数'));
  if (summaryAt < 0) throw new WechatPayFormatError('bill has no summary header (总交易单数,…): the file is truncated?');
  if (summaryAt !== lines.length - 2) throw new WechatPayFormatError('bill must end with exactly one summary line after the summary header');

  const rows: TradeBillRow[] = [];
  for (let n = 1; n < summaryAt; n++) {
    const lineNo = n + 1;
    const fields = splitBillLine(lines[n]!, lineNo);
    if (fields.length !== header.length) throw new WechatPayFormatError(`bill line ${lineNo}: ${fields.length} fields, the header has ${header.length}`);
    const at = (i: number) => (i >= 0 ? fields[i]! : '');
    const money = (i: number, name: string): number => {
      try {
        return yuanToFen(at(i));
      } catch (err) {
        throw new WechatPayFormatError(`bill line ${lineNo}, ${name}: ${(err as Error).message}`);
      }
    };
    const row: TradeBillRow = {
      tradeTime: at(iTime),
      appid: at(iAppid),
      mchid: at(iMchid),
      transactionId: at(iTxn),
      outTradeNo: at(iOut),
      tradeState: at(iState),
      amountFen: money(iAmount, header[iAmount]!),
    };
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(row.tradeTime)) throw new WechatPayFormatError(`bill line ${lineNo}: 交易时间 ${JSON.stringify(row.tradeTime)} is not YYYY-MM-DD hh:mm:ss`);
    if (row.transactionId === '' || row.outTradeNo === '' || row.tradeState === '') throw new WechatPayFormatError(`bill line ${lineNo}: 微信订单号, 商户订单号 and 交易状态 are required`);
    const present = (v: string) => v !== '' && v !== '0';
    if (present(at(iRefundId))) row.refundId = at(iRefundId);
    if (present(at(iOutRefund))) row.outRefundNo = at(iOutRefund);
    if (row.tradeState === 'REFUND') {
      if (iRefund < 0 || row.refundId === undefined) throw new WechatPayFormatError(`bill line ${lineNo}: a REFUND line needs 微信退款单号 and 退款金额`);
      row.refundFen = money(iRefund, '退款金额');
    }
    // Every other yuan column must read too: a corrupt amount anywhere means a corrupt file.
    for (const name of BILL_YUAN_COLUMNS) if (col(name) >= 0 && col(name) !== iAmount) money(col(name), name);
    if (at(iOpenid) !== '') row.openid = at(iOpenid);
    if (at(iType) !== '') row.tradeType = at(iType);
    if (at(iDesc) !== '') row.description = at(iDesc);
    rows.push(row);
  }

  const summaryHeader = lines[summaryAt]!.split(',').map((h) => h.trim());
  const summaryFields = splitBillLine(lines[summaryAt + 1]!, summaryAt + 2);
  if (summaryFields.length !== summaryHeader.length) throw new WechatPayFormatError('bill summary line does not match its header');
  const sum = (name: string, required: boolean): number | undefined => {
    const i = summaryHeader.indexOf(name);
    if (i < 0) {
      if (required) throw new WechatPayFormatError(`bill summary lacks ${name}`);
      return undefined;
    }
    try {
      return yuanToFen(summaryFields[i]!);
    } catch (err) {
      throw new WechatPayFormatError(`bill summary, ${name}: ${(err as Error).message}`);
    }
  };
  const countText = summaryFields[summaryHeader.indexOf('总交易单数')]!;
  if (!/^\d+$/.test(countText)) throw new WechatPayFormatError(`bill summary, 总交易单数 ${JSON.stringify(countText)} is not a count`);
  const orderTotal = sum('订单总金额', false);
  return {
    rows,
    summary: {
      totalCount: Number(countText),
      settlementTotalFen: sum('应结订单总金额', true)!,
      refundTotalFen: sum('退款总金额', true)!,
      ...(orderTotal === undefined ? {} : { orderTotalFen: orderTotal }),
    },
  };
}

/**
 * Platform side (the sandbox): writes an ALL bill in the documented layout, CRLF line ends. Payment
 * lines carry `0` refund ids and `0.00` refund amounts; fees are written as zero (the sandbox charges
 * none); 订单金额 and 应结订单金额 both carry `amountFen` (no coupons). The summary counts every line,
 * sums payment lines into 应结订单总金额/订单总金额 and refund lines into 退款总金额/申请退款总金额.
 */
export function formatTradeBill(rows: readonly TradeBillRow[]): string {
  const clean = (v: string, what: string): string => {
    if (/[`\r\n]/.test(v)) throw new RangeError(`${what} must not contain a backtick or a line break`);
    return v;
  };
  const lines: string[] = [TRADE_BILL_ALL_COLUMNS.join(',')];
  let paidFen = 0;
  let refundedFen = 0;
  for (const r of rows) {
    const isRefund = r.tradeState === 'REFUND';
    if (isRefund && (r.refundId === undefined || r.outRefundNo === undefined || r.refundFen === undefined)) {
      throw new RangeError(`refund line for ${r.outTradeNo} needs refundId, outRefundNo and refundFen`);
    }
    if (isRefund) refundedFen += r.refundFen!;
    else paidFen += r.amountFen;
    const record: Record<(typeof TRADE_BILL_ALL_COLUMNS)[number], string> = {
      交易时间: r.tradeTime,
      公众账号ID: r.appid,
      商户号: r.mchid,
      特约商户号: '0',
      设备号: '',
      微信订单号: r.transactionId,
      商户订单号: r.outTradeNo,
      用户标识: r.openid ?? '',
      交易类型: r.tradeType ?? '',
      交易状态: r.tradeState,
      付款银行: 'OTHERS',
      货币种类: 'CNY',
      应结订单金额: fenToYuan(r.amountFen),
      代金券金额: '0.00',
      微信退款单号: r.refundId ?? '0',
      商户退款单号: r.outRefundNo ?? '0',
      退款金额: fenToYuan(isRefund ? r.refundFen! : 0),
      充值券退款金额: '0.00',
      退款类型: isRefund ? 'ORIGINAL' : '',
      退款状态: isRefund ? 'SUCCESS' : '',
      商品名称: r.description ?? '',
      商户数据包: '',
      手续费: '0.00000',
      费率: '0.00%',
      订单金额: fenToYuan(r.amountFen),
      申请退款金额: fenToYuan(isRefund ? r.refundFen! : 0),
      费率备注: '',
    };
    lines.push(TRADE_BILL_ALL_COLUMNS.map((c) => `\`${clean(record[c], c)}`).join(','));
  }
  lines.push(TRADE_BILL_SUMMARY_COLUMNS.join(','));
  const summary = [String(rows.length), fenToYuan(paidFen), fenToYuan(refundedFen), '0.00', '0.00000', fenToYuan(paidFen), fenToYuan(refundedFen)];
  lines.push(summary.map((v) => `\`${v}`).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------------
// Field readers for incoming JSON

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (_err) {
    throw new WechatPayFormatError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WechatPayFormatError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function readObject(o: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WechatPayFormatError(`${path}.${key} is required (an object)`);
  return v as Record<string, unknown>;
}

function readString(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new WechatPayFormatError(`${path}.${key} is required (a non-empty string)`);
  return v;
}

function readOptionalString(o: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new WechatPayFormatError(`${path}.${key} must be a string`);
  return v;
}

function readEnum<T extends string>(o: Record<string, unknown>, key: string, path: string, allowed: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new WechatPayFormatError(`${path}.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function readFen(o: Record<string, unknown>, key: string, path: string): number {
  const v = o[key];
  if (v === undefined) throw new WechatPayFormatError(`${path}.${key} is required (an amount in fen)`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new WechatPayFormatError(`${path}.${key} must be a non-negative whole number of fen, got ${JSON.stringify(v)}`);
  }
  return v;
}

function readRfc3339(o: Record<string, unknown>, key: string, path: string): string {
  const v = readString(o, key, path);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new WechatPayFormatError(`${path}.${key} must be an RFC 3339 time like 2018-06-08T10:34:56+08:00, got ${JSON.stringify(v)}`);
  }
  return v;
}
