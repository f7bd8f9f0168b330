/**
 * How a household uses electricity and water over a day, deterministic per meter seed, so a simulated
 * meter's counter is the same on every machine and a test can predict it.
 *
 * Profiles are hourly weights in the community's local time (Asia/Shanghai, UTC+8, no daylight saving):
 * electricity peaks in the evening and idles at night (a household uses about 8-15 kWh a day); water is
 * drawn mostly in the morning and the evening (about 0.3-0.6 m3 a day).
 */

export type ConsumptionKind = 'electricity' | 'water' | 'gas' | 'heat';

const LOCAL_OFFSET_MS = 8 * 3_600_000;
const HOUR_MS = 3_600_000;

// prettier-ignore
const ELECTRICITY_WEIGHTS = [0.3, 0.25, 0.22, 0.2, 0.2, 0.25, 0.6, 0.9, 0.8, 0.6, 0.55, 0.6, 0.8, 0.65, 0.55, 0.55, 0.7, 1.1, 1.7, 2.0, 2.0, 1.8, 1.3, 0.7];
// prettier-ignore
const WATER_WEIGHTS = [0.05, 0.02, 0.02, 0.02, 0.03, 0.2, 1.6, 2.4, 1.5, 0.6, 0.5, 0.8, 0.9, 0.5, 0.3, 0.3, 0.4, 0.8, 1.6, 2.0, 1.8, 1.2, 0.7, 0.3];

function normalise(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / sum);
}
const SHARES: Record<ConsumptionKind, number[]> = {
  electricity: normalise(ELECTRICITY_WEIGHTS),
  water: normalise(WATER_WEIGHTS),
  gas: normalise(WATER_WEIGHTS),
  heat: normalise(ELECTRICITY_WEIGHTS.map(() => 1)),
};
/** Daily use of a household, [low, high], in the kind's counter unit. */
const DAILY_RANGE: Record<ConsumptionKind, readonly [number, number]> = {
  electricity: [8, 15],
  water: [0.3, 0.6],
  gas: [0.5, 1.5],
  heat: [20, 60],
};

/** A stateless hash of integers to [0, 1): noise that depends only on (seed, day, hour), never on call order. */
export function unitNoise(seed: number, a: number, b = 0): number {
  let h = (seed ^ Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x632be5ab, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

export function localHour(atMs: number): { hourIndex: number; hourOfDay: number; dayIndex: number } {
  const hourIndex = Math.floor((atMs + LOCAL_OFFSET_MS) / HOUR_MS);
  return { hourIndex, hourOfDay: ((hourIndex % 24) + 24) % 24, dayIndex: Math.floor(hourIndex / 24) };
}

/** Peak / valley tariff hours of a time-of-use meter: 08:00-22:00 is peak. */
export function isPeakHour(hourOfDay: number): boolean {
  return hourOfDay >= 8 && hourOfDay < 22;
}

/**
 * The household's use rate, in counter units per hour, during one local hour. Each meter has its own
 * level within the daily range, each day varies by +-15 %, each hour by +-30 %.
 */
export function hourlyRate(kind: ConsumptionKind, seed: number, hourIndex: number): number {
  const [low, high] = DAILY_RANGE[kind];
  const level = low + (high - low) * (0.15 + 0.7 * unitNoise(seed, 1));
  const dayIndex = Math.floor(hourIndex / 24);
  const hourOfDay = ((hourIndex % 24) + 24) % 24;
  const dayFactor = 0.85 + 0.3 * unitNoise(seed, 2, dayIndex);
  const hourFactor = 0.7 + 0.6 * unitNoise(seed, 3, hourIndex);
  return level * dayFactor * SHARES[kind][hourOfDay]! * hourFactor;
}

/** What a counter gained between two instants, hour by hour: [total, of which in peak hours]. */
export function consumptionBetween(kind: ConsumptionKind, seed: number, fromMs: number, toMs: number): { total: number; peak: number } {
  let total = 0;
  let peak = 0;
  let at = fromMs;
  while (at < toMs) {
    const { hourIndex, hourOfDay } = localHour(at);
    const hourEnd = (hourIndex + 1) * HOUR_MS - LOCAL_OFFSET_MS;
    const until = Math.min(toMs, hourEnd);
    const used = (hourlyRate(kind, seed, hourIndex) * (until - at)) / HOUR_MS;
    total += used;
    if (isPeakHour(hourOfDay)) peak += used;
    at = until;
  }
  return { total, peak };
}
