import { withQuery } from '/assets/api.js';
import { bilingual, dataTable, errorBox, h } from '/assets/dom.js';
import { cursorPager } from './pager.js';

export const HOUSE_STATUS = {
  occupied: ['已入住', 'badge-ok'],
  vacant: ['空置', ''],
  under_renovation: ['装修中', 'badge-warn'],
  unsold: ['未售', ''],
};

const MEMBER_ROLE = { owner: '业主', family: '家属', tenant: '租客' };

const TOTAL_LABELS = {
  buildings: ['楼栋', 'Buildings'],
  units: ['单元', 'Units'],
  houses: ['房屋', 'Houses'],
  floorAreaM2: ['总建筑面积 m²', 'Floor area'],
};

export function statusBadge(status) {
  const [label, tone] = HOUSE_STATUS[status] ?? [status, ''];
  return h('span', { class: `badge ${tone}` }, label);
}

const PAGE_SIZE = 50;

/** Houses of the selected community: counts, search by code or owner, status filter, detail dialog. */
export function renderHouses({ api, community }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  const stats = h('div', { class: 'stats' });
  const q = h('input', { name: 'q', type: 'search', placeholder: '房号 / 业主姓名 House code or owner', 'aria-label': '搜索 Search' });
  const status = h(
    'select',
    { name: 'status', 'aria-label': '状态 Status' },
    h('option', { value: '' }, '全部状态 All'),
    Object.entries(HOUSE_STATUS).map(([value, [label]]) => h('option', { value }, label)),
  );
  const filters = h('form', { class: 'toolbar', role: 'search' }, q, status, h('button', { type: 'submit', class: 'primary' }, '查询 Search'));
  const table = dataTable(
    [
      { zh: '房号', en: 'House', value: (r) => r.code },
      { zh: '楼层', en: 'Floor', class: 'num', value: (r) => r.floor },
      { zh: '面积 m²', en: 'Area', class: 'num', value: (r) => r.floorAreaM2 },
      { zh: '状态', en: 'Status', value: (r) => statusBadge(r.status) },
      { zh: '主业主', en: 'Primary owner', value: (r) => r.primaryOwnerName ?? '—' },
    ],
    [],
    '没有符合条件的房屋 No houses match',
  );
  const { message, more, load } = cursorPager(
    table,
    (cursor) => api.get(withQuery(`${base}/houses`, { q: q.value.trim(), status: status.value, limit: PAGE_SIZE, cursor })),
    (page) => table.addRows(page.items, (row) => openHouse(api, base, row.id)),
  );

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });

  api
    .get(base)
    .then((detail) => stats.replaceChildren(...statCards(detail)))
    .catch(() => stats.replaceChildren());
  void load(true);

  return h(
    'div',
    null,
    h('p', { class: 'muted' }, `${community.name}（${community.code}）· ${community.timeZone ?? ''}`),
    stats,
    h('div', { class: 'card' }, filters, message, table.element, h('div', { class: 'pager' }, more)),
  );
}

function statCards(detail) {
  const totals = detail?.totals ?? {};
  return Object.entries(TOTAL_LABELS)
    .filter(([key]) => totals[key] !== undefined)
    .map(([key, [zh, en]]) => {
      const value = typeof totals[key] === 'number' ? totals[key].toLocaleString('zh-CN') : String(totals[key]);
      return h('div', { class: 'stat card', 'data-total': key }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, bilingual(zh, en)));
    });
}

/** The house with its owners and members (phones and ID numbers arrive masked from the API). */
async function openHouse(api, base, houseId) {
  const body = h('div', { class: 'dialog-body' }, h('p', { class: 'muted' }, '正在加载… Loading…'));
  const close = h('button', { type: 'button', class: 'link', 'aria-label': '关闭 Close' }, '关闭 ✕');
  const dialog = h('dialog', { class: 'dialog' }, h('div', { class: 'dialog-head' }, h('h2', null, bilingual('房屋详情', 'House')), close), body);
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  try {
    const house = await api.get(`${base}/houses/${encodeURIComponent(houseId)}`);
    body.replaceChildren(...houseDetail(house));
  } catch (error) {
    body.replaceChildren(errorBox(error));
  }
}

function houseDetail(house) {
  const facts = [
    ['房号', 'House', house.code],
    ['楼栋', 'Building', house.buildingName],
    ['单元', 'Unit', house.unitName],
    ['楼层', 'Floor', house.floor],
    ['面积 m²', 'Area', house.floorAreaM2],
  ].filter(([, , value]) => value !== undefined && value !== null);
  const owners = Array.isArray(house.owners) ? house.owners : [];
  const members = Array.isArray(house.members) ? house.members : [];
  return [
    h(
      'dl',
      { class: 'facts' },
      facts.map(([zh, en, value]) => [h('dt', null, bilingual(zh, en)), h('dd', null, String(value))]),
      h('dt', null, bilingual('状态', 'Status')),
      h('dd', null, statusBadge(house.status)),
    ),
    h('h3', null, bilingual('登记业主', 'Roster owners')),
    dataTable(
      [
        { zh: '姓名', value: (o) => [o.name, o.isPrimary ? h('span', { class: 'badge badge-brand' }, '主业主') : null] },
        { zh: '证件号', value: (o) => o.idNumberMasked ?? '—' },
        { zh: '手机号', value: (o) => o.phoneMasked ?? '—' },
      ],
      owners,
      '无登记业主 No owners on the roster',
    ).element,
    h('h3', null, bilingual('已绑定住户', 'Bound residents')),
    dataTable(
      [
        { zh: '姓名', value: (m) => [m.name ?? '—', m.isPrimary ? h('span', { class: 'badge badge-brand' }, '主业主') : null] },
        { zh: '身份', value: (m) => MEMBER_ROLE[m.role] ?? m.role },
        { zh: '手机号', value: (m) => m.phoneMasked ?? '—' },
        { zh: '租期', value: (m) => (m.tenancyStart ? `${m.tenancyStart} ~ ${m.tenancyEnd ?? ''}` : '—') },
      ],
      members,
      '暂无住户绑定 Nobody has bound this house yet',
    ).element,
  ];
}
