import { errorBox, formatTime, h, toast } from '/assets/dom.js';
import { NetworkError } from '/assets/problems.js';
import { cachedResidentKeys, doorEntries, fetchResidentKeys, forgetResidentKeys, RESIDENT_DEVICE_KEY } from './door-keys.js';
import { doorList } from './door-panel.js';
import { doorQrScreen } from './door-qr.js';
import { page } from './layout.js';

const qrHref = (entry) => `#/doors/${encodeURIComponent(entry.door.id)}/qr`;

/**
 * 开门: the doors this phone's keys open. Keys are fetched (and renewed) when online and kept for
 * offline use; the QR code works from the kept keys alone. 挂失 revokes every key the resident holds.
 */
export function doorsScreen({ api, me }) {
  const notice = h('div');
  const list = h('div', null, h('p', { class: 'muted center' }, '正在领取钥匙…'));
  const meta = h('p', { class: 'muted small center' });
  const renew = h('button', { type: 'button', class: 'link bar-action' }, '更新');
  renew.addEventListener('click', () => void load());

  function render(ring) {
    const entries = doorEntries(ring.keys, RESIDENT_DEVICE_KEY);
    const communities = [...new Set(entries.map((e) => e.key.communityId))];
    if (communities.length <= 1) {
      list.replaceChildren(doorList(api, entries, { qrHref }));
    } else {
      // Two communities may both have a "北门": say whose it is.
      list.replaceChildren(
        ...communities.map((id) => [
          h('div', { class: 'section-head' }, h('h2', null, ring.communities?.[id] ?? '小区')),
          doorList(api, entries.filter((e) => e.key.communityId === id), { qrHref }),
        ]),
      );
    }
    meta.textContent = `钥匙更新于 ${formatTime(ring.fetchedAt)}`;
  }

  async function load() {
    renew.disabled = true;
    const cached = cachedResidentKeys(me.id);
    if (cached) render(cached);
    try {
      render(await fetchResidentKeys(api, me.id));
      notice.replaceChildren();
    } catch (error) {
      if (error instanceof NetworkError && cached) {
        notice.replaceChildren(h('div', { class: 'alert alert-info' }, '当前无网络：显示这部手机保存的钥匙。二维码开门不需要网络。'));
      } else {
        notice.replaceChildren(errorBox(error));
        if (!cached) list.replaceChildren();
      }
    } finally {
      renew.disabled = false;
    }
  }

  function revoked(count) {
    forgetResidentKeys();
    const reclaim = h('button', { type: 'button', class: 'primary' }, '在这部手机上重新领取钥匙');
    reclaim.addEventListener('click', () => void load());
    notice.replaceChildren();
    meta.textContent = '';
    list.replaceChildren(
      h('div', { class: 'card empty' }, h('p', null, `已挂失：${count} 把钥匙已作废`), h('p', { class: 'muted small' }, '丢失的手机已不能开门。如果这部手机是您本人在用的，可以重新领取钥匙。'), reclaim),
    );
  }

  void load();
  return page(
    { title: '开门', back: '#/', action: renew },
    notice,
    list,
    meta,
    lostPhoneCard(api, revoked),
  );
}

/** The QR view of one door, from the kept keys (works offline). */
export function residentDoorQrScreen({ me }, doorId) {
  const ring = cachedResidentKeys(me.id);
  const entry = ring ? doorEntries(ring.keys, RESIDENT_DEVICE_KEY).find((e) => e.door.id === doorId) : undefined;
  return doorQrScreen({ entry, back: '#/doors' });
}

function lostPhoneCard(api, onRevoked) {
  const ask = h('button', { type: 'button', class: 'danger block' }, '挂失');
  const confirm = h('button', { type: 'button', class: 'danger solid' }, '确认挂失');
  const cancel = h('button', { type: 'button' }, '取消');
  const confirmBox = h(
    'div',
    { class: 'confirm-box', hidden: true },
    h('div', { class: 'alert alert-warn' }, '挂失后，您在所有手机上（包括这部手机）的开门钥匙立即作废；门禁网关离线时也会拒绝这些钥匙。'),
    h('div', { class: 'button-row' }, cancel, confirm),
  );
  const toggle = (asking) => {
    ask.hidden = asking;
    confirmBox.hidden = !asking;
  };
  ask.addEventListener('click', () => toggle(true));
  cancel.addEventListener('click', () => toggle(false));
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      const { revoked } = await api.post('/v1/me/door-keys/revoke-all', { reason: 'phone-lost' });
      toast(`已挂失，${revoked} 把钥匙已作废`);
      toggle(false);
      onRevoked(revoked);
    } catch (error) {
      toast([error.summary, error.detail].filter(Boolean).join('：'), 'error');
    } finally {
      confirm.disabled = false;
    }
  });
  return h(
    'section',
    null,
    h('div', { class: 'section-head' }, h('h2', null, '手机丢失', h('span', { class: 'en' }, 'Lost phone'))),
    h('div', { class: 'card' }, h('p', { class: 'muted small' }, '手机丢失或被盗时请立即挂失，丢失手机上的钥匙将不能再开门。'), ask, confirmBox),
  );
}
