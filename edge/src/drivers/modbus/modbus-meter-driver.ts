import { decodePoint, DecimalString, meterModel, planReads, type RegisterPoint, type GatewayConfig, type MeterConfig, type MeterReading, type ReadBlock, type DeviceAvailability } from '@estate/protocol';
import { silentLog, type Driver, type DriverLog, type DriverStatus } from '../driver.js';
import { BusLink, type Backoff } from './bus-link.js';
import { ModbusRequestError } from './response-framer.js';

/** A reading before the runtime gives it its gateway sequence number. */
export type MeterReadingDraft = Omit<MeterReading, 'seq'>;
export type MeterAvailabilityChange = Pick<DeviceAvailability, 'deviceId' | 'available' | 'reason' | 'since'>;
/** One poll of one meter, for metrics and the bench. */
export type PollOutcome = { meterId: string; ok: boolean; durationMs: number; registers: number; error: string | null };

export type ModbusDriverOptions = {
  config: GatewayConfig['modbus'];
  onReading: (reading: MeterReadingDraft) => void;
  onAvailability?: (change: MeterAvailabilityChange) => void;
  onPoll?: (outcome: PollOutcome) => void;
  log?: DriverLog;
  /** Consecutive failed polls before a meter is marked unavailable. */
  failuresBeforeUnavailable?: number;
  /** How long an unavailable meter is skipped: doubles from initialMs up to maxMs while it stays dead. */
  unavailableBackoff?: Backoff;
  reconnect?: Backoff;
  /** Poll every meter this often instead of its pollSeconds (0: back to back). For live view and the bench. */
  pollIntervalMs?: number;
  random?: () => number;
};

type MeterState = {
  config: MeterConfig;
  blocks: ReadBlock[];
  registers: number;
  periodMs: number;
  nextDue: number;
  failures: number;
  available: boolean | null;
  backoffMs: number;
};
type Urgent = { meter: MeterState; resolve: (r: MeterReadingDraft) => void; reject: (e: Error) => void };
type Bus = { link: BusLink; meters: MeterState[]; urgent: Urgent[]; wake: (() => void) | null; runner: Promise<void> | null };

/**
 * Polls Modbus meters on their own schedules and hands each reading to the runtime. Each bus runs one
 * request at a time; a meter that stops answering is skipped with growing back-off, so it cannot stall the
 * meters that share its bus; a bus that cannot connect reconnects with backoff. Nothing throws out of it.
 *
 * @example
 * const driver = new ModbusMeterDriver({ config: config.modbus, onReading: (r) => outbox.add(r) });
 * await driver.start();
 */
export class ModbusMeterDriver implements Driver {
  readonly name = 'modbus-meters';
  private readonly buses = new Map<string, Bus>();
  private readonly meters = new Map<string, { bus: Bus; state: MeterState }>();
  private readonly log: DriverLog;
  private readonly failuresBeforeUnavailable: number;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private running = false;
  private lastError: string | null = null;

  constructor(private readonly options: ModbusDriverOptions) {
    this.log = options.log ?? silentLog;
    this.random = options.random ?? Math.random;
    this.failuresBeforeUnavailable = options.failuresBeforeUnavailable ?? 3;
    this.backoff = options.unavailableBackoff ?? { initialMs: 60_000, maxMs: 15 * 60_000 };
    if (!(this.failuresBeforeUnavailable >= 1)) throw new Error('failuresBeforeUnavailable must be at least 1');
    const reconnect = options.reconnect ?? { initialMs: 500, maxMs: 30_000 };
    for (const busConfig of options.config.buses) {
      if (!options.config.meters.some((m) => m.bus === busConfig.id)) continue;
      const bus: Bus = { meters: [], urgent: [], wake: null, runner: null, link: null as unknown as BusLink };
      bus.link = new BusLink(busConfig, { log: this.log, reconnect, random: this.random, onConnection: (up, reason) => this.onConnection(bus, up, reason) });
      this.buses.set(busConfig.id, bus);
    }
    for (const config of options.config.meters) {
      const bus = this.buses.get(config.bus);
      if (!bus) throw new Error(`meter "${config.id}" is on bus "${config.bus}", which is not configured`);
      const blocks = planReads(meterModel(config.model).points);
      const periodMs = options.pollIntervalMs ?? config.pollSeconds * 1000;
      const state: MeterState = { config, blocks, registers: blocks.reduce((n, b) => n + b.count, 0), periodMs, nextDue: 0, failures: 0, available: null, backoffMs: this.backoff.initialMs };
      bus.meters.push(state);
      this.meters.set(config.id, { bus, state });
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const now = performance.now();
    for (const bus of this.buses.values()) {
      // Spread first polls over up to 30 s so meters on one bus do not all fire at once.
      for (const meter of bus.meters) meter.nextDue = now + this.random() * Math.min(meter.periodMs, 30_000);
      bus.link.start();
      this.launch(bus);
    }
  }

  /** Runs a bus's scheduler, and starts it again if it ever throws: a bus must never go quiet unnoticed. */
  private launch(bus: Bus): void {
    bus.runner = this.run(bus).catch((error: unknown) => {
      this.lastError = `bus ${bus.link.bus.id} scheduler: ${(error as Error).message}`;
      this.log.warn('modbus scheduler failed; restarting it in 1 s', { bus: bus.link.bus.id, error: this.lastError });
      if (this.running) setTimeout(() => this.running && this.launch(bus), 1000).unref();
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const bus of this.buses.values()) {
      bus.wake?.();
      for (const job of bus.urgent.splice(0)) job.reject(new Error('the Modbus driver stopped'));
    }
    await Promise.all([...this.buses.values()].map((bus) => bus.link.stop()));
    await Promise.all([...this.buses.values()].map((bus) => bus.runner));
  }

  status(): DriverStatus {
    const devices = this.meters.size;
    let unavailable = 0;
    for (const { state } of this.meters.values()) if (state.available === false) unavailable++;
    if (!this.running) return { status: 'stopped', devices, unavailable, lastError: this.lastError };
    const busesDown = [...this.buses.values()].filter((b) => !b.link.connected).length;
    const failed = devices > 0 && (unavailable === devices || busesDown === this.buses.size);
    const status = failed ? 'failed' : unavailable > 0 || busesDown > 0 ? 'degraded' : 'running';
    return { status, devices, unavailable, lastError: this.lastError };
  }

  /**
   * Polls one meter now, ahead of its bus's schedule and its back-off (the `meter.read-now` command).
   * The reading also goes to onReading, like any other.
   */
  readNow(meterId: string): Promise<MeterReadingDraft> {
    const entry = this.meters.get(meterId);
    if (!entry) return Promise.reject(new Error(`no meter "${meterId}" is configured`));
    if (!this.running) return Promise.reject(new Error('the Modbus driver is not running'));
    if (!entry.bus.link.connected) return Promise.reject(new Error(`bus "${entry.state.config.bus}" is not connected: ${entry.bus.link.lastError ?? 'connecting'}`));
    return new Promise((resolve, reject) => {
      entry.bus.urgent.push({ meter: entry.state, resolve, reject });
      entry.bus.wake?.();
    });
  }

  private async run(bus: Bus): Promise<void> {
    while (this.running) {
      if (!bus.link.connected) {
        await bus.link.waitConnected();
        continue;
      }
      const urgent = bus.urgent.shift();
      if (urgent) {
        const reading = await this.poll(bus, urgent.meter, true);
        if (reading) urgent.resolve(reading);
        else urgent.reject(new Error(`meter "${urgent.meter.config.id}" did not answer: ${this.lastError ?? 'unknown error'}`));
        continue;
      }
      let next: MeterState | null = null;
      for (const meter of bus.meters) if (!next || meter.nextDue < next.nextDue) next = meter;
      if (!next) return;
      const wait = next.nextDue - performance.now();
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          bus.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        bus.wake = null;
        continue;
      }
      await this.poll(bus, next, false);
    }
  }

  /** Reads every block of one meter and decodes it; null when the meter failed this poll. */
  private async poll(bus: Bus, meter: MeterState, urgent: boolean): Promise<MeterReadingDraft | null> {
    const started = performance.now();
    const { config } = meter;
    // Retries go to meters that answered last time; a meter already failing gets one try per poll, so a
    // dead one costs the bus one timeout per poll, not (1 + retries).
    const attempts = 1 + (meter.failures === 0 || urgent ? config.retries : 0);
    let error: ModbusRequestError | Error | null = null;
    const values: MeterReadingDraft['values'] = {};
    try {
      for (const block of meter.blocks) {
        const registers = await this.readWithRetries(bus.link, config, block, attempts);
        for (const point of block.points) {
          const value = this.decode(config.id, registers.slice(point.address - block.start), point);
          if (value !== null) values[point.quantity] = { value, unit: point.unit };
        }
      }
      if (Object.keys(values).length === 0) error = new Error('no register held a readable value');
    } catch (e) {
      error = e as Error;
    }
    const durationMs = performance.now() - started;
    this.schedule(meter);
    try {
      this.options.onPoll?.({ meterId: config.id, ok: error === null, durationMs, registers: error ? 0 : meter.registers, error: error?.message ?? null });
    } catch (e) {
      // An observer's bug must not stop the polling it observes.
      this.lastError = `onPoll: ${(e as Error).message}`;
    }
    if (error) {
      this.onFailure(meter, error);
      return null;
    }
    const reading: MeterReadingDraft = { meterId: config.id, readAt: new Date().toISOString(), values };
    this.setAvailable(meter, true, null);
    meter.failures = 0;
    meter.backoffMs = this.backoff.initialMs;
    try {
      this.options.onReading(reading);
    } catch (e) {
      this.lastError = `onReading for ${config.id}: ${(e as Error).message}`;
      this.log.warn('reading handler failed', { meterId: config.id, error: this.lastError });
    }
    return reading;
  }

  /**
   * A value the reading schema cannot carry (NaN, 1e30, more than 15 digits) is left out of the reading,
   * not the whole reading: one broken instantaneous register must not stop the billing counter.
   */
  private decode(meterId: string, registers: number[], point: RegisterPoint): string | null {
    let value: string;
    try {
      value = decodePoint(registers, point);
    } catch (e) {
      value = (e as Error).message;
    }
    if (DecimalString.safeParse(value).success) return value;
    this.lastError = `${meterId}.${point.quantity}: ${value.slice(0, 120)}`;
    this.log.warn('register value left out of the reading', { meterId, quantity: point.quantity, error: this.lastError });
    return null;
  }

  private async readWithRetries(link: BusLink, config: MeterConfig, block: ReadBlock, attempts: number): Promise<number[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await link.read(config.unitId, block.table, block.start, block.count, config.timeoutMs);
      } catch (error) {
        const e = error as ModbusRequestError;
        // Exceptions 01-04 are the meter's considered answer (Application Protocol 7): asking again gets
        // the same. Busy (06), acknowledge (05), gateway (0A, 0B), silence and noise may pass.
        const permanent = e.kind === 'exception' && e.exceptionCode !== null && e.exceptionCode <= 4;
        if (attempt >= attempts || permanent || e.kind === 'offline' || !this.running) throw error;
      }
    }
  }

  private schedule(meter: MeterState): void {
    const now = performance.now();
    // Keep the meter's rhythm (due + period); a slot the bus was too busy for is skipped, not caught up.
    const next = meter.nextDue + meter.periodMs;
    meter.nextDue = meter.periodMs === 0 ? now : next <= now ? now + meter.periodMs : next;
  }

  private onFailure(meter: MeterState, error: Error): void {
    const { config } = meter;
    this.lastError = `${config.id}: ${error.message}`;
    if (error instanceof ModbusRequestError && error.kind === 'offline') return; // the bus is down, not the meter
    meter.failures++;
    this.log.debug('meter poll failed', { meterId: config.id, failures: meter.failures, error: error.message });
    if (meter.failures < this.failuresBeforeUnavailable) return;
    // Skip the meter for its back-off, then probe it once; each failed probe doubles the back-off.
    meter.nextDue = performance.now() + meter.backoffMs;
    this.log.warn('meter unavailable, backing off', { meterId: config.id, backoffMs: meter.backoffMs, error: error.message });
    meter.backoffMs = Math.min(meter.backoffMs * 2, this.backoff.maxMs);
    this.setAvailable(meter, false, `${meter.failures} polls failed: ${error.message}`.slice(0, 300));
  }

  private onConnection(bus: Bus, connected: boolean, reason: string | null): void {
    if (connected) {
      // Meters come back on their first good poll; those overdue start promptly, still spread out.
      const now = performance.now();
      for (const meter of bus.meters) if (meter.nextDue <= now) meter.nextDue = now + this.random() * Math.min(meter.periodMs, 5000);
      return;
    }
    this.lastError = reason;
    for (const meter of bus.meters) this.setAvailable(meter, false, reason);
  }

  private setAvailable(meter: MeterState, available: boolean, reason: string | null): void {
    if (meter.available === available) return;
    meter.available = available;
    try {
      this.options.onAvailability?.({ deviceId: meter.config.id, available, reason, since: new Date().toISOString() });
    } catch (e) {
      this.log.warn('availability handler failed', { meterId: meter.config.id, error: (e as Error).message });
    }
  }
}
