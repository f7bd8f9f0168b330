import { formatTime, h, toast } from '/assets/dom.js';
import { reasonText } from '/assets/door-texts.js';
import { signOpenToken } from '/assets/door-token.js';
import { ApiError } from '/assets/problems.js';

/**
 * The doors a phone's keys open, one row each: open it online now, or show its QR code to the door's
 * reader (which works without the network). `qrHref(entry)` is the QR view's address.
 */
export function doorList(api, entries, { qrHref }) {
  if (entries.length === 0) {
    return h('div', { class: 'card empty' }, h('p', null, '暂无可用的门禁钥匙'), h('p', { class: 'muted small' }, '钥匙随房屋发放：绑定房屋后即可开门；家属和租客的开门权限由主业主设置。'));
  }
  return h('section', { class: 'card flush door-list' }, entries.map((entry) => doorRow(api, entry, qrHref(entry))));
}

function doorRow(api, entry, qrLink) {
  const { door, key } = entry;
  const status = h('div', { class: 'door-status', role: 'status', 'aria-live': 'polite' });
  const open = h('button', { type: 'button', class: 'primary door-open' }, '开门');
  open.addEventListener('click', async () => {
    open.disabled = true;
    status.className = 'door-status';
    status.replaceChildren(h('span', { class: 'muted' }, '正在开门…'));
    try {
      const token = await signOpenToken({ deviceKeyName: entry.deviceKeyName, credential: key.credential, doorCode: door.code, method: 'online' });
      await api.post(`/v1/doors/${encodeURIComponent(door.id)}/open`, { token }, { anonymous: true });
      show(status, 'ok', `已开门：${door.name}`);
      toast(`已开门：${door.name}`);
    } catch (error) {
      const [tone, text, qrAdvice] = openFailure(error);
      show(status, tone, text, qrAdvice ? h('a', { href: qrLink }, '使用二维码开门 ›') : null);
    } finally {
      open.disabled = false;
    }
  });
  const limit = key.useLimit > 0 ? ` · 可用 ${Math.max(0, key.useLimit - key.uses)} / ${key.useLimit} 次` : '';
  return h(
    'div',
    { class: 'door', 'data-door-code': door.code, 'data-door-id': door.id },
    h(
      'div',
      { class: 'door-main' },
      h('div', { class: 'door-info' }, h('div', { class: 'door-name' }, door.name), h('div', { class: 'muted small' }, `钥匙有效期至 ${formatTime(key.validUntil)}${limit}`)),
      h('div', { class: 'door-actions' }, h('a', { class: 'button small door-qr-link', href: qrLink }, '二维码开门'), open),
    ),
    status,
  );
}

function show(status, tone, ...content) {
  status.className = `door-status alert alert-${tone === 'ok' ? 'ok' : tone}`;
  status.replaceChildren(...content.filter(Boolean).map((c, i) => (i === 0 ? h('strong', null, c) : h('div', null, c))));
}

/**
 * What to tell the person at the door, honestly: a refusal is "无权开门" with the reason, a lock that did
 * not move is "开门失败", and a door that did not answer may or may not have opened — never "denied".
 * Returns [tone, text, whether to point at the QR code].
 */
export function openFailure(error) {
  if (!(error instanceof ApiError)) return ['error', '网络连接失败，无法联网开门。可在门口出示二维码开门（无需网络）。', true];
  const reason = error.problem.reason;
  switch (error.type) {
    case 'door-denied':
      return ['error', `无权开门：${reasonText(reason) || '钥匙不能开这扇门'}`, false];
    case 'door-failed':
      return ['error', `开门失败：${reasonText(reason) || '门锁没有打开'}。请稍后再试，或联系物业。`, false];
    case 'door-unreachable':
      return ['warn', '门禁网关离线，暂时不能联网开门。请在门口使用二维码开门。', true];
    case 'door-state-unknown':
      return ['warn', '门禁状态未知：门禁没有及时答复，门可能已经打开，也可能没有。请看一下门，需要时再试一次。', false];
    default:
      return ['error', [error.summary, error.detail].filter(Boolean).join('：'), false];
  }
}
