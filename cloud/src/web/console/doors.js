import { withQuery } from '/assets/api.js';
import { bilingual, dataTable, errorBox, formatTime, h, toast } from '/assets/dom.js';
import { cursorPager, refreshedList } from './pager.js';
import { ACCESS_METHODS, ACCESS_OUTCOMES, DOOR_KINDS, HOLDER_KINDS, outcomeBadge, reasonText } from '/assets/door-texts.js';

const PAGE_SIZE = 50;
/** Below this the lock's battery is shown as a warning: a dead lock strands residents at the door. */
const LOW_BATTERY = 20;

/**
 * 门禁: the community's doors with their locks' state as the gateway last reported it, every attempt to
 * open a door (filtered, one page at a time), and for staff who may, rotating the key-signing key.
 */
export function renderDoors({ api, community, can }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  const doors = doorsCard(api, base);
  const access = accessCard(api, base);
  doors.onLoaded = (items) => access.setDoors(items);
  return h('div', null, doors.element, access.element, can('door:manage') ? rotateCard(api, base) : null);
}

function doorsCard(api, base) {
  const stats = h('div', { class: 'stats' });
  const table = dataTable(
    [
      { zh: '编号', en: 'Code', class: 'num', value: (d) => d.code },
      { zh: '门', en: 'Door', value: (d) => h('strong', null, d.name) },
      { zh: '类型', en: 'Kind', value: (d) => DOOR_KINDS[d.kind] ?? d.kind },
      { zh: '门锁', en: 'Lock', value: (d) => [h('code', null, d.lock.id), h('div', { class: 'mono muted' }, d.lock.address)] },
      { zh: '在线', en: 'Availability', value: (d) => availability(d.lock) },
      { zh: '电量', en: 'Battery', class: 'num', value: (d) => battery(d.lock.battery) },
      { zh: '告警', en: 'Alerts', value: (d) => alerts(d.lock) },
      { zh: '状态时间', en: 'Status at', value: (d) => formatTime(d.lock.statusAt) },
    ],
    [],
    '本社区还没有门禁 No doors yet',
  );
  const list = refreshedList(
    table,
    () => api.get(`${base}/doors`),
    (items) => {
      stats.replaceChildren(...doorStats(items));
      card.onLoaded(items);
    },
  );
  const card = {
    onLoaded: () => undefined,
    element: h(
      'section',
      { class: 'card doors-card' },
      h('div', { class: 'toolbar' }, h('h2', { class: 'grow' }, bilingual('门禁与门锁', 'Doors and locks')), list.refresh),
      stats,
      list.message,
      table.element,
    ),
  };
  void list.load();
  return card;
}

function doorStats(items) {
  const count = (test) => items.filter(test).length;
  const stat = (key, value, zh, en, tone = '') => h('div', { class: `stat card ${tone}`, 'data-total': key }, h('div', { class: 'stat-value' }, String(value)), h('div', { class: 'stat-label' }, bilingual(zh, en)));
  const offline = count((d) => d.lock.available === false);
  const warnings = count((d) => d.lock.tamper || d.lock.jammed || (d.lock.battery !== null && d.lock.battery < LOW_BATTERY));
  return [
    stat('doors', items.length, '门禁', 'Doors'),
    stat('online', count((d) => d.lock.available === true), '在线', 'Online'),
    stat('offline', offline, '离线', 'Offline', offline ? 'stat-bad' : ''),
    stat('warnings', warnings, '需处理', 'Needs attention', warnings ? 'stat-bad' : ''),
  ];
}

function availability(lock) {
  if (lock.available === true) return h('span', { class: 'badge badge-ok' }, '在线');
  if (lock.available === false) return [h('span', { class: 'badge badge-danger' }, '离线'), lock.unavailableReason ? h('div', { class: 'muted small' }, reasonText(lock.unavailableReason)) : null];
  return h('span', { class: 'badge' }, '未知');
}

function battery(percent) {
  if (percent === null || percent === undefined) return '—';
  return percent < LOW_BATTERY ? h('span', { class: 'badge badge-warn', title: '电量低 Low battery' }, `${percent}%`) : `${percent}%`;
}

function alerts(lock) {
  const list = [
    lock.tamper ? h('span', { class: 'badge badge-danger' }, '防拆报警') : null,
    lock.jammed ? h('span', { class: 'badge badge-danger' }, '门锁卡住') : null,
    lock.battery !== null && lock.battery < LOW_BATTERY ? h('span', { class: 'badge badge-warn' }, '电量低') : null,
    lock.doorOpen ? h('span', { class: 'badge' }, '门开着') : null,
  ].filter(Boolean);
  return list.length ? h('div', { class: 'badges' }, list) : h('span', { class: 'muted' }, '正常');
}

function accessCard(api, base) {
  const select = (name, label, options) => h('select', { name, 'aria-label': label }, h('option', { value: '' }, `${label.split(' ')[0]}：全部`), options);
  const outcome = select('outcome', '结果 Outcome', Object.entries(ACCESS_OUTCOMES).map(([value, [zh]]) => h('option', { value }, zh)));
  const method = select('method', '方式 Method', Object.entries(ACCESS_METHODS).map(([value, zh]) => h('option', { value }, zh)));
  const door = select('door', '门 Door', []);
  const filters = h('form', { class: 'toolbar', role: 'search', 'aria-label': '筛选开门记录 Filter' }, outcome, method, door, h('button', { type: 'submit', class: 'primary' }, '查询 Search'));
  const table = dataTable(
    [
      { zh: '时间', en: 'At', value: (e) => formatTime(e.requestedAt) },
      { zh: '门', en: 'Door', value: (e) => e.doorName ?? '—' },
      { zh: '方式', en: 'Method', value: (e) => ACCESS_METHODS[e.method] ?? e.method },
      { zh: '结果', en: 'Outcome', value: (e) => outcomeBadge(e.outcome) },
      { zh: '原因', en: 'Reason', value: (e) => (e.reason ? [reasonText(e.reason), h('div', null, h('code', null, e.reason))] : '—') },
      { zh: '持有人', en: 'Holder', value: (e) => (e.holderKind ? [HOLDER_KINDS[e.holderKind] ?? e.holderKind, h('div', { class: 'mono muted' }, short(e.holderId))] : '—') },
      { zh: '判定', en: 'Decided by', value: (e) => [e.decidedBy === 'cloud' ? '云端' : '网关', e.readerId ? h('div', { class: 'mono muted' }, e.readerId) : null] },
    ],
    [],
    '没有符合条件的开门记录 No access records match',
  );
  const { message, more, load } = cursorPager(table, (cursor) =>
    api.get(withQuery(`${base}/door-access`, { outcome: outcome.value, method: method.value, door: door.value, limit: PAGE_SIZE, cursor })),
  );
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });
  void load(true);

  return {
    setDoors(items) {
      const chosen = door.value;
      door.replaceChildren(door.firstChild, ...items.map((d) => h('option', { value: d.id }, `${d.code} · ${d.name}`)));
      door.value = chosen;
    },
    element: h('section', { class: 'card access-card' }, h('h2', null, bilingual('开门记录', 'Access records')), filters, message, table.element, h('div', { class: 'pager' }, more)),
  };
}

function rotateCard(api, base) {
  const start = h('button', { type: 'button' }, '轮换签名密钥', h('span', { class: 'en' }, 'Rotate'));
  const confirm = h('button', { type: 'button', class: 'primary' }, '确认轮换', h('span', { class: 'en' }, 'Confirm'));
  const cancel = h('button', { type: 'button' }, '取消 Cancel');
  const ask = h(
    'div',
    { class: 'confirm-box', hidden: true },
    h('div', { class: 'alert alert-info' }, '轮换后新钥匙用新密钥签发；旧密钥签发的钥匙在过期前仍然有效，网关会自动收到新的密钥集。密钥疑似泄露时请轮换。'),
    h('div', { class: 'toolbar' }, confirm, cancel),
  );
  const result = h('div');
  const toggle = (asking) => {
    start.hidden = asking;
    ask.hidden = !asking;
  };
  start.addEventListener('click', () => toggle(true));
  cancel.addEventListener('click', () => toggle(false));
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    result.replaceChildren();
    try {
      const rotated = await api.post(`${base}/door-signing-keys/rotate`, {});
      toggle(false);
      toast('签名密钥已轮换');
      result.replaceChildren(
        h('div', { class: 'alert alert-info' }, `新签名密钥 ${rotated.keyId} 已启用。`),
        dataTable(
          [
            { zh: '密钥', en: 'Key id', value: (k) => h('code', null, k.keyId) },
            { zh: '创建', en: 'Created', value: (k) => formatTime(k.createdAt) },
            { zh: '停用', en: 'Retired', value: (k) => (k.retiredAt ? formatTime(k.retiredAt) : h('span', { class: 'badge badge-ok' }, '使用中')) },
            { zh: '验证截止', en: 'Verifies until', value: (k) => formatTime(k.notAfter) },
          ],
          rotated.keys,
        ).element,
      );
    } catch (error) {
      toggle(false);
      result.replaceChildren(errorBox(error));
    } finally {
      confirm.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card rotate-card' },
    h('h2', null, bilingual('钥匙签名密钥', 'Key-signing key')),
    h('p', { class: 'muted' }, '本社区所有电子钥匙都由此密钥签发，门禁网关据此离线验证钥匙。'),
    start,
    ask,
    result,
  );
}

function short(id) {
  return typeof id === 'string' && id.length > 12 ? `${id.slice(0, 8)}…` : (id ?? '');
}
