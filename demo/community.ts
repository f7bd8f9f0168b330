import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Config } from '../cloud/src/config.js';
import { gateways } from '../cloud/src/features/gateways/gateways.schema.js';
import { buildGatewayConfig } from '../cloud/src/features/gateways/gateways.service.js';
import { buildings, houses } from '../cloud/src/features/estate/estate.schema.js';
import { startCloud, type RunningCloud } from '../cloud/src/server.js';
import { modbusMeterDriver } from '../edge/src/drivers/modbus-factory.js';
import { startGateway, type Gateway } from '../edge/src/index.js';
import { createLogger as createEdgeLogger, silentLogger } from '../edge/src/log.js';
import { seedDemoBilling } from './billing.js';
import { SimRadio, consumptionBetween, startMeterServer, type MeterServer } from '../firmware-sims/src/index.js';

/** Counters are anchored here, so a restarted demo continues where it stopped instead of running backwards. */
const COUNTER_EPOCH = Date.UTC(2026, 0, 1);
const BUSES = [
  { id: 'rs485-power', kind: 'electricity', model: 'DTSY-TOU', prefix: 'e', base: 3200 },
  { id: 'rs485-water', kind: 'water', model: 'LXSY-RS485', prefix: 'w', base: 120 },
] as const;

export type DemoCommunity = {
  cloud: RunningCloud;
  gateway: Gateway;
  gatewayId: string;
  buses: MeterServer[];
  meters: number;
  /** The simulated radio and its door locks. */
  radio: SimRadio;
  doors: DemoDoor[];
  /** Where the door readers push scanned QR codes (the gateway's LAN endpoint). */
  readerUrl: string | null;
  stop(): Promise<void>;
};

type DemoDoor = { id: string; code: number; name: string; lockId: string; address: string; secret: string };
type DemoState = { gatewayId: string; doors?: DemoDoor[] };

async function api<T>(cloud: RunningCloud, token: string, method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${cloud.baseUrl}/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** The seed a simulated meter's counters follow; stable per house and kind. */
function meterSeed(houseCode: string, kind: string): number {
  let h = kind === 'water' ? 0x9e3779b9 : 0x85ebca6b;
  for (const ch of houseCode) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/**
 * The demo community's devices around a running cloud: two RS-485 buses of simulated meters (an
 * electricity and a water meter per house), one edge gateway polling them, provisioned through the
 * cloud's own API as a technician would. Idempotent across restarts: the gateway and meters are created
 * once, its credential is rotated at each start (only the hash is kept), the buses' ports are pushed
 * as config.
 */
export async function startDemoCommunity(config: Config, log: Logger, options: { pollSeconds?: number } = {}): Promise<DemoCommunity> {
  const cloud = await startCloud({ ...config, SEED_DEMO: config.SEED_DEMO === 'never' ? 'auto' : config.SEED_DEMO }, log);
  const devices = await startDemoDevices(cloud, options);
  return {
    ...devices,
    cloud,
    stop: async () => {
      await devices.stop();
      await cloud.stop();
    },
  };
}

export type DemoDevices = Omit<DemoCommunity, 'cloud'>;

/** The gateway and simulated meters of the demo community, around a cloud that is already running. */
export async function startDemoDevices(cloud: RunningCloud, options: { pollSeconds?: number } = {}): Promise<DemoDevices> {
  const { deps } = cloud;
  const { config } = deps;
  const demo = cloud.demo;
  if (!demo) throw new Error('the demo community was not seeded (NODE_ENV=production?); set SEED_DEMO=always for a demo server');
  const admin = demo.logins.find((l) => l.role === 'super_admin')!;
  const login = await fetch(`${cloud.baseUrl}/v1/auth/staff-login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: admin.username, password: admin.password }),
  });
  const { accessToken } = (await login.json()) as { accessToken: string };

  const dir = path.resolve(config.DATA_DIR, 'demo-gateway');
  mkdirSync(dir, { recursive: true });
  const stateFile = path.join(dir, 'demo-state.json');
  let state: DemoState | null = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState) : null;
  const homes = await deps.db.select({ code: houses.code }).from(houses).where(eq(houses.communityId, demo.communityId)).orderBy(houses.code);
  const pollSeconds = options.pollSeconds ?? 30;

  if (!state) {
    const provisioned = await api<{ gateway: { id: string } }>(cloud, accessToken, 'POST', `/communities/${demo.communityId}/gateways`, { name: 'Demo gateway (pump room)' });
    state = { gatewayId: provisioned.gateway.id };
    const list = await api<{ items: { id: string; code: string }[]; nextCursor: string | null }>(cloud, accessToken, 'GET', `/communities/${demo.communityId}/houses?limit=200`);
    const all = [...list.items];
    for (let cursor = list.nextCursor; cursor; ) {
      const page = await api<{ items: { id: string; code: string }[]; nextCursor: string | null }>(cloud, accessToken, 'GET', `/communities/${demo.communityId}/houses?limit=200&cursor=${encodeURIComponent(cursor)}`);
      all.push(...page.items);
      cursor = page.nextCursor;
    }
    all.sort((a, b) => a.code.localeCompare(b.code));
    for (const bus of BUSES) {
      for (const [i, house] of all.entries()) {
        await api(cloud, accessToken, 'POST', `/communities/${demo.communityId}/meters`, {
          houseId: house.id,
          kind: bus.kind,
          model: bus.model,
          serialNo: `${bus.prefix.toUpperCase()}${house.code}`,
          gatewayId: state.gatewayId,
          deviceId: `${bus.prefix}-${house.code}`,
          busId: bus.id,
          modbusUnitId: i + 1,
          pollSeconds,
          // The simulated counters start at COUNTER_EPOCH, so the meters were "installed" then.
          installedAt: new Date(COUNTER_EPOCH).toISOString(),
        });
      }
    }
    writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
  }

  // Doors: two community gates and an entrance per building, each with a simulated BLE lock. The lock
  // secrets the API shows once are kept in the demo state, as an installer would write them into locks.
  if (!state.doors) {
    const blocks = await deps.db.select().from(buildings).where(eq(buildings.communityId, demo.communityId)).orderBy(buildings.name);
    const specs = [
      { name: '北门 North gate', kind: 'community-gate', buildingId: null },
      { name: '南门 South gate', kind: 'community-gate', buildingId: null },
      ...blocks.map((b) => ({ name: `${b.name}栋 entrance`, kind: 'building-entrance', buildingId: b.id })),
    ];
    const created: DemoDoor[] = [];
    for (const [i, spec] of specs.entries()) {
      const lockId = `lock-${i + 1}`;
      const address = `D0:0D:00:00:00:${(i + 1).toString(16).padStart(2, '0').toUpperCase()}`;
      const res = await api<{ door: { id: string; code: number; name: string }; lockSecret: string }>(cloud, accessToken, 'POST', `/communities/${demo.communityId}/doors`, {
        ...spec,
        gatewayId: state.gatewayId,
        lock: { id: lockId, address },
      });
      created.push({ id: res.door.id, code: res.door.code, name: res.door.name, lockId, address, secret: res.lockSecret });
    }
    state = { ...state, doors: created };
    writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
  }
  // Billing: fee items, last month's hand-read round, this month's bills posted (first start only).
  await seedDemoBilling(
    cloud,
    (method, url, body) => api(cloud, accessToken, method, url, body),
    accessToken,
    demo.communityId,
    BUSES.flatMap((bus) =>
      homes.map((house) => ({
        serialNo: `${bus.prefix.toUpperCase()}${house.code}`,
        valueAt: (ms: number) => bus.base + consumptionBetween(bus.kind, meterSeed(house.code, bus.kind), COUNTER_EPOCH, ms).total,
      })),
    ),
  );

  const radio = new SimRadio();
  // A BLE operation takes tens of milliseconds on a real lock; the demo's locks take 30 ms each.
  for (const door of state.doors!) radio.addLock({ address: door.address, secret: Buffer.from(door.secret, 'base64url'), latencyMs: 30, battery: 60 + ((door.code * 7) % 40) });

  // The buses: one simulated Modbus TCP gateway per RS-485 line, unit id = position of the house.
  const now = Date.now();
  const buses = await Promise.all(
    BUSES.map((bus) =>
      startMeterServer(
        { transport: 'tcp', port: 0, host: '127.0.0.1' },
        homes.map((house, i) => {
          const seed = meterSeed(house.code, bus.kind);
          return { unitId: i + 1, model: bus.model, seed, startReading: bus.base + consumptionBetween(bus.kind, seed, COUNTER_EPOCH, now).total };
        }),
      ),
    ),
  );
  const busConfig = BUSES.map((bus, i) => ({ id: bus.id, transport: 'tcp' as const, host: '127.0.0.1', port: buses[i]!.port! }));
  const metersConfig = BUSES.flatMap((bus) => homes.map((house, i) => ({ id: `${bus.prefix}-${house.code}`, bus: bus.id, unitId: i + 1, model: bus.model, pollSeconds })));
  await api(cloud, accessToken, 'PUT', `/gateways/${state.gatewayId}/config`, { telemetrySeconds: 30, modbus: { buses: busConfig, meters: metersConfig } });
  const { credential } = await api<{ credential: { password: string } }>(cloud, accessToken, 'POST', `/gateways/${state.gatewayId}/credential`);
  const [row] = await deps.db.select().from(gateways).where(eq(gateways.id, state.gatewayId));
  const gatewayConfig = await buildGatewayConfig(deps, row!, credential.password);
  writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(gatewayConfig, null, 2), { mode: 0o600 });

  const gateway = await startGateway({
    config: gatewayConfig,
    dataDir: dir,
    drivers: [modbusMeterDriver],
    doors: { openCentral: async () => radio.central(), reader: { host: '127.0.0.1', port: 0 } },
    // The gateway's own log: warnings and errors, in the same terminal.
    log: config.LOG_LEVEL === 'silent' ? silentLogger : createEdgeLogger({ level: 'warn' }),
  });
  return {
    gateway,
    gatewayId: state.gatewayId,
    buses,
    meters: metersConfig.length,
    radio,
    doors: state.doors!,
    readerUrl: gateway.doors?.readerUrl() ?? null,
    stop: async () => {
      await gateway.stop();
      radio.close();
      await Promise.all(buses.map((b) => b.close()));
    },
  };
}
