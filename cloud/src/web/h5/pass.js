import { errorBox, formatTime, h } from '/assets/dom.js';
import { ApiError, NetworkError } from '/assets/problems.js';
import { cachedVisitorPass, claimVisitorPass, doorEntries, forgetVisitorPass, visitorDeviceKey } from './door-keys.js';
import { doorList } from './door-panel.js';
import { doorQrScreen } from './door-qr.js';
import { page } from './layout.js';

/** `passId.secret` from the link `/h5/#/pass/{passId}.{secret}`. */
export function parsePassRef(ref) {
  const dot = ref.indexOf('.');
  return dot > 0 ? { passId: ref.slice(0, dot), secret: ref.slice(dot + 1) } : null;
}

/**
 * The visitor's page, no login: the link's secret claims the pass with a device key made on this phone
 * (the first phone to claim it keeps it), then the same door buttons and QR codes as a resident's.
 */
export function passScreen({ api }, ref) {
  const pass = parsePassRef(ref);
  const head = h('div');
  const body = h('div', null, h('p', { class: 'muted center' }, '正在领取通行证…'));
  if (!pass) {
    body.replaceChildren(h('div', { class: 'alert alert-error' }, '通行证链接不完整，请让住户重新发送。'));
    return page({ title: '访客通行证' }, body);
  }
  const deviceKeyName = visitorDeviceKey(pass.passId);
  const qrHref = (entry) => `#/pass/${ref}/qr/${encodeURIComponent(entry.door.id)}`;

  function render(claimed, note) {
    const key = claimed.keys[0];
    const left = key.useLimit > 0 ? Math.max(0, key.useLimit - key.uses) : null;
    head.replaceChildren(
      h(
        'section',
        { class: 'card pass-head' },
        h('div', { class: 'pass-hello' }, `${claimed.visitorName}，您好`),
        h('div', { class: 'muted small' }, `有效期 ${formatTime(key.validFrom)} 至 ${formatTime(key.validUntil)}`),
        left === null ? null : h('div', { class: 'muted small' }, `剩余 ${left} 次（每开一次门计一次）`),
      ),
      note ?? '',
    );
    body.replaceChildren(doorList(api, doorEntries(claimed.keys, deviceKeyName), { qrHref }));
  }

  const cached = cachedVisitorPass(pass.passId);
  if (cached) render(cached);
  claimVisitorPass(api, pass.passId, pass.secret)
    .then((claimed) => render(claimed))
    .catch((error) => {
      if (error instanceof NetworkError && cached) {
        render(cached, h('div', { class: 'alert alert-info' }, '当前无网络：显示这部手机保存的通行证，二维码开门不需要网络。'));
        return;
      }
      if (error instanceof ApiError && (error.status === 404 || error.status === 409)) forgetVisitorPass(pass.passId);
      head.replaceChildren();
      body.replaceChildren(claimProblem(error));
    });

  return page({ title: '访客通行证' }, head, body);
}

function claimProblem(error) {
  if (error instanceof ApiError && error.status === 404) return h('div', { class: 'alert alert-error', role: 'alert' }, h('strong', null, '通行证不存在，或链接不完整'), h('div', null, '请让住户重新发送通行证链接。'));
  if (error instanceof ApiError && error.status === 409) {
    // The API answers one `conflict` for a cancelled, an expired and an already-claimed pass; its
    // detail (English) says which.
    return h(
      'div',
      { class: 'alert alert-error', role: 'alert' },
      h('strong', null, '此通行证已不能领取'),
      h('div', null, '可能已被住户取消、已过期，或已在另一部手机上领取。'),
      error.detail ? h('div', { class: 'alert-detail' }, error.detail) : null,
    );
  }
  return errorBox(error);
}

/** A door's QR code for the visitor, from the kept pass (works offline). */
export function passQrScreen(ref, doorId) {
  const pass = parsePassRef(ref);
  const claimed = pass ? cachedVisitorPass(pass.passId) : null;
  const entry = claimed ? doorEntries(claimed.keys, visitorDeviceKey(pass.passId)).find((e) => e.door.id === doorId) : undefined;
  return doorQrScreen({ entry, back: `#/pass/${ref}` });
}
