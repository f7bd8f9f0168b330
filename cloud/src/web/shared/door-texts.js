import { h } from './dom.js';

/**
 * Chinese words for the door feature's codes: why a key was refused (virtual-key.ts DENIAL_REASONS), why
 * a lock failed (the gateway's LockError codes), and the access records' outcomes, methods and holders.
 * An unknown code is shown as it is.
 */
const REASONS = {
  // Denials: the key or the token was refused.
  malformed: '开门码格式错误',
  'unknown-key': '钥匙的签发密钥未知，请联网更新钥匙',
  'bad-signature': '钥匙签名无效',
  'wrong-community': '钥匙不属于本小区',
  'not-yet-valid': '钥匙尚未生效',
  expired: '钥匙已过期',
  'wrong-door': '这把钥匙不能开这扇门',
  revoked: '钥匙已作废',
  'bad-device-signature': '钥匙不属于这部手机',
  'wrong-method': '开门方式不符',
  'stale-token': '开门码已过时，请检查手机时间',
  'future-token': '开门码时间超前，请检查手机时间',
  replayed: '开门码已使用过',
  'use-limit-reached': '可用次数已用完',
  'unknown-door': '门禁网关不认识这扇门',
  // Failures: the key was good, the door did not open.
  jammed: '门锁卡住',
  'low-battery': '门锁电量过低',
  'out-of-range': '门锁不在网关信号范围内',
  timeout: '门锁没有响应',
  'auth-failed': '网关与门锁认证失败',
  protocol: '网关与门锁通信出错',
  'no-adapter': '网关蓝牙不可用',
  disconnected: '网关与门锁连接中断',
  busy: '门锁忙',
  'gateway-offline': '门禁网关离线',
  'no-answer': '门禁网关未及时答复',
  failed: '开门失败',
};

export function reasonText(reason) {
  if (!reason) return '';
  return REASONS[reason] ?? reason;
}

export const ACCESS_OUTCOMES = {
  opened: ['已开门', 'badge-ok'],
  denied: ['拒绝', 'badge-warn'],
  failed: ['失败', 'badge-danger'],
  unknown: ['状态未知', 'badge-warn'],
  pending: ['等待答复', ''],
};

export function outcomeBadge(outcome) {
  const [label, tone] = ACCESS_OUTCOMES[outcome] ?? [outcome, ''];
  return h('span', { class: `badge ${tone}`, 'data-outcome': outcome }, label);
}

export const ACCESS_METHODS = { online: '手机开门', qr: '二维码' };
export const HOLDER_KINDS = { resident: '住户', staff: '员工', visitor: '访客' };
export const DOOR_KINDS = { 'community-gate': '小区大门', 'building-entrance': '楼栋入口', other: '其他门' };
