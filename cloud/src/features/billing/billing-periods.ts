/**
 * Billing periods are calendar spans in the community's time zone: [start, end) as local dates
 * ("YYYY-MM-DD"), cut on month boundaries. Monthly periods start on the 1st, quarterly ones on
 * 1 January / April / July / October, yearly ones on 1 January, so the periods of a cycle tile time with
 * no gap and no overlap. Readings are instants; a period's edges become instants at local midnight.
 */

export const BILLING_CYCLES = ['monthly', 'quarterly', 'yearly'] as const;
export type BillingCycle = (typeof BILLING_CYCLES)[number];

/** A local-date span, end exclusive. */
export type Period = { start: string; end: string };

const MONTHS: Record<BillingCycle, number> = { monthly: 1, quarterly: 3, yearly: 12 };
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function monthsPerCycle(cycle: BillingCycle): number {
  return MONTHS[cycle];
}

/** Parses "YYYY-MM-DD"; throws a RangeError naming the text when it is not a real date. */
export function parseDate(text: string): { y: number; m: number; d: number } {
  const match = DATE.exec(text);
  if (!match) throw new RangeError(`"${text}" is not a date (YYYY-MM-DD)`);
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Years before 1000 are typos (and Date.UTC would read 0–99 as 1900–1999).
  if (y < 1000 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) throw new RangeError(`"${text}" is not a real date`);
  return { y, m, d };
}

export function formatDate(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function dayNumber(text: string): number {
  const { y, m, d } = parseDate(text);
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

/** Whole days from a to b (negative when b is earlier). */
export function daysBetween(a: string, b: string): number {
  return dayNumber(b) - dayNumber(a);
}

export function addDays(date: string, days: number): string {
  const t = new Date((dayNumber(date) + days) * 86_400_000);
  return formatDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

export function addMonths(date: string, months: number): string {
  const { y, m, d } = parseDate(date);
  const index = y * 12 + (m - 1) + months;
  const ny = Math.floor(index / 12);
  const nm = (index % 12) + 1;
  return formatDate(ny, nm, Math.min(d, daysInMonth(ny, nm)));
}

export function maxDate(a: string, b: string): string {
  return a > b ? a : b;
}

export function minDate(a: string, b: string): string {
  return a < b ? a : b;
}

/** The period of `cycle` that contains `date`. */
export function periodContaining(cycle: BillingCycle, date: string): Period {
  const { y, m } = parseDate(date);
  const span = MONTHS[cycle];
  const firstMonth = Math.floor((m - 1) / span) * span + 1;
  const start = formatDate(y, firstMonth, 1);
  return { start, end: addMonths(start, span) };
}

export function previousPeriod(cycle: BillingCycle, period: Period): Period {
  return { start: addMonths(period.start, -MONTHS[cycle]), end: period.start };
}

export function nextPeriod(cycle: BillingCycle, period: Period): Period {
  return { start: period.end, end: addMonths(period.end, MONTHS[cycle]) };
}

/**
 * Checks that [start, end) is exactly one period of `cycle`, and says why not in words a finance clerk
 * understands ("2026-01-15 is not where a monthly period starts").
 */
export function checkTiles(cycle: BillingCycle, period: Period): Period {
  parseDate(period.start);
  parseDate(period.end);
  if (period.end <= period.start) throw new RangeError(`the period must end after it starts (${period.start} .. ${period.end})`);
  const expected = periodContaining(cycle, period.start);
  if (expected.start !== period.start) {
    throw new RangeError(`${period.start} is not where a ${cycle} period starts; ${cycle} periods tile from ${expected.start} to ${expected.end}`);
  }
  if (expected.end !== period.end) {
    throw new RangeError(`a ${cycle} period starting ${period.start} ends on ${expected.end} (exclusive), not ${period.end}; periods must tile`);
  }
  return expected;
}

/** "2026-11", "2026-Q4" or "2026" for a period of the cycle. */
export function periodLabel(cycle: BillingCycle, period: Period): string {
  const { y, m } = parseDate(period.start);
  if (cycle === 'monthly') return `${y}-${String(m).padStart(2, '0')}`;
  if (cycle === 'quarterly') return `${y}-Q${(m - 1) / 3 + 1}`;
  return String(y);
}

/** The inverse of periodLabel; throws a RangeError saying which form the cycle expects. */
export function parsePeriodLabel(cycle: BillingCycle, label: string): Period {
  const patterns: Record<BillingCycle, RegExp> = { monthly: /^(\d{4})-(0[1-9]|1[0-2])$/, quarterly: /^(\d{4})-Q([1-4])$/, yearly: /^(\d{4})$/ };
  const match = patterns[cycle].exec(label);
  if (!match) {
    const example = { monthly: '2026-11', quarterly: '2026-Q4', yearly: '2026' }[cycle];
    throw new RangeError(`"${label}" is not a ${cycle} period; write it like ${example}`);
  }
  const y = Number(match[1]);
  const month = cycle === 'monthly' ? Number(match[2]) : cycle === 'quarterly' ? (Number(match[2]) - 1) * 3 + 1 : 1;
  const start = formatDate(y, month, 1);
  return { start, end: addMonths(start, MONTHS[cycle]) };
}

/** The calendar months a period covers, each with its day count: proration is per day of each month. */
export function monthsOf(period: Period): { start: string; end: string; days: number }[] {
  const months: { start: string; end: string; days: number }[] = [];
  for (let cursor = period.start; cursor < period.end; ) {
    const { y, m } = parseDate(cursor);
    const monthEnd = addMonths(formatDate(y, m, 1), 1);
    const end = minDate(monthEnd, period.end);
    months.push({ start: cursor, end, days: daysInMonth(y, m) });
    cursor = end;
  }
  return months;
}

/** The local date of an instant in `timeZone`. */
export function localDate(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The instant local midnight begins on `date` in `timeZone`: where a period's edge falls for readings. */
export function localMidnight(date: string, timeZone: string): Date {
  const { y, m, d } = parseDate(date);
  const guess = Date.UTC(y, m - 1, d);
  // Local midnight is `guess` less the offset in force at that moment. Near a DST change that offset is the
  // one just before or just after it, so try both (sampled a day either side) and keep the earliest instant
  // that falls on `date`. Where the clocks skip midnight (America/Santiago, America/Havana: 00:00 → 01:00)
  // only the earlier offset lands on `date`, at the moment the day begins; taking the later one would put
  // the edge an hour early, on the previous day.
  const candidates = [...new Set([offsetMs(new Date(guess - DAY_MS), timeZone), offsetMs(new Date(guess + DAY_MS), timeZone)])]
    .map((offset) => guess - offset)
    .filter((instant) => localDate(new Date(instant), timeZone) === date);
  if (candidates.length) return new Date(Math.min(...candidates));
  // Only a date the zone skipped entirely (Pacific/Apia, 2011-12-30) gets here: a fixed point on the offset.
  const instant = guess - offsetMs(new Date(guess), timeZone);
  return new Date(guess - offsetMs(new Date(instant), timeZone));
}

const DAY_MS = 86_400_000;

function offsetMs(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}
