/**
 * Words and numbers of bills, for the resident H5 and the console alike. Money arrives as integer fen, unit prices as integer price
 * units (10000 = ¥1) and quantities as decimal strings: all are turned into text with integer and string
 * arithmetic only, so no amount on screen ever carries a floating-point error (0.1 + 0.2).
 */
import { h } from '/assets/dom.js';

export const BILL_STATUS = { open: ['待缴', 'badge-warn'], overdue: ['已逾期', 'badge-danger'], paid: ['已缴清', 'badge-ok'], draft: ['草稿', ''] };

/** The API's fee types (features/billing FEE_TYPES), as an owner names them. */
export const FEE_TYPES = {
  property: '物业费',
  electricity: '电费',
  water: '水费',
  gas: '燃气费',
  heat: '供暖费',
  shared: '公摊费',
  fixed: '固定费用',
  'parking-management': '车位管理费',
  'parking-rent': '车位租金',
  'maintenance-fund': '维修基金',
};

const UNITS = { 'm²': 'm²', m2: 'm²', m3: 'm³', 'm³': 'm³', kWh: 'kWh', kwh: 'kWh', space: '个车位' };

export const unitText = (unit) => (unit ? (UNITS[unit] ?? unit) : '');

/** Integer fen as yuan: 11719 → "¥117.19", -21928 → "-¥219.28". */
export function yuan(fen) {
  const value = Math.trunc(Number(fen));
  const abs = Math.abs(value);
  return `${value < 0 ? '-' : ''}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A decimal string without trailing zeros: "89.50" → "89.5", "10000" → "10000", "35.684330" → "35.68433". */
export function decimalText(text) {
  const s = String(text ?? '');
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** `digits` (an integer as text) divided by 10^places, at least `keep` decimals: ("24500", 4, 2) → "2.45". */
function shiftDecimal(digits, places, keep) {
  const negative = digits.startsWith('-');
  const padded = (negative ? digits.slice(1) : digits).padStart(places + 1, '0');
  const whole = padded.slice(0, padded.length - places).replace(/^0+(?=\d)/, '');
  let fraction = padded.slice(padded.length - places).replace(/0+$/, '');
  fraction = fraction.padEnd(keep, '0');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Integer price units as yuan: 24500 → "¥2.45", 4883 → "¥0.4883", 6000 → "¥0.60". */
export function unitPriceText(units) {
  return `¥${shiftDecimal(String(Math.trunc(Number(units))), 4, 2)}`;
}

/** An exact fen amount ("14975.9150") as yuan with every decimal it has: "¥149.75915". */
export function exactYuan(exactFen) {
  const [whole, fraction = ''] = String(exactFen).split('.');
  const value = shiftDecimal(`${whole}${fraction}`, fraction.length + 2, 2);
  return value.startsWith('-') ? `-¥${value.slice(1)}` : `¥${value}`;
}

/** Whether an exact fen amount has a fraction of a fen (so rounding changed it). */
export const hasFraction = (exactFen) => /\.\d*[1-9]/.test(String(exactFen ?? ''));

export const ROUNDING = { 'half-up': '四舍五入到分', 'half-even': '四舍六入五成双到分', down: '舍去分以下', up: '分以下进一' };

/** Hundredths of a percent as a percentage: 7000 → "70%", 5 → "0.05%". */
export function basisPointsText(bp) {
  return `${shiftDecimal(String(Math.trunc(Number(bp))), 2, 0)}%`;
}

function parseDate(date) {
  const [y, m, d] = String(date).split('-').map(Number);
  return { y, m, d };
}

const pad = (n) => String(n).padStart(2, '0');

/** The day before an exclusive end date: "2026-12-01" → "2026-11-30". */
export function lastDay(endExclusive) {
  const { y, m, d } = parseDate(endExclusive);
  const day = new Date(Date.UTC(y, m - 1, d - 1));
  return `${day.getUTCFullYear()}-${pad(day.getUTCMonth() + 1)}-${pad(day.getUTCDate())}`;
}

/** A span with an exclusive end, as its first and last day: "2026-11-01 至 2026-11-30". */
export const spanText = (start, endExclusive) => `${start} 至 ${lastDay(endExclusive)}`;

/** The same with month and day only, for spans inside a line's period: "11-01 至 11-15". */
export const shortSpanText = (start, endExclusive) => `${start.slice(5)} 至 ${lastDay(endExclusive).slice(5)}`;

/** Calendar months from start to an exclusive end (both on the 1st for monthly bills). */
function monthCount(start, endExclusive) {
  const a = parseDate(start);
  const b = parseDate(endExclusive);
  return (b.y - a.y) * 12 + (b.m - a.m);
}

/** What a bill is for: "2026-11", or for a prepayment of many months "2026-12 至 2027-12". */
export function billPeriodText(bill) {
  const { start, end, label } = bill.period;
  if (bill.cycle === 'monthly' && monthCount(start, end) > 1) return `${start.slice(0, 7)} 至 ${lastDay(end).slice(0, 7)}`;
  return label;
}

export function billTitle(bill) {
  return bill.kind === 'prepay' ? `预缴账单 ${billPeriodText(bill)}` : `${billPeriodText(bill)} 账单`;
}

/**
 * A meter reading's time in the phone's time zone, "10-31 23:59"; a reading at midnight closes the day
 * before, so it reads "10-31 24:00" as on a utility bill.
 */
export function readingTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso ?? '');
  const midnight = at.getHours() === 0 && at.getMinutes() === 0;
  const day = midnight ? new Date(at.getTime() - 1) : at;
  return `${pad(day.getMonth() + 1)}-${pad(day.getDate())} ${midnight ? '24:00' : `${pad(at.getHours())}:${pad(at.getMinutes())}`}`;
}

/** A label and an amount on one row, the amount right-aligned. */
export function amountRow(label, value, attrs = {}) {
  return h('div', { class: 'amount-row', ...attrs }, h('span', { class: 'muted' }, label), h('span', { class: 'amount-value' }, value));
}
