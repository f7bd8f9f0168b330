import { generateKeyPairSync, verify as rsaVerify, constants } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_CLOCK_SKEW_SECONDS,
  PATHS,
  WechatPayFormatError,
  billFileHash,
  buildNotification,
  closeOrderBody,
  closeOrderPath,
  decryptResource,
  encryptResource,
  fenToYuan,
  formatRfc3339Beijing,
  formatTradeBill,
  jsapiOrderBody,
  jsapiPayParams,
  jsapiPaySignMessage,
  nativeOrderBody,
  openNotification,
  parseAuthorization,
  parseNotification,
  parseRefund,
  parseTradeBill,
  parseTradeBillResponse,
  parseTransaction,
  queryByOutTradeNoPath,
  queryRefundPath,
  refundBody,
  requestSignatureMessage,
  responseSignatureMessage,
  signRequest,
  signResponse,
  tradeBillPath,
  verifyJsapiPaySign,
  verifyPlatformSignature,
  verifyRequestSignature,
  yuanToFen,
  type TradeBillRow,
} from './wechatpay-v3.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const merchant = rsa();
const platform = rsa();
const stranger = rsa();

const MCHID = '1900009191';
const MERCHANT_SERIAL = '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C';
const PLATFORM_SERIAL = 'PUB_KEY_ID_0000000000000024101100397200000006';
const API_V3_KEY = 'abcdefghijklmnopqrstuvwxyz012345'; // 32 bytes
const T0 = 1554208460;
const at = (seconds: number) => new Date(seconds * 1000);

describe('request signature (签名生成)', () => {
  it('signs exactly METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n', () => {
    expect(
      requestSignatureMessage({ method: 'GET', urlPathWithQuery: '/v3/certificates', timestamp: T0, nonce: '593BEC0C930BF1AFEB40B4A08C8FB242', body: '' }),
    ).toBe('GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n');
    expect(requestSignatureMessage({ method: 'post', urlPathWithQuery: '/v3/pay/transactions/native', timestamp: T0, nonce: 'N1', body: '{"a":1}' })).toBe(
      'POST\n/v3/pay/transactions/native\n1554208460\nN1\n{"a":1}\n',
    );
  });

  it('builds the Authorization header over that message, and the header parses back', () => {
    const body = JSON.stringify({ mchid: MCHID, out_trade_no: 'order_0001' });
    const header = signRequest({
      method: 'POST',
      urlPathWithQuery: PATHS.nativeOrder,
      body,
      mchid: MCHID,
      serialNo: MERCHANT_SERIAL,
      privateKey: merchant.privateKey,
      timestamp: T0,
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    expect(header).toMatch(
      /^WECHATPAY2-SHA256-RSA2048 mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="[A-Za-z0-9+/]+=*",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"$/,
    );
    const fields = parseAuthorization(header);
    expect(fields).toMatchObject({ mchid: MCHID, nonceStr: '593BEC0C930BF1AFEB40B4A08C8FB242', timestamp: '1554208460', serialNo: MERCHANT_SERIAL });
    const message = `POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n${body}\n`;
    const ok = rsaVerify('sha256', Buffer.from(message), { key: merchant.publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(fields.signature, 'base64'));
    expect(ok).toBe(true);
  });

  it('parses parameters in any order and refuses malformed headers', () => {
    const f = parseAuthorization('WECHATPAY2-SHA256-RSA2048 serial_no="S", timestamp="1", signature="c2ln", nonce_str="n", mchid="m"');
    expect(f).toEqual({ mchid: 'm', nonceStr: 'n', signature: 'c2ln', timestamp: '1', serialNo: 'S' });
    expect(() => parseAuthorization('Bearer x')).toThrow(WechatPayFormatError);
    expect(() => parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="m",nonce_str="n"')).toThrow(/lacks signature/);
    expect(() => parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="m",mchid="x",nonce_str="n",signature="s",timestamp="1",serial_no="S"')).toThrow(/repeats mchid/);
    expect(() => parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid=m')).toThrow(/name="value"/);
  });

  describe('verifyRequestSignature (the sandbox checks a merchant)', () => {
    const keys = new Map([[MERCHANT_SERIAL, merchant.publicKey]]);
    const path = queryByOutTradeNoPath('order_0001', MCHID);
    const authorization = signRequest({ method: 'GET', urlPathWithQuery: path, mchid: MCHID, serialNo: MERCHANT_SERIAL, privateKey: merchant.privateKey, timestamp: T0 });
    const base = { method: 'GET', urlPathWithQuery: path, body: '', authorization, keys, now: at(T0 + 10) };

    it('accepts the request as signed', () => {
      expect(verifyRequestSignature({ ...base, expectedMchid: MCHID })).toEqual({ ok: true, mchid: MCHID, serialNo: MERCHANT_SERIAL });
    });

    it('recomputes the message from what was actually received', () => {
      expect(verifyRequestSignature({ ...base, urlPathWithQuery: queryByOutTradeNoPath('order_0002', MCHID) })).toMatchObject({ ok: false, reason: 'bad-signature' });
      expect(verifyRequestSignature({ ...base, method: 'POST' })).toMatchObject({ ok: false, reason: 'bad-signature' });
      expect(verifyRequestSignature({ ...base, body: '{}' })).toMatchObject({ ok: false, reason: 'bad-signature' });
    });

    it('names each failure', () => {
      expect(verifyRequestSignature({ ...base, authorization: undefined })).toMatchObject({ ok: false, reason: 'missing-header' });
      expect(verifyRequestSignature({ ...base, authorization: 'WECHATPAY2-SHA256-RSA2048 x' })).toMatchObject({ ok: false, reason: 'malformed-authorization' });
      expect(verifyRequestSignature({ ...base, expectedMchid: '1230000109' })).toMatchObject({ ok: false, reason: 'mchid-mismatch' });
      expect(verifyRequestSignature({ ...base, keys: new Map() })).toMatchObject({ ok: false, reason: 'unknown-serial' });
      expect(verifyRequestSignature({ ...base, now: at(T0 + 360) })).toMatchObject({ ok: false, reason: 'stale-timestamp' });
      expect(verifyRequestSignature({ ...base, keys: new Map([[MERCHANT_SERIAL, stranger.publicKey]]) })).toMatchObject({ ok: false, reason: 'bad-signature' });
    });
  });
});

describe('response and callback signature (签名验证)', () => {
  const body = '{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}';
  const keys = new Map([[PLATFORM_SERIAL, platform.publicKey]]);
  const headers = signResponse({ body, serial: PLATFORM_SERIAL, privateKey: platform.privateKey, timestamp: T0, nonce: 'd824f2e086d3c1df967785d13fcd22ef' });
  const now = at(T0 + 5);

  it('signs TIMESTAMP\\nNONCE\\nBODY\\n into the five Wechatpay-* headers', () => {
    expect(responseSignatureMessage({ timestamp: T0, nonce: 'd824f2e086d3c1df967785d13fcd22ef', body })).toBe(`1554208460\nd824f2e086d3c1df967785d13fcd22ef\n${body}\n`);
    expect(responseSignatureMessage({ timestamp: T0, nonce: 'n', body: '' })).toBe('1554208460\nn\n\n');
    expect(headers).toMatchObject({
      'Wechatpay-Timestamp': '1554208460',
      'Wechatpay-Nonce': 'd824f2e086d3c1df967785d13fcd22ef',
      'Wechatpay-Serial': PLATFORM_SERIAL,
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    });
  });

  it('verifies a genuine response', () => {
    expect(verifyPlatformSignature({ headers, body, keys, now })).toEqual({ ok: true, serial: PLATFORM_SERIAL });
    // An empty body (204 No Content) signs and verifies too.
    const empty = signResponse({ body: '', serial: PLATFORM_SERIAL, privateKey: platform.privateKey, timestamp: T0 });
    expect(verifyPlatformSignature({ headers: empty, body: '', keys, now })).toMatchObject({ ok: true });
  });

  it('refuses a body changed by one character', () => {
    const forged = body.replace('JyC91EIz1', 'JyC91EIz2');
    expect(verifyPlatformSignature({ headers, body: forged, keys, now })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verifyPlatformSignature({ headers: { ...headers, 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/abc' }, body, keys, now })).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyPlatformSignature({ headers, body, keys: new Map([[PLATFORM_SERIAL, stranger.publicKey]]), now })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a timestamp more than 5 minutes away, either way', () => {
    expect(MAX_CLOCK_SKEW_SECONDS).toBe(300);
    expect(verifyPlatformSignature({ headers, body, keys, now: at(T0 + 300) })).toMatchObject({ ok: true });
    expect(verifyPlatformSignature({ headers, body, keys, now: at(T0 + 360) })).toMatchObject({ ok: false, reason: 'stale-timestamp', detail: expect.stringMatching(/360 s old/) });
    expect(verifyPlatformSignature({ headers, body, keys, now: at(T0 - 360) })).toMatchObject({ ok: false, reason: 'stale-timestamp', detail: expect.stringMatching(/in the future/) });
  });

  it('refuses a serial we hold no key for (certificate serials and PUB_KEY_ID alike)', () => {
    const certKeys = new Map([['5157F09EFDC096DE15EBE81A47057A7232F1B8E1', platform.publicKey]]);
    expect(verifyPlatformSignature({ headers, body, keys: certKeys, now })).toMatchObject({ ok: false, reason: 'unknown-serial' });
    const wrong = { ...headers, 'Wechatpay-Serial': 'PUB_KEY_ID_0000000000000000000000000000000000' };
    expect(verifyPlatformSignature({ headers: wrong, body, keys, now })).toMatchObject({ ok: false, reason: 'unknown-serial' });
  });

  it('reports a missing header', () => {
    for (const name of ['Wechatpay-Timestamp', 'Wechatpay-Nonce', 'Wechatpay-Signature', 'Wechatpay-Serial'] as const) {
      const partial: Record<string, string> = { ...headers };
      delete partial[name];
      expect(verifyPlatformSignature({ headers: partial, body, keys, now })).toMatchObject({ ok: false, reason: 'missing-header', detail: `no ${name} header` });
    }
    expect(verifyPlatformSignature({ headers: { ...headers, 'Wechatpay-Timestamp': 'soon' }, body, keys, now })).toMatchObject({ ok: false, reason: 'missing-header' });
  });

  it('reads header names in any case: Node lower-cases them, fetch Headers too', () => {
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyPlatformSignature({ headers: lower, body, keys, now })).toMatchObject({ ok: true });
    expect(verifyPlatformSignature({ headers: upper, body, keys, now })).toMatchObject({ ok: true });
    expect(verifyPlatformSignature({ headers: new Headers(headers), body, keys, now })).toMatchObject({ ok: true });
    const twice = { ...lower, 'Wechatpay-Signature': 'AAAA' };
    expect(verifyPlatformSignature({ headers: twice, body, keys, now })).toMatchObject({ ok: false, reason: 'missing-header', detail: expect.stringMatching(/more than once/) });
  });
});

describe('resource encryption (AEAD_AES_256_GCM)', () => {
  const plaintext = JSON.stringify({ out_trade_no: 'order_0001', note: '物业费 2025-03' });
  const resource = encryptResource(plaintext, API_V3_KEY, { originalType: 'transaction', associatedData: 'transaction' });

  it('round-trips, in the shape of a real notification resource', () => {
    expect(resource).toMatchObject({ original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction' });
    expect(resource.nonce).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(Buffer.from(resource.ciphertext, 'base64').length).toBe(Buffer.byteLength(plaintext) + 16);
    expect(decryptResource(resource, API_V3_KEY)).toEqual({ ok: true, plaintext });
    const noAad = encryptResource('{}', API_V3_KEY, { originalType: 'refund', associatedData: '' });
    const { associated_data: _dropped, ...withoutAad } = noAad;
    expect(decryptResource(withoutAad, API_V3_KEY)).toEqual({ ok: true, plaintext: '{}' });
  });

  it('refuses a changed ciphertext byte, tag byte, associated data, nonce or key', () => {
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    const flip = (i: number) => {
      const copy = Buffer.from(bytes);
      copy[i]! ^= 0x01;
      return copy.toString('base64');
    };
    expect(decryptResource({ ...resource, ciphertext: flip(0) }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    expect(decryptResource({ ...resource, ciphertext: flip(bytes.length - 1) }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    expect(decryptResource({ ...resource, associated_data: 'refund' }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    expect(decryptResource({ ...resource, nonce: 'AAAAAAAAAAAA' }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    expect(decryptResource(resource, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345')).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    expect(decryptResource({ ...resource, ciphertext: 'not base64!' }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    expect(decryptResource({ ...resource, ciphertext: 'AAAA' }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
  });

  it('refuses another algorithm, and a key that is not 32 bytes', () => {
    expect(decryptResource({ ...resource, algorithm: 'AEAD_SM4_GCM' }, API_V3_KEY)).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
    expect(() => decryptResource(resource, 'short')).toThrow(RangeError);
  });
});

const paidTransaction = {
  appid: 'wxd678efh567hg6787',
  mchid: MCHID,
  out_trade_no: 'order_0001',
  transaction_id: '4200000991202103266853086457',
  trade_type: 'JSAPI',
  trade_state: 'SUCCESS',
  trade_state_desc: '支付成功',
  bank_type: 'CMC',
  attach: '',
  success_time: '2025-03-31T14:05:09+08:00',
  payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: 12345, payer_total: 12345, currency: 'CNY', payer_currency: 'CNY' },
};

describe('notifications', () => {
  it('builds, signs, verifies, parses and opens a payment notification end to end', () => {
    const notification = buildNotification({ eventType: 'TRANSACTION.SUCCESS', resource: JSON.stringify(paidTransaction), apiV3Key: API_V3_KEY, createTime: at(T0) });
    expect(notification).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', summary: '支付成功', create_time: '2019-04-02T20:34:20+08:00' });
    expect(notification.resource.original_type).toBe('transaction');
    const body = JSON.stringify(notification);
    const headers = signResponse({ body, serial: PLATFORM_SERIAL, privateKey: platform.privateKey, timestamp: T0 });
    const keys = new Map([[PLATFORM_SERIAL, platform.publicKey]]);
    expect(parseNotification(body)).toEqual(notification);

    const opened = openNotification({ headers, body, keys, apiV3Key: API_V3_KEY, now: at(T0) });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const tx = parseTransaction(opened.plaintext);
    expect(tx.trade_state).toBe('SUCCESS');
    if (tx.trade_state === 'SUCCESS') expect(tx.amount.total).toBe(12345);

    expect(openNotification({ headers, body: body.replace('支付成功', '支付失败'), keys, apiV3Key: API_V3_KEY, now: at(T0) })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(openNotification({ headers, body, keys, apiV3Key: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345', now: at(T0) })).toMatchObject({ ok: false, reason: 'bad-ciphertext' });
    const junk = '{"id":"EV-1"}';
    const junkHeaders = signResponse({ body: junk, serial: PLATFORM_SERIAL, privateKey: platform.privateKey, timestamp: T0 });
    expect(openNotification({ headers: junkHeaders, body: junk, keys, apiV3Key: API_V3_KEY, now: at(T0) })).toMatchObject({ ok: false, reason: 'malformed-notification' });
  });

  it('parses the refund notification envelope and resource', () => {
    const refund = {
      mchid: MCHID,
      out_trade_no: 'order_0001',
      transaction_id: '4200000991202103266853086457',
      out_refund_no: 'refund_0001',
      refund_id: '50000000382019052709732678859',
      refund_status: 'SUCCESS',
      success_time: '2025-04-01T09:00:00+08:00',
      user_received_account: '支付用户零钱',
      amount: { total: 12345, refund: 345, payer_total: 12345, payer_refund: 345 },
    };
    const n = buildNotification({ eventType: 'REFUND.SUCCESS', resource: JSON.stringify(refund), apiV3Key: API_V3_KEY });
    expect(n.summary).toBe('退款成功');
    expect(n.resource.original_type).toBe('refund');
    const opened = decryptResource(parseNotification(JSON.stringify(n)).resource, API_V3_KEY);
    expect(opened.ok && parseRefund(opened.plaintext)).toEqual(refund);
    // The 申请退款 / 查询退款 response names the status `status`.
    const { refund_status: _s, mchid: _m, ...rest } = refund;
    expect(parseRefund(JSON.stringify({ ...rest, status: 'PROCESSING', success_time: '' })).refund_status).toBe('PROCESSING');
    expect(() => parseRefund(JSON.stringify({ ...refund, amount: { ...refund.amount, refund: 20000 } }))).toThrow(/exceeds amount.total/);
    expect(() => parseNotification(JSON.stringify({ ...n, event_type: 'MCHTRANSFER.BILL.FINISHED' }))).toThrow(/event_type must be one of/);
  });
});

describe('parseTransaction', () => {
  const text = (patch: Record<string, unknown>) => JSON.stringify({ ...paidTransaction, ...patch });

  it('accepts a paid transaction', () => {
    const tx = parseTransaction(JSON.stringify(paidTransaction));
    expect(tx).toMatchObject({ trade_state: 'SUCCESS', trade_type: 'JSAPI', payer: { openid: paidTransaction.payer.openid }, amount: paidTransaction.amount });
  });

  it('refuses missing fields with their names', () => {
    expect(() => parseTransaction(text({ out_trade_no: undefined }))).toThrow('transaction.out_trade_no is required');
    expect(() => parseTransaction(text({ transaction_id: '' }))).toThrow('transaction.transaction_id is required');
    expect(() => parseTransaction(text({ payer: undefined }))).toThrow('transaction.payer is required');
    expect(() => parseTransaction(text({ amount: { total: 1, currency: 'CNY', payer_currency: 'CNY' } }))).toThrow('transaction.amount.payer_total is required');
    expect(() => parseTransaction(text({ trade_state: 'PAID' }))).toThrow(/transaction.trade_state must be one of SUCCESS, REFUND/);
    expect(() => parseTransaction(text({ success_time: '2025-03-31 14:05:09' }))).toThrow(/success_time must be an RFC 3339 time/);
    expect(() => parseTransaction('not json')).toThrow('transaction is not JSON');
    expect(() => parseTransaction('[]')).toThrow('transaction is not a JSON object');
  });

  it('refuses amounts that are not whole non-negative fen, and other currencies', () => {
    const amount = (a: Record<string, unknown>) => text({ amount: { ...paidTransaction.amount, ...a } });
    expect(() => parseTransaction(amount({ total: 123.45 }))).toThrow('transaction.amount.total must be a non-negative whole number of fen, got 123.45');
    expect(() => parseTransaction(amount({ total: -1 }))).toThrow('transaction.amount.total must be a non-negative whole number of fen, got -1');
    expect(() => parseTransaction(amount({ payer_total: '12345' }))).toThrow('transaction.amount.payer_total must be a non-negative whole number of fen, got "12345"');
    expect(() => parseTransaction(amount({ total: 2 ** 53 }))).toThrow(/non-negative whole number of fen/);
    expect(() => parseTransaction(amount({ currency: 'USD' }))).toThrow('transaction.amount.currency must be one of CNY, got "USD"');
  });

  it('accepts an unpaid order from the query API with fewer fields', () => {
    const tx = parseTransaction(
      JSON.stringify({ appid: paidTransaction.appid, mchid: MCHID, out_trade_no: 'order_0002', trade_state: 'NOTPAY', trade_state_desc: '订单未支付', payer: {}, amount: { total: 100, currency: 'CNY' } }),
    );
    expect(tx).toEqual({ appid: paidTransaction.appid, mchid: MCHID, out_trade_no: 'order_0002', trade_state: 'NOTPAY', trade_state_desc: '订单未支付', payer: {}, amount: { total: 100, currency: 'CNY' } });
    expect(() => parseTransaction(JSON.stringify({ ...tx, amount: { total: -5 } }))).toThrow(/amount.total must be a non-negative/);
  });
});

describe('request bodies and paths', () => {
  const order = {
    appid: 'wxd678efh567hg6787',
    mchid: MCHID,
    description: '物业费 2025年3月 1栋101',
    outTradeNo: 'PF2025031|01*A',
    totalFen: 12345,
    notifyUrl: 'https://estate.example.cn/api/payments/wechat/notify',
    timeExpire: new Date('2025-03-31T06:05:09.999Z'),
  };

  it('builds Native and JSAPI order bodies with fen and a +08:00 time_expire', () => {
    expect(nativeOrderBody(order)).toEqual({
      appid: order.appid,
      mchid: MCHID,
      description: order.description,
      out_trade_no: order.outTradeNo,
      time_expire: '2025-03-31T14:05:09+08:00',
      notify_url: order.notifyUrl,
      amount: { total: 12345, currency: 'CNY' },
    });
    expect(jsapiOrderBody({ ...order, openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }).payer).toEqual({ openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    expect(formatRfc3339Beijing(new Date('2025-12-31T16:00:00Z'))).toBe('2026-01-01T00:00:00+08:00');
  });

  it('refuses what WeChat Pay would refuse', () => {
    expect(() => nativeOrderBody({ ...order, totalFen: 0 })).toThrow(/totalFen/);
    expect(() => nativeOrderBody({ ...order, totalFen: 1.5 })).toThrow(/totalFen/);
    expect(() => nativeOrderBody({ ...order, outTradeNo: 'abc' })).toThrow(/out_trade_no/);
    expect(() => nativeOrderBody({ ...order, outTradeNo: 'order/0001' })).toThrow(/out_trade_no/);
    expect(() => nativeOrderBody({ ...order, notifyUrl: 'https://x.cn/notify?id=1' })).toThrow(/query string/);
    expect(() => nativeOrderBody({ ...order, description: 'x'.repeat(128) })).toThrow(/description/);
  });

  it('builds refund and close bodies', () => {
    expect(refundBody({ outTradeNo: 'order_0001', outRefundNo: 'R@2025-0001', reason: '退费', refundFen: 345, totalFen: 12345 })).toEqual({
      out_trade_no: 'order_0001',
      out_refund_no: 'R@2025-0001',
      reason: '退费',
      amount: { refund: 345, total: 12345, currency: 'CNY' },
    });
    expect(() => refundBody({ outRefundNo: 'R1', refundFen: 1, totalFen: 1 })).toThrow(/exactly one/);
    expect(() => refundBody({ outTradeNo: 'order_0001', outRefundNo: 'R1', refundFen: 2, totalFen: 1 })).toThrow(/exceeds/);
    expect(closeOrderBody(MCHID)).toEqual({ mchid: MCHID });
  });

  it('builds paths with encoded segments', () => {
    expect(PATHS).toMatchObject({ nativeOrder: '/v3/pay/transactions/native', jsapiOrder: '/v3/pay/transactions/jsapi', refunds: '/v3/refund/domestic/refunds' });
    expect(queryByOutTradeNoPath('PF2025031|01*A', MCHID)).toBe('/v3/pay/transactions/out-trade-no/PF2025031%7C01*A?mchid=1900009191');
    expect(closeOrderPath('order_0001')).toBe('/v3/pay/transactions/out-trade-no/order_0001/close');
    expect(queryRefundPath('R@2025-0001')).toBe('/v3/refund/domestic/refunds/R%402025-0001');
    expect(tradeBillPath('2025-03-31')).toBe('/v3/bill/tradebill?bill_date=2025-03-31&bill_type=ALL');
    expect(() => tradeBillPath('2025-02-30')).toThrow(/calendar date/);
    expect(() => closeOrderPath('../../x')).toThrow(/out_trade_no/);
  });
});

describe('JSAPI paySign (调起支付)', () => {
  it('signs appId\\ntimeStamp\\nnonceStr\\npackage\\n with the merchant key', () => {
    const params = jsapiPayParams({ appId: 'wx8888888888888888', prepayId: 'wx201410272009395522657a690389285100', privateKey: merchant.privateKey, timestamp: 1414561699, nonce: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS' });
    expect(params).toMatchObject({ appId: 'wx8888888888888888', timeStamp: '1414561699', nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS', package: 'prepay_id=wx201410272009395522657a690389285100', signType: 'RSA' });
    expect(jsapiPaySignMessage(params)).toBe('wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n');
    const ok = rsaVerify('sha256', Buffer.from(jsapiPaySignMessage(params)), merchant.publicKey, Buffer.from(params.paySign, 'base64'));
    expect(ok).toBe(true);
    expect(verifyJsapiPaySign(params, merchant.publicKey)).toBe(true);
    expect(verifyJsapiPaySign({ ...params, package: 'prepay_id=other' }, merchant.publicKey)).toBe(false);
    expect(verifyJsapiPaySign(params, stranger.publicKey)).toBe(false);
  });
});

describe('trade bill (交易账单)', () => {
  const rows: TradeBillRow[] = [
    {
      tradeTime: '2025-03-31 14:05:09',
      appid: 'wxd678efh567hg6787',
      mchid: MCHID,
      transactionId: '4200000991202103266853086457',
      outTradeNo: 'order_0001',
      tradeState: 'SUCCESS',
      amountFen: 12345,
      openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      tradeType: 'JSAPI',
      description: '物业费, 2025年3月',
    },
    {
      tradeTime: '2025-03-31 15:00:00',
      appid: 'wxd678efh567hg6787',
      mchid: MCHID,
      transactionId: '4200000991202103266853086457',
      outTradeNo: 'order_0001',
      tradeState: 'REFUND',
      amountFen: 12345,
      refundId: '50000000382019052709732678859',
      outRefundNo: 'refund_0001',
      refundFen: 345,
      tradeType: 'JSAPI',
    },
    { tradeTime: '2025-03-31 16:00:00', appid: 'wxd678efh567hg6787', mchid: MCHID, transactionId: '4200000991202103260000000001', outTradeNo: 'order_0002', tradeState: 'SUCCESS', amountFen: 1, tradeType: 'NATIVE' },
  ];

  it('formats the documented layout and parses it back', () => {
    const text = formatTradeBill(rows);
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(
      '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注',
    );
    expect(lines[1]!.startsWith('`2025-03-31 14:05:09,`wxd678efh567hg6787,`1900009191,')).toBe(true);
    expect(lines[4]).toBe('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
    expect(lines[5]).toBe('`3,`123.46,`3.45,`0.00,`0.00000,`123.46,`3.45');
    const bill = parseTradeBill(text);
    expect(bill.rows).toEqual(rows);
    expect(bill.summary).toEqual({ totalCount: 3, settlementTotalFen: 12346, refundTotalFen: 345, orderTotalFen: 12346 });
    // A BOM and LF-only line ends read the same.
    expect(parseTradeBill(`\uFEFF${text.replaceAll('\r\n', '\n')}`)).toEqual(bill);
    expect(billFileHash(text)).toMatch(/^[0-9a-f]{40}$/);
  });

  it('converts yuan to fen exactly, with strings only', () => {
    expect(yuanToFen('0.01')).toBe(1);
    expect(yuanToFen('12.30')).toBe(1230);
    expect(yuanToFen('12.3')).toBe(1230);
    expect(yuanToFen('100')).toBe(10000);
    expect(yuanToFen('0.29')).toBe(29); // 0.29 * 100 is 28.999999999999996 in floating point
    expect(yuanToFen('90071992547409.91')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => yuanToFen('1.234')).toThrow('amount "1.234": not a non-negative yuan amount with at most two decimals');
    expect(() => yuanToFen('-1')).toThrow('amount "-1": not a non-negative yuan amount');
    expect(() => yuanToFen('1e3')).toThrow(/not a non-negative yuan amount/);
    expect(() => yuanToFen('.5')).toThrow(/not a non-negative yuan amount/);
    expect(() => yuanToFen('90071992547409.92')).toThrow(/too large/);
    expect(fenToYuan(1230)).toBe('12.30');
    expect(fenToYuan(1)).toBe('0.01');
    expect(fenToYuan(Number.MAX_SAFE_INTEGER)).toBe('90071992547409.91');
  });

  it('refuses a malformed bill with the line number', () => {
    const text = formatTradeBill(rows);
    expect(() => parseTradeBill(text.replace('`123.45', '`1.234'))).toThrow('bill line 2, 应结订单金额: amount "1.234": not a non-negative yuan amount with at most two decimals');
    expect(() => parseTradeBill(text.replaceAll('`123.45', '`123.456'))).toThrow('bill line 2, 订单金额: amount "123.456": not a non-negative yuan amount');
    expect(() => parseTradeBill(text.replace('`3.45,`0.00,`ORIGINAL', '`-3.45,`0.00,`ORIGINAL'))).toThrow(/bill line 3, 退款金额: amount "-3.45": not a non-negative yuan amount/);
    const lines = text.split('\r\n');
    expect(() => parseTradeBill(lines.slice(0, 4).join('\r\n'))).toThrow(/no summary header/);
    expect(() => parseTradeBill([lines[0], lines[1]!.slice(1), ...lines.slice(2)].join('\r\n'))).toThrow(/bill line 2: fields must start with a backtick/);
    expect(() => parseTradeBill([lines[0], lines[1]!.replace(',`CNY', ''), ...lines.slice(2)].join('\r\n'))).toThrow(/bill line 2: 26 fields, the header has 27/);
  });

  it('reads the 申请交易账单 response', () => {
    const hash = billFileHash('x');
    expect(parseTradeBillResponse(JSON.stringify({ hash_type: 'SHA1', hash_value: hash.toUpperCase(), download_url: 'https://api.mch.weixin.qq.com/v3/billdownload/file?token=abc' }))).toEqual({
      hash_type: 'SHA1',
      hash_value: hash,
      download_url: 'https://api.mch.weixin.qq.com/v3/billdownload/file?token=abc',
    });
    expect(() => parseTradeBillResponse('{"hash_type":"MD5","hash_value":"00","download_url":"x"}')).toThrow(/hash_value/);
  });
});
