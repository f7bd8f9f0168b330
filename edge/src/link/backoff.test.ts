import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './backoff.js';

describe('reconnectDelay', () => {
  const options = { baseMs: 1000, maxMs: 60_000 };
  it('grows exponentially to the cap, with full jitter below it', () => {
    expect([0, 1, 2, 3, 10].map((a) => reconnectDelay(a, options, () => 0.999999))).toEqual([999, 1999, 3999, 7999, 59_999]);
    expect(reconnectDelay(5, options, () => 0)).toBe(0);
    expect(reconnectDelay(1000, options, () => 0.5)).toBe(30_000);
    const samples = Array.from({ length: 200 }, () => reconnectDelay(4, options));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(16_000);
    expect(new Set(samples).size).toBeGreaterThan(100);
  });
});
