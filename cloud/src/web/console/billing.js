import { withQuery } from '/assets/api.js';
import { bilingual, dataTable, errorBox, h } from '/assets/dom.js';
import { billsPanel } from './billing-bills.js';
import { runsPanel } from './billing-runs.js';
import { houseBillingPanel } from './billing-houses.js';
import { basisPointsText, yuan } from '/assets/bill-format.js';
import { CYCLES, FEE_KINDS, statTile } from './billing-texts.js';

/** Houses listed under a building of the arrears report (the API pages them by offset, 200 at most). */
const HOUSES_LIMIT = 200;

/**
 * 账单: what a finance clerk does with billing, in five tabs — bill runs (start a preview or post, check
 * the report and what was held, post or discard), bills (with how every line was computed, corrections
 * and late-fee waivers), arrears per building, the fee items with their current prices, and one house's
 * billing window and vacancies.
 */
export function renderBilling({ api, community, can }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  const bills = billsPanel({ api, community, can });
  const tabs = [
    { id: 'runs', zh: '出账批次', en: 'Runs', render: () => runsPanel({ api, community, can, onViewBills: (run) => (bills.setRun(run), select('bills')) }) },
    { id: 'bills', zh: '账单', en: 'Bills', render: () => bills.element, onShow: () => bills.reload() },
    { id: 'arrears', zh: '欠费', en: 'Arrears', render: () => arrearsPanel(api, base), refresh: true },
    { id: 'fee-items', zh: '收费项目', en: 'Fee items', render: () => feeItemsPanel(api, base) },
    { id: 'houses', zh: '房屋计费', en: 'House billing', render: () => houseBillingPanel({ api, community, can }) },
  ];
  const bar = h('div', { class: 'tabs', role: 'tablist', 'aria-label': '账单功能 Billing' });
  const panels = h('div');
  for (const tab of tabs) {
    tab.button = h('button', { type: 'button', role: 'tab', id: `billing-tab-${tab.id}`, 'aria-controls': `billing-panel-${tab.id}`, 'aria-selected': 'false' }, tab.zh, h('span', { class: 'en' }, tab.en));
    tab.panel = h('div', { role: 'tabpanel', id: `billing-panel-${tab.id}`, 'aria-labelledby': `billing-tab-${tab.id}`, hidden: true });
    tab.button.addEventListener('click', () => select(tab.id));
    bar.append(tab.button);
    panels.append(tab.panel);
  }

  function select(id) {
    for (const tab of tabs) {
      const chosen = tab.id === id;
      tab.button.setAttribute('aria-selected', String(chosen));
      tab.button.classList.toggle('active', chosen);
      tab.panel.hidden = !chosen;
      if (!chosen) continue;
      if (!tab.rendered || tab.refresh) tab.panel.replaceChildren(tab.render());
      tab.rendered = true;
      tab.onShow?.();
    }
  }

  select('runs');
  return h('div', { class: 'billing' }, h('p', { class: 'muted' }, `${community.name}（${community.code}）· 金额单位：元`), bar, panels);
}

function arrearsPanel(api, base) {
  const body = h('div', null, h('p', { class: 'muted' }, '正在加载… Loading…'));
  const houses = h('div');
  api
    .get(`${base}/arrears`)
    .then((report) => {
      const table = dataTable(
        [
          { zh: '楼栋', en: 'Building', value: (b) => h('strong', null, b.buildingName) },
          { zh: '欠费户数', en: 'Houses', class: 'num', value: (b) => b.houses },
          { zh: '逾期账单', en: 'Bills', class: 'num', value: (b) => b.bills },
          { zh: '欠费本金', en: 'Outstanding', class: 'num', value: (b) => b.outstanding.display },
          { zh: '滞纳金', en: 'Late fees', class: 'num', value: (b) => b.lateFee.display },
          { zh: '最早到期', en: 'Oldest due', value: (b) => b.oldestDueOn },
        ],
        [],
        '没有逾期欠费 No arrears',
      );
      table.addRows(report.buildings, (building) => void showHouses(api, base, building, houses));
      body.replaceChildren(
        h(
          'div',
          { class: 'stats' },
          statTile('outstanding', report.outstanding.display, '逾期欠费', 'Outstanding'),
          statTile('lateFee', report.lateFee.display, '滞纳金', 'Late fees'),
          statTile('houses', report.houses, '欠费户数', 'Houses'),
          statTile('bills', report.bills, '逾期账单', 'Bills'),
        ),
        h(
          'section',
          { class: 'card', 'aria-label': '按楼栋欠费 Arrears by building' },
          h('h2', null, bilingual('按楼栋', 'By building')),
          h('p', { class: 'muted small' }, `截至 ${report.asOf}：已过到期日仍未结清的账单，滞纳金计到当天。点击楼栋查看欠费房屋。`),
          table.element,
        ),
        houses,
      );
    })
    .catch((error) => body.replaceChildren(errorBox(error)));
  return body;
}

async function showHouses(api, base, building, target) {
  target.replaceChildren(h('section', { class: 'card' }, h('p', { class: 'muted' }, '正在加载… Loading…')));
  try {
    const page = await api.get(withQuery(`${base}/arrears/houses`, { building: building.buildingId, limit: HOUSES_LIMIT }));
    target.replaceChildren(
      h(
        'section',
        { class: 'card' },
        h('h2', null, bilingual(`${building.buildingName} 栋欠费房屋`, 'Houses in arrears')),
        dataTable(
          [
            { zh: '房号', en: 'House', value: (x) => h('strong', null, x.houseCode) },
            { zh: '逾期账单', en: 'Bills', class: 'num', value: (x) => x.bills },
            { zh: '欠费本金', en: 'Outstanding', class: 'num', value: (x) => x.outstanding.display },
            { zh: '滞纳金', en: 'Late fees', class: 'num', value: (x) => x.lateFee.display },
            { zh: '最早到期', en: 'Oldest due', value: (x) => x.oldestDueOn },
          ],
          page.items,
          '没有欠费房屋 No houses in arrears',
        ).element,
        page.total > page.items.length ? h('p', { class: 'muted small' }, `共 ${page.total} 户，仅显示前 ${page.items.length} 户。`) : null,
      ),
    );
  } catch (error) {
    target.replaceChildren(h('section', { class: 'card' }, errorBox(error)));
  }
}

function feeItemsPanel(api, base) {
  const body = h('section', { class: 'card' }, h('p', { class: 'muted' }, '正在加载… Loading…'));
  api
    .get(`${base}/fee-items`)
    .then(({ items }) =>
      body.replaceChildren(
        h('h2', null, bilingual('收费项目', 'Fee items')),
        dataTable(
          [
            { zh: '收费项目', en: 'Fee item', value: (f) => [h('strong', null, f.name), h('div', { class: 'mono muted' }, f.code), f.archived ? h('span', { class: 'badge' }, '已停用') : null] },
            { zh: '计费方式', en: 'Kind', value: (f) => FEE_KINDS[f.kind] ?? f.kind },
            { zh: '周期', en: 'Cycle', value: (f) => CYCLES[f.cycle] ?? f.cycle },
            { zh: '当前价格', en: 'Price', value: (f) => priceText(f) },
            { zh: '滞纳金', en: 'Late fee', value: (f) => lateFeeText(f.lateFee) },
          ],
          items,
          '还没有收费项目 No fee items yet',
        ).element,
      ),
    )
    .catch((error) => body.replaceChildren(errorBox(error)));
  return body;
}

/** The tariff version in force now (the latest that has begun), its flat price or its tiers. */
function priceText(item) {
  const today = new Date().toISOString().slice(0, 10);
  const versions = [...item.tariffs].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom));
  const tariff = versions.filter((t) => t.effectiveFrom <= today).pop() ?? versions[0];
  if (!tariff) return '—';
  const since = h('div', { class: 'muted small' }, `v${tariff.version}，${tariff.effectiveFrom} 起${versions.length > 1 ? `（共 ${versions.length} 个版本）` : ''}`);
  if (tariff.tiers) {
    let previous = '0';
    const rows = tariff.tiers.map((t) => {
      const text = t.upTo === null ? `${previous} 以上：${t.unitPriceDisplay}` : `${previous}–${t.upTo}：${t.unitPriceDisplay}`;
      previous = t.upTo ?? previous;
      return h('div', null, text);
    });
    return [rows, since];
  }
  return [tariff.unitPriceDisplay ?? '—', since];
}

function lateFeeText(rule) {
  if (!rule || rule.rule === 'none') return '不收';
  const grace = rule.graceDays ? `，宽限 ${rule.graceDays} 天` : '';
  if (rule.rule === 'daily-rate') return `每日 ${basisPointsText(rule.ratePerDayBp)}${grace}`;
  if (rule.rule === 'flat') return `固定 ${yuan(rule.amountFen)}${grace}`;
  return rule.rule;
}
