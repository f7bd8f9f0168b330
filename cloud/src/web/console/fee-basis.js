import { bilingual, dataTable, errorBox, h } from '/assets/dom.js';
import { HOUSE_STATUS, statusBadge } from './houses.js';

/**
 * The basis of the property fee: chargeable floor area per building and per house status. Areas arrive
 * as exact decimal strings and are shown as they are, never re-added here in floating point.
 */
export function renderFeeBasis({ api, community }) {
  const body = h('div', null, h('p', { class: 'muted' }, '正在加载… Loading…'));
  api
    .get(`/v1/communities/${encodeURIComponent(community.id)}/reports/fee-basis`)
    .then((report) => body.replaceChildren(...reportView(report)))
    .catch((error) => body.replaceChildren(errorBox(error)));
  return body;
}

function reportView(report) {
  const statuses = Object.keys(HOUSE_STATUS);
  const areaOf = (byStatus, status) => byStatus?.find((s) => s.status === status);
  return [
    h(
      'div',
      { class: 'stats' },
      h('div', { class: 'stat card' }, h('div', { class: 'stat-value', 'data-total': 'houses' }, String(report.total.houses)), h('div', { class: 'stat-label' }, bilingual('房屋', 'Houses'))),
      h('div', { class: 'stat card' }, h('div', { class: 'stat-value', 'data-total': 'area' }, report.total.floorAreaM2), h('div', { class: 'stat-label' }, bilingual('总建筑面积 m²', 'Floor area'))),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, bilingual('按房屋状态', 'By house status')),
      dataTable(
        [
          { zh: '状态', en: 'Status', value: (s) => statusBadge(s.status) },
          { zh: '房屋数', en: 'Houses', class: 'num', value: (s) => s.houses },
          { zh: '建筑面积 m²', en: 'Area', class: 'num', value: (s) => s.floorAreaM2 },
        ],
        report.byStatus,
      ).element,
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, bilingual('按楼栋', 'By building')),
      dataTable(
        [
          { zh: '楼栋', en: 'Building', value: (b) => b.buildingName },
          { zh: '房屋数', en: 'Houses', class: 'num', value: (b) => b.houses },
          { zh: '建筑面积 m²', en: 'Area', class: 'num', value: (b) => b.floorAreaM2 },
          ...statuses.map((status) => ({
            zh: HOUSE_STATUS[status][0],
            en: 'm²',
            class: 'num',
            value: (b) => areaOf(b.byStatus, status)?.floorAreaM2 ?? '—',
          })),
        ],
        report.buildings,
        '本社区还没有楼栋 No buildings yet',
      ).element,
    ),
  ];
}
