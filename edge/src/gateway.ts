import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { MeterReading, type DeviceAvailability, type GatewayAddress, type GatewayConfig, type GatewayHealth, type GattCentral } from '@estate/protocol';
import packageJson from '../package.json' with { type: 'json' };
import { CommandJournal } from './commands/journal.js';
import { CommandProcessor, type CommandCounters, type CommandOutcome } from './commands/command-processor.js';
import { ConfigStore } from './config/config-store.js';
import { applyConfigOverrides, checkGatewayConfig, type ConfigOverrides } from './config/load-config.js';
import { DriverHost, type DriverEvents, type DriverFactory } from './drivers/host.js';
import { EventBus } from './event-bus.js';
import { AvailabilityPublisher } from './link/availability.js';
import type { BackoffOptions } from './link/backoff.js';
import { CloudLink } from './link/cloud-link.js';
import { createLogger, errorText, type Logger } from './log.js';
import { Outbox, OutboxFullError, type OutboxStats } from './outbox/outbox.js';
import { OutboxPublisher } from './outbox/publisher.js';
import { openGatewayStore } from './outbox/store.js';
import { HealthReporter, gatewayHealth } from './telemetry.js';
import { DoorService } from './doors/door-service.js';
import { DoorState } from './doors/door-state.js';

export const GATEWAY_VERSION = packageJson.version;

export type StartGatewayOptions = {
  /** The config from the file (the bootstrap); a config applied later by the cloud wins while it is unchanged. */
  config: GatewayConfig;
  /** Outbox, command journal and configs live here. */
  dataDir: string;
  drivers?: readonly DriverFactory[];
  log?: Logger;
  /** Environment overrides, applied to configs pushed with `config.apply` too. */
  overrides?: ConfigOverrides;
  backoff?: BackoffOptions;
  /** How long a pushed config has to reach the cloud before it is rolled back. Default 30 s. */
  applyTimeoutMs?: number;
  /** Catch errors escaping drivers at process level (uncaughtException); the CLI turns this on. */
  isolateUncaught?: boolean;
  onUnattributedError?: (error: unknown) => void;
  /**
   * Door locks over BLE. `openCentral` gives the radio: the noble adapter in hardware mode (see main.ts),
   * a simulated radio in the demo and tests. `reader` is where door readers push QR codes (port 0: any).
   */
  doors?: { openCentral: () => Promise<GattCentral>; reader?: { host: string; port: number } | null; statusEveryMs?: number; now?: () => Date };
};

export type ReadingCounters = { stored: number; invalid: number; refused: number };

export interface Gateway {
  readonly bootId: string;
  readonly outbox: Outbox;
  config(): GatewayConfig;
  isConnected(): boolean;
  health(): Omit<GatewayHealth, 'seq'>;
  outboxStats(): OutboxStats;
  commandCounters(): CommandCounters;
  readingCounters(): ReadingCounters;
  devices(): DeviceAvailability[];
  /** The door service, when the gateway runs doors. */
  readonly doors: DoorService | null;
  /** Stores a telemetry record now; returns its seq, or null if the quota refused it. */
  reportHealth(): number | null;
  /** Resolves when commands taken so far are answered. */
  commandsIdle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts one community's gateway: the durable outbox and its publisher, the MQTT link, the drivers
 * (isolated), commands and health telemetry.
 *
 * @example
 * const gateway = await startGateway({ config, dataDir: '/var/lib/estate-edge', drivers: [modbusDriver] });
 * process.once('SIGTERM', () => void gateway.stop());
 */
export async function startGateway(options: StartGatewayOptions): Promise<Gateway> {
  const log = options.log ?? createLogger();
  mkdirSync(options.dataDir, { recursive: true });
  const configs = new ConfigStore(options.dataDir);
  const startup = configs.resolveAtStart(options.config);
  if (startup.interruptedApply) log.warn('a config.apply was interrupted by a restart; rolled back', startup.interruptedApply);
  // A pushed config is stored as the cloud sent it; the operator's EDGE_* overrides win over it at every
  // start, as they did when it was applied.
  let config = startup.config;
  if (startup.source === 'command' && options.overrides) {
    const effective = checkGatewayConfig(applyConfigOverrides(startup.config, options.overrides));
    if (effective.ok) config = effective.config;
    else log.error('the stored pushed config is invalid with the environment overrides; using it without them', { problems: effective.problems });
  }
  const gw: GatewayAddress = { communityId: config.communityId, gatewayId: config.gatewayId };
  const bootId = randomUUID();
  const startedAt = Date.now();
  const factories = options.drivers ?? [];
  const readings: ReadingCounters = { stored: 0, invalid: 0, refused: 0 };

  const store = openGatewayStore(options.dataDir);
  const outbox = new Outbox(store, config.outbox, log.child({ component: 'outbox' }));
  const journal = new CommandJournal(store);
  journal.prune();

  const bus = new EventBus<DriverEvents>(log.child({ component: 'bus' }));
  const host = new DriverHost(bus, log.child({ component: 'drivers' }), { isolateUncaught: options.isolateUncaught, onUnattributedError: options.onUnattributedError });
  const availability = new AvailabilityPublisher(gw, log);
  const publisher = new OutboxPublisher(outbox, gw, publisherOptions(config), log.child({ component: 'publisher' }));
  const health = new HealthReporter(() => gatewayHealth({ version: GATEWAY_VERSION, startedAt, outbox, drivers: host, commands: () => commands.counters }), outbox, log);

  bus.on('reading', 'outbox', ({ driver, reading }) => {
    const candidate = { seq: 1, meterId: reading.meterId, readAt: toIso(reading.readAt), values: reading.values };
    const checked = MeterReading.safeParse(candidate);
    if (!checked.success) {
      readings.invalid += 1;
      log.error('driver produced an invalid reading; not stored', { driver, meterId: String(reading.meterId).slice(0, 64), problems: checked.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) });
      return;
    }
    const { seq: _seq, ...item } = checked.data;
    try {
      outbox.append('readings', item);
      readings.stored += 1;
    } catch (error) {
      readings.refused += 1;
      // Never silent: the count is in readingCounters() and the outbox's `refused`, and every refusal is logged.
      log.error('reading refused by the outbox', { driver, meterId: item.meterId, readAt: item.readAt, full: error instanceof OutboxFullError, error: errorText(error), refusedSoFar: readings.refused });
    }
  });
  bus.on('deviceAvailability', 'availability', ({ kind, availability: a }) => {
    availability.update({ v: 1, deviceId: a.deviceId, kind, available: a.available, reason: a.reason?.slice(0, 300) ?? null, since: toIso(a.since) });
  });

  const doorState = options.doors ? new DoorState(store) : null;
  if (doorState) doorState.prune();
  const doors =
    options.doors && doorState
      ? new DoorService({
          gateway: gw,
          state: doorState,
          outbox,
          openCentral: options.doors.openCentral,
          reader: options.doors.reader ?? null,
          statusEveryMs: options.doors.statusEveryMs,
          now: options.doors.now,
          log: log.child({ component: 'doors' }),
          onAvailability: (a) => bus.emit('deviceAvailability', { driver: 'ble-locks', kind: 'lock', availability: a }),
        })
      : null;
  // The door service lives as long as the gateway (its state is on disk); the host starts and stops it
  // with the other drivers when a config is applied.
  const driverFactories = doors ? [...factories, { name: doors.name, deviceKind: 'lock' as const, create: () => doors }] : factories;
  const pruneTimer = doorState ? setInterval(() => doorState.prune(), 60_000) : null;
  pruneTimer?.unref();

  let link: CloudLink;
  const commands = new CommandProcessor(
    gw,
    outbox,
    journal,
    {
      readNow: (meterId) => host.readNow(meterId),
      applyConfig,
      ...(doors ? { openDoor: (params, commandId) => doors.openOnline(params, commandId), syncDoors: (roster) => doors.applyRoster(roster), shared: (name, payload) => doors.intakeShared(name, payload) } : {}),
    },
    log.child({ component: 'commands' }),
  );
  commands.answerInterrupted();

  function connect(next: GatewayConfig): CloudLink {
    const created = new CloudLink({ config: next, bootId, version: GATEWAY_VERSION, log, backoff: options.backoff, onMessage: (topic, payload) => commands.intake(topic, payload) });
    availability.attach(created);
    publisher.setOptions(publisherOptions(next));
    publisher.start(created);
    created.start();
    return created;
  }

  async function run(next: GatewayConfig): Promise<void> {
    config = next;
    outbox.setLimits(next.outbox);
    link = connect(next);
    await host.start(driverFactories, next);
    health.start(next.telemetrySeconds);
  }

  async function halt(): Promise<void> {
    health.stop();
    await host.stop();
    publisher.stop();
    await link.stop();
  }

  /** config.apply: validate, switch, and keep it only if the cloud is reachable with it. */
  async function applyConfig(raw: unknown, commandId: string): Promise<CommandOutcome> {
    const pushed = checkGatewayConfig(withOwnPassword(raw, config));
    if (!pushed.ok) return { status: 'rejected', error: { code: 'invalid-config', message: pushed.problems.join('; ') }, data: { problems: pushed.problems } };
    const effective = checkGatewayConfig(applyConfigOverrides(pushed.config, options.overrides ?? {}));
    if (!effective.ok) return { status: 'rejected', error: { code: 'invalid-config', message: effective.problems.join('; ') }, data: { problems: effective.problems } };
    if (effective.config.gatewayId !== gw.gatewayId || effective.config.communityId !== gw.communityId) {
      // The sequence space, journal and ACL belong to one gateway: a new identity is a new provisioning.
      return { status: 'rejected', error: { code: 'identity-change', message: 'gatewayId and communityId cannot change by config.apply; provision a new gateway' } };
    }
    const previous = config;
    configs.beginApply(pushed.config, commandId);
    log.info('applying a pushed config', { commandId });
    await halt();
    await run(effective.config);
    const timeoutMs = options.applyTimeoutMs ?? 30_000;
    if (await link.waitUntilConnected(timeoutMs)) {
      configs.commitApply();
      log.info('pushed config applied', { commandId });
      return { status: 'ok', data: { appliedAt: new Date().toISOString() } };
    }
    log.error('pushed config could not reach the cloud; rolling back', { commandId, timeoutMs });
    await halt();
    configs.abortApply();
    await run(previous);
    return { status: 'error', error: { code: 'rolled-back', message: `could not reach the cloud with the new config within ${Math.round(timeoutMs / 1000)} s; the previous config is back in use` } };
  }

  await run(config);
  log.info('gateway started', { gatewayId: gw.gatewayId, communityId: gw.communityId, bootId, configSource: startup.source, drivers: driverFactories.map((f) => f.name) });

  let stopping: Promise<void> | null = null;
  return {
    bootId,
    outbox,
    config: () => config,
    isConnected: () => link.isConnected(),
    health: () => gatewayHealth({ version: GATEWAY_VERSION, startedAt, outbox, drivers: host, commands: () => commands.counters }),
    outboxStats: () => outbox.stats(),
    commandCounters: () => structuredClone(commands.counters),
    readingCounters: () => ({ ...readings }),
    devices: () => availability.snapshot(),
    doors,
    reportHealth: () => health.report(),
    commandsIdle: () => commands.idle(),
    stop: () =>
      (stopping ??= (async () => {
        await halt();
        if (pruneTimer) clearInterval(pruneTimer);
        host.dispose();
        await outbox.removalsCommitted();
        await store.close();
        log.info('gateway stopped');
      })()),
  };
}

function publisherOptions(config: GatewayConfig) {
  return { batchSize: config.outbox.batchSize, messagesPerSecond: config.outbox.replayMessagesPerSecond };
}

function toIso(value: string | Date): string {
  return value instanceof Date ? value.toISOString() : value;
}

/**
 * The cloud keeps only a hash of the gateway's MQTT password, so a pushed config carries none: the
 * gateway goes on using its own. A pushed config that does name one (a credential handed over by hand)
 * is taken as it is.
 */
function withOwnPassword(raw: unknown, current: GatewayConfig): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const pushed = raw as { cloud?: unknown };
  if (!pushed.cloud || typeof pushed.cloud !== 'object' || 'password' in pushed.cloud) return raw;
  return { ...pushed, cloud: { ...pushed.cloud, password: current.cloud.password } };
}
