import { formatTime, h } from '/assets/dom.js';
import { signOpenToken, SLOT_SECONDS, slotOf } from '/assets/door-token.js';
import { qrSvg } from '/assets/qr.js';
import { keyUsable } from './door-keys.js';
import { page } from './layout.js';

const SLOT_MS = SLOT_SECONDS * 1000;

/**
 * The rotating QR code for one door: a fresh token signed on this phone every 5-second slot, shown to
 * the door's reader, which checks it itself. Needs no network, only the cached key and the device key.
 * The timers stop once the screen is left.
 */
export function doorQrScreen({ entry, back, title = '二维码开门' }) {
  if (!entry) {
    return page({ title, back }, h('div', { class: 'card empty' }, h('p', null, '这部手机没有这扇门的钥匙'), h('a', { class: 'button primary', href: back }, '返回')));
  }
  const { door, key } = entry;
  const frame = h('div', { class: 'qr-frame' }, h('p', { class: 'muted' }, '正在生成二维码…'));
  const countdown = h('div', { class: 'qr-countdown', 'aria-live': 'off' });
  const bar = h('progress', { class: 'qr-progress', max: SLOT_MS, value: 0 });
  const notice = h('div');
  const screen = page(
    { title, back },
    h(
      'section',
      { class: 'card qr-card' },
      h('div', { class: 'qr-door' }, door.name),
      frame,
      bar,
      countdown,
      h('p', { class: 'muted small' }, '请将二维码对准门口的扫码器。二维码每 5 秒更新一次，截图无效。'),
      h('p', { class: 'muted small' }, `钥匙有效期至 ${formatTime(key.validUntil)}`),
    ),
    notice,
  );

  let drawnSlot = -1;
  let everConnected = false;
  let timer = null;
  let wakeLock = null;
  const born = Date.now();

  async function draw(now) {
    const slot = slotOf(now);
    drawnSlot = slot;
    if (!keyUsable(key, now)) {
      frame.replaceChildren(h('div', { class: 'alert alert-error' }, '钥匙已过期或已作废，请联网后在“开门”页更新钥匙。'));
      return stop();
    }
    try {
      const token = await signOpenToken({ deviceKeyName: entry.deviceKeyName, credential: key.credential, doorCode: door.code, method: 'qr', at: now });
      if (slot === drawnSlot) frame.replaceChildren(qrSvg(token, { label: `${door.name} 开门二维码`, targetPx: 330 }));
    } catch (error) {
      frame.replaceChildren(h('div', { class: 'alert alert-error' }, error.summary ?? '二维码生成失败'));
      stop();
    }
  }

  function tick() {
    if (screen.isConnected) everConnected = true;
    else if (everConnected || Date.now() - born > 10_000) return stop();
    const now = Date.now();
    if (slotOf(now) !== drawnSlot) void draw(now);
    const left = (slotOf(now) + 1) * SLOT_MS - now;
    bar.value = SLOT_MS - left;
    countdown.textContent = `${Math.ceil(left / 1000)} 秒后更新`;
    notice.replaceChildren(navigator.onLine ? '' : h('div', { class: 'alert alert-info' }, '当前无网络：二维码仍然可以开门，扫码器离线也能识别。'));
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    void wakeLock?.release().catch(() => undefined);
    wakeLock = null;
  }

  timer = setInterval(tick, 250);
  tick();
  // Keep the screen on while the code is shown, where the browser allows it.
  navigator.wakeLock
    ?.request('screen')
    .then((lock) => (timer ? (wakeLock = lock) : lock.release()))
    .catch(() => undefined);
  return screen;
}
