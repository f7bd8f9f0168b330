import { describe, expect, it } from 'vitest';
import { accrueLateFee, LateFeeRule } from './late-fees.js';

const daily = (ratePerDayBp: number, graceDays = 0, capBp = 10_000): LateFeeRule => ({ rule: 'daily-rate', ratePerDayBp, graceDays, capBp });

describe('accrueLateFee', () => {
  it('charges the daily rate on the principal for each day past due', () => {
    // ¥100 × 0.05 % × 10 days = 10000 × 5 × 10 / 10000 = 50 fen
    expect(accrueLateFee(daily(5), 10_000, '2026-01-15', '2026-01-25', 'half-up')).toEqual({ fen: 50, daysOverdue: 10, rule: 'daily-rate' });
    // one day late = the day after the due date: 10000 × 5 / 10000 = 5 fen
    expect(accrueLateFee(daily(5), 10_000, '2026-01-15', '2026-01-16', 'half-up')).toEqual({ fen: 5, daysOverdue: 1, rule: 'daily-rate' });
    // across a month end: 31 Jan → 2 Mar 2026 is 30 days; 21928 × 5 × 30 / 10000 = 328.92 → 329
    expect(accrueLateFee(daily(5), 21_928, '2026-01-31', '2026-03-02', 'half-up')).toEqual({ fen: 329, daysOverdue: 30, rule: 'daily-rate' });
  });

  it('rounds the fee by the line’s mode', () => {
    // 12345 × 5 × 3 / 10000 = 18.5175 fen
    expect(accrueLateFee(daily(5), 12_345, '2026-01-15', '2026-01-18', 'half-up').fen).toBe(19);
    expect(accrueLateFee(daily(5), 12_345, '2026-01-15', '2026-01-18', 'half-even').fen).toBe(19);
    expect(accrueLateFee(daily(5), 12_345, '2026-01-15', '2026-01-18', 'down').fen).toBe(18);
    expect(accrueLateFee(daily(5), 12_345, '2026-01-15', '2026-01-18', 'up').fen).toBe(19);
    // 1000 × 5 × 1 / 10000 = 0.5 fen: half-up 1, half-even 0, down 0, up 1
    expect(accrueLateFee(daily(5), 1000, '2026-01-15', '2026-01-16', 'half-up').fen).toBe(1);
    expect(accrueLateFee(daily(5), 1000, '2026-01-15', '2026-01-16', 'half-even').fen).toBe(0);
  });

  it('forgives lateness within the grace days, then counts from the due date', () => {
    // 5 grace days: 5 days late → 0; 6 days late → all 6 days: 10000 × 5 × 6 / 10000 = 30
    expect(accrueLateFee(daily(5, 5), 10_000, '2026-01-15', '2026-01-20', 'half-up')).toEqual({ fen: 0, daysOverdue: 5, rule: 'daily-rate' });
    expect(accrueLateFee(daily(5, 5), 10_000, '2026-01-15', '2026-01-21', 'half-up')).toEqual({ fen: 30, daysOverdue: 6, rule: 'daily-rate' });
  });

  it('never exceeds the cap', () => {
    // cap 1 % of 10000 = 100 fen; 5 bp × 30 days = 150 fen uncapped → 100
    expect(accrueLateFee(daily(5, 0, 100), 10_000, '2026-01-15', '2026-02-14', 'half-up')).toEqual({ fen: 100, daysOverdue: 30, rule: 'daily-rate' });
    // just under the cap: 5 bp × 19 days = 95 fen
    expect(accrueLateFee(daily(5, 0, 100), 10_000, '2026-01-15', '2026-02-03', 'half-up').fen).toBe(95);
    // default cap = the principal itself: 100 bp × 400 days would be 4 × principal → 10000
    expect(accrueLateFee(daily(100), 10_000, '2025-01-01', '2026-02-05', 'half-up').fen).toBe(10_000);
  });

  it('charges a flat fee once the grace days are over', () => {
    const rule: LateFeeRule = { rule: 'flat', amountFen: 2000, graceDays: 10 };
    expect(accrueLateFee(rule, 50_000, '2026-01-15', '2026-01-25', 'half-up')).toEqual({ fen: 0, daysOverdue: 10, rule: 'flat' });
    expect(accrueLateFee(rule, 50_000, '2026-01-15', '2026-01-26', 'half-up')).toEqual({ fen: 2000, daysOverdue: 11, rule: 'flat' });
    // the flat fee does not grow with time or principal
    expect(accrueLateFee(rule, 1, '2026-01-15', '2027-01-15', 'half-up').fen).toBe(2000);
  });

  it('charges nothing before or on the due date, on a zero or negative principal, or with no rule', () => {
    expect(accrueLateFee(daily(5), 10_000, '2026-01-15', '2026-01-15', 'half-up')).toEqual({ fen: 0, daysOverdue: 0, rule: 'daily-rate' });
    expect(accrueLateFee(daily(5), 10_000, '2026-01-15', '2026-01-01', 'half-up')).toEqual({ fen: 0, daysOverdue: 0, rule: 'daily-rate' });
    expect(accrueLateFee(daily(5), 0, '2026-01-15', '2026-03-01', 'half-up').fen).toBe(0);
    expect(accrueLateFee(daily(5), -5000, '2026-01-15', '2026-03-01', 'half-up').fen).toBe(0);
    expect(accrueLateFee({ rule: 'flat', amountFen: 2000, graceDays: 0 }, -1, '2026-01-15', '2026-03-01', 'half-up').fen).toBe(0);
    expect(accrueLateFee({ rule: 'none' }, 10_000, '2026-01-15', '2026-03-01', 'half-up')).toEqual({ fen: 0, daysOverdue: 45, rule: 'none' });
  });
});

describe('LateFeeRule schema', () => {
  it('fills defaults and refuses rates out of range', () => {
    expect(LateFeeRule.parse({ rule: 'daily-rate', ratePerDayBp: 5 })).toEqual({ rule: 'daily-rate', ratePerDayBp: 5, graceDays: 0, capBp: 10_000 });
    expect(LateFeeRule.safeParse({ rule: 'daily-rate', ratePerDayBp: 0 }).success).toBe(false);
    expect(LateFeeRule.safeParse({ rule: 'daily-rate', ratePerDayBp: 0.5 }).success).toBe(false);
    expect(LateFeeRule.safeParse({ rule: 'flat', amountFen: 0 }).success).toBe(false);
    expect(LateFeeRule.safeParse({ rule: 'none', extra: 1 }).success).toBe(false);
  });
});
