import { withQuery } from '/assets/api.js';
import { dataTable, formatTime, h } from '/assets/dom.js';
import { cursorPager } from './pager.js';

const OUTCOME = { success: ['成功', 'badge-ok'], failure: ['失败', 'badge-danger'], denied: ['拒绝', 'badge-warn'] };
const ACTIONS = {
  'staff.login': '员工登录',
  'resident.login': '住户登录',
  'session.logout': '退出登录',
  'house.bind': '绑定房屋',
  'house.member_add': '添加成员',
  'house.member_remove': '移除成员',
  'house.update': '修改房屋',
  'roster.import': '导入名册',
  'roster.export': '导出名册',
  'staff.create': '创建员工',
  'staff.role_change': '变更角色',
  'staff.update': '修改员工',
  'community.create': '创建社区',
  'audit.export': '导出审计日志',
};
const ACTOR = { staff: '员工', resident: '住户', system: '系统', gateway: '网关', anonymous: '匿名' };

/** The audit log, newest first, one page at a time. */
export function renderAudit({ api }) {
  const table = dataTable(
    [
      { zh: '时间', en: 'At', value: (e) => formatTime(e.at) },
      {
        zh: '操作者',
        en: 'Actor',
        value: (e) => [e.actorName ?? ACTOR[e.actorKind] ?? e.actorKind ?? '—', e.actorId ? h('div', { class: 'mono muted' }, `${ACTOR[e.actorKind] ?? e.actorKind} ${short(e.actorId)}`) : null],
      },
      { zh: '动作', en: 'Action', value: (e) => [ACTIONS[e.action] ?? '', h('div', null, h('code', null, e.action))] },
      {
        zh: '结果',
        en: 'Outcome',
        value: (e) => {
          const [label, tone] = OUTCOME[e.outcome] ?? [e.outcome ?? '—', ''];
          return h('span', { class: `badge ${tone}` }, label);
        },
      },
      { zh: '对象', en: 'Target', value: (e) => (e.targetKind ? `${e.targetKind} ${short(e.targetId)}` : '—') },
      { zh: 'IP', value: (e) => e.ip ?? '—' },
      { zh: '详情', en: 'Details', value: (e) => detailsList(e.details) },
    ],
    [],
    '暂无审计记录 No audit events',
  );
  const { message, more, load } = cursorPager(table, (cursor) => api.get(withQuery('/v1/audit-events', { limit: 50, cursor })));
  void load(true);
  return h('div', { class: 'card' }, message, table.element, h('div', { class: 'pager' }, more));
}

function detailsList(details) {
  const entries = Object.entries(details ?? {});
  if (entries.length === 0) return '—';
  return h(
    'dl',
    { class: 'details' },
    entries.map(([key, value]) => [h('dt', null, key), h('dd', null, typeof value === 'string' ? value : JSON.stringify(value))]),
  );
}

function short(id) {
  return typeof id === 'string' && id.length > 12 ? `${id.slice(0, 8)}…` : (id ?? '');
}
