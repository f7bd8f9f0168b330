import { bilingual, dataTable, formatTime, h } from '/assets/dom.js';
import { basisPointsText, decimalText, ROUNDING, spanText, unitPriceText as unitPrice, unitText, yuan } from '/assets/bill-format.js';

/**
 * How a bill line's amount was computed, from the provenance the bill run stored with it, written out
 * so a clerk can redo it by hand in front of an owner: the meter readings and the tiers they fell in,
 * the days of each month at each price, or the house's share of a common meter.
 */
export function provenanceView(line) {
  const p = line.provenance ?? {};
  const unit = unitText(line.unit ?? p.unit);
  switch (p.method) {
    case 'metered':
      return h('div', { class: 'provenance', 'data-method': 'metered' }, meteredView(p, unit));
    case 'time':
      return h('div', { class: 'provenance', 'data-method': 'time' }, timeView(p));
    case 'shared':
      return h('div', { class: 'provenance', 'data-method': 'shared' }, sharedView(p, unit));
    case 'prepay-discount':
      return h(
        'div',
        { class: 'provenance', 'data-method': 'prepay-discount' },
        h('p', null, `预缴 ${p.offer?.months ?? '?'} 个月赠送 ${p.offer?.freeMonths ?? '?'} 个月：${dateSpan(p.period?.start, p.period?.end)} 免收。`),
      );
    default:
      return h('div', { class: 'provenance' }, rawFacts(p));
  }
}

/** An end-exclusive span as its first and last day; a one-day span as that day. */
function dateSpan(start, end) {
  if (!start || !end) return '—';
  const text = spanText(start, end);
  return text === `${start} 至 ${start}` ? start : text;
}

function withUnit(quantity, unit) {
  return unit ? `${quantity} ${unit}` : String(quantity);
}

function meteredView(p, unit) {
  const parts = [];
  if (Array.isArray(p.meters) && p.meters.length > 0) {
    parts.push(h('h4', null, bilingual('抄表读数', 'Meter readings')), readingsTable(p.meters, unit));
  }
  if (p.trueUp) parts.push(h('p', { class: 'muted small' }, `此前估算已计费 ${withUnit(p.trueUp.estimatedBefore, unit)}，本次已扣除。`));
  if (p.estimate) {
    const e = p.estimate;
    parts.push(
      h(
        'div',
        { class: 'alert alert-warn' },
        h('strong', null, '估算用量 Estimated'),
        h('div', null, `原因：${e.because}`),
        h('div', null, `按近 ${e.days} 天实际用量 ${withUnit(e.totalQuantity, unit)}，日均 ${withUnit(decimalText(e.dailyAverage), unit)} × ${e.usageDays} 天估算。`),
      ),
    );
  }
  parts.push(
    h(
      'p',
      { class: 'formula' },
      h('span', { class: 'muted' }, '计费用量 '),
      h('strong', { 'data-field': 'consumption' }, withUnit(p.consumption, unit)),
      p.tierBasis === 'year' ? h('span', { class: 'muted' }, `（年度阶梯，本年此前已用 ${withUnit(p.usedThisYearBefore ?? '0', unit)}）`) : h('span', { class: 'muted' }, '（月度阶梯）'),
    ),
  );
  parts.push(versionParts(p.parts, unit), tiersTable(p.tiers, unit), exactLine(p));
  return parts;
}

function timeView(p) {
  const unit = unitText(p.unit);
  const perUnit = p.unit === 'm²' ? ' /m²·月' : p.unit === 'space' ? ' /个·月' : ' /月';
  const multiplier = p.quantity ? `${withUnit(p.quantity, unit)} × ` : '';
  // The share of the price charged on vacant days: a 30 % discount charges 70%.
  const charged = p.vacancyDiscountBp > 0 ? basisPointsText(10_000 - p.vacancyDiscountBp) : null;
  return [
    h(
      'p',
      { class: 'formula' },
      h('span', { class: 'muted' }, '计费区间 '),
      h('strong', null, dateSpan(p.billable?.start, p.billable?.end)),
      p.prorated ? h('span', { class: 'badge badge-warn' }, '按天折算') : null,
      p.quantity ? [h('span', { class: 'muted' }, ' · 计费基数 '), h('strong', null, withUnit(p.quantity, unit))] : null,
      charged !== null ? h('span', { class: 'muted' }, ` · 空置日按 ${charged} 收取`) : null,
    ),
    dataTable(
      [
        { zh: '日期', en: 'Dates', value: (s) => dateSpan(s.from, s.to) },
        { zh: '天数', en: 'Days', class: 'num', value: (s) => `${s.days}/${s.daysInMonth}` },
        { zh: '单价', en: 'Unit price', class: 'num', value: (s) => [unitPrice(s.unitPrice), h('span', { class: 'muted' }, perUnit), versionNote(s.tariffVersion)] },
        { zh: '计算', en: 'Computed', value: (s) => `${multiplier}${unitPrice(s.unitPrice)} × ${s.days}/${s.daysInMonth}${s.vacant && charged !== null ? ` × ${charged}（空置）` : ''}` },
        { zh: '金额', en: 'Amount', class: 'num', value: (s) => yuan(s.amountFen) },
      ],
      Array.isArray(p.segments) ? p.segments : [],
    ).element,
    exactLine(p),
  ];
}

function sharedView(p, unit) {
  const byArea = p.shareMethod === 'area';
  const meter = p.meter;
  return [
    h('h4', null, bilingual('公共表', 'Common meter')),
    meter ? readingsTable([meter], unit) : null,
    h(
      'dl',
      { class: 'facts' },
      fact('公共表用量', 'Consumption', withUnit(p.consumption, unit), 'consumption'),
      fact('公共表金额', 'Meter total', yuan(p.totalFen), 'total'),
      fact('分摊方式', 'Split by', byArea ? '按建筑面积' : '按户平均', 'method'),
      fact('本户权重', 'Weight', byArea ? `${p.weight} m² / ${p.totalWeight} m²` : `${p.weight} / ${p.totalWeight} 户`, 'weight'),
      fact('分摊户数', 'Houses', String(p.houses ?? '—'), 'houses'),
      fact('本户分摊用量', 'Share', withUnit(p.shareQuantity ?? '—', unit), 'share'),
    ),
    h('p', { class: 'formula' }, `${yuan(p.totalFen)} × ${p.weight}/${p.totalWeight}，按最大余数法分到分，各户合计等于公共表金额。`),
    h('h4', null, bilingual('公共表计价', 'Meter pricing')),
    versionParts(p.parts, unit),
    tiersTable(p.tiers, unit),
    exactLine(p),
  ];
}

function fact(zh, en, value, key) {
  return [h('dt', null, bilingual(zh, en)), h('dd', { 'data-field': key }, value)];
}

function readingsTable(meters, unit) {
  const reading = (r) => (r ? [h('strong', null, withUnit(r.value, unit)), h('div', { class: 'muted small' }, formatTime(r.readAt))] : '—');
  return dataTable(
    [
      { zh: '表号', en: 'Meter', value: (m) => h('code', null, m.serialNo ?? m.meterId ?? '—') },
      { zh: '起始读数', en: 'Start', class: 'num reading-start', value: (m) => reading(m.start) },
      { zh: '截止读数', en: 'End', class: 'num reading-end', value: (m) => reading(m.end) },
      { zh: '用量', en: 'Used', class: 'num', value: (m) => withUnit(m.consumption, unit) },
    ],
    meters,
  ).element;
}

/** When the price changed inside the usage period, how the consumption was split between versions. */
function versionParts(parts, unit) {
  if (!Array.isArray(parts) || parts.length < 2) return null;
  return h(
    'div',
    null,
    h('p', { class: 'muted small' }, '期间价格调整，用量按天数分到各价格版本：'),
    dataTable(
      [
        { zh: '日期', en: 'Dates', value: (x) => dateSpan(x.from, x.to) },
        { zh: '天数', en: 'Days', class: 'num', value: (x) => x.days },
        { zh: '价格版本', en: 'Version', class: 'num', value: (x) => `v${x.tariffVersion}` },
        { zh: '用量', en: 'Quantity', class: 'num', value: (x) => withUnit(x.quantity, unit) },
      ],
      parts,
    ).element,
  );
}

function tiersTable(tiers, unit) {
  if (!Array.isArray(tiers) || tiers.length === 0) return null;
  const versions = new Set(tiers.map((t) => t.tariffVersion));
  return h(
    'div',
    { class: 'tiers' },
    dataTable(
      [
        { zh: '阶梯', en: 'Tier', value: (t) => [`第 ${t.tier} 档`, versions.size > 1 ? versionNote(t.tariffVersion) : null] },
        { zh: '用量', en: 'Quantity', class: 'num', value: (t) => withUnit(t.quantity, unit) },
        { zh: '单价', en: 'Unit price', class: 'num', value: (t) => [h('span', { class: 'muted' }, '× '), unitPrice(t.unitPrice)] },
        { zh: '金额', en: 'Amount', class: 'num', value: (t) => [h('span', { class: 'muted' }, '= '), yuan(t.amountFen)] },
      ],
      tiers,
    ).element,
  );
}

function versionNote(version) {
  return version === undefined ? null : h('span', { class: 'muted small' }, ` v${version}`);
}

function exactLine(p) {
  if (p.exactFen === undefined) return null;
  return h('p', { class: 'muted small' }, `未取整金额 ${decimalText(p.exactFen)} 分，${ROUNDING[p.rounding] ?? p.rounding ?? ''}；各行按精确值分摊，合计等于本行金额。`);
}

/** A provenance of a kind this page does not know yet: its facts as they are, as text. */
function rawFacts(p) {
  const entries = Object.entries(p);
  if (entries.length === 0) return h('p', { class: 'muted' }, '无计算依据 No provenance');
  return h(
    'dl',
    { class: 'details' },
    entries.map(([key, value]) => [h('dt', null, key), h('dd', null, typeof value === 'object' ? JSON.stringify(value) : String(value))]),
  );
}
