/**
 * The Alipay open platform (支付宝开放平台) wire protocol, OpenAPI 2.0 ("gateway.do") with RSA2 keys, as a
 * pure module: no HTTP client, no database, no clock (callers pass the time in). Two sides use it:
 *
 * - merchant side (our cloud's Alipay adapter): build and sign requests, verify synchronous responses and
 *   asynchronous notifications, read the trade bill;
 * - platform side (the local sandbox that plays Alipay's gateway): verify requests, sign responses and
 *   notifications, serve a trade bill.
 *
 * Official documents this follows (opendocs.alipay.com):
 * - 自行实现签名 (sign yourself, RSA2):          https://opendocs.alipay.com/common/02kf5q
 * - 自行实现验签 (verify yourself: sync responses and async notifications):
 *                                                https://opendocs.alipay.com/common/02mse7
 * - 异步通知说明 (async notifications):          https://opendocs.alipay.com/common/02mse3
 * - 公共错误码 (code / sub_code):                https://opendocs.alipay.com/common/02km9f
 * - alipay.trade.precreate (当面付 扫码, QR):     https://opendocs.alipay.com/apis/api_1/alipay.trade.precreate
 * - alipay.trade.wap.pay (手机网站支付, H5):      https://opendocs.alipay.com/apis/api_1/alipay.trade.wap.pay
 * - alipay.trade.query:                          https://opendocs.alipay.com/apis/api_1/alipay.trade.query
 * - alipay.trade.close:                          https://opendocs.alipay.com/apis/api_1/alipay.trade.close
 * - alipay.trade.refund:                         https://opendocs.alipay.com/apis/api_1/alipay.trade.refund
 * - alipay.data.dataservice.bill.downloadurl.query (对账单):
 *                                                https://opendocs.alipay.com/apis/api_15/alipay.data.dataservice.bill.downloadurl.query
 *
 * Money is integer fen everywhere (protocol/src/money.ts); yuan strings exist only on the wire and are
 * converted exactly, by string and integer arithmetic, at this boundary.
 */
import { createPrivateKey, createPublicKey, sign as rsaSign, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { assertFen, parseYuanText, yuanText, type Fen } from '@estate/protocol';

// ---------------------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------------------

/** Production gateway (公共请求地址). The sandbox passes its own URL as `gatewayUrl`. */
export const ALIPAY_GATEWAY = 'https://openapi.alipay.com/gateway.do';

/** The API methods this module builds requests for. */
export const ALIPAY_METHODS = {
  precreate: 'alipay.trade.precreate',
  wapPay: 'alipay.trade.wap.pay',
  query: 'alipay.trade.query',
  close: 'alipay.trade.close',
  refund: 'alipay.trade.refund',
  billDownloadUrlQuery: 'alipay.data.dataservice.bill.downloadurl.query',
} as const;

/**
 * What the merchant's notify_url must answer, as the literal response body, once a notification has been
 * verified and processed (异步通知说明: anything else, and Alipay keeps re-sending the notification over
 * about 25 hours).
 */
export const NOTIFICATION_ACK = 'success';

/** Content type for a request POSTed to the gateway, and for the notifications Alipay POSTs to us. */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded;charset=utf-8';

/** The only sign_type accepted: RSA2 = SHA256withRSA. (RSA = SHA1withRSA is refused.) */
export const SIGN_TYPE = 'RSA2';

/** The public response code for "the call succeeded" (公共错误码: 10000 接口调用成功). */
export const SUCCESS_CODE = '10000';

/** trade_status values (alipay.trade.query and the trade_status_sync notification). */
export const TRADE_STATUSES = ['WAIT_BUYER_PAY', 'TRADE_SUCCESS', 'TRADE_FINISHED', 'TRADE_CLOSED'] as const;
export type TradeStatus = (typeof TRADE_STATUSES)[number];

/** Amount limits of total_amount / refund_amount: [0.01, 100000000] yuan. */
export const MIN_AMOUNT_FEN = 1;
export const MAX_AMOUNT_FEN = 10_000_000_000;

// ---------------------------------------------------------------------------------------------------------
// 1. Exact money: yuan text <-> integer fen
// ---------------------------------------------------------------------------------------------------------

/**
 * Parses a yuan amount as Alipay writes it (total_amount, refund_fee, …: "0.01", "12.3", "100") into
 * exact fen, with string and integer arithmetic only. Refuses anything else rather than guessing:
 * more than two decimals ("1.234"), a sign ("-1"), exponents ("1e2"), spaces (" 1"), leading zeros ("01"),
 * a bare or trailing point (".5", "1."), the empty string, non-strings and values beyond a safe integer.
 *
 * @example
 * yuanToFen('0.01'); // 1
 * yuanToFen('12.3'); // 1230
 * @throws TypeError for a non-string, RangeError for a string that is not such an amount.
 */
export function yuanToFen(text: string): Fen {
  return parseYuanText(text);
}

/** Like {@link yuanToFen}, but also accepts a leading '-' (refund rows of the trade bill: "-12.30"). */
export function signedYuanToFen(text: string): Fen {
  return parseYuanText(text, { allowNegative: true });
}

/**
 * Formats fen as Alipay's amount format: yuan with exactly two decimals and no grouping ("12.30").
 * Negative amounts get a leading '-' (only the trade bill has those).
 *
 * @example
 * fenToYuan(1230); // '12.30'
 * @throws RangeError unless `fen` is a safe integer.
 */
export function fenToYuan(fen: Fen): string {
  return yuanText(fen);
}

function assertAmountFen(fen: Fen, what: string): void {
  assertFen(fen, what);
  if (fen < MIN_AMOUNT_FEN || fen > MAX_AMOUNT_FEN) {
    throw new RangeError(`${what} must be between 0.01 and 100000000 yuan, got ${fen} fen`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Time: 'yyyy-MM-dd HH:mm:ss' in Asia/Shanghai
// ---------------------------------------------------------------------------------------------------------

/** China Standard Time is UTC+8 all year (no daylight saving since 1991), so a fixed offset is exact. */
const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;

/**
 * Formats an instant as Alipay's timestamp format, 'yyyy-MM-dd HH:mm:ss' in Beijing time (the `timestamp`
 * common parameter, `time_expire`, notify_time, gmt_payment, …).
 *
 * @example
 * formatAlipayTime(new Date('2024-05-01T16:30:00Z')); // '2024-05-02 00:30:00'
 */
export function formatAlipayTime(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid Date');
  const t = new Date(ms + SHANGHAI_OFFSET_MS);
  const year = t.getUTCFullYear();
  if (year < 1000 || year > 9999) throw new RangeError(`year out of range: ${year}`);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${year}-${two(t.getUTCMonth() + 1)}-${two(t.getUTCDate())} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())}`;
}

const ALIPAY_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/**
 * Reads an Alipay time ('yyyy-MM-dd HH:mm:ss', Beijing time; gmt_refund also carries '.SSS') as an instant.
 *
 * @throws RangeError for any other text or an impossible date ('2024-02-30 …').
 */
export function parseAlipayTime(text: string): Date {
  const match = ALIPAY_TIME.exec(text);
  if (!match) throw new RangeError(`not an Alipay time 'yyyy-MM-dd HH:mm:ss': ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, frac = '0'] = match.map((part) => part ?? '');
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0')));
  const date = new Date(utc - SHANGHAI_OFFSET_MS);
  if (formatAlipayTime(date) !== text.slice(0, 19)) throw new RangeError(`impossible date: ${text}`);
  return date;
}

// ---------------------------------------------------------------------------------------------------------
// 2. Canonical string to sign (待签名字符串)
// ---------------------------------------------------------------------------------------------------------

/** A parameter map as it goes on the wire; undefined/null entries are treated as absent. */
export type WireParams = Readonly<Record<string, string | undefined | null>>;

/** Which keys leave the canonical string, and whether empty values do. */
export interface SignRule {
  /** Keys never signed. */
  readonly exclude: readonly string[];
  /** Whether empty ('' or whitespace-only) values leave the string too. */
  readonly dropEmpty: boolean;
}

/**
 * Requests (自行实现签名, step 1 筛选并排序): "剔除 sign 字段，剔除值为空的参数" — sign_type IS signed.
 * "Empty" follows the official SDK (StringUtils.isEmpty: null, "" or whitespace only).
 */
export const REQUEST_SIGN_RULE: SignRule = { exclude: ['sign'], dropEmpty: true };

/**
 * Async notifications (自行实现验签, 异步通知验签 第一步): "除去 sign、sign_type 两个参数外，凡是通知返回回来的
 * 参数皆是待验签的参数" — every other parameter Alipay sent is signed, empty or not (the official SDK's
 * rsaCheckV1 keeps empty values too). Also the rule for the sync return_url parameters of wap pay.
 */
export const NOTIFICATION_SIGN_RULE: SignRule = { exclude: ['sign', 'sign_type'], dropEmpty: false };

/**
 * Whether every character is whitespace by Java's Character.isWhitespace, which the official SDK's emptiness
 * test (StringUtils.isEmpty) uses: unlike JS \s it excludes the no-break spaces U+00A0, U+2007, U+202F and
 * U+FEFF, and includes U+001C–U+001F.
 */
function isJavaBlank(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const blank =
      (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x1680 || (c >= 0x2000 && c <= 0x2006) ||
      (c >= 0x2008 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x205f || c === 0x3000;
    if (!blank) return false;
  }
  return true;
}

/**
 * Builds the canonical string to sign or verify: drop the excluded keys (and, by the rule, empty values),
 * sort the keys by ASCII / UTF-16 code unit (not locale), join `key=value` with '&'. Values go in raw,
 * neither URL-encoded nor escaped: a value containing '&' or '=' is signed as it is.
 *
 * @param rule defaults to the request rule (exclude only `sign`); pass {@link NOTIFICATION_SIGN_RULE} for
 *   notifications.
 * @example
 * signContent({ b: '2', a: '1', sign: 'x', c: '' }); // 'a=1&b=2'
 */
export function signContent(params: WireParams, rule: SignRule = REQUEST_SIGN_RULE): string {
  const excluded = new Set(rule.exclude);
  const keys = Object.keys(params)
    .filter((key) => {
      const value = params[key];
      if (excluded.has(key) || value === undefined || value === null) return false;
      return !(rule.dropEmpty && isJavaBlank(value));
    })
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((key) => `${key}=${params[key] as string}`).join('&');
}

// ---------------------------------------------------------------------------------------------------------
// 3. RSA2 signatures over parameter maps
// ---------------------------------------------------------------------------------------------------------

/**
 * A key as PEM (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY", SPKI "PUBLIC KEY"), as the bare base64
 * body the Alipay console shows (PKCS#8 / PKCS#1 private, SPKI public), or a KeyObject.
 */
export type KeyInput = string | KeyObject;

function toPrivateKey(input: KeyInput): KeyObject {
  let key: KeyObject;
  if (typeof input !== 'string') key = input;
  else if (input.includes('-----BEGIN')) key = createPrivateKey(input);
  else {
    const der = Buffer.from(input.replace(/\s+/g, ''), 'base64');
    try {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs1' });
    }
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') throw new TypeError('an RSA private key is required (RSA2)');
  return key;
}

function toPublicKey(input: KeyInput): KeyObject {
  let key: KeyObject;
  if (typeof input !== 'string') key = input;
  else if (input.includes('-----BEGIN')) key = createPublicKey(input);
  else key = createPublicKey({ key: Buffer.from(input.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  if (key.type !== 'public' || key.asymmetricKeyType !== 'rsa') throw new TypeError('an RSA public key is required (RSA2)');
  return key;
}

/** SHA256withRSA (PKCS#1 v1.5) over the UTF-8 bytes of `content`, base64. */
function rsa2Sign(content: string, privateKey: KeyInput): string {
  return rsaSign('sha256', Buffer.from(content, 'utf8'), toPrivateKey(privateKey)).toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function rsa2Verify(content: string, signature: string, publicKey: KeyInput): boolean {
  const key = toPublicKey(publicKey); // a bad key is a configuration error: let it throw
  if (!BASE64.test(signature)) return false;
  try {
    return rsaVerify('sha256', Buffer.from(content, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Signs a parameter map (RSA2): base64 SHA256withRSA of {@link signContent}. Requests use the default rule;
 * the sandbox signs notifications with `{ notification: true }`.
 */
export function signParams(params: WireParams, privateKeyPem: KeyInput, options: { notification?: boolean } = {}): string {
  return rsa2Sign(signContent(params, options.notification ? NOTIFICATION_SIGN_RULE : REQUEST_SIGN_RULE), privateKeyPem);
}

export type SignatureFailure = 'missing-sign' | 'unsupported-sign-type' | 'bad-signature';
export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

/**
 * Verifies the `sign` of a parameter map: a request received by the sandbox gateway
 * (`notification: false`) or an async notification / wap return received by us (`notification: true`).
 * Only sign_type=RSA2 is accepted; a missing sign_type counts as unsupported.
 *
 * @param publicKeyPem the signer's public key: the merchant's app public key (sandbox side) or the
 *   Alipay public key (merchant side).
 */
export function verifyParams(params: WireParams, publicKeyPem: KeyInput, options: { notification: boolean }): SignatureCheck {
  const sign = params.sign;
  if (typeof sign !== 'string' || sign === '') return { ok: false, reason: 'missing-sign' };
  if (params.sign_type !== SIGN_TYPE) return { ok: false, reason: 'unsupported-sign-type' };
  const content = signContent(params, options.notification ? NOTIFICATION_SIGN_RULE : REQUEST_SIGN_RULE);
  return rsa2Verify(content, sign, publicKeyPem) ? { ok: true } : { ok: false, reason: 'bad-signature' };
}

// ---------------------------------------------------------------------------------------------------------
// 4. Requests
// ---------------------------------------------------------------------------------------------------------

export interface BuildRequestOptions {
  /** API method, e.g. ALIPAY_METHODS.precreate. */
  method: string;
  /** app_id: the application's id (2014072300007148 in the docs). */
  appId: string;
  /** The business parameters; serialized as the biz_content JSON string. */
  bizContent: object;
  /** The application private key (RSA2). */
  privateKeyPem: KeyInput;
  /** When the request is sent; formatted 'yyyy-MM-dd HH:mm:ss' in Beijing time. */
  timestamp: Date;
  /** Where Alipay POSTs async notifications (precreate, wap pay, refund …). */
  notifyUrl?: string;
  /** Where the buyer's browser returns after a page payment (wap pay). */
  returnUrl?: string;
  /** Third-party (ISV) app authorization token, when calling on behalf of a merchant. */
  appAuthToken?: string;
  /** Defaults to the production gateway. */
  gatewayUrl?: string;
}

export interface BuiltRequest {
  /** Every parameter, signed: the common parameters, biz_content and sign. */
  params: Record<string, string>;
  /**
   * The same parameters form-encoded (application/x-www-form-urlencoded, UTF-8, space as '+'), to POST to
   * the gateway with {@link FORM_CONTENT_TYPE} for the server-to-server APIs (precreate, query, close,
   * refund, bill). The official SDKs move the common parameters to the query string; the gateway reads
   * either, and one form body is simpler.
   */
  formBody: string;
  /** GET URL carrying every parameter: where to send the buyer's browser for alipay.trade.wap.pay. */
  pageUrl: string;
}

/**
 * Builds and signs a gateway request (公共请求参数: app_id, method, format=JSON, charset=utf-8,
 * sign_type=RSA2, timestamp, version=1.0, notify_url?, return_url?, app_auth_token?, biz_content, sign).
 */
export function buildRequest(options: BuildRequestOptions): BuiltRequest {
  if (!options.method) throw new RangeError('method is required');
  if (!options.appId) throw new RangeError('appId is required');
  const unsigned: Record<string, string | undefined> = {
    app_id: options.appId,
    method: options.method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: SIGN_TYPE,
    timestamp: formatAlipayTime(options.timestamp),
    version: '1.0',
    notify_url: options.notifyUrl,
    return_url: options.returnUrl,
    app_auth_token: options.appAuthToken,
    biz_content: JSON.stringify(options.bizContent),
  };
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(unsigned)) if (value !== undefined && value !== '') params[key] = value;
  params.sign = signParams(params, options.privateKeyPem);
  const formBody = new URLSearchParams(params).toString();
  const gateway = options.gatewayUrl ?? ALIPAY_GATEWAY;
  return { params, formBody, pageUrl: `${gateway}${gateway.includes('?') ? '&' : '?'}${formBody}` };
}

const OUT_ID = /^[A-Za-z0-9_]+$/;

/** out_trade_no / out_request_no: "64个字符以内，仅支持字母、数字、下划线". */
function assertOutId(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64 || !OUT_ID.test(value)) {
    throw new RangeError(`${what} must be 1-64 letters, digits or underscores, got ${JSON.stringify(value)}`);
  }
}

/** subject: at most 256 characters; the docs forbid the special characters / = &. */
function assertSubject(subject: string): void {
  if (typeof subject !== 'string' || subject.trim() === '' || subject.length > 256 || /[/=&]/.test(subject)) {
    throw new RangeError(`subject must be 1-256 characters without / = &, got ${JSON.stringify(subject)}`);
  }
}

const TIMEOUT_EXPRESS = /^(?:([1-9][0-9]*)([mhd])|1c)$/;

/** timeout_express: relative, 1m–15d ("90m", "2h", "1d"; "1c" closes at midnight). No decimals. */
function assertTimeoutExpress(value: string): void {
  const match = TIMEOUT_EXPRESS.exec(value);
  const minutes = match?.[1] ? Number(match[1]) * ({ m: 1, h: 60, d: 1440 } as const)[match[2] as 'm' | 'h' | 'd'] : 1;
  if (!match || minutes > 15 * 1440) throw new RangeError(`timeout_express must be 1m-15d or 1c, got ${JSON.stringify(value)}`);
}

/** How long the buyer may take: a relative timeout_express or an absolute time_expire, not both. */
export interface PaymentTimeout {
  /** Relative, 1m–15d: '15m', '2h', '1d', '1c'. */
  timeoutExpress?: string;
  /** Absolute; sent as 'yyyy-MM-dd HH:mm:ss' Beijing time. */
  timeExpire?: Date;
}

function timeoutFields(timeout: PaymentTimeout): { timeout_express?: string; time_expire?: string } {
  if (timeout.timeoutExpress !== undefined && timeout.timeExpire !== undefined) {
    throw new RangeError('give timeoutExpress or timeExpire, not both');
  }
  if (timeout.timeoutExpress !== undefined) {
    assertTimeoutExpress(timeout.timeoutExpress);
    return { timeout_express: timeout.timeoutExpress };
  }
  if (timeout.timeExpire !== undefined) return { time_expire: formatAlipayTime(timeout.timeExpire) };
  return {};
}

export interface PrecreateInput extends PaymentTimeout {
  outTradeNo: string;
  totalFen: Fen;
  subject: string;
}

export interface PrecreateBizContent {
  out_trade_no: string;
  total_amount: string;
  subject: string;
  timeout_express?: string;
  time_expire?: string;
}

/** biz_content of alipay.trade.precreate (当面付 扫码: the response carries qr_code). */
export function precreateBizContent(input: PrecreateInput): PrecreateBizContent {
  assertOutId(input.outTradeNo, 'out_trade_no');
  assertAmountFen(input.totalFen, 'total_amount');
  assertSubject(input.subject);
  return { out_trade_no: input.outTradeNo, total_amount: fenToYuan(input.totalFen), subject: input.subject, ...timeoutFields(input) };
}

export interface WapPayInput extends PrecreateInput {
  /** Where the cashier's "quit" returns the buyer (quit_url). */
  quitUrl: string;
}

export interface WapPayBizContent extends PrecreateBizContent {
  product_code: 'QUICK_WAP_WAY';
  quit_url: string;
}

/** biz_content of alipay.trade.wap.pay (手机网站支付; product_code QUICK_WAP_WAY). Use the pageUrl. */
export function wapPayBizContent(input: WapPayInput): WapPayBizContent {
  if (!/^https?:\/\/\S+$/.test(input.quitUrl)) throw new RangeError(`quit_url must be an http(s) URL, got ${JSON.stringify(input.quitUrl)}`);
  return { ...precreateBizContent(input), product_code: 'QUICK_WAP_WAY', quit_url: input.quitUrl };
}

/** Which trade: our out_trade_no, or Alipay's trade_no (Alipay prefers trade_no when both are given). */
export type TradeRef = { outTradeNo: string; tradeNo?: undefined } | { tradeNo: string; outTradeNo?: undefined };

function tradeRefFields(ref: TradeRef): { out_trade_no: string } | { trade_no: string } {
  if (ref.tradeNo !== undefined) {
    if (!/^[A-Za-z0-9]{1,64}$/.test(ref.tradeNo)) throw new RangeError(`bad trade_no ${JSON.stringify(ref.tradeNo)}`);
    return { trade_no: ref.tradeNo };
  }
  assertOutId(ref.outTradeNo, 'out_trade_no');
  return { out_trade_no: ref.outTradeNo };
}

/** biz_content of alipay.trade.query. */
export function queryBizContent(ref: TradeRef): { out_trade_no: string } | { trade_no: string } {
  return tradeRefFields(ref);
}

/** biz_content of alipay.trade.close (closes an unpaid trade, WAIT_BUYER_PAY → TRADE_CLOSED). */
export function closeBizContent(ref: TradeRef): { out_trade_no: string } | { trade_no: string } {
  return tradeRefFields(ref);
}

export type RefundInput = TradeRef & {
  refundFen: Fen;
  /** Identifies this refund within the trade; required here (partial refunds need it, and it makes retries idempotent). */
  outRequestNo: string;
  refundReason?: string;
};

export type RefundBizContent = ({ out_trade_no: string } | { trade_no: string }) & {
  refund_amount: string;
  out_request_no: string;
  refund_reason?: string;
};

/** biz_content of alipay.trade.refund. */
export function refundBizContent(input: RefundInput): RefundBizContent {
  assertAmountFen(input.refundFen, 'refund_amount');
  assertOutId(input.outRequestNo, 'out_request_no');
  if (input.refundReason !== undefined && input.refundReason.length > 256) throw new RangeError('refund_reason is longer than 256 characters');
  const ref = tradeRefFields(input.tradeNo !== undefined ? { tradeNo: input.tradeNo } : { outTradeNo: input.outTradeNo });
  return {
    ...ref,
    refund_amount: fenToYuan(input.refundFen),
    out_request_no: input.outRequestNo,
    ...(input.refundReason ? { refund_reason: input.refundReason } : {}),
  };
}

/**
 * biz_content of alipay.data.dataservice.bill.downloadurl.query for the trade bill (bill_type 'trade',
 * 商户业务账单). `billDate` is 'yyyy-MM-dd' (daily) or 'yyyy-MM' (monthly).
 */
export function billDownloadUrlQueryBizContent(billDate: string): { bill_type: 'trade'; bill_date: string } {
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(billDate);
  const valid = match !== null && (() => {
    const [, y, m, d] = match;
    const date = new Date(Date.UTC(Number(y), Number(m) - 1, d === undefined ? 1 : Number(d)));
    return date.getUTCMonth() === Number(m) - 1 && (d === undefined || date.getUTCDate() === Number(d));
  })();
  if (!valid) throw new RangeError(`bill_date must be yyyy-MM-dd or yyyy-MM, got ${JSON.stringify(billDate)}`);
  return { bill_type: 'trade', bill_date: billDate };
}

// ---------------------------------------------------------------------------------------------------------
// 5. Synchronous responses
// ---------------------------------------------------------------------------------------------------------

/** The fields every response node carries (公共响应参数). */
export interface AlipayResponse {
  code: string;
  msg: string;
  sub_code?: string;
  sub_msg?: string;
  [field: string]: unknown;
}

/** alipay.trade.precreate success fields. */
export interface PrecreateResponse {
  out_trade_no: string;
  qr_code: string;
}

/** alipay.trade.query success fields (amounts as yuan strings; convert with yuanToFen). */
export interface TradeQueryResponse {
  trade_no: string;
  out_trade_no: string;
  trade_status: TradeStatus;
  total_amount: string;
  buyer_pay_amount?: string;
  receipt_amount?: string;
  send_pay_date?: string;
}

/** alipay.trade.close success fields. */
export interface TradeCloseResponse {
  trade_no?: string;
  out_trade_no?: string;
}

/** alipay.trade.refund success fields: refund_fee is the trade's cumulative refunded amount. */
export interface TradeRefundResponse {
  trade_no: string;
  out_trade_no: string;
  refund_fee: string;
  /** 'Y' when this call moved money; 'N' for a retried, already-processed out_request_no. */
  fund_change: 'Y' | 'N';
  gmt_refund_pay?: string;
}

/** alipay.data.dataservice.bill.downloadurl.query success fields. */
export interface BillDownloadUrlResponse {
  bill_download_url: string;
}

/** 'alipay.trade.precreate' → 'alipay_trade_precreate_response'. */
export function responseNodeName(method: string): string {
  return `${method.replaceAll('.', '_')}_response`;
}

/** The node Alipay uses when it cannot answer under the method's own node (unknown method, bad app_id …). */
export const ERROR_RESPONSE_NODE = 'error_response';

export interface SignedResponse {
  /** The top-level key the content was found under: the method's node, or error_response. */
  nodeName: string;
  /** The exact text of that key's value, byte for byte as in the body: what Alipay signed. */
  content: string;
  /** The top-level `sign`, when present. */
  sign: string | undefined;
}

const JSON_WS = new Set([' ', '\t', '\n', '\r']);

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && JSON_WS.has(text[i]!)) i++;
  return i;
}

/** End (exclusive) of the JSON string starting at `i` (a '"'), or -1. */
function scanString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '\\') j++;
    else if (c === '"') return j + 1;
  }
  return -1;
}

/** End (exclusive) of the JSON value starting at `i`, or -1. Brackets inside strings do not count. */
function scanValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return scanString(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (c === '"') {
        const end = scanString(text, j);
        if (end < 0) return -1;
        j = end - 1;
      } else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < text.length && !JSON_WS.has(text[j]!) && text[j] !== ',' && text[j] !== '}' && text[j] !== ']') j++;
  return j > i ? j : -1;
}

/**
 * The raw text span of every member of a top-level JSON object, or undefined when the body is not a
 * well-formed JSON object or repeats a key (a repeated key could make what we verify differ from what
 * JSON.parse keeps).
 */
function topLevelMembers(body: string): Map<string, { start: number; end: number }> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  } catch {
    return undefined;
  }
  const members = new Map<string, { start: number; end: number }>();
  let i = skipWhitespace(body, 0);
  if (body[i] !== '{') return undefined;
  i = skipWhitespace(body, i + 1);
  if (body[i] === '}') return members;
  for (;;) {
    if (body[i] !== '"') return undefined;
    const keyEnd = scanString(body, i);
    if (keyEnd < 0) return undefined;
    const key = JSON.parse(body.slice(i, keyEnd)) as string;
    i = skipWhitespace(body, keyEnd);
    if (body[i] !== ':') return undefined;
    const start = skipWhitespace(body, i + 1);
    const end = scanValue(body, start);
    if (end < 0 || members.has(key)) return undefined;
    members.set(key, { start, end });
    i = skipWhitespace(body, end);
    if (body[i] === '}') return members;
    if (body[i] !== ',') return undefined;
    i = skipWhitespace(body, i + 1);
  }
}

/**
 * Finds what Alipay signed in a synchronous response (自行实现验签, 同步响应验签): the exact raw JSON text of
 * the `<method_with_underscores>_response` value — braces, quotes, escapes and spacing as they appear in
 * the body, never re-serialized — falling back to `error_response` when the method's node is absent.
 *
 * @returns undefined when the body is not a well-formed JSON object, repeats a top-level key, has neither
 *   node, or has a non-string sign.
 */
export function extractSignedResponse(rawBody: string, method: string): SignedResponse | undefined {
  const members = topLevelMembers(rawBody);
  if (!members) return undefined;
  let nodeName = responseNodeName(method);
  let span = members.get(nodeName);
  if (!span) {
    nodeName = ERROR_RESPONSE_NODE;
    span = members.get(nodeName);
  }
  if (!span) return undefined;
  const signSpan = members.get('sign');
  let sign: string | undefined;
  if (signSpan) {
    const value: unknown = JSON.parse(rawBody.slice(signSpan.start, signSpan.end));
    if (typeof value !== 'string') return undefined;
    sign = value;
  }
  return { nodeName, content: rawBody.slice(span.start, span.end), sign };
}

export type ResponseFailure = 'malformed' | 'missing-sign' | 'bad-signature';

export type ResponseCheck<T> =
  | {
      ok: true;
      /** The parsed node. Business fields are present only when `success`. */
      response: AlipayResponse & Partial<T>;
      /** code === '10000'. Otherwise read response.code / sub_code / sub_msg and decide. */
      success: boolean;
      /**
       * False only for an unsigned failure response (code != 10000 without sign, which Alipay sends when it
       * could not sign, e.g. for an invalid app_id). Trust it only as "the call failed", never as a state.
       */
      signed: boolean;
    }
  | { ok: false; reason: ResponseFailure };

/**
 * Verifies a synchronous response body against the Alipay public key and returns the parsed node.
 *
 * - 'malformed': not JSON, no response node, node without a string `code`, repeated keys.
 * - 'missing-sign': a success response (code 10000) without sign.
 * - 'bad-signature': the sign does not verify the raw node text.
 * - Alipay errors (code != 10000, e.g. 40004 with sub_code ACQ.TRADE_NOT_EXIST) are { ok: true } with
 *   success false: they are answers, and callers decide. An error without sign is accepted unsigned, as the
 *   official SDK does (it checks the sign of a failure only when one is present).
 *
 * As the official SDK does for responses whose text escapes '/' as '\/', a content containing '\/' that
 * fails verification is tried once more with '\/' replaced by '/'.
 */
export function verifyResponse<T extends object = Record<string, unknown>>(
  rawBody: string,
  method: string,
  alipayPublicKeyPem: KeyInput,
): ResponseCheck<T> {
  const signed = extractSignedResponse(rawBody, method);
  if (!signed) return { ok: false, reason: 'malformed' };
  const node: unknown = JSON.parse(signed.content);
  if (node === null || typeof node !== 'object' || Array.isArray(node) || typeof (node as { code?: unknown }).code !== 'string') {
    return { ok: false, reason: 'malformed' };
  }
  const response = node as AlipayResponse & Partial<T>;
  const success = response.code === SUCCESS_CODE && signed.nodeName !== ERROR_RESPONSE_NODE;
  if (signed.sign === undefined || signed.sign === '') {
    return success ? { ok: false, reason: 'missing-sign' } : { ok: true, response, success, signed: false };
  }
  const verified =
    rsa2Verify(signed.content, signed.sign, alipayPublicKeyPem) ||
    (signed.content.includes('\\/') && rsa2Verify(signed.content.replaceAll('\\/', '/'), signed.sign, alipayPublicKeyPem));
  if (!verified) return { ok: false, reason: 'bad-signature' };
  return { ok: true, response, success, signed: true };
}

/**
 * Platform side (sandbox): the body Alipay would answer, `{"<method>_response":{…},"sign":"…"}`, signed with
 * the platform private key over the exact node text it writes. Business failures (code 40004 …) are signed
 * the same way, under the method's node.
 */
export function signResponse(method: string, response: AlipayResponse, privateKeyPem: KeyInput): string {
  const content = JSON.stringify(response);
  return `{${JSON.stringify(responseNodeName(method))}:${content},"sign":${JSON.stringify(rsa2Sign(content, privateKeyPem))}}`;
}

/**
 * Platform side (sandbox): an unsigned failure body, under `error_response` (or the method's node when
 * given), for failures where Alipay cannot sign (unknown app_id …). Success responses must be signed.
 */
export function unsignedErrorResponse(response: AlipayResponse, method?: string): string {
  if (response.code === SUCCESS_CODE) throw new RangeError('a success response must be signed (use signResponse)');
  return `{${JSON.stringify(method ? responseNodeName(method) : ERROR_RESPONSE_NODE)}:${JSON.stringify(response)}}`;
}

// ---------------------------------------------------------------------------------------------------------
// 6. Async notifications
// ---------------------------------------------------------------------------------------------------------

/**
 * Decodes an application/x-www-form-urlencoded body (a notification, or a request received by the sandbox):
 * '+' is a space, %XX are UTF-8 bytes. The result has no prototype, so a key like "__proto__" is just a key.
 *
 * @throws URIError on malformed percent-encoding, RangeError on a repeated key (which value is signed would
 *   be ambiguous).
 */
export function parseFormBody(formBody: string): Record<string, string> {
  const params = Object.create(null) as Record<string, string>;
  for (const pair of formBody.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const decode = (part: string) => decodeURIComponent(part.replaceAll('+', ' '));
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    if (Object.hasOwn(params, key)) throw new RangeError(`repeated form parameter ${JSON.stringify(key)}`);
    params[key] = value;
  }
  return params;
}

/**
 * Decodes the body of an async notification POST into its parameter map (URL-decoded, '+' as space).
 * Our requests say charset=utf-8, so Alipay's notifications are UTF-8. Throws like {@link parseFormBody}.
 */
export function parseNotification(formBody: string): Record<string, string> {
  return parseFormBody(formBody);
}

/** The typed fields of a trade_status_sync notification. Amounts are exact fen. */
export interface TradeNotification {
  notifyId: string;
  /** 'yyyy-MM-dd HH:mm:ss', Beijing time (read with parseAlipayTime). */
  notifyTime: string;
  notifyType: string | undefined;
  appId: string;
  sellerId: string | undefined;
  tradeStatus: TradeStatus;
  outTradeNo: string;
  tradeNo: string;
  totalAmountFen: Fen;
  receiptAmountFen: Fen | undefined;
  buyerPayAmountFen: Fen | undefined;
  /** Cumulative refunded amount of the trade, on refund notifications. */
  refundFeeFen: Fen | undefined;
  gmtPayment: string | undefined;
  /** 'yyyy-MM-dd HH:mm:ss.SSS' on refund notifications. */
  gmtRefund: string | undefined;
  /** The out_request_no of the refund that caused this notification. */
  outBizNo: string | undefined;
  /** Every parameter as received, for what the typed fields leave out. */
  params: Readonly<Record<string, string>>;
}

export type NotificationFailure = SignatureFailure | 'wrong-app-id' | 'wrong-seller-id' | 'malformed';
export type NotificationCheck = { ok: true; notification: TradeNotification } | { ok: false; reason: NotificationFailure };

/**
 * Verifies an async notification (异步通知验签, then 异步通知说明's checks the module can make): the RSA2 sign
 * over every parameter but sign and sign_type, then that app_id is ours and, when given, seller_id; then
 * reads the typed fields ('malformed' when a required one is missing or an amount is not exact yuan).
 *
 * Still the caller's job, per the docs: that out_trade_no is one of our orders and total_amount is its
 * amount; treat notify_id as an idempotency key (Alipay re-sends); answer {@link NOTIFICATION_ACK}.
 */
export function verifyNotification(
  params: Readonly<Record<string, string>>,
  alipayPublicKeyPem: KeyInput,
  expected: { appId: string; sellerId?: string },
): NotificationCheck {
  const signature = verifyParams(params, alipayPublicKeyPem, { notification: true });
  if (!signature.ok) return signature;
  if (params.app_id !== expected.appId) return { ok: false, reason: 'wrong-app-id' };
  if (expected.sellerId !== undefined && params.seller_id !== expected.sellerId) return { ok: false, reason: 'wrong-seller-id' };
  try {
    const required = (key: string): string => {
      const value = params[key];
      if (value === undefined || value === '') throw new RangeError(`missing ${key}`);
      return value;
    };
    const optional = (key: string): string | undefined => (params[key] === '' ? undefined : params[key]);
    const amount = (key: string): Fen | undefined => {
      const value = optional(key);
      return value === undefined ? undefined : yuanToFen(value);
    };
    const tradeStatus = required('trade_status');
    if (!(TRADE_STATUSES as readonly string[]).includes(tradeStatus)) throw new RangeError(`unknown trade_status ${tradeStatus}`);
    return {
      ok: true,
      notification: {
        notifyId: required('notify_id'),
        notifyTime: required('notify_time'),
        notifyType: optional('notify_type'),
        appId: required('app_id'),
        sellerId: optional('seller_id'),
        tradeStatus: tradeStatus as TradeStatus,
        outTradeNo: required('out_trade_no'),
        tradeNo: required('trade_no'),
        totalAmountFen: yuanToFen(required('total_amount')),
        receiptAmountFen: amount('receipt_amount'),
        buyerPayAmountFen: amount('buyer_pay_amount'),
        refundFeeFen: amount('refund_fee'),
        gmtPayment: optional('gmt_payment'),
        gmtRefund: optional('gmt_refund'),
        outBizNo: optional('out_biz_no'),
        params,
      },
    };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

/**
 * Platform side (sandbox): the form body of an async notification, with sign_type=RSA2 and sign over every
 * other parameter (notification rule). Undefined fields are left out; empty strings are kept (and signed).
 * Alipay's trade notifications carry notify_time, notify_type=trade_status_sync, notify_id, app_id,
 * charset, version, trade_no, out_trade_no, trade_status, total_amount, … (amounts via fenToYuan).
 */
export function buildNotification(fields: Readonly<Record<string, string | undefined>>, privateKeyPem: KeyInput): string {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'sign' || key === 'sign_type' || value === undefined) continue;
    params[key] = value;
  }
  params.sign_type = SIGN_TYPE;
  params.sign = signParams(params, privateKeyPem, { notification: true });
  return new URLSearchParams(params).toString();
}

// ---------------------------------------------------------------------------------------------------------
// 7. Trade bill (业务明细) CSV
// ---------------------------------------------------------------------------------------------------------

/**
 * The 业务明细 header, in Alipay's order. In production the bill_download_url serves a zip of GBK CSVs
 * (…_业务明细.csv and …_业务明细(汇总).csv); this module handles the detail CSV as decoded text only.
 */
export const TRADE_BILL_COLUMNS = [
  '支付宝交易号',
  '商户订单号',
  '业务类型',
  '商品名称',
  '创建时间',
  '完成时间',
  '门店编号',
  '门店名称',
  '操作员',
  '终端号',
  '对方账户',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '券名称',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '退款批次号/请求号',
  '服务费（元）',
  '分润（元）',
  '备注',
] as const;

/**
 * The columns the parser relies on, found by header name (not position, so added or reordered columns do
 * not break it): 支付宝交易号, 商户订单号, 业务类型, 商品名称, 创建时间, 完成时间, 订单金额（元）,
 * 商家实收（元）, 退款批次号/请求号. Discounts, fees (服务费) and profit sharing (分润) are ignored.
 */
const RELIED_COLUMNS = {
  tradeNo: '支付宝交易号',
  outTradeNo: '商户订单号',
  type: '业务类型',
  subject: '商品名称',
  createdAt: '创建时间',
  finishedAt: '完成时间',
  orderAmount: '订单金额（元）',
  amount: '商家实收（元）',
  refundRequestNo: '退款批次号/请求号',
} as const;

export type TradeBillRowType = '交易' | '退款';

export interface TradeBillRow {
  /** 支付宝交易号 (trade_no). */
  tradeNo: string;
  /** 商户订单号 (out_trade_no). */
  outTradeNo: string;
  /** 业务类型: '交易' (payment) or '退款' (refund). */
  type: TradeBillRowType;
  /** 商品名称 (subject). */
  subject: string;
  /** 订单金额（元）, as written in the file (signed). */
  orderAmountFen: Fen;
  /** 商家实收（元）: what the merchant received; negative on refund rows. Reconcile against this. */
  amountFen: Fen;
  /** 创建时间, 'yyyy-MM-dd HH:mm:ss' Beijing time. */
  createdAt: string;
  /** 完成时间, 'yyyy-MM-dd HH:mm:ss' Beijing time. */
  finishedAt: string;
  /** 退款批次号/请求号 (the refund's out_request_no), when not empty. */
  refundRequestNo?: string;
}

/** Alipay pads cells with tabs ("2024…\t,") so spreadsheets keep long numbers as text; unquoted cells lose that. */
function trimPadding(value: string): string {
  return value.replace(/^[\t ]+|[\t ]+$/g, '');
}

/**
 * One CSV record per line, RFC 4180 quoting accepted (a quoted cell keeps its content verbatim; padding
 * around the quotes is dropped); lines starting with '#' are comments; blank records are skipped.
 */
function csvRecords(text: string): { line: number; cells: string[] }[] {
  const records: { line: number; cells: string[] }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const startLine = line;
    if (text[i] === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      i++;
      line++;
      continue;
    }
    const cells: string[] = [];
    let cell = '';
    let quoted = false; // inside quotes now
    let wasQuoted = false; // this cell was a quoted one
    const endCell = () => {
      cells.push(wasQuoted ? cell : trimPadding(cell));
      cell = '';
      wasQuoted = false;
    };
    for (;;) {
      if (i >= text.length) {
        if (quoted) throw new RangeError(`trade bill line ${startLine}: unterminated quoted cell`);
        endCell();
        break;
      }
      const c = text[i]!;
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          cell += '"';
          i += 2;
        } else if (c === '"') {
          quoted = false;
          i++;
        } else {
          if (c === '\n') line++;
          cell += c;
          i++;
        }
      } else if (c === ',') {
        endCell();
        i++;
      } else if (c === '\n' || c === '\r') {
        endCell();
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        break;
      } else if (c === '"' && !wasQuoted && trimPadding(cell) === '') {
        quoted = true;
        wasQuoted = true;
        cell = '';
        i++;
      } else if (wasQuoted && (c === '\t' || c === ' ')) {
        i++; // padding after the closing quote
      } else if (wasQuoted) {
        throw new RangeError(`trade bill line ${startLine}: text after a quoted cell`);
      } else {
        cell += c;
        i++;
      }
    }
    if (cells.some((value) => value !== '')) records.push({ line: startLine, cells });
  }
  return records;
}

const BILL_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/**
 * Parses the 业务明细 CSV (decoded text): skips '#' comment lines (title, account, dates, separators, totals,
 * export time) and blank lines, locates the header row by its first cell 支付宝交易号, then reads each row
 * through the columns listed at RELIED_COLUMNS. Amounts are exact (signedYuanToFen): refund rows carry
 * negative 商家实收 such as '-12.30'. Half-width parentheses in header names are accepted too.
 *
 * @throws RangeError naming the line, for a missing header or column, an unknown 业务类型, a bad amount or time.
 */
export function parseTradeBillCsv(text: string): TradeBillRow[] {
  const records = csvRecords(text);
  const headerIndex = records.findIndex((record) => record.cells[0] === RELIED_COLUMNS.tradeNo);
  if (headerIndex < 0) throw new RangeError(`trade bill: no header row starting with ${RELIED_COLUMNS.tradeNo}`);
  const header = records[headerIndex]!.cells.map((name) => name.replaceAll('(', '（').replaceAll(')', '）'));
  const column = {} as Record<keyof typeof RELIED_COLUMNS, number>;
  for (const [field, name] of Object.entries(RELIED_COLUMNS) as [keyof typeof RELIED_COLUMNS, string][]) {
    const index = header.indexOf(name);
    if (index < 0) throw new RangeError(`trade bill: header has no column ${name}`);
    column[field] = index;
  }
  return records.slice(headerIndex + 1).map(({ line, cells }) => {
    const cell = (field: keyof typeof RELIED_COLUMNS) => cells[column[field]] ?? '';
    const fail = (what: string): never => {
      throw new RangeError(`trade bill line ${line}: ${what}`);
    };
    const type = cell('type');
    if (type !== '交易' && type !== '退款') fail(`unknown 业务类型 ${JSON.stringify(type)}`);
    const amount = (field: 'orderAmount' | 'amount') => {
      try {
        return signedYuanToFen(cell(field));
      } catch {
        return fail(`bad amount ${JSON.stringify(cell(field))} in ${RELIED_COLUMNS[field]}`);
      }
    };
    const time = (field: 'createdAt' | 'finishedAt') => (BILL_TIME.test(cell(field)) ? cell(field) : fail(`bad time in ${RELIED_COLUMNS[field]}`));
    const tradeNo = cell('tradeNo') || fail('empty 支付宝交易号');
    const row: TradeBillRow = {
      tradeNo,
      outTradeNo: cell('outTradeNo'),
      type: type as TradeBillRowType,
      subject: cell('subject'),
      orderAmountFen: amount('orderAmount'),
      amountFen: amount('amount'),
      createdAt: time('createdAt'),
      finishedAt: time('finishedAt'),
    };
    const refundRequestNo = cell('refundRequestNo');
    if (refundRequestNo !== '') row.refundRequestNo = refundRequestNo;
    return row;
  });
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value;
}

/** '2024-05-01' → '2024年05月01日'. */
function chineseDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-');
  return `${y}年${m}月${d}日`;
}

export interface TradeBillHeader {
  /** The Alipay account (PID, 2088…) shown in the '#账号' line. */
  account?: string;
  /** The bill's day, 'yyyy-MM-dd': shown as the 起始日期 / 终止日期 line. */
  billDate?: string;
  /** Shown as the '#导出时间' line. */
  exportedAt?: Date;
}

/**
 * Platform side (sandbox): writes rows in the 业务明细 layout that {@link parseTradeBillCsv} reads: comment
 * lines, the full 25-column header, one line per row (columns the rows do not model are empty or 0.00),
 * the end separator and the 交易合计 / 退款合计 comment lines. Cells are not tab-padded; a cell with a
 * comma, quote or line break is quoted (RFC 4180). Lines end with '\n'.
 *
 * @throws RangeError for a refund row with a positive amountFen or a payment row with a negative one.
 */
export function formatTradeBillCsv(rows: readonly TradeBillRow[], header: TradeBillHeader = {}): string {
  const lines: string[] = ['#支付宝业务明细查询'];
  if (header.account !== undefined) lines.push(`#账号：[${header.account}]`);
  if (header.billDate !== undefined) {
    billDownloadUrlQueryBizContent(header.billDate); // validates the date
    const next = new Date(Date.parse(`${header.billDate}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    lines.push(`#起始日期：[${chineseDate(header.billDate)} 00:00:00]   终止日期：[${chineseDate(next)} 00:00:00]`);
  }
  lines.push('#-----------------------------------------业务明细列表----------------------------------------');
  lines.push(TRADE_BILL_COLUMNS.join(','));
  const totals = { 交易: { count: 0, fen: 0 }, 退款: { count: 0, fen: 0 } };
  for (const row of rows) {
    assertFen(row.amountFen, 'amountFen');
    assertFen(row.orderAmountFen, 'orderAmountFen');
    if (row.type === '退款' ? row.amountFen > 0 : row.amountFen < 0) {
      throw new RangeError(`bill row ${row.tradeNo}: a ${row.type} row cannot have amountFen ${row.amountFen}`);
    }
    totals[row.type].count++;
    totals[row.type].fen += row.amountFen;
    const byName: Partial<Record<(typeof TRADE_BILL_COLUMNS)[number], string>> = {
      支付宝交易号: row.tradeNo,
      商户订单号: row.outTradeNo,
      业务类型: row.type,
      商品名称: row.subject,
      创建时间: row.createdAt,
      完成时间: row.finishedAt,
      '订单金额（元）': fenToYuan(row.orderAmountFen),
      '商家实收（元）': fenToYuan(row.amountFen),
      '退款批次号/请求号': row.refundRequestNo ?? '',
    };
    lines.push(TRADE_BILL_COLUMNS.map((name) => csvCell(byName[name] ?? (name.endsWith('（元）') ? '0.00' : ''))).join(','));
  }
  lines.push('#-----------------------------------------业务明细列表结束------------------------------------');
  lines.push(`#交易合计：${totals.交易.count}笔，商家实收共${fenToYuan(totals.交易.fen)}元，商家优惠共0.00元`);
  lines.push(`#退款合计：${totals.退款.count}笔，商家实收退款共${fenToYuan(totals.退款.fen)}元，商家优惠退款共0.00元`);
  if (header.exportedAt !== undefined) {
    const [date = '', time = ''] = formatAlipayTime(header.exportedAt).split(' ');
    lines.push(`#导出时间：[${chineseDate(date)} ${time}]`);
  }
  return `${lines.join('\n')}\n`;
}
