import { withQuery } from '/assets/api.js';
import { bilingual, dataTable, errorBox, field, formatTime, h, onSubmit, toast } from '/assets/dom.js';
import { decimalText, unitText } from '/assets/bill-format.js';
import { cursorPager } from './pager.js';
import { provenanceView } from './billing-provenance.js';
import { ADJUSTMENT_KINDS, BILL_STATUS, billStatusBadge, CYCLES, FEE_TYPES, parseYuan, statTile } from './billing-texts.js';

const PAGE_SIZE = 50;

/**
 * 账单: the community's bills filtered by status, period, fee type (and run, from the runs panel); a
 * bill opened shows each line with how it was computed, its adjustments and late fees, and — for staff
 * who may — the forms to correct it (credit note, adjustment) and to waive late fees.
 */
export function billsPanel({ api, community, can }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  let run = null;
  let shownId = null;

  const status = h('select', { name: 'status', 'aria-label': '状态 Status' }, h('option', { value: '' }, '状态：全部'), Object.entries(BILL_STATUS).map(([value, [zh]]) => h('option', { value }, zh)));
  const period = h('input', { name: 'period', 'aria-label': '账期 Period', placeholder: '账期 如 2026-11', autocomplete: 'off' });
  const feeType = h('select', { name: 'feeType', 'aria-label': '费用类型 Fee type' }, h('option', { value: '' }, '费用：全部'), Object.entries(FEE_TYPES).map(([value, zh]) => h('option', { value }, zh)));
  const runChip = h('span', { class: 'filter-chip', hidden: true });
  const filters = h('form', { class: 'toolbar', role: 'search', 'aria-label': '筛选账单 Filter bills' }, status, period, feeType, runChip, h('button', { type: 'submit', class: 'primary' }, '查询 Search'));
  const table = dataTable(
    [
      { zh: '账单号', en: 'Number', value: (b) => h('span', { class: 'mono' }, b.number) },
      { zh: '房号', en: 'House', value: (b) => h('strong', null, b.houseCode) },
      { zh: '账期', en: 'Period', value: (b) => [b.period.label, b.kind === 'prepay' ? h('div', { class: 'muted small' }, '预缴') : null] },
      { zh: '金额', en: 'Total', class: 'num', value: (b) => b.total.display },
      { zh: '调整', en: 'Adjusted', class: 'num', value: (b) => (b.adjustments.fen ? b.adjustments.display : '—') },
      { zh: '未付', en: 'Outstanding', class: 'num', value: (b) => h('strong', null, b.outstanding.display) },
      { zh: '滞纳金', en: 'Late fee', class: 'num', value: (b) => (b.lateFee.fen ? h('span', { class: 'late-fee' }, b.lateFee.display) : b.lateFee.display) },
      { zh: '到期日', en: 'Due', value: (b) => b.dueOn },
      { zh: '状态', en: 'Status', value: (b) => billStatusBadge(b.status) },
    ],
    [],
    '没有符合条件的账单 No bills match',
  );
  // A list asked for again before the last answer came (tab shown, then a filter) shows the newest answer
  // only: an older one arriving late would otherwise replace it.
  let latest = null;
  const fetchPage = (cursor) => {
    const request = api.get(withQuery(`${base}/bills`, { status: status.value, period: period.value.trim(), feeType: feeType.value, run: run?.id, limit: PAGE_SIZE, cursor }));
    latest = request;
    return request.then((page) => (latest === request ? page : latest));
  };
  const pager = cursorPager(table, fetchPage, (page) => table.addRows(page.items, (bill) => void open(bill.id, true)));
  const reload = () => void pager.load(true);
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    reload();
  });

  const detail = h('div', { class: 'bill-detail' });

  function setRun(next) {
    run = next ? { id: next.id, label: next.period.label } : null;
    if (run) {
      const clear = h('button', { type: 'button', class: 'link', 'aria-label': '清除批次筛选 Clear run filter' }, '✕');
      clear.addEventListener('click', () => (setRun(null), reload()));
      runChip.replaceChildren(`批次 ${run.label}`, clear);
    }
    runChip.hidden = !run;
    shownId = null;
    detail.replaceChildren();
  }

  async function open(billId, scroll) {
    shownId = billId;
    if (scroll) detail.replaceChildren(h('section', { class: 'card' }, h('p', { class: 'muted' }, '正在加载… Loading…')));
    try {
      const bill = await api.get(`/v1/bills/${encodeURIComponent(billId)}`);
      if (shownId !== billId) return;
      detail.replaceChildren(billCard(bill));
    } catch (error) {
      detail.replaceChildren(h('section', { class: 'card' }, errorBox(error)));
    }
    if (scroll) detail.scrollIntoView({ block: 'start' });
  }

  function billCard(bill) {
    const close = h('button', { type: 'button', class: 'link', 'aria-label': '关闭 Close' }, '关闭 ✕');
    close.addEventListener('click', () => {
      shownId = null;
      detail.replaceChildren();
    });
    const changed = () => {
      void open(bill.id, false);
      reload();
    };
    const adjustable = can('billing:adjust') && bill.status !== 'draft';
    return h(
      'section',
      { class: 'card', 'aria-label': `账单 ${bill.number}` },
      h('div', { class: 'toolbar' }, h('h2', { class: 'grow' }, `账单 ${bill.number} · ${bill.houseCode} · ${bill.period.label} `, billStatusBadge(bill.status)), close),
      h(
        'div',
        { class: 'stats' },
        statTile('total', bill.total.display, '账单金额', 'Total'),
        statTile('adjustments', bill.adjustments.display, '调整/冲减', 'Adjustments'),
        statTile('paid', bill.paid.display, '已付', 'Paid'),
        statTile('outstanding', bill.outstanding.display, '未付', 'Outstanding', bill.outstanding.fen > 0 ? 'stat-bad' : ''),
        statTile('lateFee', bill.lateFee.display, '应付滞纳金', 'Late fee due', bill.lateFee.fen > 0 ? 'stat-bad' : ''),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, '账期'),
        h('dd', null, `${bill.period.label}（${CYCLES[bill.cycle] ?? bill.cycle}${bill.kind === 'prepay' ? '，预缴' : ''}）`),
        h('dt', null, '到期日'),
        h('dd', null, bill.dueOn),
        h('dt', null, '出账时间'),
        h('dd', null, bill.issuedAt ? formatTime(bill.issuedAt) : '未出账（草稿）'),
      ),
      h('h3', null, bilingual('收费明细', 'Lines')),
      h('div', { class: 'bill-lines' }, bill.lines.map((line) => lineView(line))),
      adjustmentsView(bill),
      lateFeesView(bill),
      adjustable ? h('div', { class: 'bill-forms' }, adjustmentForm(api, bill, changed), bill.lateFees.due.fen > 0 ? waiverForm(api, bill, changed) : null) : null,
      can('billing:adjust') && bill.status === 'draft' ? h('p', { class: 'muted small' }, '草稿账单不能调整：作废该预览批次，修正后重新出账。') : null,
    );
  }

  return {
    element: h('div', null, h('section', { class: 'card', 'aria-label': '账单列表 Bill list' }, filters, pager.message, table.element, h('div', { class: 'pager' }, pager.more)), detail),
    /** Narrows the list to one run (null: every run); the next `reload` lists them. */
    setRun,
    reload,
  };
}

function lineView(line) {
  return h(
    'details',
    { class: 'bill-line', open: true, 'data-fee-item': line.feeItemCode },
    h(
      'summary',
      null,
      h('span', { class: 'line-name' }, line.description),
      h('span', { class: 'muted small' }, ` ${FEE_TYPES[line.feeType] ?? line.feeType}`),
      line.estimated ? h('span', { class: 'badge badge-warn' }, '估算') : null,
      line.kind === 'discount' ? h('span', { class: 'badge badge-ok' }, '优惠') : null,
      h('span', { class: 'line-quantity muted' }, line.quantity ? `${decimalText(line.quantity)} ${unitText(line.unit)}` : ''),
      h('strong', { class: 'line-amount' }, line.amount.display),
    ),
    provenanceView(line),
  );
}

function adjustmentsView(bill) {
  if (bill.adjustmentList.length === 0) return null;
  const lineOf = new Map(bill.lines.map((l) => [l.id, l.description]));
  return [
    h('h3', null, bilingual('调整与冲减', 'Adjustments')),
    dataTable(
      [
        { zh: '时间', en: 'At', value: (a) => formatTime(a.createdAt) },
        { zh: '类型', en: 'Kind', value: (a) => ADJUSTMENT_KINDS[a.kind] ?? a.kind },
        { zh: '对应明细', en: 'Line', value: (a) => (a.lineId === null ? '整张账单' : (lineOf.get(a.lineId) ?? `#${a.lineId}`)) },
        { zh: '金额', en: 'Amount', class: 'num', value: (a) => a.amount.display },
        { zh: '原因', en: 'Reason', value: (a) => a.reason },
      ],
      bill.adjustmentList,
    ).element,
  ];
}

const LATE_RULES = { 'daily-rate': '按日计息', flat: '固定金额', none: '不收' };

function lateFeesView(bill) {
  const fees = bill.lateFees;
  const charged = fees.byLine.filter((l) => l.rule !== 'none');
  const lineOf = new Map(bill.lines.map((l) => [l.id, l.description]));
  if (charged.length === 0 && fees.waivers.length === 0) return h('p', { class: 'muted small' }, '本账单的收费项目不收滞纳金。');
  return [
    h('h3', null, bilingual('滞纳金', 'Late fees')),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, '已产生'),
      h('dd', { 'data-field': 'lateFeeAccrued' }, fees.accrued.display),
      h('dt', null, '已减免'),
      h('dd', { 'data-field': 'lateFeeWaived' }, fees.waived.display),
      h('dt', null, '应付'),
      h('dd', { 'data-field': 'lateFeeDue' }, h('strong', null, fees.due.display)),
    ),
    dataTable(
      [
        { zh: '明细', en: 'Line', value: (l) => [lineOf.get(l.lineId) ?? '', h('div', { class: 'mono muted' }, l.feeItemCode)] },
        { zh: '欠费本金', en: 'Principal', class: 'num', value: (l) => l.principal.display },
        { zh: '逾期天数', en: 'Days late', class: 'num', value: (l) => l.daysOverdue },
        { zh: '规则', en: 'Rule', value: (l) => LATE_RULES[l.rule] ?? l.rule },
        { zh: '滞纳金', en: 'Accrued', class: 'num', value: (l) => l.accrued.display },
      ],
      charged,
    ).element,
    fees.waivers.length
      ? dataTable(
          [
            { zh: '减免时间', en: 'Waived at', value: (w) => formatTime(w.createdAt) },
            { zh: '减免金额', en: 'Amount', class: 'num', value: (w) => w.amount.display },
            { zh: '原因', en: 'Reason', value: (w) => w.reason },
          ],
          fees.waivers,
        ).element
      : null,
  ];
}

/** An error of the form's own input, shown in its `.form-error` slot like the server's problems. */
function inputError(summary, detail) {
  return Object.assign(new Error(summary), { summary, detail });
}

function adjustmentForm(api, bill, changed) {
  const kind = h('select', { name: 'kind' }, h('option', { value: 'credit-note' }, '红字冲减（减少应收）'), h('option', { value: 'adjustment' }, '调整（可增可减）'));
  const hint = h('span');
  const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal', autocomplete: 'off', placeholder: '10.00' });
  const line = h('select', { name: 'lineId' }, h('option', { value: '' }, '整张账单'), bill.lines.map((l) => h('option', { value: String(l.id) }, `${l.description}（${l.amount.display}）`)));
  const showHint = () => {
    hint.textContent = kind.value === 'credit-note' ? `填正数，从应收中减去；最多 ${bill.outstanding.display}。` : '正数增加应收，负数（如 -5.00）减少应收。';
  };
  kind.addEventListener('change', showHint);
  showHint();
  const form = h(
    'form',
    { class: 'bill-form', 'aria-label': '更正账单 Correct the bill' },
    h('h3', null, bilingual('更正账单', 'Credit note / adjustment')),
    field('类型', 'Kind', kind),
    field('金额（元）', 'Amount, yuan', amount, hint),
    field('对应明细', 'Line', line),
    field('原因', 'Reason', h('input', { name: 'reason', required: true, maxlength: 500, autocomplete: 'off', placeholder: '如：电梯停运补偿' })),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary' }, '提交', h('span', { class: 'en' }, 'Submit')),
  );
  onSubmit(form, async (data) => {
    const fen = parseYuan(String(data.get('amount')));
    if (fen === null || fen === 0) throw inputError('金额格式不对', '请输入不为 0 的金额，最多两位小数，如 10.00');
    const credit = data.get('kind') === 'credit-note';
    const body = { kind: data.get('kind'), amountFen: credit ? -Math.abs(fen) : fen, reason: String(data.get('reason')).trim() };
    if (data.get('lineId')) body.lineId = Number(data.get('lineId'));
    await api.post(`/v1/bills/${encodeURIComponent(bill.id)}/adjustments`, body);
    toast(credit ? '已开具红字冲减' : '已调整账单');
    changed();
  });
  return form;
}

function waiverForm(api, bill, changed) {
  const form = h(
    'form',
    { class: 'bill-form', 'aria-label': '减免滞纳金 Waive late fees' },
    h('h3', null, bilingual('减免滞纳金', 'Waive late fees')),
    field(
      '减免金额（元）',
      'Amount, yuan',
      h('input', { name: 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: bill.lateFees.due.display.replace('¥', '') }),
      `留空则减免全部应付滞纳金 ${bill.lateFees.due.display}。`,
    ),
    field('原因', 'Reason', h('input', { name: 'reason', required: true, maxlength: 500, autocomplete: 'off', placeholder: '如：业主困难，经理批准' })),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary' }, '减免', h('span', { class: 'en' }, 'Waive')),
  );
  onSubmit(form, async (data) => {
    const text = String(data.get('amount')).trim();
    const body = { reason: String(data.get('reason')).trim() };
    if (text) {
      const fen = parseYuan(text);
      if (fen === null || fen <= 0) throw inputError('金额格式不对', '请输入大于 0 的金额，最多两位小数；留空则全部减免');
      body.amountFen = fen;
    }
    await api.post(`/v1/bills/${encodeURIComponent(bill.id)}/late-fee-waivers`, body);
    toast('已减免滞纳金');
    changed();
  });
  return form;
}
