import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../fixtures/seeded-random.js';
import { assertFen, formatYuan, parseYuanText, splitByLargestRemainder, yuanText } from './money.js';


const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('assertFen', () => {
  it('accepts safe integers, including negative ones', () => {
    for (const n of [0, 1, -1, 1234, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) expect(() => assertFen(n)).not.toThrow();
  });

  it('rejects fractions, NaN, infinities and unsafe integers', () => {
    for (const n of [0.5, 12.34, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1, 2 ** 60]) {
      expect(() => assertFen(n), String(n)).toThrow(RangeError);
    }
  });

  it('names the amount in its message', () => {
    expect(() => assertFen(1.5, 'late fee')).toThrow(/late fee must be a whole number of fen/);
  });
});

describe('splitByLargestRemainder', () => {
  it('gives the leftover fen to the largest remainders, ties to the lowest index', () => {
    expect(splitByLargestRemainder(100, [1, 1, 1])).toEqual([34, 33, 33]);
    expect(splitByLargestRemainder(2, [1, 1, 1])).toEqual([1, 1, 0]);
    expect(splitByLargestRemainder(1, [1, 1, 1, 1])).toEqual([1, 0, 0, 0]);
    // quotas 2.5, 3.75, 3.75: the two .75 remainders win, the .5 loses
    expect(splitByLargestRemainder(10, [2, 3, 3])).toEqual([2, 4, 4]);
    expect(splitByLargestRemainder(0, [3, 5])).toEqual([0, 0]);
  });

  it('splits by decimal areas exactly as written, not as binary doubles', () => {
    // 0.1 + 0.2 !== 0.3 in binary, but as decimals 0.1 + 0.2 = 0.3, so the halves are equal and the tie
    // goes to the lower index.
    expect(splitByLargestRemainder(1, [0.1, 0.2, 0.3])).toEqual([0, 0, 1]);
    expect(splitByLargestRemainder(3, [0.3, 0.1, 0.2])).toEqual([2, 0, 1]);
    expect(splitByLargestRemainder(10_000, [89.37, 120.5])).toEqual([4258, 5742]);
    expect(splitByLargestRemainder(7, [1e-7, 1e-7])).toEqual([4, 3]);
  });

  it('accepts bigint weights', () => {
    expect(splitByLargestRemainder(100, [1n, 2n, 3n])).toEqual([17, 33, 50]);
    expect(splitByLargestRemainder(1, [10n ** 30n, 10n ** 30n + 1n])).toEqual([0, 1]);
  });

  it('gives nothing to zero weights', () => {
    expect(splitByLargestRemainder(99, [0, 5, 0, 5])).toEqual([0, 50, 0, 49]);
  });

  it('mirrors a negative total', () => {
    expect(splitByLargestRemainder(-100, [1, 1, 1])).toEqual([-34, -33, -33]);
    expect(splitByLargestRemainder(-1, [1, 1])).toEqual([-1, 0]);
    expect(Object.is(splitByLargestRemainder(-1, [1, 1])[1], 0)).toBe(true);
  });

  it('always adds up, and never strays a whole fen from the exact quota (random cases)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const next = seededRandom(seed);
      const count = 1 + Math.floor(next() * 40);
      const decimal = next() < 0.5;
      const weights = Array.from({ length: count }, () => {
        if (next() < 0.1) return 0;
        return decimal ? Math.round(next() * 20_000) / 100 : Math.floor(next() * 1000);
      });
      if (!weights.some((w) => w > 0)) weights[0] = 1;
      const total = Math.floor((next() - 0.2) * 10 ** (1 + Math.floor(next() * 9)));

      const parts = splitByLargestRemainder(total, weights);

      expect(parts, `seed ${seed}`).toHaveLength(count);
      expect(sum(parts), `seed ${seed}`).toBe(total);
      const weightSum = sum(weights);
      parts.forEach((part, i) => {
        expect(Number.isSafeInteger(part), `seed ${seed}`).toBe(true);
        const quota = (total * weights[i]!) / weightSum;
        expect(Math.abs(part - quota), `seed ${seed} part ${i}`).toBeLessThan(1 + 1e-6);
        if (weights[i] === 0) expect(part, `seed ${seed}`).toBe(0);
      });
    }
  });

  it('adds up for a community-sized split (20,000 houses)', () => {
    const next = seededRandom(42);
    const areas = Array.from({ length: 20_000 }, () => Math.round((40 + next() * 160) * 100) / 100);
    const total = 123_456_789;
    expect(sum(splitByLargestRemainder(total, areas))).toBe(total);
  });

  it('rejects bad input with a RangeError', () => {
    expect(() => splitByLargestRemainder(100, [])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(100, [0, 0])).toThrow(/must not all be zero/);
    expect(() => splitByLargestRemainder(100, [1, -1])).toThrow(/weight 1/);
    expect(() => splitByLargestRemainder(100, [1n, -1n])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(100, [1, NaN])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(100, [1, Infinity])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(10.5, [1, 1])).toThrow(/total must be a whole number/);
    expect(() => splitByLargestRemainder(Number.MAX_SAFE_INTEGER + 1, [1])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(NaN, [1])).toThrow(RangeError);
  });
});

describe('formatYuan', () => {
  it('formats fen as yuan with two decimals', () => {
    expect(formatYuan(1234)).toBe('¥12.34');
    expect(formatYuan(5)).toBe('¥0.05');
    expect(formatYuan(0)).toBe('¥0.00');
    expect(formatYuan(-0)).toBe('¥0.00');
    expect(formatYuan(100)).toBe('¥1.00');
    expect(formatYuan(123456)).toBe('¥1234.56');
    expect(formatYuan(-5)).toBe('-¥0.05');
    expect(formatYuan(Number.MAX_SAFE_INTEGER)).toBe('¥90071992547409.91');
  });

  it('refuses what is not fen', () => {
    expect(() => formatYuan(12.34)).toThrow(RangeError);
    expect(() => formatYuan(NaN)).toThrow(RangeError);
  });
});

describe('parseYuanText and yuanText', () => {
  it('reads providers’ yuan text as exact fen and writes it back', () => {
    expect(parseYuanText('0.01')).toBe(1);
    expect(parseYuanText('12.3')).toBe(1230);
    expect(parseYuanText('100')).toBe(10_000);
    expect(parseYuanText('-12.30', { allowNegative: true })).toBe(-1230);
    expect(Object.is(parseYuanText('-0.00', { allowNegative: true }), 0)).toBe(true);
    expect(yuanText(1230)).toBe('12.30');
    expect(yuanText(-5)).toBe('-0.05');
  });

  it('refuses what is not such an amount, never guessing', () => {
    for (const bad of ['1.234', '-1', '', '1e2', ' 1', '01', '.5', '1.', '90071992547409.92']) {
      expect(() => parseYuanText(bad), bad).toThrow(RangeError);
    }
    expect(() => parseYuanText(12)).toThrow(TypeError);
  });
});
