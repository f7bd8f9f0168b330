import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ALIPAY_GATEWAY,
  ALIPAY_METHODS,
  billDownloadUrlQueryBizContent,
  buildNotification,
  buildRequest,
  closeBizContent,
  extractSignedResponse,
  fenToYuan,
  formatAlipayTime,
  formatTradeBillCsv,
  NOTIFICATION_ACK,
  NOTIFICATION_SIGN_RULE,
  parseAlipayTime,
  parseFormBody,
  parseNotification,
  parseTradeBillCsv,
  precreateBizContent,
  queryBizContent,
  refundBizContent,
  signContent,
  signedYuanToFen,
  signParams,
  signResponse,
  unsignedErrorResponse,
  verifyNotification,
  verifyParams,
  verifyResponse,
  wapPayBizContent,
  yuanToFen,
  type PrecreateResponse,
  type TradeBillRow,
} from './alipay.js';

function rsaPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** The merchant's app key pair and Alipay's platform key pair. */
const merchant = rsaPair();
const alipay = rsaPair();
const stranger = rsaPair();

/** Alipay's RSA2 signature over an exact text, as it signs a response node. */
const signByAlipay = (text: string) => cryptoSign('sha256', Buffer.from(text, 'utf8'), alipay.privateKey).toString('base64');

/** The bare base64 body of a PEM, as the Alipay console shows keys. */
const bare = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

const APP_ID = '2021000000000001';
const SELLER_ID = '2088000000000001';
const METHOD = ALIPAY_METHODS.precreate;

describe('yuan and fen', () => {
  it('converts exactly', () => {
    expect(yuanToFen('0.01')).toBe(1);
    expect(yuanToFen('12.3')).toBe(1230);
    expect(yuanToFen('100')).toBe(10000);
    expect(yuanToFen('0')).toBe(0);
    expect(yuanToFen('0.1')).toBe(10);
    expect(yuanToFen('1.10')).toBe(110);
    expect(yuanToFen('90071992547409.91')).toBe(Number.MAX_SAFE_INTEGER);
    expect(fenToYuan(1230)).toBe('12.30');
    expect(fenToYuan(1)).toBe('0.01');
    expect(fenToYuan(10000)).toBe('100.00');
    expect(fenToYuan(0)).toBe('0.00');
    expect(fenToYuan(-1230)).toBe('-12.30');
    expect(signedYuanToFen('-12.30')).toBe(-1230);
    expect(signedYuanToFen('-0.00')).toBe(0);
    expect(Object.is(signedYuanToFen('-0.00'), -0)).toBe(false);
  });

  it('round-trips every fen value in a range', () => {
    for (let fen = 0; fen < 2000; fen++) expect(yuanToFen(fenToYuan(fen))).toBe(fen);
  });

  it.each(['1.234', '-1', '', '1e2', ' 1', '1 ', '01', '.5', '1.', '1,00', '+1', '0x10', 'NaN', 'Infinity', '１', '90071992547409.92'])(
    'refuses %j',
    (text) => {
      expect(() => yuanToFen(text)).toThrow(RangeError);
    },
  );

  it('refuses non-strings and non-integer fen', () => {
    expect(() => yuanToFen(1 as unknown as string)).toThrow(TypeError);
    expect(() => yuanToFen(undefined as unknown as string)).toThrow(TypeError);
    expect(() => fenToYuan(12.5)).toThrow(RangeError);
    expect(() => fenToYuan(Number.MAX_SAFE_INTEGER + 1)).toThrow(RangeError);
    expect(() => signedYuanToFen('--1')).toThrow(RangeError);
  });
});

describe('Alipay time', () => {
  it('formats and parses Beijing time', () => {
    const instant = new Date('2024-05-01T16:30:05Z');
    expect(formatAlipayTime(instant)).toBe('2024-05-02 00:30:05');
    expect(parseAlipayTime('2024-05-02 00:30:05').getTime()).toBe(instant.getTime());
    expect(parseAlipayTime('2015-04-28 15:45:57.320').toISOString()).toBe('2015-04-28T07:45:57.320Z');
    expect(() => parseAlipayTime('2024-02-30 00:00:00')).toThrow(RangeError);
    expect(() => parseAlipayTime('2024-05-02T00:30:05')).toThrow(RangeError);
  });
});

describe('signContent', () => {
  const params = {
    sign: 'SIGNATURE',
    sign_type: 'RSA2',
    total_amount: '88.88',
    subject: '物业费 2024年5月',
    app_id: APP_ID,
    body: 'a=1&b=2',
    empty: '',
    blank: '   ',
    missing: undefined,
    Zeta: 'upper case sorts first',
    out_trade_no: 'T_1',
  };

  it('drops sign and empty values, sorts by ASCII, keeps values raw (request rule)', () => {
    expect(signContent(params)).toBe(
      'Zeta=upper case sorts first&app_id=2021000000000001&body=a=1&b=2&out_trade_no=T_1&sign_type=RSA2&subject=物业费 2024年5月&total_amount=88.88',
    );
  });

  it('also drops sign_type, but keeps empty values, for notifications', () => {
    expect(signContent(params, NOTIFICATION_SIGN_RULE)).toBe(
      'Zeta=upper case sorts first&app_id=2021000000000001&blank=   &body=a=1&b=2&empty=&out_trade_no=T_1&subject=物业费 2024年5月&total_amount=88.88',
    );
  });

  it("treats whitespace-only values as empty like the official SDK (Java isWhitespace: no-break space is not blank)", () => {
    expect(signContent({ a: '1', b: '\t \u3000', c: '\u00a0' })).toBe('a=1&c=\u00a0');
  });

  it('takes any exclusion list', () => {
    expect(signContent({ a: '1', b: '2', c: '3' }, { exclude: ['b'], dropEmpty: true })).toBe('a=1&c=3');
  });

  it('sorts by code unit, not locale (a_b after a.b and before ab)', () => {
    expect(signContent({ ab: '3', a_b: '2', 'a.b': '1', B: '0' })).toBe('B=0&a.b=1&a_b=2&ab=3');
  });
});

describe('signParams / verifyParams', () => {
  const params = { app_id: APP_ID, method: METHOD, sign_type: 'RSA2', biz_content: '{"total_amount":"12.30"}', total_amount: '12.30' };

  it('round-trips, for PEM and bare base64 keys', () => {
    const sign = signParams(params, merchant.privateKey);
    expect(sign).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(verifyParams({ ...params, sign }, merchant.publicKey, { notification: false })).toEqual({ ok: true });
    expect(verifyParams({ ...params, sign }, bare(merchant.publicKey), { notification: false })).toEqual({ ok: true });
    expect(signParams(params, bare(merchant.privateKey))).toBe(sign); // PKCS#1 v1.5 is deterministic
  });

  it('refuses a forged amount', () => {
    const sign = signParams(params, merchant.privateKey);
    expect(verifyParams({ ...params, total_amount: '0.01', sign }, merchant.publicKey, { notification: false })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses the wrong key and garbage signatures', () => {
    const sign = signParams(params, merchant.privateKey);
    expect(verifyParams({ ...params, sign }, stranger.publicKey, { notification: false })).toMatchObject({ reason: 'bad-signature' });
    expect(verifyParams({ ...params, sign: 'not base64!' }, merchant.publicKey, { notification: false })).toMatchObject({ reason: 'bad-signature' });
    expect(verifyParams({ ...params, sign: 'AAAA' }, merchant.publicKey, { notification: false })).toMatchObject({ reason: 'bad-signature' });
  });

  it('accepts only RSA2', () => {
    const sign = signParams({ ...params, sign_type: 'RSA' }, merchant.privateKey);
    expect(verifyParams({ ...params, sign_type: 'RSA', sign }, merchant.publicKey, { notification: false })).toEqual({
      ok: false,
      reason: 'unsupported-sign-type',
    });
    const { sign_type: _omit, ...noType } = params;
    expect(verifyParams({ ...noType, sign }, merchant.publicKey, { notification: false })).toMatchObject({ reason: 'unsupported-sign-type' });
  });

  it('reports a missing sign', () => {
    expect(verifyParams(params, merchant.publicKey, { notification: false })).toEqual({ ok: false, reason: 'missing-sign' });
    expect(verifyParams({ ...params, sign: '' }, merchant.publicKey, { notification: false })).toEqual({ ok: false, reason: 'missing-sign' });
  });

  it('covers sign_type in requests but not in notifications', () => {
    // A request signature covers sign_type, so it does not verify under the notification rule.
    const sign = signParams(params, merchant.privateKey);
    expect(verifyParams({ ...params, sign }, merchant.publicKey, { notification: true })).toMatchObject({ reason: 'bad-signature' });
    const notificationSign = signParams(params, merchant.privateKey, { notification: true });
    expect(verifyParams({ ...params, sign: notificationSign }, merchant.publicKey, { notification: true })).toEqual({ ok: true });
  });

  it('refuses non-RSA keys', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signParams(params, ec.privateKey)).toThrow(/RSA/);
  });
});

describe('biz_content builders', () => {
  it('precreate', () => {
    expect(precreateBizContent({ outTradeNo: 'B_2024_001', totalFen: 1230, subject: '物业费', timeoutExpress: '15m' })).toEqual({
      out_trade_no: 'B_2024_001',
      total_amount: '12.30',
      subject: '物业费',
      timeout_express: '15m',
    });
    expect(precreateBizContent({ outTradeNo: 'B1', totalFen: 1, subject: 's', timeExpire: new Date('2024-05-01T16:00:00Z') })).toEqual({
      out_trade_no: 'B1',
      total_amount: '0.01',
      subject: 's',
      time_expire: '2024-05-02 00:00:00',
    });
    expect(() => precreateBizContent({ outTradeNo: 'B-1', totalFen: 1, subject: 's' })).toThrow(/out_trade_no/);
    expect(() => precreateBizContent({ outTradeNo: 'B1', totalFen: 0, subject: 's' })).toThrow(/total_amount/);
    expect(() => precreateBizContent({ outTradeNo: 'B1', totalFen: 10_000_000_001, subject: 's' })).toThrow(/total_amount/);
    expect(() => precreateBizContent({ outTradeNo: 'B1', totalFen: 1, subject: 'a&b' })).toThrow(/subject/);
    expect(() => precreateBizContent({ outTradeNo: 'B1', totalFen: 1, subject: 's', timeoutExpress: '1.5h' })).toThrow(/timeout_express/);
    expect(() => precreateBizContent({ outTradeNo: 'B1', totalFen: 1, subject: 's', timeoutExpress: '16d' })).toThrow(/timeout_express/);
    expect(() =>
      precreateBizContent({ outTradeNo: 'B1', totalFen: 1, subject: 's', timeoutExpress: '1d', timeExpire: new Date() }),
    ).toThrow(/not both/);
  });

  it('wap pay, query, close, refund, bill', () => {
    expect(wapPayBizContent({ outTradeNo: 'B1', totalFen: 100, subject: '物业费', quitUrl: 'https://h5.example.cn/bills' })).toEqual({
      out_trade_no: 'B1',
      total_amount: '1.00',
      subject: '物业费',
      product_code: 'QUICK_WAP_WAY',
      quit_url: 'https://h5.example.cn/bills',
    });
    expect(() => wapPayBizContent({ outTradeNo: 'B1', totalFen: 100, subject: 's', quitUrl: 'javascript:alert(1)' })).toThrow(/quit_url/);
    expect(queryBizContent({ outTradeNo: 'B1' })).toEqual({ out_trade_no: 'B1' });
    expect(queryBizContent({ tradeNo: '2024050122001400000000000001' })).toEqual({ trade_no: '2024050122001400000000000001' });
    expect(closeBizContent({ outTradeNo: 'B1' })).toEqual({ out_trade_no: 'B1' });
    expect(refundBizContent({ outTradeNo: 'B1', refundFen: 500, outRequestNo: 'R1', refundReason: '多收退还' })).toEqual({
      out_trade_no: 'B1',
      refund_amount: '5.00',
      out_request_no: 'R1',
      refund_reason: '多收退还',
    });
    expect(billDownloadUrlQueryBizContent('2024-05-01')).toEqual({ bill_type: 'trade', bill_date: '2024-05-01' });
    expect(billDownloadUrlQueryBizContent('2024-05')).toEqual({ bill_type: 'trade', bill_date: '2024-05' });
    expect(() => billDownloadUrlQueryBizContent('2024-02-30')).toThrow(RangeError);
    expect(() => billDownloadUrlQueryBizContent('20240501')).toThrow(RangeError);
  });
});

describe('buildRequest', () => {
  const timestamp = new Date('2024-05-01T02:03:04Z');
  const bizContent = precreateBizContent({ outTradeNo: 'B_1', totalFen: 1230, subject: '物业费、停车费' });

  it('carries every common parameter and a verifiable sign', () => {
    const { params, formBody, pageUrl } = buildRequest({
      method: METHOD,
      appId: APP_ID,
      bizContent,
      privateKeyPem: merchant.privateKey,
      timestamp,
      notifyUrl: 'https://estate.example.cn/pay/alipay/notify',
    });
    expect(params).toMatchObject({
      app_id: APP_ID,
      method: 'alipay.trade.precreate',
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: '2024-05-01 10:03:04',
      version: '1.0',
      notify_url: 'https://estate.example.cn/pay/alipay/notify',
    });
    expect(params).not.toHaveProperty('return_url');
    expect(params).not.toHaveProperty('app_auth_token');
    expect(JSON.parse(params.biz_content!)).toEqual({ out_trade_no: 'B_1', total_amount: '12.30', subject: '物业费、停车费' });

    // The sandbox's view: decode the form and verify with the merchant's public key.
    const received = parseFormBody(formBody);
    expect(received).toEqual(params);
    expect(verifyParams(received, merchant.publicKey, { notification: false })).toEqual({ ok: true });
    expect(verifyParams({ ...received, biz_content: received.biz_content!.replace('12.30', '0.01') }, merchant.publicKey, { notification: false }))
      .toMatchObject({ reason: 'bad-signature' });

    expect(pageUrl.startsWith(`${ALIPAY_GATEWAY}?`)).toBe(true);
    expect(parseFormBody(new URL(pageUrl).search.slice(1))).toEqual(params);
  });

  it('builds a wap pay page URL on the sandbox gateway', () => {
    const { params, pageUrl } = buildRequest({
      method: ALIPAY_METHODS.wapPay,
      appId: APP_ID,
      bizContent: wapPayBizContent({ outTradeNo: 'B_1', totalFen: 100, subject: '物业费', quitUrl: 'https://h5.example.cn/q' }),
      privateKeyPem: merchant.privateKey,
      timestamp,
      returnUrl: 'https://h5.example.cn/paid?bill=1',
      appAuthToken: 'token123',
      gatewayUrl: 'http://127.0.0.1:9000/gateway.do',
    });
    expect(params.return_url).toBe('https://h5.example.cn/paid?bill=1');
    expect(params.app_auth_token).toBe('token123');
    const url = new URL(pageUrl);
    expect(url.origin + url.pathname).toBe('http://127.0.0.1:9000/gateway.do');
    expect(Object.fromEntries(url.searchParams)).toEqual(params);
    expect(verifyParams(Object.fromEntries(url.searchParams), merchant.publicKey, { notification: false })).toEqual({ ok: true });
  });
});

describe('synchronous responses', () => {
  const tricky = 'he said "}{" and \\ left\\/ {"sign":"x"}';
  const rawNode = `{"code":"10000","msg":"Success","out_trade_no":"B_1","qr_code":"https:\\/\\/qr.alipay.com\\/bax1","note":${JSON.stringify(tricky)},"nested":{"a":[1,{"b":"}"}]}}`;

  it('extracts the exact raw node text, braces and escapes included', () => {
    const body = `{ "alipay_trade_precreate_response" : ${rawNode} ,"sign":"SIG=="}`;
    expect(extractSignedResponse(body, METHOD)).toEqual({ nodeName: 'alipay_trade_precreate_response', content: rawNode, sign: 'SIG==' });
    // A key that appears inside a string value is not the node.
    const decoy = `{"x":"\\"alipay_trade_precreate_response\\":{}","alipay_trade_precreate_response":${rawNode}}`;
    expect(extractSignedResponse(decoy, METHOD)?.content).toBe(rawNode);
    expect(extractSignedResponse(`{"error_response":{"code":"40002","msg":"Invalid Arguments"}}`, METHOD)).toEqual({
      nodeName: 'error_response',
      content: '{"code":"40002","msg":"Invalid Arguments"}',
      sign: undefined,
    });
    expect(extractSignedResponse('{"alipay_trade_precreate_response":{"code":"10000"}', METHOD)).toBeUndefined();
    expect(extractSignedResponse(`{"alipay_trade_precreate_response":${rawNode},"alipay_trade_precreate_response":{}}`, METHOD)).toBeUndefined();
    expect(extractSignedResponse('{"other_response":{}}', METHOD)).toBeUndefined();
    expect(extractSignedResponse('[]', METHOD)).toBeUndefined();
  });

  it('verifies a response signed over the raw text (not a re-serialization)', () => {
    // Sign the tricky raw text directly, as Alipay would, and embed it byte for byte.
    const rawSign = signByAlipay(rawNode);
    const body = `{"alipay_trade_precreate_response":${rawNode},"sign":"${rawSign}"}`;
    const result = verifyResponse<PrecreateResponse>(body, METHOD, alipay.publicKey);
    expect(result).toMatchObject({ ok: true, success: true, signed: true });
    if (!result.ok) throw new Error('unreachable');
    expect(result.response.qr_code).toBe('https://qr.alipay.com/bax1');
    expect(result.response.note).toBe(tricky);
  });

  it('round-trips signResponse and refuses forgeries', () => {
    const body = signResponse(METHOD, { code: '10000', msg: 'Success', out_trade_no: 'B_1', qr_code: 'https://qr.alipay.com/bax1' }, alipay.privateKey);
    expect(verifyResponse(body, METHOD, alipay.publicKey)).toMatchObject({ ok: true, success: true, response: { qr_code: 'https://qr.alipay.com/bax1' } });
    expect(verifyResponse(body.replace('bax1', 'evil'), METHOD, alipay.publicKey)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyResponse(body, METHOD, stranger.publicKey)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyResponse(body, ALIPAY_METHODS.query, alipay.publicKey)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyResponse('<html>502</html>', METHOD, alipay.publicKey)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyResponse('{"alipay_trade_precreate_response":{"code":"10000","msg":"Success"}}', METHOD, alipay.publicKey)).toEqual({
      ok: false,
      reason: 'missing-sign',
    });
  });

  it('surfaces Alipay errors as answers', () => {
    const failure = { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '交易不存在' };
    const signed = verifyResponse(signResponse(ALIPAY_METHODS.query, failure, alipay.privateKey), ALIPAY_METHODS.query, alipay.publicKey);
    expect(signed).toEqual({ ok: true, success: false, signed: true, response: failure });
    const gateway = { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' };
    expect(verifyResponse(unsignedErrorResponse(gateway), METHOD, alipay.publicKey)).toEqual({ ok: true, success: false, signed: false, response: gateway });
    expect(() => unsignedErrorResponse({ code: '10000', msg: 'Success' })).toThrow();
  });

  it("retries once with '\\/' unescaped, as the official SDK does", () => {
    const unescaped = '{"code":"10000","msg":"Success","qr_code":"https://qr.alipay.com/bax1"}';
    const body = `{"alipay_trade_precreate_response":${unescaped.replaceAll('/', '\\/')},"sign":"${signByAlipay(unescaped)}"}`;
    expect(verifyResponse(body, METHOD, alipay.publicKey)).toMatchObject({ ok: true, success: true });
  });
});

describe('async notifications', () => {
  const fields = {
    notify_time: '2024-05-01 10:00:05',
    notify_type: 'trade_status_sync',
    notify_id: '2024050100222100005000000001',
    app_id: APP_ID,
    charset: 'utf-8',
    version: '1.0',
    trade_no: '2024050122001400000000000001',
    out_trade_no: 'B_1',
    trade_status: 'TRADE_SUCCESS',
    total_amount: '12.30',
    receipt_amount: '12.30',
    buyer_pay_amount: '12.30',
    seller_id: SELLER_ID,
    subject: '物业费 2024年5月 A&B=1+1',
    gmt_payment: '2024-05-01 10:00:04',
    fund_bill_list: '[{"amount":"12.30","fundChannel":"ALIPAYACCOUNT"}]',
    passback_params: '',
  };

  it('builds, parses and verifies', () => {
    const body = buildNotification(fields, alipay.privateKey);
    expect(body).toContain('sign_type=RSA2');
    expect(body).toContain('subject=%E7%89%A9%E4%B8%9A%E8%B4%B9+2024'); // spaces as '+'
    const params = parseNotification(body);
    expect(params.subject).toBe(fields.subject);
    expect(params.passback_params).toBe('');
    const result = verifyNotification(params, alipay.publicKey, { appId: APP_ID, sellerId: SELLER_ID });
    expect(result).toMatchObject({
      ok: true,
      notification: {
        notifyId: fields.notify_id,
        notifyTime: '2024-05-01 10:00:05',
        notifyType: 'trade_status_sync',
        tradeStatus: 'TRADE_SUCCESS',
        outTradeNo: 'B_1',
        tradeNo: fields.trade_no,
        totalAmountFen: 1230,
        receiptAmountFen: 1230,
        buyerPayAmountFen: 1230,
        refundFeeFen: undefined,
        gmtPayment: '2024-05-01 10:00:04',
      },
    });
    expect(NOTIFICATION_ACK).toBe('success');
  });

  it("decodes '+' as a space and %2B as a plus", () => {
    expect(parseNotification('subject=a+b%2Bc&sign=ab%2Bcd%3D%3D&empty=&flag')).toEqual({ subject: 'a b+c', sign: 'ab+cd==', empty: '', flag: '' });
    expect(() => parseNotification('a=%E4%B')).toThrow(URIError);
    expect(() => parseNotification('a=1&a=2')).toThrow(RangeError);
    expect(Object.getPrototypeOf(parseNotification('__proto__=x'))).toBeNull();
  });

  it('refuses the wrong app_id or seller_id', () => {
    const other = parseNotification(buildNotification({ ...fields, app_id: '2021000000000999' }, alipay.privateKey));
    expect(verifyNotification(other, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'wrong-app-id' });
    const params = parseNotification(buildNotification(fields, alipay.privateKey));
    expect(verifyNotification(params, alipay.publicKey, { appId: APP_ID, sellerId: '2088000000000999' })).toEqual({ ok: false, reason: 'wrong-seller-id' });
  });

  it('refuses a tampered amount, a stranger signature, a non-RSA2 sign_type, a missing sign', () => {
    const params = parseNotification(buildNotification(fields, alipay.privateKey));
    expect(verifyNotification({ ...params, total_amount: '0.01' }, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyNotification({ ...params, extra: 'injected' }, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'bad-signature' });
    const forged = parseNotification(buildNotification(fields, stranger.privateKey));
    expect(verifyNotification(forged, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyNotification({ ...params, sign_type: 'RSA' }, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'unsupported-sign-type' });
    const { sign: _omit, ...unsigned } = params;
    expect(verifyNotification(unsigned, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'missing-sign' });
  });

  it('reads refund notifications and refuses inexact amounts', () => {
    const refund = parseNotification(
      buildNotification(
        { ...fields, trade_status: 'TRADE_CLOSED', refund_fee: '12.30', gmt_refund: '2024-05-02 09:00:00.123', out_biz_no: 'R_1' },
        alipay.privateKey,
      ),
    );
    expect(verifyNotification(refund, alipay.publicKey, { appId: APP_ID })).toMatchObject({
      ok: true,
      notification: { tradeStatus: 'TRADE_CLOSED', refundFeeFen: 1230, gmtRefund: '2024-05-02 09:00:00.123', outBizNo: 'R_1' },
    });
    const inexact = parseNotification(buildNotification({ ...fields, total_amount: '12.305' }, alipay.privateKey));
    expect(verifyNotification(inexact, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'malformed' });
    const unknown = parseNotification(buildNotification({ ...fields, trade_status: 'TRADE_PENDING' }, alipay.privateKey));
    expect(verifyNotification(unknown, alipay.publicKey, { appId: APP_ID })).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('trade bill CSV', () => {
  const rows: TradeBillRow[] = [
    {
      tradeNo: '2024050122001400000000000001',
      outTradeNo: 'B_1',
      type: '交易',
      subject: '物业费 2024年5月',
      orderAmountFen: 1230,
      amountFen: 1230,
      createdAt: '2024-05-01 09:59:00',
      finishedAt: '2024-05-01 10:00:04',
    },
    {
      tradeNo: '2024050122001400000000000002',
      outTradeNo: 'B_2',
      type: '交易',
      subject: ' 停车费, "月卡" ', // comma, quotes, edge spaces: quoted and kept verbatim
      orderAmountFen: 30000,
      amountFen: 30000,
      createdAt: '2024-05-01 11:00:00',
      finishedAt: '2024-05-01 11:00:10',
    },
    {
      tradeNo: '2024050122001400000000000001',
      outTradeNo: 'B_1',
      type: '退款',
      subject: '物业费 2024年5月',
      orderAmountFen: 1230,
      amountFen: -500,
      createdAt: '2024-05-01 09:59:00',
      finishedAt: '2024-05-01 15:00:00',
      refundRequestNo: 'R_1',
    },
  ];

  it('round-trips, refunds negative', () => {
    const csv = formatTradeBillCsv(rows, { account: SELLER_ID, billDate: '2024-05-01', exportedAt: new Date('2024-05-02T01:00:00Z') });
    expect(csv.split('\n').slice(0, 5)).toEqual([
      '#支付宝业务明细查询',
      `#账号：[${SELLER_ID}]`,
      '#起始日期：[2024年05月01日 00:00:00]   终止日期：[2024年05月02日 00:00:00]',
      '#-----------------------------------------业务明细列表----------------------------------------',
      '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注',
    ]);
    expect(csv).toContain(',退款,');
    expect(csv).toContain(',-5.00,');
    expect(csv).toContain('#交易合计：2笔，商家实收共312.30元');
    expect(csv).toContain('#退款合计：1笔，商家实收退款共-5.00元');
    expect(csv).toContain('#导出时间：[2024年05月02日 09:00:00]');
    expect(parseTradeBillCsv(csv)).toEqual(rows);
  });

  it("reads Alipay's own padding: tab-padded cells, CRLF, a BOM, blank lines", () => {
    const header = '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额(元),商家实收(元),支付宝红包(元),集分宝(元),支付宝优惠(元),商家优惠(元),券核销金额(元),券名称,商家红包消费金额(元),卡消费金额(元),退款批次号/请求号,服务费(元),分润(元),备注';
    const line = [
      '2024050122001400000000000003\t', 'B_3\t', '退款\t', '水费\t', '2024-05-01 08:00:00', '2024-05-01 12:00:00\t', '\t', '\t', '\t', '\t',
      'abc***@163.com\t', '12.30\t', '-12.30\t', '0.00\t', '0.00\t', '0.00\t', '0.00\t', '0.00\t', '\t', '0.00\t', '0.00\t', 'R_3\t', '0.00\t', '0.00\t', '\t',
    ].join(',');
    const text = `\uFEFF#支付宝业务明细查询\r\n#账号：[${SELLER_ID}]\r\n\r\n${header}\r\n${line}\r\n#-----业务明细列表结束-----\r\n#交易合计：0笔\r\n`;
    expect(parseTradeBillCsv(text)).toEqual([
      {
        tradeNo: '2024050122001400000000000003',
        outTradeNo: 'B_3',
        type: '退款',
        subject: '水费',
        orderAmountFen: 1230,
        amountFen: -1230,
        createdAt: '2024-05-01 08:00:00',
        finishedAt: '2024-05-01 12:00:00',
        refundRequestNo: 'R_3',
      },
    ]);
  });

  it('refuses what it cannot read exactly', () => {
    const csv = formatTradeBillCsv(rows.slice(0, 1));
    expect(() => parseTradeBillCsv(csv.replace(',12.30,', ',12.305,'))).toThrow(/line 4.*订单金额/);
    expect(() => parseTradeBillCsv(csv.replace(',交易,', ',转账,'))).toThrow(/业务类型/);
    expect(() => parseTradeBillCsv('#nothing\n')).toThrow(/header/);
    expect(() => parseTradeBillCsv(csv.replace(',B_1,', ',"B_1"x,'))).toThrow(/after a quoted cell/);
    expect(() => parseTradeBillCsv(csv.replace('商家实收（元）', '实收'))).toThrow(/商家实收/);
    expect(() => formatTradeBillCsv([{ ...rows[2]!, amountFen: 500 }])).toThrow(RangeError);
  });
});
