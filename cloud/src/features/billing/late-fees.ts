import { z } from '@hono/zod-openapi';
import { Ratio, toFen, type RoundingMode } from './billing-math.js';
import { daysBetween } from './billing-periods.js';

/**
 * Late fees (滞纳金) as pluggable rules. A rule is data on the fee item, validated by its schema; its
 * `accrue` turns (overdue principal, days past due) into fen. Adding a rule is adding an entry here:
 * the API schema, the docs and the engine all read this table.
 *
 * Days are counted from the day after the due date; grace days are not charged, and once they are
 * over, the days past due count from the due date (a 5-day grace forgives lateness, not the first days
 * of it). The fee is never more than the cap and never negative.
 */
const DailyRate = z
  .strictObject({
    rule: z.literal('daily-rate'),
    /** Per day, in hundredths of a percent of the principal: 5 = 0.05 % a day (万分之五). */
    ratePerDayBp: z.number().int().min(1).max(100),
    graceDays: z.number().int().min(0).max(365).default(0),
    /** The most the fee may reach, in hundredths of a percent of the principal: 10000 = the principal itself. */
    capBp: z.number().int().min(1).max(10_000).default(10_000),
  })
  .openapi('LateFeeDailyRate', { description: 'A share of the overdue principal per day, capped' });

const Flat = z
  .strictObject({
    rule: z.literal('flat'),
    amountFen: z.number().int().min(1).max(100_000_00),
    graceDays: z.number().int().min(0).max(365).default(0),
  })
  .openapi('LateFeeFlat', { description: 'A fixed fee once the grace days are over' });

const NoLateFee = z.strictObject({ rule: z.literal('none') }).openapi('LateFeeNone');

export const LateFeeRule = z.discriminatedUnion('rule', [NoLateFee, DailyRate, Flat]).openapi('LateFeeRule');
export type LateFeeRule = z.infer<typeof LateFeeRule>;

export type Accrual = { fen: number; daysOverdue: number; rule: LateFeeRule['rule'] };

const RULES: { [K in LateFeeRule['rule']]: (rule: Extract<LateFeeRule, { rule: K }>, principalFen: number, daysLate: number, rounding: RoundingMode) => number } = {
  none: () => 0,
  'daily-rate': (rule, principalFen, daysLate, rounding) => {
    if (daysLate <= rule.graceDays) return 0;
    const principal = Ratio.of(BigInt(principalFen));
    const fee = principal.mul(Ratio.of(BigInt(rule.ratePerDayBp * daysLate), 10_000n));
    const cap = principal.mul(Ratio.of(BigInt(rule.capBp), 10_000n));
    return toFen(fee.min(cap), rounding);
  },
  flat: (rule, _principalFen, daysLate) => (daysLate > rule.graceDays ? rule.amountFen : 0),
};

/**
 * What a line's overdue principal has accrued by `today` (local date). Nothing before the due date,
 * nothing on a principal of 0 or less (a credited line).
 *
 * @example
 * accrueLateFee({ rule: 'daily-rate', ratePerDayBp: 5, graceDays: 0, capBp: 10000 }, 10000, '2026-01-15', '2026-01-25', 'half-up');
 * // { fen: 50, daysOverdue: 10, rule: 'daily-rate' }  (¥100 × 0.05 % × 10 days)
 */
export function accrueLateFee(rule: LateFeeRule, principalFen: number, dueOn: string, today: string, rounding: RoundingMode): Accrual {
  const daysLate = Math.max(0, daysBetween(dueOn, today));
  if (principalFen <= 0 || daysLate === 0) return { fen: 0, daysOverdue: daysLate, rule: rule.rule };
  const accrue = RULES[rule.rule] as (r: LateFeeRule, p: number, d: number, m: RoundingMode) => number;
  return { fen: accrue(rule, principalFen, daysLate, rounding), daysOverdue: daysLate, rule: rule.rule };
}
