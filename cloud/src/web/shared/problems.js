/**
 * Chinese summaries for the API's problem types (application/problem+json `type`, see docs/problems.md).
 * The server's `detail` is shown under the summary: it says what exactly went wrong this time.
 */
const SUMMARIES = {
  'validation-failed': '填写的内容有误',
  'malformed-json': '请求格式错误',
  'unsupported-media-type': '不支持的文件或内容类型',
  'payload-too-large': '内容或文件过大',
  unauthenticated: '请先登录',
  'invalid-credentials': '用户名或密码错误',
  'invalid-token': '登录已过期，请重新登录',
  forbidden: '没有权限执行此操作',
  'not-found': '找不到该内容',
  conflict: '与当前状态冲突',
  'rate-limited': '操作太频繁，请稍后再试',
  locked: '失败次数过多，已暂时锁定',
  'sms-code-invalid': '验证码错误或已过期',
  'binding-refused': '房号、业主姓名或证件号码与登记信息不符',
  'roster-invalid': '名册文件中有错误的行',
  'unreadable-file': '无法读取该文件',
  'sms-delivery-failed': '短信发送失败',
  'service-unavailable': '服务暂时不可用',
  'door-denied': '无权开门',
  'door-failed': '开门失败',
  'door-unreachable': '门禁网关离线，无法联网开门',
  'door-state-unknown': '门禁状态未知',
  internal: '系统出错，请稍后再试',
};

/** An error from the API, carrying the problem's stable type, its detail and any field errors. */
export class ApiError extends Error {
  constructor(status, problem) {
    const type = typeof problem?.type === 'string' ? problem.type.split('/').pop() : undefined;
    const summary = (type && SUMMARIES[type]) ?? problem?.title ?? `请求失败 (HTTP ${status})`;
    super(summary);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.summary = summary;
    this.detail = typeof problem?.detail === 'string' ? problem.detail : undefined;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
    /** The whole problem body, for extension members such as `importId`. */
    this.problem = problem ?? {};
  }
}

export class NetworkError extends Error {
  constructor(cause) {
    super('网络连接失败，请检查网络后重试', { cause });
    this.name = 'NetworkError';
    this.summary = this.message;
    this.detail = 'Network error';
  }
}
