import { splitByLargestRemainder } from '@estate/protocol';
import { describe, expect, it } from 'vitest';
import { formatQuantity, formatUnitPrice, parseQuantity, priceInFen, quantityRatio, Ratio, ROUNDING_MODES, splitExact, toFen, type RoundingMode } from './billing-math.js';
import {
  addDays,
  addMonths,
  checkTiles,
  daysBetween,
  daysInMonth,
  localDate,
  localMidnight,
  monthsOf,
  nextPeriod,
  parseDate,
  parsePeriodLabel,
  periodContaining,
  periodLabel,
  previousPeriod,
  type BillingCycle,
} from './billing-periods.js';
import { meteredCharge, timeCharge, type MeteredCharge, type TimeCharge } from './charges.js';
import type { TariffVersion, Tier } from './tariffs.js';

/**
 * Pure bill arithmetic, checked against numbers worked out by hand in the comments (not copied from the
 * code). Money is fen; unit prices are 10000 = ¥1, so 24500 = ¥2.45 = 245 fen and 4883 = ¥0.4883 = 48.83 fen.
 */

const q = (text: string): bigint => parseQuantity(text);

function flat(id: string, version: number, effectiveFrom: string, effectiveTo: string | null, unitPrice: number): TariffVersion {
  return { id, version, effectiveFrom, effectiveTo, unitPrice, tiers: null };
}

function tiered(id: string, version: number, effectiveFrom: string, effectiveTo: string | null, tiers: Tier[]): TariffVersion {
  return { id, version, effectiveFrom, effectiveTo, unitPrice: null, tiers };
}

function okTime(result: ReturnType<typeof timeCharge>): TimeCharge {
  if (!result.ok) throw new Error(`expected a charge, got ${result.detail}`);
  return result;
}

function okMetered(result: ReturnType<typeof meteredCharge>): MeteredCharge {
  if (!result.ok) throw new Error(`expected a charge, got ${result.detail}`);
  return result;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('Ratio.round', () => {
  const r = (num: bigint, den: bigint) => Ratio.of(num, den);

  it('rounds exact .5 ties by each mode, negatives mirrored', () => {
    // value        half-up  half-even  down  up
    //  2.5          3        2          2     3
    //  3.5          4        4          3     4
    // -2.5         -3       -2         -2    -3
    // -3.5         -4       -4         -3    -4
    //  0.5          1        0          0     1
    // -0.5         -1        0          0    -1
    const table: [Ratio, Record<RoundingMode, bigint>][] = [
      [r(5n, 2n), { 'half-up': 3n, 'half-even': 2n, down: 2n, up: 3n }],
      [r(7n, 2n), { 'half-up': 4n, 'half-even': 4n, down: 3n, up: 4n }],
      [r(-5n, 2n), { 'half-up': -3n, 'half-even': -2n, down: -2n, up: -3n }],
      [r(-7n, 2n), { 'half-up': -4n, 'half-even': -4n, down: -3n, up: -4n }],
      [r(1n, 2n), { 'half-up': 1n, 'half-even': 0n, down: 0n, up: 1n }],
      [r(-1n, 2n), { 'half-up': -1n, 'half-even': 0n, down: 0n, up: -1n }],
    ];
    for (const [value, expected] of table) {
      for (const mode of ROUNDING_MODES) expect(value.round(mode), `${value.num}/${value.den} ${mode}`).toBe(expected[mode]);
    }
  });

  it('rounds non-ties to the nearest for half modes, toward / away from zero for down / up', () => {
    // 2.4 → 2 2 2 3;  2.6 → 3 3 2 3;  -2.4 → -2 -2 -2 -3;  -2.6 → -3 -3 -2 -3;  1/3 → 0 0 0 1;  -2/3 → -1 -1 0 -1
    const table: [Ratio, [bigint, bigint, bigint, bigint]][] = [
      [r(12n, 5n), [2n, 2n, 2n, 3n]],
      [r(13n, 5n), [3n, 3n, 2n, 3n]],
      [r(-12n, 5n), [-2n, -2n, -2n, -3n]],
      [r(-13n, 5n), [-3n, -3n, -2n, -3n]],
      [r(1n, 3n), [0n, 0n, 0n, 1n]],
      [r(-2n, 3n), [-1n, -1n, 0n, -1n]],
    ];
    for (const [value, [halfUp, halfEven, down, up]] of table) {
      expect(value.round('half-up')).toBe(halfUp);
      expect(value.round('half-even')).toBe(halfEven);
      expect(value.round('down')).toBe(down);
      expect(value.round('up')).toBe(up);
    }
  });

  it('leaves whole numbers alone in every mode', () => {
    for (const mode of ROUNDING_MODES) {
      expect(Ratio.of(6n, 3n).round(mode)).toBe(2n);
      expect(Ratio.of(-6n, 3n).round(mode)).toBe(-2n);
      expect(Ratio.ZERO.round(mode)).toBe(0n);
    }
  });

  it('keeps fractions reduced with a positive denominator and does exact arithmetic', () => {
    const x = Ratio.of(6n, -4n); // -3/2
    expect([x.num, x.den]).toEqual([-3n, 2n]);
    // 1/10 + 2/10 is exactly 3/10 (the float bug does not happen here)
    const s = Ratio.of(1n, 10n).add(Ratio.of(2n, 10n));
    expect([s.num, s.den]).toEqual([3n, 10n]);
    expect(s.cmp(Ratio.of(3n, 10n))).toBe(0);
    // 1/3 − 1/2 = −1/6; (2/3) × (9/4) = 3/2; (1/2) ÷ (1/4) = 2
    const d = Ratio.of(1n, 3n).sub(Ratio.of(1n, 2n));
    expect([d.num, d.den]).toEqual([-1n, 6n]);
    const m = Ratio.of(2n, 3n).mul(Ratio.of(9n, 4n));
    expect([m.num, m.den]).toEqual([3n, 2n]);
    const v = Ratio.of(1n, 2n).div(Ratio.of(1n, 4n));
    expect([v.num, v.den]).toEqual([2n, 1n]);
    expect(Ratio.of(1n, 3n).min(Ratio.of(1n, 4n)).cmp(Ratio.of(1n, 4n))).toBe(0);
    expect(Ratio.of(1n, 3n).max(Ratio.of(1n, 4n)).cmp(Ratio.of(1n, 3n))).toBe(0);
    expect(() => Ratio.of(1n, 0n)).toThrow(RangeError);
    expect(() => Ratio.of(1n).div(Ratio.ZERO)).toThrow(RangeError);
  });

  it('shows decimals rounded half-up for display', () => {
    // 2/3 = 0.6666… → "0.6667"; −1/8 = −0.125 → "-0.13" (half-up is away from zero); 5 → "5.00"
    expect(Ratio.of(2n, 3n).toDecimal(4)).toBe('0.6667');
    expect(Ratio.of(-1n, 8n).toDecimal(2)).toBe('-0.13');
    expect(Ratio.of(5n).toDecimal(2)).toBe('5.00');
    expect(Ratio.of(7n, 2n).toDecimal(0)).toBe('4');
  });
});

describe('toFen and prices', () => {
  it('turns price units into fen exactly', () => {
    // 24500 units = ¥2.45 = 245 fen; 4883 units = ¥0.4883 = 48.83 fen = 4883/100
    const p = priceInFen(24500);
    expect([p.num, p.den]).toEqual([245n, 1n]);
    const e = priceInFen(4883);
    expect([e.num, e.den]).toEqual([4883n, 100n]);
    expect(formatUnitPrice(24500)).toBe('2.45');
    expect(formatUnitPrice(4883)).toBe('0.4883');
  });

  it('rounds an exact fen amount by the mode and refuses amounts past the safe range', () => {
    // 240 kWh × 48.83 fen = 11719.2 fen
    const exact = priceInFen(4883).mul(quantityRatio(q('240')));
    expect(toFen(exact, 'half-up')).toBe(11719);
    expect(toFen(exact, 'down')).toBe(11719);
    expect(toFen(exact, 'up')).toBe(11720);
    expect(() => toFen(Ratio.of(BigInt(Number.MAX_SAFE_INTEGER) + 1n), 'half-up')).toThrow(RangeError);
    expect(toFen(Ratio.of(BigInt(Number.MAX_SAFE_INTEGER)), 'half-up')).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('parseQuantity / formatQuantity', () => {
  it('parses decimals into micro-units', () => {
    expect(q('240')).toBe(240_000_000n);
    expect(q('89.50')).toBe(89_500_000n);
    expect(q('0.000001')).toBe(1n);
    expect(q('240.000001')).toBe(240_000_001n);
    expect(q('-1.5')).toBe(-1_500_000n);
    expect(q('12345678901234.123456')).toBe(12_345_678_901_234_123_456n);
  });

  it('formats without trailing zeros and round-trips', () => {
    expect(formatQuantity(89_500_000n)).toBe('89.5');
    expect(formatQuantity(240_000_000n)).toBe('240');
    expect(formatQuantity(100_000_000n)).toBe('100');
    expect(formatQuantity(0n)).toBe('0');
    expect(formatQuantity(1n)).toBe('0.000001');
    expect(formatQuantity(-1_500_000n)).toBe('-1.5');
    for (const text of ['0', '1', '10', '100', '0.5', '89.5', '240.000001', '-3.25', '1234.56789', '99999999999999.999999']) {
      expect(formatQuantity(q(text)), text).toBe(text);
    }
  });

  it('refuses anything that is not a plain decimal with at most 6 places', () => {
    for (const bad of ['1e3', '-', '1.1234567', '', ' ', '.5', '5.', '1,5', '+1', '0x10', 'NaN', 'Infinity', '1.2.3', '123456789012345']) {
      expect(() => parseQuantity(bad), JSON.stringify(bad)).toThrow(RangeError);
    }
  });
});

describe('billing periods', () => {
  it('accepts exact tiles of each cycle', () => {
    expect(checkTiles('monthly', { start: '2026-01-01', end: '2026-02-01' })).toEqual({ start: '2026-01-01', end: '2026-02-01' });
    expect(checkTiles('quarterly', { start: '2026-04-01', end: '2026-07-01' })).toEqual({ start: '2026-04-01', end: '2026-07-01' });
    expect(checkTiles('yearly', { start: '2026-01-01', end: '2027-01-01' })).toEqual({ start: '2026-01-01', end: '2027-01-01' });
    expect(checkTiles('monthly', { start: '2026-12-01', end: '2027-01-01' })).toEqual({ start: '2026-12-01', end: '2027-01-01' });
  });

  it('refuses spans that do not tile, saying why', () => {
    expect(() => checkTiles('monthly', { start: '2026-01-15', end: '2026-02-15' })).toThrow(/2026-01-15 is not where a monthly period starts/);
    expect(() => checkTiles('monthly', { start: '2026-01-01', end: '2026-03-01' })).toThrow(/ends on 2026-02-01/);
    expect(() => checkTiles('quarterly', { start: '2026-02-01', end: '2026-05-01' })).toThrow(/not where a quarterly period starts/);
    expect(() => checkTiles('quarterly', { start: '2026-01-01', end: '2026-02-01' })).toThrow(/ends on 2026-04-01/);
    expect(() => checkTiles('monthly', { start: '2026-02-01', end: '2026-01-01' })).toThrow(/must end after it starts/);
    expect(() => checkTiles('monthly', { start: '2026-01-01', end: '2026-01-01' })).toThrow(/must end after it starts/);
    expect(() => checkTiles('monthly', { start: '2026-02-30', end: '2026-03-01' })).toThrow(/not a real date/);
  });

  it('labels periods and parses the labels back', () => {
    const cases: [BillingCycle, string, string, string][] = [
      ['monthly', '2026-11', '2026-11-01', '2026-12-01'],
      ['monthly', '2026-12', '2026-12-01', '2027-01-01'],
      ['monthly', '2026-01', '2026-01-01', '2026-02-01'],
      ['quarterly', '2026-Q1', '2026-01-01', '2026-04-01'],
      ['quarterly', '2026-Q4', '2026-10-01', '2027-01-01'],
      ['yearly', '2026', '2026-01-01', '2027-01-01'],
    ];
    for (const [cycle, label, start, end] of cases) {
      expect(parsePeriodLabel(cycle, label), label).toEqual({ start, end });
      expect(periodLabel(cycle, { start, end })).toBe(label);
    }
  });

  it('refuses labels that are not of the cycle', () => {
    expect(() => parsePeriodLabel('monthly', '2026-13')).toThrow(/write it like 2026-11/);
    expect(() => parsePeriodLabel('monthly', '2026-00')).toThrow(RangeError);
    expect(() => parsePeriodLabel('monthly', '26-01')).toThrow(RangeError);
    expect(() => parsePeriodLabel('monthly', '2026-1')).toThrow(RangeError);
    expect(() => parsePeriodLabel('quarterly', '2026-Q5')).toThrow(/write it like 2026-Q4/);
    expect(() => parsePeriodLabel('quarterly', '2026-Q0')).toThrow(RangeError);
    expect(() => parsePeriodLabel('quarterly', '2026-11')).toThrow(RangeError);
    expect(() => parsePeriodLabel('yearly', '2026-01')).toThrow(/write it like 2026/);
    expect(() => parsePeriodLabel('yearly', '')).toThrow(RangeError);
  });

  it('finds the containing, previous and next period', () => {
    expect(periodContaining('monthly', '2026-02-14')).toEqual({ start: '2026-02-01', end: '2026-03-01' });
    expect(periodContaining('quarterly', '2026-06-30')).toEqual({ start: '2026-04-01', end: '2026-07-01' });
    expect(periodContaining('quarterly', '2026-10-01')).toEqual({ start: '2026-10-01', end: '2027-01-01' });
    expect(periodContaining('yearly', '2026-12-31')).toEqual({ start: '2026-01-01', end: '2027-01-01' });
    expect(previousPeriod('monthly', { start: '2026-01-01', end: '2026-02-01' })).toEqual({ start: '2025-12-01', end: '2026-01-01' });
    expect(previousPeriod('quarterly', { start: '2026-01-01', end: '2026-04-01' })).toEqual({ start: '2025-10-01', end: '2026-01-01' });
    expect(nextPeriod('quarterly', { start: '2026-10-01', end: '2027-01-01' })).toEqual({ start: '2027-01-01', end: '2027-04-01' });
  });

  it('splits a period into calendar months across a year boundary', () => {
    // Nov 30 days, Dec 31, Jan 31
    expect(monthsOf({ start: '2025-11-01', end: '2026-02-01' })).toEqual([
      { start: '2025-11-01', end: '2025-12-01', days: 30 },
      { start: '2025-12-01', end: '2026-01-01', days: 31 },
      { start: '2026-01-01', end: '2026-02-01', days: 31 },
    ]);
    // a cut span keeps each month's full day count (proration is per day of that month)
    expect(monthsOf({ start: '2025-12-20', end: '2026-01-10' })).toEqual([
      { start: '2025-12-20', end: '2026-01-01', days: 31 },
      { start: '2026-01-01', end: '2026-01-10', days: 31 },
    ]);
    expect(monthsOf({ start: '2026-01-01', end: '2026-01-01' })).toEqual([]);
  });

  it('knows leap-year Februaries', () => {
    expect(daysInMonth(2024, 2)).toBe(29);
    expect(daysInMonth(2026, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(monthsOf({ start: '2028-02-01', end: '2028-03-01' })).toEqual([{ start: '2028-02-01', end: '2028-03-01', days: 29 }]);
    expect(daysBetween('2028-02-01', '2028-03-01')).toBe(29);
    expect(parseDate('2028-02-29')).toEqual({ y: 2028, m: 2, d: 29 });
    expect(() => parseDate('2026-02-29')).toThrow(/not a real date/);
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    // 31 January + 1 month is the last day of February
    expect(addMonths('2028-01-31', 1)).toBe('2028-02-29');
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
  });

  it('counts days and moves dates', () => {
    expect(daysBetween('2026-01-01', '2026-02-01')).toBe(31);
    expect(daysBetween('2026-01-11', '2026-02-01')).toBe(21);
    expect(daysBetween('2026-02-01', '2026-01-01')).toBe(-31);
    expect(daysBetween('2025-12-31', '2026-01-01')).toBe(1);
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
    expect(addMonths('2026-01-01', -1)).toBe('2025-12-01');
    expect(addMonths('2026-11-01', 3)).toBe('2027-02-01');
    expect(() => parseDate('2026-1-01')).toThrow(/not a date/);
  });

  it('puts local midnight at the right instant', () => {
    // Asia/Shanghai is UTC+8 all year: local 00:00 on 1 Nov is 16:00 UTC on 31 Oct
    expect(localMidnight('2026-11-01', 'Asia/Shanghai').toISOString()).toBe('2026-10-31T16:00:00.000Z');
    expect(localMidnight('2026-01-01', 'Asia/Shanghai').toISOString()).toBe('2025-12-31T16:00:00.000Z');
    expect(localMidnight('2026-01-01', 'UTC').toISOString()).toBe('2026-01-01T00:00:00.000Z');
    // New York: EST (UTC−5) on 8 Mar 2026 at midnight (DST starts at 02:00); EDT (UTC−4) on 1 Nov 2026 at
    // midnight (DST ends at 02:00)
    expect(localMidnight('2026-03-08', 'America/New_York').toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(localMidnight('2026-11-01', 'America/New_York').toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(localDate(new Date('2026-10-31T16:00:00.000Z'), 'Asia/Shanghai')).toBe('2026-11-01');
    expect(localDate(new Date('2026-10-31T15:59:59.999Z'), 'Asia/Shanghai')).toBe('2026-10-31');
  });

  it('starts the day when the clocks jump over midnight', () => {
    // Chile: on Sunday 6 Sep 2026 the clocks go from 00:00 −04 straight to 01:00 −03, so the day begins at
    // 01:00 −03 = 04:00 UTC; one millisecond earlier it is still 5 Sep (23:59:59.999 −04)
    const santiago = localMidnight('2026-09-06', 'America/Santiago');
    expect(santiago.toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(localDate(santiago, 'America/Santiago')).toBe('2026-09-06');
    expect(localDate(new Date(santiago.getTime() - 1), 'America/Santiago')).toBe('2026-09-05');
    // Cuba: 8 Mar 2026 00:00 −05 → 01:00 −04 = 05:00 UTC
    expect(localMidnight('2026-03-08', 'America/Havana').toISOString()).toBe('2026-03-08T05:00:00.000Z');
    // Egypt: 24 Apr 2026 00:00 +02 → 01:00 +03 = 22:00 UTC on the 23rd
    expect(localMidnight('2026-04-24', 'Africa/Cairo').toISOString()).toBe('2026-04-23T22:00:00.000Z');
    // Chile falls back at 24:00 on 4 Apr 2026 to 23:00 −04; 5 Apr begins at 00:00 −04 = 04:00 UTC
    expect(localMidnight('2026-04-05', 'America/Santiago').toISOString()).toBe('2026-04-05T04:00:00.000Z');
    // the day after each change is an ordinary midnight at the new offset
    expect(localMidnight('2026-09-07', 'America/Santiago').toISOString()).toBe('2026-09-07T03:00:00.000Z');
    expect(localMidnight('2026-04-25', 'Africa/Cairo').toISOString()).toBe('2026-04-24T21:00:00.000Z');
  });
});

/** Beijing-like residential electricity: ¥0.4883 to 240 kWh a month, ¥0.5383 to 400, ¥0.7883 above. */
const ELECTRICITY_MONTHLY: Tier[] = [
  { upTo: '240', unitPrice: 4883 },
  { upTo: '400', unitPrice: 5383 },
  { upTo: null, unitPrice: 7883 },
];
const JAN: { start: string; end: string } = { start: '2026-01-01', end: '2026-02-01' };

describe('meteredCharge tiers', () => {
  const electricity = [tiered('e1', 1, '2025-01-01', null, ELECTRICITY_MONTHLY)];
  const month = (consumption: string, rounding: RoundingMode = 'half-up') =>
    okMetered(meteredCharge({ usage: JAN, consumption: q(consumption), versions: electricity, basis: 'month', months: 1, usedBefore: 0n, rounding }));

  it('240 kWh stays entirely in tier 1', () => {
    // 240 × 48.83 = 11719.2 fen → 11719
    const c = month('240');
    expect(c.amountFen).toBe(11719);
    expect(c.exactFen).toBe('11719.2000');
    expect(c.tiers).toEqual([{ tariffVersion: 1, tier: 1, quantity: '240', unitPrice: 4883, amountFen: 11719 }]);
    expect(c.parts).toEqual([{ from: '2026-01-01', to: '2026-02-01', days: 31, tariffVersion: 1, quantity: '240' }]);
    expect(c.tariffVersionIds).toEqual(['e1']);
  });

  it('240.000001 kWh puts one micro-kWh in tier 2', () => {
    // 11719.2 + 0.000001 × 53.83 = 11719.20005383 fen → 11719; the tier-2 row is worth 0 fen
    const c = month('240.000001');
    expect(c.amountFen).toBe(11719);
    expect(c.tiers.map((t) => [t.tier, t.quantity, t.amountFen])).toEqual([
      [1, '240', 11719],
      [2, '0.000001', 0],
    ]);
  });

  it('400 kWh fills tiers 1 and 2 exactly', () => {
    // tier 1: 240 × 48.83 = 11719.2; tier 2: 160 × 53.83 = 8612.8; total 20332.0 → 20332
    // rows: floors 11719 + 8612 = 20331, the spare fen goes to the larger remainder (.8) → 8613
    const c = month('400');
    expect(c.amountFen).toBe(20332);
    expect(c.tiers.map((t) => [t.tier, t.quantity, t.unitPrice, t.amountFen])).toEqual([
      [1, '240', 4883, 11719],
      [2, '160', 5383, 8613],
    ]);
  });

  it('401 kWh reaches tier 3', () => {
    // 11719.2 + 8612.8 + 1 × 78.83 = 20410.83 → 20411 (half-up)
    // rows split 20411 in proportion: 11719.30, 8612.87, 78.83 → floors 11719 + 8612 + 78 = 20409,
    // the 2 spare fen go to the largest remainders (.87 tier 2, .83 tier 3) → 11719, 8613, 79
    const c = month('401');
    expect(c.amountFen).toBe(20411);
    expect(c.exactFen).toBe('20410.8300');
    expect(c.tiers.map((t) => [t.tier, t.quantity, t.amountFen])).toEqual([
      [1, '240', 11719],
      [2, '160', 8613],
      [3, '1', 79],
    ]);
    expect(sum(c.tiers.map((t) => t.amountFen))).toBe(c.amountFen);
    // down: 20410; up: 20411
    expect(month('401', 'down').amountFen).toBe(20410);
    expect(month('401', 'up').amountFen).toBe(20411);
  });

  it('zero consumption costs nothing and has no tier rows', () => {
    const c = month('0');
    expect(c.amountFen).toBe(0);
    expect(c.tiers).toEqual([]);
  });

  it('a quarter with a monthly basis gets three months of each tier', () => {
    // bounds 240 × 3 = 720 and 400 × 3 = 1200; 800 kWh → 720 in tier 1, 80 in tier 2
    // 720 × 48.83 = 35157.6; 80 × 53.83 = 4306.4; total 39464.0 → 39464
    // rows: floors 35157 + 4306, spare fen to the larger remainder (.6) → 35158, 4306
    const c = okMetered(
      meteredCharge({ usage: { start: '2026-01-01', end: '2026-04-01' }, consumption: q('800'), versions: electricity, basis: 'month', months: 3, usedBefore: 0n, rounding: 'half-up' }),
    );
    expect(c.amountFen).toBe(39464);
    expect(c.tiers.map((t) => [t.tier, t.quantity, t.amountFen])).toEqual([
      [1, '720', 35158],
      [2, '80', 4306],
    ]);
    // the same 800 kWh in one month: 240 / 160 / 400 → 11719.2 + 8612.8 + 400 × 78.83 (31532) = 51864
    expect(month('800').amountFen).toBe(51864);
  });

  it('a yearly basis starts where the year to date left off', () => {
    // annual tiers 2760 / 4800 kWh; 2700 used before, 100 now → 60 in tier 1, 40 in tier 2
    // 60 × 48.83 = 2929.8; 40 × 53.83 = 2153.2; total 5083.0 → 5083; rows 2930 + 2153 (spare fen to .8)
    const yearly = [
      tiered('y1', 1, '2026-01-01', null, [
        { upTo: '2760', unitPrice: 4883 },
        { upTo: '4800', unitPrice: 5383 },
        { upTo: null, unitPrice: 7883 },
      ]),
    ];
    const c = okMetered(meteredCharge({ usage: JAN, consumption: q('100'), versions: yearly, basis: 'year', months: 1, usedBefore: q('2700'), rounding: 'half-up' }));
    expect(c.amountFen).toBe(5083);
    expect(c.tiers.map((t) => [t.tier, t.quantity, t.amountFen])).toEqual([
      [1, '60', 2930],
      [2, '40', 2153],
    ]);
    // already past 4800: everything at tier 3 → 100 × 78.83 = 7883
    const late = okMetered(meteredCharge({ usage: JAN, consumption: q('100'), versions: yearly, basis: 'year', months: 1, usedBefore: q('5000'), rounding: 'half-up' }));
    expect(late.tiers.map((t) => [t.tier, t.quantity, t.amountFen])).toEqual([[3, '100', 7883]]);
    // the yearly bounds do not scale with the months of the span
    const quarter = okMetered(
      meteredCharge({ usage: { start: '2026-01-01', end: '2026-04-01' }, consumption: q('100'), versions: yearly, basis: 'year', months: 3, usedBefore: q('2700'), rounding: 'half-up' }),
    );
    expect(quarter.tiers.map((t) => t.quantity)).toEqual(['60', '40']);
  });

  it('a flat metered price is one open tier', () => {
    // water ¥5.00/m³ = 500 fen; 12.345 m³ → 6172.5 fen: half-up 6173, half-even 6172, down 6172, up 6173
    const water = [flat('w1', 1, '2025-01-01', null, 50000)];
    const at = (rounding: RoundingMode) =>
      okMetered(meteredCharge({ usage: JAN, consumption: q('12.345'), versions: water, basis: 'month', months: 1, usedBefore: 0n, rounding })).amountFen;
    expect([at('half-up'), at('half-even'), at('down'), at('up')]).toEqual([6173, 6172, 6172, 6173]);
  });
});

describe('a price change inside the period', () => {
  it('splits metered consumption by days, largest remainder, nothing lost', () => {
    // ¥5.00/m³ from 1 to 15 Jan (15 days), ¥6.00/m³ from 16 Jan (16 days of 31)
    // 10 m³ = 10 000 000 µm³: × 15/31 = 4 838 709 r 21, × 16/31 = 5 161 290 r 10 → the spare µm³ to the
    // first → 4.83871 + 5.16129 = 10
    // 4.83871 × 500 = 2419.355 fen; 5.16129 × 600 = 3096.774 fen; total 5516.129 → 5516
    // rows: 5516 in proportion = 2419.30 + 3096.70 → floors 2419 + 3096, spare fen to .70 → 2419, 3097
    const versions = [flat('w1', 1, '2025-07-01', '2026-01-16', 50000), flat('w2', 2, '2026-01-16', null, 60000)];
    const c = okMetered(meteredCharge({ usage: JAN, consumption: q('10'), versions, basis: 'month', months: 1, usedBefore: 0n, rounding: 'half-up' }));
    expect(c.parts).toEqual([
      { from: '2026-01-01', to: '2026-01-16', days: 15, tariffVersion: 1, quantity: '4.83871' },
      { from: '2026-01-16', to: '2026-02-01', days: 16, tariffVersion: 2, quantity: '5.16129' },
    ]);
    expect(q(c.parts[0]!.quantity) + q(c.parts[1]!.quantity)).toBe(q('10'));
    expect(c.exactFen).toBe('5516.1290');
    expect(c.amountFen).toBe(5516);
    expect(c.tiers.map((t) => [t.tariffVersion, t.quantity, t.unitPrice, t.amountFen])).toEqual([
      [1, '4.83871', 50000, 2419],
      [2, '5.16129', 60000, 3097],
    ]);
    expect(c.tariffVersionIds).toEqual(['w1', 'w2']);
  });

  it('scales monthly tier bounds to each version’s days', () => {
    // 310 kWh over Jan split 15/31 and 16/31 → 150 and 160 kWh exactly.
    // version 1 bounds: 240 × 15/31 = 116.129…, version 2: 240 × 16/31 = 123.870…
    // so each version pays some kWh in tier 2; the tier-1 quantities add up to the whole month's 240
    const v1Tiers: Tier[] = ELECTRICITY_MONTHLY;
    const v2Tiers: Tier[] = [
      { upTo: '240', unitPrice: 5000 },
      { upTo: '400', unitPrice: 5500 },
      { upTo: null, unitPrice: 8000 },
    ];
    const versions = [tiered('e1', 1, '2025-01-01', '2026-01-16', v1Tiers), tiered('e2', 2, '2026-01-16', null, v2Tiers)];
    const c = okMetered(meteredCharge({ usage: JAN, consumption: q('310'), versions, basis: 'month', months: 1, usedBefore: 0n, rounding: 'half-up' }));
    expect(c.parts.map((p) => p.quantity)).toEqual(['150', '160']);
    // tier 1 exact: 240×15/31 = 3600/31 and 240×16/31 = 3840/31 kWh; tier 2: 150 − 3600/31 = 1050/31, 160 − 3840/31 = 1120/31
    // fen: 3600/31 × 48.83 + 1050/31 × 53.83 + 3840/31 × 50 + 1120/31 × 55
    //    = (175788 + 56521.5 + 192000 + 61600) / 31 = 485909.5 / 31 = 15674.5 (exactly) → half-up 15675, half-even 15674
    expect(c.exactFen).toBe('15674.5000');
    expect(c.amountFen).toBe(15675);
    expect(c.tiers.map((t) => [t.tariffVersion, t.tier])).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
    ]);
    expect(sum(c.tiers.map((t) => t.amountFen))).toBe(15675);
    const even = okMetered(meteredCharge({ usage: JAN, consumption: q('310'), versions, basis: 'month', months: 1, usedBefore: 0n, rounding: 'half-even' }));
    expect(even.amountFen).toBe(15674);
  });

  it('prices the property fee per day at each version', () => {
    // 89.50 m², ¥2.45 (245 fen) to 15 Jan, ¥2.60 (260 fen) from 16 Jan
    // 245 × 89.5 × 15/31 = 21927.5 × 15/31 = 328912.5/31 = 10610.0806…
    // 260 × 89.5 × 16/31 = 23270   × 16/31 = 372320  /31 = 12010.3225…
    // total 701232.5/31 = 22620.4032… → 22620
    // segments: 22620 in proportion = 10609.89 + 12010.11 → floors 10609 + 12010, spare fen to .89 → 10610, 12010
    const versions = [flat('p1', 1, '2025-01-01', '2026-01-16', 24500), flat('p2', 2, '2026-01-16', null, 26000)];
    const c = okTime(timeCharge({ billable: JAN, versions, multiplier: quantityRatio(q('89.50')), vacancies: [], vacancyFactor: Ratio.of(1n), rounding: 'half-up' }));
    expect(c.amountFen).toBe(22620);
    expect(c.exactFen).toBe('22620.4032');
    expect(c.segments).toEqual([
      { from: '2026-01-01', to: '2026-01-16', days: 15, daysInMonth: 31, unitPrice: 24500, tariffVersion: 1, vacant: false, amountFen: 10610 },
      { from: '2026-01-16', to: '2026-02-01', days: 16, daysInMonth: 31, unitPrice: 26000, tariffVersion: 2, vacant: false, amountFen: 12010 },
    ]);
    expect(sum(c.segments.map((s) => s.amountFen))).toBe(c.amountFen);
    expect(c.tariffVersionIds).toEqual(['p1', 'p2']);
  });
});

describe('timeCharge proration', () => {
  const property = [flat('p1', 1, '2025-01-01', null, 24500)];
  const area = quantityRatio(q('89.50'));
  const charge = (billable: { start: string; end: string }, opts: { vacancies?: { start: string; end: string }[]; factor?: Ratio; rounding?: RoundingMode; multiplier?: Ratio } = {}) =>
    timeCharge({
      billable,
      versions: property,
      multiplier: opts.multiplier ?? area,
      vacancies: opts.vacancies ?? [],
      vacancyFactor: opts.factor ?? Ratio.of(1n),
      rounding: opts.rounding ?? 'half-up',
    });

  it('charges a full month at price × area', () => {
    // 245 × 89.5 = 21927.5 fen → half-up 21928
    const c = okTime(charge(JAN));
    expect(c.amountFen).toBe(21928);
    expect(c.exactFen).toBe('21927.5000');
  });

  it('charges a move-in on 11 January for 21 of 31 days', () => {
    // 21927.5 × 21/31 = 460477.5/31 = 14854.1129… → 14854
    const c = okTime(charge({ start: '2026-01-11', end: '2026-02-01' }));
    expect(c.amountFen).toBe(14854);
    expect(c.segments).toEqual([{ from: '2026-01-11', to: '2026-02-01', days: 21, daysInMonth: 31, unitPrice: 24500, tariffVersion: 1, vacant: false, amountFen: 14854 }]);
  });

  it('charges a move-out mid-February by February’s 28 days', () => {
    // 1–14 Feb 2026 = 14 of 28 days → 21927.5 / 2 = 10963.75 → 10964
    expect(okTime(charge({ start: '2026-02-01', end: '2026-02-15' })).amountFen).toBe(10964);
  });

  it('discounts vacant days by the vacancy factor', () => {
    // vacant 1–10 Jan (10 days) at 70 %: 21927.5 × 10/31 × 7/10 = 153492.5/31 = 4951.3709…
    // occupied 11–31 Jan (21 days):       21927.5 × 21/31         = 460477.5/31 = 14854.1129…
    // total 613970/31 = 19805.4838… → 19805; segments: 19805 in proportion = 4951.25 + 14853.75 → 4951, 14854
    const c = okTime(charge(JAN, { vacancies: [{ start: '2025-12-01', end: '2026-01-11' }], factor: Ratio.of(7n, 10n) }));
    expect(c.amountFen).toBe(19805);
    expect(c.segments.map((s) => [s.from, s.to, s.days, s.vacant, s.amountFen])).toEqual([
      ['2026-01-01', '2026-01-11', 10, true, 4951],
      ['2026-01-11', '2026-02-01', 21, false, 14854],
    ]);
    // a vacancy wholly outside the billable window changes nothing
    expect(okTime(charge(JAN, { vacancies: [{ start: '2025-11-01', end: '2025-12-01' }], factor: Ratio.of(7n, 10n) })).amountFen).toBe(21928);
    // a whole vacant month at factor 0 is free
    expect(okTime(charge(JAN, { vacancies: [JAN], factor: Ratio.ZERO })).amountFen).toBe(0);
  });

  it('spans months with each month’s own day count and keeps segments adding up', () => {
    // a quarter of three whole months: 3 × 21927.5 = 65782.5 → 65783; each segment is 21927.5, so the
    // 2 spare fen go to the first two (equal remainders, lowest index first) → 21928, 21928, 21927
    const c = okTime(charge({ start: '2026-01-01', end: '2026-04-01' }));
    expect(c.amountFen).toBe(65783);
    expect(c.segments.map((s) => [s.from, s.days, s.daysInMonth, s.amountFen])).toEqual([
      ['2026-01-01', 31, 31, 21928],
      ['2026-02-01', 28, 28, 21928],
      ['2026-03-01', 31, 31, 21927],
    ]);
    // move-in 20 Dec 2025 to end of Jan: 21927.5 × 12/31 + 21927.5 = 263130/31 + 21927.5 = 8488.0645… + 21927.5
    // = 30415.5645… → 30416
    const d = okTime(charge({ start: '2025-12-20', end: '2026-02-01' }));
    expect(d.amountFen).toBe(30416);
    expect(d.segments.map((s) => [s.from, s.to, s.days, s.daysInMonth])).toEqual([
      ['2025-12-20', '2026-01-01', 12, 31],
      ['2026-01-01', '2026-02-01', 31, 31],
    ]);
    expect(sum(d.segments.map((s) => s.amountFen))).toBe(30416);
  });

  it('refuses to charge across a gap in the tariffs', () => {
    const gappy = [flat('p1', 1, '2025-01-01', '2026-01-10', 24500), flat('p2', 2, '2026-01-20', null, 26000)];
    const r = timeCharge({ billable: JAN, versions: gappy, multiplier: area, vacancies: [], vacancyFactor: Ratio.of(1n), rounding: 'half-up' });
    expect(r).toEqual({ ok: false, reason: 'no-tariff', detail: 'no tariff version covers 2026-01-10 .. 2026-01-20' });
    // no version at all / a version that starts too late
    expect(timeCharge({ billable: JAN, versions: [], multiplier: area, vacancies: [], vacancyFactor: Ratio.of(1n), rounding: 'half-up' })).toMatchObject({
      ok: false,
      reason: 'no-tariff',
      detail: expect.stringContaining('2026-01-01 .. 2026-02-01'),
    });
    const late = meteredCharge({ usage: JAN, consumption: q('1'), versions: [flat('w', 1, '2026-01-05', null, 50000)], basis: 'month', months: 1, usedBefore: 0n, rounding: 'half-up' });
    expect(late).toEqual({ ok: false, reason: 'no-tariff', detail: 'no tariff version covers 2026-01-01 .. 2026-01-05' });
  });
});

describe('rounding modes on a line', () => {
  it('give different fen where the exact amount has a fraction', () => {
    const property = [flat('p1', 1, '2025-01-01', null, 24500)];
    const at = (area: string, billable: { start: string; end: string }, rounding: RoundingMode) =>
      okTime(timeCharge({ billable, versions: property, multiplier: quantityRatio(q(area)), vacancies: [], vacancyFactor: Ratio.of(1n), rounding })).amountFen;
    const modes = ['half-up', 'half-even', 'down', 'up'] as const;
    // 245 × 89.3 = 21878.5 exactly (a tie, 21878 even): 21879, 21878, 21878, 21879
    expect(modes.map((m) => at('89.3', JAN, m))).toEqual([21879, 21878, 21878, 21879]);
    // 245 × 89.5 = 21927.5 (a tie, 21927 odd): 21928, 21928, 21927, 21928
    expect(modes.map((m) => at('89.5', JAN, m))).toEqual([21928, 21928, 21927, 21928]);
    // 21927.5 × 21/31 = 14854.11…: 14854, 14854, 14854, 14855
    expect(modes.map((m) => at('89.5', { start: '2026-01-11', end: '2026-02-01' }, m))).toEqual([14854, 14854, 14854, 14855]);
    // 245 × 100.03 = 24507.35: 24507, 24507, 24507, 24508
    expect(modes.map((m) => at('100.03', JAN, m))).toEqual([24507, 24507, 24507, 24508]);
    // 245 × 120.77 = 29588.65: 29589, 29589, 29588, 29589
    expect(modes.map((m) => at('120.77', JAN, m))).toEqual([29589, 29589, 29588, 29589]);
  });
});

describe('splitting a rounded total', () => {
  it('splits a common meter bill over floor areas so the shares add up', () => {
    // 10000 fen over 89.50 / 120.00 / 65.30 m² (sum 274.80):
    // 3256.91, 4366.81, 2376.27 → floors 3256 + 4366 + 2376 = 9998; 2 spare fen to .91 and .81
    const shares = splitByLargestRemainder(10_000, [8950n, 12000n, 6530n]);
    expect(shares).toEqual([3257, 4367, 2376]);
    expect(sum(shares)).toBe(10_000);
    // three equal houses: 100 → 34, 33, 33
    expect(splitByLargestRemainder(100, [1n, 1n, 1n])).toEqual([34, 33, 33]);
  });

  it('splitExact always adds up to the total', () => {
    // 1/3 + 1/3 + 1/3 = 1 fen-thirds: total 1 → one part gets it, lowest index on a tie
    expect(splitExact(1, [Ratio.of(1n, 3n), Ratio.of(1n, 3n), Ratio.of(1n, 3n)])).toEqual([1, 0, 0]);
    // exact 11719.2 and 8612.8 with total 20332 → 11719, 8613
    expect(splitExact(20332, [Ratio.of(117192n, 10n), Ratio.of(86128n, 10n)])).toEqual([11719, 8613]);
    expect(splitExact(0, [])).toEqual([]);
    // all parts zero: nothing to weigh by, the last takes the total
    expect(splitExact(5, [Ratio.ZERO, Ratio.ZERO])).toEqual([0, 5]);
    // a credit splits like the charge it mirrors: −11719.2 and −8612.8 with total −20332 → −11719, −8613
    expect(splitExact(-20332, [Ratio.of(-117192n, 10n), Ratio.of(-86128n, 10n)])).toEqual([-11719, -8613]);
    // ten credits of −0.5 fen, total −5 (half-up of −5 is −5): −1 to the first five, 0 to the rest
    expect(splitExact(-5, Array.from({ length: 10 }, () => Ratio.of(-1n, 2n)))).toEqual([-1, -1, -1, -1, -1, 0, 0, 0, 0, 0]);
    // mixed signs (a charge and a credit): each rounded on its own, the last takes the rest
    expect(splitExact(7, [Ratio.of(21n, 2n), Ratio.of(-7n, 2n)])).toEqual([11, -4]);

    // deterministic pseudo-random parts: whatever the fractions, the parts sum to the total
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + (next() % 6);
      const parts = Array.from({ length: n }, () => Ratio.of(BigInt(next() % 100000), BigInt(1 + (next() % 997))));
      const exact = parts.reduce((a, b) => a.add(b), Ratio.ZERO);
      for (const mode of ROUNDING_MODES) {
        const total = toFen(exact, mode);
        const split = splitExact(total, parts);
        expect(split).toHaveLength(n);
        expect(sum(split)).toBe(total);
        if (!exact.isZero()) {
          // each part within one fen of its exact share of the rounded total
          split.forEach((s, i) => {
            const share = parts[i]!.mul(Ratio.of(BigInt(total))).div(exact);
            expect(Ratio.of(BigInt(s)).sub(share).max(share.sub(Ratio.of(BigInt(s)))).cmp(Ratio.of(1n))).toBe(-1);
          });
        }
      }
    }
  });
});
