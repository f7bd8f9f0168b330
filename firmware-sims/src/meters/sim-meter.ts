import { encodePoint, decodePoint, meterModel, planReads, type MeterModel, type RegisterPoint } from '@estate/protocol';
import type { SimClock } from './clock.js';
import { consumptionBetween, localHour, hourlyRate, unitNoise } from './consumption.js';

/** One meter on a simulated bus: which unit id answers, which model's register map it speaks. */
export type SimMeter = {
  unitId: number;
  /** A model name from protocol's METER_MODELS, e.g. "DTSY-TOU". */
  model: string;
  /** Drives the consumption profile; the same seed gives the same counters. Defaults to the unit id. */
  seed?: number;
  /** Counter reading at the clock's start, in the counter's unit. Defaults to a seeded value. */
  startReading?: number;
  serial?: string;
};

/**
 * Faults a test or demo injects at runtime. `timeout`, `exception` and `garbage` last until cleared;
 * `rollback`, `replace` and `rollover` are events that happen to the counter once, as they would to a
 * real meter, and stay done after the fault is cleared.
 */
export type MeterFault =
  | { kind: 'timeout' }
  | { kind: 'exception'; code: number }
  | { kind: 'garbage' }
  | { kind: 'rollback'; by?: number }
  | { kind: 'replace'; serial?: string; startReading?: number }
  | { kind: 'rollover'; lead?: number };
export type MeterFaultKind = MeterFault['kind'];

/** Modbus Application Protocol V1.1b3, section 7: exception codes a meter may answer with. */
export const EXCEPTION = { illegalFunction: 0x01, illegalDataAddress: 0x02, illegalDataValue: 0x03, deviceFailure: 0x04, busy: 0x06 } as const;

export type ReadAnswer = { ok: true; registers: number[] } | { ok: false; exception: number };

type Counter = { point: RegisterPoint; value: number; wrapAt: number | null; share: 'all' | 'peak' | 'valley' };

/** A meter whose registers are computed from its consumption profile at the clock's time. */
export class SimulatedMeter {
  readonly unitId: number;
  readonly model: MeterModel;
  readonly seed: number;
  serial: string;
  fault: MeterFault | null = null;
  private readonly counters: Counter[];
  private readonly readable: { table: 'holding' | 'input'; start: number; end: number }[];
  private lastAt: number;
  private cache: { at: number; words: Map<string, number>; values: Record<string, string> } | null = null;

  constructor(
    spec: SimMeter,
    private readonly clock: SimClock,
  ) {
    if (!Number.isInteger(spec.unitId) || spec.unitId < 1 || spec.unitId > 247) throw new Error(`unit id ${spec.unitId} is outside 1-247 (Modbus over Serial Line V1.02, 2.2)`);
    this.unitId = spec.unitId;
    this.model = meterModel(spec.model);
    this.seed = spec.seed ?? spec.unitId;
    this.serial = spec.serial ?? `${this.model.model}-${(this.seed >>> 0).toString(16).padStart(8, '0')}`;
    this.lastAt = clock.now();
    const start = spec.startReading ?? this.defaultStart();
    this.counters = this.model.points
      .filter((p) => p.cumulative)
      .map((point) => {
        const share = point.quantity.includes('peak') ? 'peak' : point.quantity.includes('valley') ? 'valley' : 'all';
        const value = share === 'all' ? start : share === 'peak' ? start * 0.6 : start * 0.4;
        return { point, value, wrapAt: point.rolloverAt === undefined ? null : Number(point.rolloverAt) * 10 ** point.scale, share };
      });
    // A real meter answers every register of its documented blocks (unmapped ones as 0) and refuses
    // addresses outside them with exception 0x02.
    this.readable = planReads(this.model.points).map((b) => ({ table: b.table, start: b.start, end: b.start + b.count }));
  }

  private defaultStart(): number {
    const perDay = this.model.kind === 'water' ? 0.45 : 11;
    return Math.round(perDay * (200 + 1500 * unitNoise(this.seed, 7)) * 100) / 100;
  }

  /** Answers a Read Holding / Input Registers request (Modbus Application Protocol V1.1b3, 6.3 / 6.4). */
  read(table: 'holding' | 'input', start: number, count: number): ReadAnswer {
    // 6.3: quantity of registers 1..125, else exception 03; start + quantity beyond the map: exception 02.
    if (count < 1 || count > 125) return { ok: false, exception: EXCEPTION.illegalDataValue };
    if (!this.readable.some((r) => r.table === table && start >= r.start && start + count <= r.end)) return { ok: false, exception: EXCEPTION.illegalDataAddress };
    const { words } = this.image();
    const registers: number[] = [];
    for (let a = start; a < start + count; a++) registers.push(words.get(`${table}:${a}`) ?? 0);
    return { ok: true, registers };
  }

  /** What the meter's registers say now, decoded exactly as a gateway decodes them. */
  values(): Record<string, string> {
    return { ...this.image().values };
  }

  /** Applies a fault; counter events (rollback, replace, rollover) happen now. */
  setFault(fault: MeterFault | null): void {
    this.advance();
    if (fault?.kind === 'rollback') {
      for (const c of this.counters) c.value = Math.max(0, c.value - (fault.by ?? Math.max(1, c.value * 0.05)));
    } else if (fault?.kind === 'replace') {
      const start = fault.startReading ?? Math.round(unitNoise(this.seed, 11, Date.now() & 0xffff) * 50) / 100;
      for (const c of this.counters) c.value = c.share === 'all' ? start : c.share === 'peak' ? start * 0.6 : start * 0.4;
      this.serial = fault.serial ?? `${this.model.model}-${(Date.now() & 0xffffff).toString(16)}R`;
    } else if (fault?.kind === 'rollover') {
      const wrapping = this.counters.filter((c) => c.wrapAt !== null);
      if (wrapping.length === 0) throw new Error(`model ${this.model.model} has no counter with rolloverAt; it cannot roll over`);
      for (const c of wrapping) c.value = c.wrapAt! - (fault.lead ?? 10 ** c.point.scale * 5);
    }
    this.fault = fault;
    this.cache = null;
  }

  private advance(): void {
    const now = this.clock.now();
    if (now <= this.lastAt) return;
    const kind = this.model.kind;
    const used = consumptionBetween(kind, this.seed, this.lastAt, now);
    for (const c of this.counters) {
      c.value += c.share === 'all' ? used.total : c.share === 'peak' ? used.peak : used.total - used.peak;
      // A counter with rolloverAt wraps to 0 on the step after its largest value, as its register does.
      if (c.wrapAt !== null) {
        const step = 10 ** c.point.scale;
        while (c.value >= c.wrapAt + step) c.value -= c.wrapAt + step;
      }
    }
    this.lastAt = now;
  }

  private image(): { words: Map<string, number>; values: Record<string, string> } {
    const now = this.clock.now();
    if (this.cache && this.cache.at === now) return this.cache;
    this.advance();
    const words = new Map<string, number>();
    const values: Record<string, string> = {};
    for (const point of this.model.points) {
      const registers = encodePoint(this.instantValue(point, now), point);
      registers.forEach((w, i) => words.set(`${point.table}:${point.address + i}`, w));
      values[point.quantity] = decodePoint(registers, point);
    }
    this.cache = { at: now, words, values };
    return this.cache;
  }

  private instantValue(point: RegisterPoint, now: number): string {
    const counter = this.counters.find((c) => c.point === point);
    if (counter) return decimal(counter.value, point, true);
    const { hourIndex } = localHour(now);
    const minute = Math.floor(now / 60_000);
    const rate = hourlyRate(this.model.kind, this.seed, hourIndex) * (0.6 + 0.8 * unitNoise(this.seed, 5, minute));
    const voltage = 220 + 8 * (unitNoise(this.seed, 6, minute) - 0.5);
    const pf = 0.92 + 0.06 * unitNoise(this.seed, 8, hourIndex);
    switch (point.quantity) {
      case 'voltage':
        return decimal(voltage, point);
      case 'current':
        return decimal((rate * 1000) / (voltage * pf), point);
      case 'active_power':
      case 'flow_rate':
        return decimal(rate, point);
      case 'power_factor':
        return decimal(pf, point);
      case 'frequency':
        return decimal(50 + 0.04 * (unitNoise(this.seed, 9, minute) - 0.5), point);
      case 'battery':
        return decimal(3.6 - 0.2 * unitNoise(this.seed, 10), point);
      default:
        return '0';
    }
  }
}

/** A float as the decimal text encodePoint takes, no finer than the register can hold. */
function decimal(n: number, point: RegisterPoint, truncate = false): string {
  const places = point.type.startsWith('float') ? 6 : Math.max(0, -point.scale);
  const clamped = point.type.startsWith('u') ? Math.max(0, n) : n;
  // A counter shows the units it has completed; rounding up would show a unit not yet used.
  const shown = truncate ? Math.floor(clamped * 10 ** places + 1e-7) / 10 ** places : clamped;
  return shown.toFixed(places);
}
