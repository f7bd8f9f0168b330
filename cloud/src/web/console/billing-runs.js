import { withQuery } from '/assets/api.js';
import { bilingual, dataTable, errorBox, field, formatTime, h, onSubmit, toast } from '/assets/dom.js';
import { cursorPager } from './pager.js';
import { confirmButton } from './billing-confirm.js';
import { currentPeriod, CYCLES, HOLD_REASONS, RUN_TRIGGERS, runStatusBadge, statTile } from './billing-texts.js';

const PAGE_SIZE = 20;
const HOLD_PAGE_SIZE = 50;
/** How often a computing run is asked again. */
const POLL_MS = 1000;

/**
 * 出账批次: start a run (a preview to check, or posted at once), the runs so far, and the one chosen:
 * its report per fee item, the lines it held back and why, and — for a preview — post or discard.
 * A run computes in the background; while it does, the page asks again every second.
 */
export function runsPanel({ api, community, can, onViewBills }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  const detail = h('div', { class: 'run-detail' });
  let shownId = null;
  let autoOpen = true;

  const table = dataTable(
    [
      { zh: '账期', en: 'Period', value: (r) => [h('strong', null, r.period.label), h('div', { class: 'muted small' }, CYCLES[r.cycle] ?? r.cycle)] },
      { zh: '状态', en: 'Status', value: (r) => runStatusBadge(r.status) },
      { zh: '账单', en: 'Bills', class: 'num', value: (r) => r.report?.bills ?? '—' },
      { zh: '明细', en: 'Lines', class: 'num', value: (r) => r.report?.lines ?? '—' },
      { zh: '金额', en: 'Total', class: 'num', value: (r) => r.report?.total.display ?? '—' },
      { zh: '暂缓', en: 'Held', class: 'num', value: (r) => heldBadge(r.report?.held) },
      { zh: '到期日', en: 'Due', value: (r) => r.dueOn },
      { zh: '创建', en: 'Created', value: (r) => [formatTime(r.createdAt), h('div', { class: 'muted small' }, RUN_TRIGGERS[r.trigger] ?? r.trigger)] },
    ],
    [],
    '还没有出账批次 No bill runs yet',
  );
  const pager = cursorPager(
    table,
    (cursor) => api.get(withQuery(`${base}/bill-runs`, { limit: PAGE_SIZE, cursor })),
    (page) => {
      table.addRows(page.items, (run) => show(run));
      if (autoOpen && page.items[0]) show(page.items[0]);
      autoOpen = false;
    },
  );
  const reload = () => void pager.load(true);

  /** Shows a run; while it computes, asks again until it is done, then refreshes the list. */
  async function show(run) {
    shownId = run.id;
    detail.replaceChildren(runCard(run));
    if (run.status !== 'running') return;
    let current = run;
    try {
      while (current.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (!detail.isConnected || shownId !== run.id) return;
        current = await api.get(`/v1/bill-runs/${encodeURIComponent(run.id)}`);
      }
    } catch (error) {
      if (shownId === run.id) detail.replaceChildren(h('section', { class: 'card' }, errorBox(error)));
      return;
    }
    if (shownId !== run.id) return;
    detail.replaceChildren(runCard(current));
    reload();
  }

  function runCard(run) {
    const message = h('div');
    const act = (path, done) => async () => {
      message.replaceChildren();
      try {
        const next = await api.post(`/v1/bill-runs/${encodeURIComponent(run.id)}/${path}`, {});
        toast(done);
        void show(next);
        reload();
      } catch (error) {
        message.replaceChildren(errorBox(error));
      }
    };
    const actions = [];
    if (run.status === 'draft' && can('billing:run')) {
      actions.push(
        confirmButton({ label: ['出账', 'Post'], tone: 'primary', question: `出账后 ${run.report?.bills ?? 0} 张账单将推送给业主，且不能再修改（只能调整或冲减）。确认出账？`, confirm: '确认出账', action: act('post', '已出账') }),
        confirmButton({ label: ['作废', 'Discard'], tone: 'danger', question: '作废将删除这次预览生成的草稿账单，批次记录会保留。确认作废？', confirm: '确认作废', action: act('discard', '预览已作废') }),
      );
    }
    if (run.report?.bills > 0 && run.status !== 'discarded') {
      const view = h('button', { type: 'button' }, '查看账单', h('span', { class: 'en' }, 'View bills'));
      view.addEventListener('click', () => onViewBills(run));
      actions.push(view);
    }
    return h(
      'section',
      { class: 'card run-card', 'data-run-id': run.id, 'aria-label': `批次详情 ${run.period.label}` },
      h('div', { class: 'toolbar' }, h('h2', { class: 'grow' }, `出账批次 ${run.period.label} `, runStatusBadge(run.status)), actions),
      message,
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, '周期'),
        h('dd', null, `${CYCLES[run.cycle] ?? run.cycle} · ${run.period.start} 起`),
        h('dt', null, '到期日'),
        h('dd', null, run.dueOn),
        h('dt', null, '创建'),
        h('dd', null, `${formatTime(run.createdAt)}（${RUN_TRIGGERS[run.trigger] ?? run.trigger}）`),
        run.postedAt ? [h('dt', null, '出账时间'), h('dd', null, formatTime(run.postedAt))] : null,
      ),
      run.status === 'running' ? h('div', { class: 'alert alert-info', role: 'status' }, '正在计算，完成后自动刷新… Computing…') : null,
      run.status === 'failed' ? h('div', { class: 'alert alert-error', role: 'alert' }, h('strong', null, '计算失败'), h('div', { class: 'alert-detail' }, run.failure ?? '')) : null,
      run.report ? reportView(run.report) : null,
      run.report?.held > 0 ? holdsView(api, run) : null,
    );
  }

  const list = h('section', { class: 'card', 'aria-label': '批次列表 Run list' }, h('div', { class: 'toolbar' }, h('h2', { class: 'grow' }, bilingual('出账批次', 'Bill runs'))), pager.message, table.element, h('div', { class: 'pager' }, pager.more));
  reload();
  return h(
    'div',
    null,
    can('billing:run')
      ? startForm(api, base, community, (run) => {
          reload();
          autoOpen = false;
          void show(run);
          detail.scrollIntoView({ block: 'start' });
        })
      : null,
    list,
    detail,
  );
}

function heldBadge(held) {
  if (held === undefined || held === null) return '—';
  return held > 0 ? h('span', { class: 'badge badge-warn' }, String(held)) : '0';
}

function reportView(report) {
  return [
    h(
      'div',
      { class: 'stats' },
      statTile('total', report.total.display, '金额', 'Total'),
      statTile('bills', report.bills, '账单', 'Bills'),
      statTile('lines', report.lines, '明细', 'Lines'),
      statTile('houses', `${report.billedHouses}/${report.houses}`, '出账房屋', 'Houses billed'),
      statTile('held', report.held, '暂缓', 'Held', report.held ? 'stat-bad' : ''),
      statTile('alreadyBilled', report.alreadyBilled, '已出过账', 'Already billed'),
      statTile('notApplicable', report.notApplicable, '不适用', 'Not applicable'),
      report.estimatedLines ? statTile('estimated', report.estimatedLines, '估算', 'Estimated') : null,
    ),
    h('h3', null, bilingual('按收费项目', 'By fee item')),
    dataTable(
      [
        { zh: '收费项目', en: 'Fee item', value: (f) => [f.name, h('div', { class: 'mono muted' }, f.code)] },
        { zh: '明细', en: 'Lines', class: 'num', value: (f) => f.lines },
        { zh: '金额', en: 'Total', class: 'num', value: (f) => f.total.display },
        { zh: '暂缓', en: 'Held', class: 'num', value: (f) => heldBadge(f.held) },
      ],
      report.byFeeItem,
      '没有收费项目 No fee items',
    ).element,
  ];
}

function holdsView(api, run) {
  const table = dataTable(
    [
      { zh: '房号', en: 'House', value: (x) => x.houseCode ?? h('span', { class: 'muted' }, '公共表') },
      { zh: '收费项目', en: 'Fee item', value: (x) => h('code', null, x.feeItemCode) },
      { zh: '原因', en: 'Reason', value: (x) => [h('strong', null, HOLD_REASONS[x.reason] ?? x.reason), h('div', { class: 'mono muted' }, x.reason)] },
      { zh: '说明', en: 'Detail', value: (x) => x.detail },
    ],
    [],
    '没有暂缓的明细 Nothing held',
  );
  const pager = cursorPager(table, (cursor) => api.get(withQuery(`/v1/bill-runs/${encodeURIComponent(run.id)}/holds`, { limit: HOLD_PAGE_SIZE, cursor })));
  void pager.load(true);
  return h(
    'div',
    { class: 'holds' },
    h('h3', null, bilingual('暂缓出账', 'Held for review')),
    h('p', { class: 'muted small' }, '补齐读数或价格后，再次对同一账期出账即可补出这些明细；已出过的不会重复计费。'),
    pager.message,
    table.element,
    h('div', { class: 'pager' }, pager.more),
  );
}

function startForm(api, base, community, started) {
  const cycle = h('select', { name: 'cycle' }, Object.entries(CYCLES).map(([value, zh]) => h('option', { value }, zh)));
  const period = h('input', { name: 'period', required: true, value: currentPeriod('monthly', community.timeZone), placeholder: '2026-11', autocomplete: 'off' });
  cycle.addEventListener('change', () => {
    period.value = currentPeriod(cycle.value, community.timeZone);
  });
  const preview = h('button', { type: 'submit', class: 'primary', value: 'preview' }, '预览', h('span', { class: 'en' }, 'Preview'));
  const postNow = h('button', { type: 'submit', value: 'post' }, '直接出账', h('span', { class: 'en' }, 'Post now'));
  const form = h(
    'form',
    { class: 'run-form', 'aria-label': '开始出账 Start a run' },
    h('div', { class: 'form-row' }, field('周期', 'Cycle', cycle), field('账期', 'Period', period, '月度 2026-11 · 季度 2026-Q4 · 年度 2026')),
    h('div', { class: 'toolbar' }, preview, postNow),
    h('div', { class: 'form-error' }),
  );
  // Which button sent the form: onSubmit hands over the fields only.
  let post = false;
  form.addEventListener('submit', (event) => {
    post = event.submitter?.value === 'post';
    postNow.disabled = true;
  });
  onSubmit(form, async (data) => {
    try {
      const run = await api.post(`${base}/bill-runs`, { cycle: data.get('cycle'), period: String(data.get('period')).trim(), post });
      toast(post ? '已开始出账' : '已开始预览');
      started(run);
    } finally {
      postNow.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card' },
    h('h2', null, bilingual('开始出账', 'Start a run')),
    h('p', { class: 'muted' }, '预览先生成草稿账单供核对，确认后再出账；直接出账会在计算完成后立即推送给业主。同一账期已出过的明细不会重复计费。'),
    form,
  );
}
