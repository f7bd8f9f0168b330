import { bilingual, h } from '/assets/dom.js';

/**
 * The billing screen's Chinese words, and the clerk's typed amounts and periods. Amounts the API sends
 * as `{ fen, display }` are shown by their `display`; the raw numbers inside a line's provenance (fen,
 * price units of ¥0.0001, decimal strings) go through the shared bill formatters (`/assets/bill-format.js`, shared/bill-format.js),
 * so the console and the owner's phone write every number the same way.
 */

export const CYCLES = { monthly: '月度', quarterly: '季度', yearly: '年度' };

/** [label, badge tone] per run status. */
export const RUN_STATUS = {
  running: ['计算中', 'badge-brand'],
  draft: ['预览待出账', 'badge-warn'],
  posted: ['已出账', 'badge-ok'],
  failed: ['失败', 'badge-danger'],
  discarded: ['已作废', ''],
};

export const RUN_TRIGGERS = { manual: '手动', schedule: '定时', seed: '初始化' };

/** [label, badge tone] per bill status, as the API computes it today. */
export const BILL_STATUS = {
  draft: ['草稿', ''],
  open: ['未到期', 'badge-brand'],
  overdue: ['已逾期', 'badge-danger'],
  paid: ['已结清', 'badge-ok'],
};

export const HOLD_REASONS = {
  'missing-reading': '缺少抄表读数',
  'backwards-reading': '读数倒走，需核实',
  'implausible-reading': '用量异常偏大，需核实读数',
  'no-meter': '房屋未装表',
  'no-tariff': '无适用价格',
  'shared-meter': '公共表读数异常',
  'no-history': '无历史用量，无法估算',
  'earlier-period-held': '前期用量待处理（阶梯年度累计）',
};

export const FEE_TYPES = {
  property: '物业费',
  fixed: '固定费用',
  electricity: '电费',
  water: '水费',
  gas: '燃气费',
  heat: '供暖费',
  shared: '公摊费',
  'parking-management': '车位管理费',
  'parking-rent': '车位租金',
  'maintenance-fund': '专项维修资金',
};

export const FEE_KINDS = {
  property: '物业费（按面积）',
  fixed: '固定费用（按户）',
  metered: '计量（按表）',
  shared: '公摊（按公共表）',
  'parking-management': '车位管理费（按车位）',
  'parking-rent': '车位租金（按车位）',
  'maintenance-fund': '维修资金（按面积）',
};

export const ADJUSTMENT_KINDS = { 'credit-note': '红字冲减', adjustment: '调整' };

export function runStatusBadge(status) {
  const [label, tone] = RUN_STATUS[status] ?? [status, ''];
  return h('span', { class: `badge ${tone}`, 'data-status': status }, label);
}

export function billStatusBadge(status) {
  const [label, tone] = BILL_STATUS[status] ?? [status, ''];
  return h('span', { class: `badge ${tone}`, 'data-status': status }, label);
}

/** Yuan typed by a clerk ("12", "12.3", "-0.05") as whole fen; null when it is not such a number. */
export function parseYuan(text) {
  const match = /^\s*(-)?(?:¥)?(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text ?? '');
  if (!match) return null;
  const fen = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  return match[1] ? -fen : fen;
}

/** The period of `cycle` holding today in `timeZone`: 2026-11, 2026-Q4 or 2026. */
export function currentPeriod(cycle, timeZone) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone || undefined, year: 'numeric', month: '2-digit' }).formatToParts(new Date());
  } catch {
    parts = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit' }).formatToParts(new Date());
  }
  const year = parts.find((p) => p.type === 'year').value;
  const month = parts.find((p) => p.type === 'month').value;
  if (cycle === 'yearly') return year;
  if (cycle === 'quarterly') return `${year}-Q${Math.ceil(Number(month) / 3)}`;
  return `${year}-${month}`;
}

/** A labelled stat tile, as the other screens show their totals. */
export function statTile(key, value, zh, en, tone = '') {
  return h('div', { class: `stat card ${tone}`, 'data-total': key }, h('div', { class: 'stat-value' }, String(value)), h('div', { class: 'stat-label' }, bilingual(zh, en)));
}
