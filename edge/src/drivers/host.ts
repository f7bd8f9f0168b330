import { AsyncLocalStorage } from 'node:async_hooks';
import type { DeviceAvailability, GatewayConfig, GatewayHealth, MeterReading } from '@estate/protocol';
import type { EventBus } from '../event-bus.js';
import type { Driver } from './driver.js';
import { errorText, type Logger } from '../log.js';

/** A driver as edge/src/drivers/driver.ts defines it; meter drivers also poll one meter on demand. */
export type HostedDriver = Driver & {
  /** Polls one meter now, outside its schedule; the reading also arrives through onReading. */
  readNow?(meterId: string): Promise<unknown>;
};

export type DriverReading = { meterId: string; readAt: string | Date; values: MeterReading['values'] };
export type DriverAvailability = { deviceId: string; available: boolean; reason: string | null; since: string | Date };
export type DeviceKind = DeviceAvailability['kind'];

export type DriverEvents = {
  reading: { driver: string; reading: DriverReading };
  deviceAvailability: { driver: string; kind: DeviceKind; availability: DriverAvailability };
};

/** What a driver is given: its config and the callbacks into the gateway. Callbacks never throw. */
export type DriverContext = {
  config: GatewayConfig;
  log: Logger;
  onReading(reading: DriverReading): void;
  onAvailability(availability: DriverAvailability): void;
};

/** How the gateway makes a driver; `name` is known even when `create` fails. */
export type DriverFactory = { name: string; deviceKind: DeviceKind; create(context: DriverContext): HostedDriver | Promise<HostedDriver> };

type DriverHealth = GatewayHealth['drivers'][number];
type Slot = { name: string; driver: HostedDriver | null; failure: string | null };

const START_TIMEOUT_MS = 30_000;
/** Which driver the running code belongs to; survives timers and promises, so escaped errors are attributed. */
const driverScope = new AsyncLocalStorage<{ driver: string }>();

/**
 * Runs drivers in isolation: a driver that throws while being created or started, from status() or
 * readNow(), or from its own timers (an error escaping to the process, attributed through
 * AsyncLocalStorage), is logged and marked failed; the other drivers go on.
 */
export class DriverHost {
  private slots: Slot[] = [];
  private readonly handlers: { uncaught: (error: Error) => void; rejection: (reason: unknown) => void } | null;

  constructor(
    private readonly bus: EventBus<DriverEvents>,
    private readonly log: Logger,
    options: { isolateUncaught?: boolean; onUnattributedError?: (error: unknown) => void } = {},
  ) {
    if (!options.isolateUncaught) {
      this.handlers = null;
      return;
    }
    const escaped = (error: unknown) => {
      const scope = driverScope.getStore();
      if (scope) this.markFailed(scope.driver, error);
      else (options.onUnattributedError ?? ((e) => this.log.error('uncaught error outside any driver', { error: errorText(e) })))(error);
    };
    this.handlers = { uncaught: escaped, rejection: escaped };
    process.on('uncaughtException', this.handlers.uncaught);
    process.on('unhandledRejection', this.handlers.rejection);
  }

  async start(factories: readonly DriverFactory[], config: GatewayConfig): Promise<void> {
    this.slots = factories.map((f) => ({ name: f.name, driver: null, failure: null }));
    await Promise.all(factories.map((factory, i) => this.startOne(factory, this.slots[i]!, config)));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.driver) return;
        try {
          await withTimeout(driverScope.run({ driver: slot.name }, () => slot.driver!.stop()), START_TIMEOUT_MS, 'stop');
        } catch (error) {
          this.log.error('driver failed to stop', { driver: slot.name, error: errorText(error) });
        }
      }),
    );
    this.slots = [];
  }

  /** Removes the process-level handlers; the host cannot isolate escaped errors afterwards. */
  dispose(): void {
    if (!this.handlers) return;
    process.off('uncaughtException', this.handlers.uncaught);
    process.off('unhandledRejection', this.handlers.rejection);
  }

  markFailed(name: string, error: unknown): void {
    const slot = this.slots.find((s) => s.name === name);
    this.log.error('driver failed; the other drivers go on', { driver: name, error: errorText(error) });
    if (slot) slot.failure = errorText(error).slice(0, 500);
  }

  health(): DriverHealth[] {
    return this.slots.map((slot) => {
      const failed = (lastError: string): DriverHealth => ({ name: slot.name, status: 'failed', devices: 0, unavailable: 0, lastError: lastError.slice(0, 500) });
      if (!slot.driver) return failed(slot.failure ?? 'not started');
      try {
        const s = driverScope.run({ driver: slot.name }, () => slot.driver!.status());
        if (slot.failure) return { name: slot.name, status: 'failed', devices: s.devices, unavailable: s.unavailable, lastError: slot.failure };
        return { name: slot.name, status: s.status, devices: s.devices, unavailable: s.unavailable, lastError: s.lastError?.slice(0, 500) ?? null };
      } catch (error) {
        return failed(`status() threw: ${errorText(error)}`);
      }
    });
  }

  /** Asks the meter driver(s) to read one meter now; the first driver that knows the meter answers. */
  async readNow(meterId: string): Promise<unknown> {
    const candidates = this.slots.filter((s) => s.driver?.readNow && !s.failure);
    if (candidates.length === 0) throw new Error('no running meter driver');
    let lastError: unknown = null;
    for (const slot of candidates) {
      try {
        return await driverScope.run({ driver: slot.name }, () => slot.driver!.readNow!(meterId));
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  private async startOne(factory: DriverFactory, slot: Slot, config: GatewayConfig): Promise<void> {
    const log = this.log.child({ driver: factory.name });
    const context: DriverContext = {
      config,
      log,
      onReading: (reading) => this.bus.emit('reading', { driver: factory.name, reading }),
      onAvailability: (availability) => this.bus.emit('deviceAvailability', { driver: factory.name, kind: factory.deviceKind, availability }),
    };
    try {
      await driverScope.run({ driver: factory.name }, async () => {
        const driver = await factory.create(context);
        slot.driver = driver;
        await withTimeout(driver.start(), START_TIMEOUT_MS, 'start');
      });
      log.info('driver started');
    } catch (error) {
      this.markFailed(factory.name, error);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
