import type { ReadingAnomaly } from './meters.schema.js';

/**
 * Anomaly rules for cumulative meter readings. Pure: the ingest, manual entry and the CSV import all
 * call these with the meter's timeline, so one reading is judged the same way whatever its source.
 *
 * Values are handled as integer micro-units (numeric(20, 6) in the table): a counter compared as a
 * float would call 0.1 + 0.2 "backwards" sooner or later.
 */

/** How many earlier intervals the spike rule looks at (the "recent typical rate"). */
export const SPIKE_WINDOW = 8;
/** A spike needs this many earlier intervals; with fewer the meter has no typical rate yet. */
export const SPIKE_MIN_INTERVALS = 3;
/** A rate more than this many times the median of the window is a spike... */
export const SPIKE_FACTOR = 10;
/**
 * ...and above this absolute rate per hour, so a vacant flat (median ≈ 0) drawing a kettle's worth is
 * not flagged. 2 kWh/h is a home on full load; 0.2 m³/h is a shower running all hour.
 */
export const SPIKE_FLOOR_PER_HOUR: Record<string, number> = { kWh: 2, m3: 0.2 };
const DEFAULT_SPIKE_FLOOR_PER_HOUR = 1;
/** An interval longer than this many poll periods is a gap: polls were missed. */
export const GAP_FACTOR = 3;
/**
 * A decrease is a wrap (rollover) only when the previous value was in the top tenth of the counter's
 * range and the new one is in the bottom tenth; any other decrease is `backwards`.
 */
const ROLLOVER_NEAR = 10n;

const MICRO = 1_000_000n;

/** The facts about a meter the rules need. */
export type MeterRules = {
  unit: string;
  pollSeconds: number;
  /** Gap detection applies only to meters a gateway polls on a schedule; hand-read meters have none. */
  polled: boolean;
  /** The counter wraps to 0 at this many micro-units ((rolloverAt + 1) × 10^scale), if it wraps at all. */
  rolloverModulusMicro: bigint | null;
};

/** `polled: false` marks a hand-read or imported reading: no poll was due since it, so no gap is measured from it. */
export type TimelinePoint = { atMs: number; micro: bigint; polled?: boolean };

/** "12.5" -> 12500000n. Throws on text that is not a decimal with at most six places. */
export function toMicro(value: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,6})0*)?$/.exec(value.trim());
  if (!m) throw new Error(`"${value}" is not a decimal with at most 6 places`);
  const micro = BigInt(m[2]!) * MICRO + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] ? -micro : micro;
}

/** 12500000n -> "12.5" (no trailing zeros). */
export function fromMicro(micro: bigint): string {
  const negative = micro < 0n;
  const abs = negative ? -micro : micro;
  const frac = (abs % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${abs / MICRO}${frac ? `.${frac}` : ''}`;
}

/** The counter's wrap point in micro-units for a register point's `rolloverAt` (raw) and `scale`. */
export function rolloverModulusMicro(rolloverAt: string | undefined, scale: number): bigint | null {
  if (rolloverAt === undefined) return null;
  // raw × 10^scale units = raw × 10^(scale + 6) micro-units; scale is at least -6 (register-map.ts).
  return (BigInt(rolloverAt) + 1n) * 10n ** BigInt(scale + 6);
}

export type Consumption = { kind: 'normal' | 'rollover' | 'backwards'; micro: bigint };

/**
 * What was consumed between two readings. Across a wrap the counter went up to its modulus and on from
 * 0, so consumption continues: 999999.90 -> 0.05 on a counter that wraps at 1000000.00 is 0.15.
 *
 * @example
 * consumptionBetween(toMicro('999999.90'), toMicro('0.05'), toMicro('1000000')) // { kind: 'rollover', micro: 150000n }
 */
export function consumptionBetween(previous: bigint, next: bigint, modulus: bigint | null): Consumption {
  if (next >= previous) return { kind: 'normal', micro: next - previous };
  if (modulus !== null && previous * ROLLOVER_NEAR >= modulus * (ROLLOVER_NEAR - 1n) && next * ROLLOVER_NEAR < modulus) {
    return { kind: 'rollover', micro: modulus - previous + next };
  }
  return { kind: 'backwards', micro: next - previous };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Units per hour over one interval, or null when the interval ran backwards (no rate to speak of). */
function ratePerHour(a: TimelinePoint, b: TimelinePoint, modulus: bigint | null): number | null {
  const c = consumptionBetween(a.micro, b.micro, modulus);
  if (c.kind === 'backwards') return null;
  return Number(c.micro) / 1e6 / ((b.atMs - a.atMs) / 3_600_000);
}

/**
 * The anomalies of `reading` given the readings before it (ascending by time; only the last
 * SPIKE_WINDOW + 1 matter). The rules:
 * - `backwards`: the value decreased and it is not a wrap.
 * - `rollover`: the value decreased across the counter's wrap; consumption continues (see consumptionBetween).
 * - `spike`: the rate since the previous reading is above SPIKE_FACTOR × the median rate of the last
 *   SPIKE_WINDOW intervals (at least SPIKE_MIN_INTERVALS of them) and above SPIKE_FLOOR_PER_HOUR.
 * - `gap`: a polled meter's reading came more than GAP_FACTOR poll periods after the previous polled one
 *   (after a hand-read round, the gateway's first reading is not a missed poll).
 *
 * @example
 * detectAnomalies([{ atMs: 0, micro: 100_000000n }], { atMs: 900_000, micro: 99_500000n }, rules) // ['backwards']
 */
export function detectAnomalies(before: readonly TimelinePoint[], reading: TimelinePoint, rules: MeterRules): ReadingAnomaly[] {
  const previous = before.at(-1);
  if (!previous) return [];
  const anomalies: ReadingAnomaly[] = [];
  const modulus = rules.rolloverModulusMicro;
  const step = consumptionBetween(previous.micro, reading.micro, modulus);
  if (step.kind === 'backwards') anomalies.push('backwards');
  if (step.kind === 'rollover') anomalies.push('rollover');
  if (step.kind !== 'backwards') {
    const window = before.slice(-(SPIKE_WINDOW + 1));
    const rates: number[] = [];
    for (let i = 1; i < window.length; i++) {
      const rate = ratePerHour(window[i - 1]!, window[i]!, modulus);
      if (rate !== null) rates.push(rate);
    }
    const rate = ratePerHour(previous, reading, modulus)!;
    const floor = SPIKE_FLOOR_PER_HOUR[rules.unit] ?? DEFAULT_SPIKE_FLOOR_PER_HOUR;
    if (rates.length >= SPIKE_MIN_INTERVALS && rate > SPIKE_FACTOR * median(rates) && rate > floor) anomalies.push('spike');
  }
  if (rules.polled && previous.polled !== false && reading.atMs - previous.atMs > GAP_FACTOR * rules.pollSeconds * 1000) anomalies.push('gap');
  return anomalies;
}

export function sameAnomalies(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
