import { h } from '/assets/dom.js';
import {
  basisPointsText,
  decimalText,
  exactYuan,
  hasFraction,
  readingTime,
  ROUNDING,
  shortSpanText,
  spanText,
  unitPriceText,
  unitText,
  yuan,
} from '/assets/bill-format.js';

/**
 * "为什么是这个金额": a bill line's provenance (features/billing house-lines.ts, charges.ts) retold in
 * plain Chinese, one step per row, so an owner can redo the sum by hand: the meter readings and the
 * tiers of a metered line, area × price × days of a time-based one, the house's part of a common meter.
 * Every number is the server's own (fen, price units, decimal strings), formatted, never recomputed.
 */
export function explainLine(line) {
  const p = line.provenance ?? {};
  const steps =
    p.method === 'metered'
      ? meteredSteps(line, p)
      : p.method === 'time'
        ? timeSteps(line, p)
        : p.method === 'shared'
          ? sharedSteps(line, p)
          : p.method === 'prepay-discount'
            ? discountSteps(line, p)
            : [step('本项暂无计算说明，如有疑问请联系物业。')];
  return h('ol', { class: 'explain-steps' }, steps);
}

function step(...children) {
  return h('li', null, children);
}

/** "电表 E-1-1-101：09-30 24:00 读数 1000 → 10-31 23:59 读数 1300.5，用电 300.5 kWh" */
function meterText([label, verb], meter, unit) {
  const start = meter.start ?? {};
  const end = meter.end ?? {};
  return `${label} ${meter.serialNo ?? ''}：${readingTime(start.readAt)} 读数 ${decimalText(start.value)} → ${readingTime(end.readAt)} 读数 ${decimalText(end.value)}，${verb} ${decimalText(meter.consumption)} ${unit}`;
}

/** What a meter is called and what it measures, by the line's fee type. */
const METERS = { electricity: ['电表', '用电'], water: ['水表', '用水'], gas: ['燃气表', '用气'], heat: ['热量表', '用热'] };

/** One row per tier (and tariff version) priced: "第1档 240 kWh × ¥0.4883 = ¥117.19". */
function tierSteps(tiers, unit) {
  const rows = Array.isArray(tiers) ? tiers : [];
  const tiered = rows.length > 1 || rows.some((t) => t.tier > 1);
  const versions = new Set(rows.map((t) => t.tariffVersion)).size > 1;
  return rows.map((t) =>
    step(
      h('span', { class: 'explain-tier' }, `${versions ? `第${t.tariffVersion}版价格 ` : ''}${tiered ? `第${t.tier}档 ` : ''}${decimalText(t.quantity)} ${unit} × ${unitPriceText(t.unitPrice)} = ${yuan(t.amountFen)}`),
    ),
  );
}

/** When the tariff changed inside the usage period, the consumption is split between versions by days. */
function partSteps(parts, unit) {
  if (!Array.isArray(parts) || parts.length < 2) return [];
  return [
    step(
      `本期内价格有调整，用量按天数拆分：${parts.map((part) => `${shortSpanText(part.from, part.to)} 共 ${part.days} 天 ${decimalText(part.quantity)} ${unit}（第${part.tariffVersion}版价格）`).join('；')}`,
    ),
  ];
}

/** The line's total, and when its exact amount had a fraction of a fen, how it was rounded. */
function totalStep(line, p) {
  const rounding = hasFraction(p.exactFen) ? `（精确金额 ${exactYuan(p.exactFen)}，${ROUNDING[p.rounding] ?? '按规则取整到分'}）` : '';
  return step(h('strong', null, `合计 ${line.amount.display}`), rounding);
}

function meteredSteps(line, p) {
  const unit = unitText(p.unit ?? line.unit);
  const meter = METERS[line.feeType] ?? ['表', '用量'];
  const steps = [];
  const meters = Array.isArray(p.meters) ? p.meters : [];
  for (const m of meters) steps.push(step(meterText(meter, m, unit)));
  if (meters.length > 1) steps.push(step(`${meters.length} 块表合计用量 ${meters.reduce((text, m) => `${text}${text ? ' + ' : ''}${decimalText(m.consumption)}`, '')} ${unit}`));
  if (p.trueUp) steps.push(step(`此前估算已计费 ${decimalText(p.trueUp.estimatedBefore)} ${unit}，本期扣除后计费 ${decimalText(p.consumption)} ${unit}（多退少补）`));
  if (p.estimate) {
    const e = p.estimate;
    steps.push(
      step(
        h('span', { class: 'badge badge-warn' }, '估算'),
        ` 本期未取得有效读数，按近期实际用量估算：${decimalText(e.totalQuantity)} ${unit} ÷ ${e.days} 天 = 日均 ${decimalText(e.dailyAverage)} ${unit}，× ${e.usageDays} 天 = ${decimalText(p.consumption)} ${unit}。下次抄表后按实际读数多退少补。`,
      ),
    );
    if (e.because) steps.push(step(h('span', { class: 'muted small' }, `估算原因：${e.because}`)));
  }
  if (p.tierBasis === 'year' && p.usedThisYearBefore !== undefined) {
    steps.push(step(`年度阶梯：本年此前已用 ${decimalText(p.usedThisYearBefore)} ${unit}，本期用量接着累计分档`));
  }
  steps.push(...partSteps(p.parts, unit));
  steps.push(...tierSteps(p.tiers, unit));
  steps.push(totalStep(line, p));
  return steps;
}

const TIME_PRICE_UNITS = { 'floor area': '/m²/月', 'parking spaces owned': '/个/月', 'parking spaces rented': '/个/月', 'per house': '/月' };

/** "89.5 m² × ¥2.45/m²/月 × 30/30 天 = ¥219.28", one row per month, price version and vacancy span. */
function timeSteps(line, p) {
  const steps = [];
  const segments = Array.isArray(p.segments) ? p.segments : [];
  const quantity = p.quantity === null || p.quantity === undefined ? '' : `${decimalText(p.quantity)} ${unitText(p.unit)} × `;
  const priceUnit = TIME_PRICE_UNITS[p.basis] ?? '/月';
  const discount = Number(p.vacancyDiscountBp ?? 0);
  if (p.prorated && p.billable) steps.push(step(`按实际计费日期折算：本期计费 ${spanText(p.billable.start, p.billable.end)}`));
  for (const s of segments) {
    const span = segments.length > 1 ? `${shortSpanText(s.from, s.to)}：` : '';
    const vacancy = s.vacant ? ` × ${basisPointsText(10_000 - discount)}（空置）` : '';
    steps.push(step(h('span', { class: 'explain-segment' }, `${span}${quantity}${unitPriceText(s.unitPrice)}${priceUnit} × ${s.days}/${s.daysInMonth} 天${vacancy} = ${yuan(s.amountFen)}`)));
  }
  if (segments.some((s) => s.vacant)) steps.push(step(`房屋空置期间优惠 ${basisPointsText(discount)}`));
  if (new Set(segments.map((s) => s.tariffVersion)).size > 1) steps.push(step('本期内价格有调整，调价前后按天数分别计算'));
  if (segments.length > 1 || hasFraction(p.exactFen)) steps.push(totalStep(line, p));
  return steps;
}

/** "公共电表用电 123.4 kWh，共 ¥74.04，按面积分摊：本户 89.5 / 309.5 m²" */
function sharedSteps(line, p) {
  const unit = unitText(line.unit);
  const steps = [];
  const [label, verb] = unit === 'kWh' ? ['公共电表', '用电'] : ['公共表', '用量'];
  if (p.meter) steps.push(step(meterText([label, verb], p.meter, unit)));
  steps.push(...partSteps(p.parts, unit));
  steps.push(...tierSteps(p.tiers, unit));
  const share =
    p.shareMethod === 'area'
      ? `按面积分摊：本户 ${decimalText(p.weight)} / ${decimalText(p.totalWeight)} m²（共 ${p.houses} 户）`
      : `按户均摊：本户 1 / ${p.houses} 户`;
  steps.push(step(`${label}${verb} ${decimalText(p.consumption)} ${unit}，共 ${yuan(p.totalFen)}，${share}`));
  steps.push(step(`本户分摊 ${decimalText(p.shareQuantity ?? line.quantity)} ${unit}，`, h('strong', null, `${line.amount.display}`)));
  steps.push(step(h('span', { class: 'muted small' }, `各户金额按比例取整到分（最大余数法），合计正好是 ${yuan(p.totalFen)}`)));
  return steps;
}

function discountSteps(line, p) {
  const offer = p.offer ?? {};
  const period = p.period ?? line.period;
  return [step(`预缴 ${offer.months} 个月赠送 ${offer.freeMonths} 个月：${spanText(period.start, period.end)} 的费用全额减免 ${line.amount.display}`)];
}
