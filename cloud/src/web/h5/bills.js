import { withQuery } from '/assets/api.js';
import { append, errorBox, formatTime, h } from '/assets/dom.js';
import { explainLine } from './bill-explain.js';
import { amountRow, BILL_STATUS, billTitle, FEE_TYPES, spanText, unitText, yuan } from '/assets/bill-format.js';
import { prepayPanel } from './bill-prepay.js';
import { page } from './layout.js';

/**
 * The house's bills (API: features/billing/my-bills.routes.ts), for any member of the house: what is due
 * on the house screen, the bills by status and fee type, and each bill line by line with how its amount
 * was computed. Amounts are shown as the API's `display`; sums made here are of integer fen.
 */

const PAGE_SIZE = 20;
const housePath = (houseId) => `/v1/me/houses/${encodeURIComponent(houseId)}`;
export const billsHref = (houseId) => `#/house/${encodeURIComponent(houseId)}/bills`;
export const billHref = (houseId, billId) => `${billsHref(houseId)}/${encodeURIComponent(billId)}`;

function statusBadge(status) {
  const [label, tone] = BILL_STATUS[status] ?? [status, ''];
  return h('span', { class: `badge ${tone}`, 'data-status': status }, label);
}

/**
 * The 账单 card: what paying everything today costs (outstanding + late fees), overdue bills and the
 * next due date. On the house screen it links to the bills; on the bills screen it is plain.
 */
export function billingCard(api, houseId, { link = true } = {}) {
  const body = h('div', { class: 'bill-card-body' }, h('p', { class: 'muted small' }, '正在加载…'));
  const head = h('div', { class: 'bill-card-head' }, h('strong', null, '账单'), link ? h('span', { class: 'muted small' }, '查看全部账单 ›') : null);
  api
    .get(`${housePath(houseId)}/billing`)
    .then((overview) => body.replaceChildren(...overviewView(overview)))
    .catch((error) => body.replaceChildren(errorBox(error)));
  return link ? h('a', { class: 'card bill-card', href: billsHref(houseId) }, head, body) : h('section', { class: 'card bill-card' }, head, body);
}

function overviewView(o) {
  const due = h('div', { class: 'bill-due', 'data-total-due': o.totalDue.display }, h('span', { class: 'muted small' }, '应缴合计'), h('span', { class: 'bill-due-value' }, o.totalDue.display));
  if (o.totalDue.fen <= 0) return [due, h('p', { class: 'muted small' }, o.latestBill ? '暂无待缴费用' : '暂无账单')];
  return [
    due,
    h('div', { class: 'muted small' }, `欠费 ${o.outstanding.display}${o.lateFee.fen > 0 ? ` + 滞纳金 ${o.lateFee.display}` : ''}`),
    h(
      'div',
      { class: 'bill-card-meta' },
      o.overdueBills > 0 ? h('span', { class: 'badge badge-danger', 'data-overdue': o.overdueBills }, `逾期账单 ${o.overdueBills} 张`) : null,
      o.nextDueOn ? h('span', { class: 'muted small' }, `最早缴费期限 ${o.nextDueOn}`) : null,
    ),
  ];
}

/** Filters kept per house for the tab's life: back from a bill, the list is as it was left. */
const keptFilters = new Map();

const STATUS_FILTERS = [
  ['', '全部'],
  ['open', '待缴'],
  ['overdue', '已逾期'],
  ['paid', '已缴清'],
];

/** `#/house/{houseId}/bills`: the bills, newest first, by status and fee type, a page at a time. */
export function billsScreen({ api }, houseId) {
  const filters = keptFilters.get(houseId) ?? { status: '', feeType: '' };
  keptFilters.set(houseId, filters);
  const list = h('div', { class: 'bill-list' });
  const message = h('div');
  const more = h('button', { type: 'button', class: 'block', hidden: true }, '加载更多');
  let cursor = null;
  let generation = 0;

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    if (reset) {
      cursor = null;
      list.replaceChildren(h('p', { class: 'muted center small' }, '正在加载…'));
    }
    message.replaceChildren();
    more.disabled = true;
    try {
      const result = await api.get(withQuery(`${housePath(houseId)}/bills`, { ...filters, cursor, limit: PAGE_SIZE }));
      if (mine !== generation) return; // a newer filter answered first
      if (reset) list.replaceChildren();
      list.append(...result.items.map((bill) => billRow(houseId, bill)));
      if (list.childElementCount === 0) list.append(h('div', { class: 'card empty' }, filters.status || filters.feeType ? '没有符合条件的账单' : '暂无账单'));
      cursor = result.nextCursor;
      more.hidden = !cursor;
    } catch (error) {
      if (mine !== generation) return;
      if (reset) list.replaceChildren();
      message.replaceChildren(errorBox(error));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load(false));

  const statusButtons = STATUS_FILTERS.map(([value, label]) => {
    const button = h('button', { type: 'button', class: 'small', 'data-status': value, 'aria-pressed': String(filters.status === value) }, label);
    button.addEventListener('click', () => {
      filters.status = value;
      for (const b of statusButtons) b.setAttribute('aria-pressed', String(b === button));
      void load(true);
    });
    return button;
  });
  const feeType = h(
    'select',
    { 'aria-label': '费用类型' },
    h('option', { value: '' }, '全部费用'),
    Object.entries(FEE_TYPES).map(([value, label]) => h('option', { value, selected: filters.feeType === value }, label)),
  );
  feeType.addEventListener('change', () => {
    filters.feeType = feeType.value;
    void load(true);
  });

  void load(true);
  return page(
    { title: '账单', back: `#/house/${encodeURIComponent(houseId)}` },
    billingCard(api, houseId, { link: false }),
    h('div', { class: 'bill-filters' }, h('div', { class: 'segmented', role: 'group', 'aria-label': '账单状态' }, statusButtons), feeType),
    message,
    list,
    more,
  );
}

function billRow(houseId, bill) {
  return h(
    'a',
    { class: 'card bill-row', href: billHref(houseId, bill.id), 'data-bill-id': bill.id, 'data-period': bill.period.label },
    h('div', { class: 'bill-row-head' }, h('strong', { class: 'bill-title' }, billTitle(bill)), statusBadge(bill.status)),
    h('div', { class: 'muted small' }, `${bill.number} · ${bill.feeTypes.map((t) => FEE_TYPES[t] ?? t).join('、')}`),
    amountRow('账单金额', bill.total.display, { 'data-amount': 'total' }),
    bill.status === 'paid' ? null : amountRow('待缴', bill.outstanding.display, { 'data-amount': 'outstanding' }),
    bill.lateFee.fen > 0 ? amountRow('滞纳金', bill.lateFee.display, { 'data-amount': 'late-fee' }) : null,
    h('div', { class: 'muted small' }, `缴费期限 ${bill.dueOn}`),
    h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
  );
}

/** `#/house/{houseId}/bills/{billId}`: one bill, every line with why it costs what it costs. */
export function billScreen({ api }, houseId, billId) {
  const body = h('div', null, h('p', { class: 'muted center' }, '正在加载…'));
  Promise.all([api.get(`/v1/me/bills/${encodeURIComponent(billId)}`), api.get(`/v1/me/houses/${encodeURIComponent(houseId)}/billing`)])
    .then(([bill, overview]) => {
      body.replaceChildren();
      append(body, billView(api, bill, new Set(overview.prepayOffers.map((o) => o.feeItemId))));
    })
    .catch((error) =>
      body.replaceChildren(
        error.status === 404
          ? h('div', { class: 'card empty', role: 'alert' }, h('p', null, '找不到该账单'), h('p', { class: 'muted small' }, '账单不存在，或不属于您的房屋。'), h('a', { class: 'button', href: billsHref(houseId) }, '返回账单列表'))
          : errorBox(error),
      ),
    );
  return page({ title: '账单详情', back: billsHref(houseId) }, body);
}

/** `offered`: the fee items the house may prepay (the overview's prepayOffers). */
function billView(api, bill, offered) {
  const dueNow = bill.outstanding.fen + bill.lateFees.due.fen;
  const linesById = new Map(bill.lines.map((l) => [l.id, l]));
  const prepayable = new Set();
  return [
    h(
      'section',
      { class: 'card bill-head', 'data-bill-id': bill.id },
      h('div', { class: 'bill-row-head' }, h('h2', { class: 'bill-title' }, billTitle(bill)), statusBadge(bill.status)),
      h('div', { class: 'muted small' }, `${bill.houseCode} · 账单号 ${bill.number}`),
      h('div', { class: 'muted small' }, `计费期间 ${spanText(bill.period.start, bill.period.end)} · 缴费期限 ${bill.dueOn}`),
      h('div', { class: 'bill-due' }, h('span', { class: 'muted small' }, '应缴'), h('span', { class: 'bill-due-value', 'data-amount': 'due' }, yuan(dueNow))),
      amountRow('账单金额', bill.total.display, { 'data-amount': 'total' }),
      bill.adjustments.fen !== 0 ? amountRow('调整', bill.adjustments.display, { 'data-amount': 'adjustments' }) : null,
      bill.paid.fen !== 0 ? amountRow('已缴', bill.paid.display, { 'data-amount': 'paid' }) : null,
      amountRow('待缴本金', bill.outstanding.display, { 'data-amount': 'outstanding' }),
      bill.lateFees.due.fen !== 0 ? amountRow('滞纳金', bill.lateFees.due.display, { 'data-amount': 'late-fee' }) : null,
      bill.issuedAt ? h('div', { class: 'muted small' }, `出账时间 ${formatTime(bill.issuedAt)}`) : null,
    ),
    h('div', { class: 'section-head' }, h('h2', null, '费用明细', h('span', { class: 'en' }, 'Lines'))),
    h(
      'section',
      { class: 'card flush' },
      bill.lines.map((line) => {
        // One 预缴 action per fee item with a prepayment offer, on its first line.
        const offerPrepay = offered.has(line.feeItemId) && line.kind === 'charge' && !prepayable.has(line.feeItemId);
        if (offerPrepay) prepayable.add(line.feeItemId);
        return lineView(api, bill, line, offerPrepay);
      }),
    ),
    lateFeeSection(bill, linesById),
    adjustmentSection(bill, linesById),
  ];
}

function lineView(api, bill, line, offerPrepay) {
  const details = h('details', { class: 'explain' }, h('summary', null, '为什么是这个金额'), explainLine(line));
  const prepay = h('div');
  let action = null;
  if (offerPrepay) {
    action = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false' }, '预缴');
    action.addEventListener('click', () => {
      const open = prepay.childElementCount === 0;
      // Once made, the prepayment bill is shown like any other.
      prepay.replaceChildren(...(open ? [prepayPanel(api, bill.houseId, line, (created) => (location.hash = billHref(created.houseId, created.id)))] : []));
      action.setAttribute('aria-expanded', String(open));
    });
  }
  return h(
    'div',
    { class: `bill-line${line.kind === 'discount' ? ' bill-line-discount' : ''}`, 'data-line-id': line.id, 'data-fee-type': line.feeType },
    h(
      'div',
      { class: 'bill-line-head' },
      h(
        'div',
        { class: 'bill-line-info' },
        h('div', { class: 'bill-line-name' }, line.description, line.estimated ? h('span', { class: 'badge badge-warn', 'data-estimated': '' }, '估算') : null),
        h('div', { class: 'muted small' }, spanText(line.period.start, line.period.end), line.quantity !== null ? ` · ${line.quantity} ${unitText(line.unit)}` : ''),
      ),
      h('div', { class: 'bill-line-amount' }, line.amount.display),
    ),
    details,
    action ? h('div', { class: 'button-row' }, action) : null,
    prepay,
  );
}

const LATE_FEE_RULES = { 'daily-rate': '按日计收', flat: '逾期一次性收取' };

function lateFeeSection(bill, linesById) {
  const fees = bill.lateFees;
  const charged = fees.byLine.filter((l) => l.accrued.fen !== 0);
  if (charged.length === 0 && fees.waivers.length === 0) return null;
  return [
    h('div', { class: 'section-head' }, h('h2', null, '滞纳金', h('span', { class: 'en' }, 'Late fees'))),
    h(
      'section',
      { class: 'card late-fees' },
      h('p', { class: 'muted small' }, '逾期未缴的费用自缴费期限次日起计收滞纳金。'),
      charged.map((l) =>
        amountRow(
          `${linesById.get(l.lineId)?.description ?? l.feeItemCode}：欠费本金 ${l.principal.display}，逾期 ${l.daysOverdue} 天，${LATE_FEE_RULES[l.rule] ?? l.rule}`,
          l.accrued.display,
          { 'data-late-fee-line': l.lineId },
        ),
      ),
      fees.waivers.map((w) => amountRow(`减免（${w.reason}，${formatTime(w.createdAt)}）`, yuan(-w.amount.fen), { 'data-waiver': w.id })),
      amountRow('滞纳金应缴', fees.due.display, { class: 'amount-row amount-total' }),
    ),
  ];
}

const ADJUSTMENT_KINDS = { adjustment: '调整', 'credit-note': '冲减' };

function adjustmentSection(bill, linesById) {
  if (bill.adjustmentList.length === 0) return null;
  return [
    h('div', { class: 'section-head' }, h('h2', null, '调整与冲减', h('span', { class: 'en' }, 'Adjustments'))),
    h(
      'section',
      { class: 'card adjustments' },
      bill.adjustmentList.map((a) =>
        h(
          'div',
          { class: 'adjustment', 'data-adjustment-id': a.id },
          amountRow(`${ADJUSTMENT_KINDS[a.kind] ?? a.kind}${a.lineId !== null && linesById.has(a.lineId) ? `：${linesById.get(a.lineId).description}` : ''}`, a.amount.display),
          h('div', { class: 'muted small' }, `${a.reason} · ${formatTime(a.createdAt)}`),
        ),
      ),
      amountRow('调整合计', bill.adjustments.display, { class: 'amount-row amount-total' }),
    ),
  ];
}
