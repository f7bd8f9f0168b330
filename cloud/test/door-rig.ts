import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { signOpenToken, slotOf, type GatewayConfig, type OpenMethod } from '@estate/protocol';
import { startGateway, type Gateway } from '../../edge/src/index.js';
import { silentLogger } from '../../edge/src/log.js';
import { SimRadio, type SimLock } from '../../firmware-sims/src/index.js';
import { doorHandlers } from '../src/features/doors/door-access.js';
import { attachGatewayBroker } from '../src/features/gateways/gateway-broker.js';
import { gateways } from '../src/features/gateways/gateways.schema.js';
import type { CloudMqtt } from '../src/mqtt/cloud-mqtt.js';
import { addMember, seedEstate } from '../src/features/estate/estate.test-fixture.js';
import { createCompany, createResident, createStaff } from './actors.js';
import { createHarness, type Harness, type HarnessOptions } from './harness.js';

export type RigDoor = { id: string; code: number; name: string; lock: SimLock; lockId: string };
export type Phone = { publicKey: KeyObject; privateKey: KeyObject; raw: string };
export type IssuedKey = { credentialId: string; credential: string; doors: { id: string; code: number; name: string }[]; validUntil: string; useLimit: number };

/** A phone's device key pair, as WebCrypto would make it; `raw` is the public key as the API takes it. */
export function newPhone(): Phone {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]).toString('base64url');
  return { publicKey, privateKey, raw };
}

/** What a phone shows or sends: an open token for this door, now (or at `at`). */
export function openToken(phone: Phone, key: IssuedKey, doorCode: number, method: OpenMethod, at = new Date()): string {
  return signOpenToken({ credential: Buffer.from(key.credential, 'base64url'), doorCode, method, at, devicePrivateKey: phone.privateKey });
}

export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The community's uplink as a TCP relay between the gateway and the broker, so a test can cut it (the
 * gateway sees its connection drop and cannot reconnect) and restore it on the same port.
 */
async function startUplink(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve();
      server = createServer((inbound) => {
        const outbound = connect(target.port, target.host);
        for (const s of [inbound, outbound]) {
          s.setNoDelay(true);
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    url: () => `mqtt://127.0.0.1:${port}`,
    cut: async () => {
      const s = server;
      server = null;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    },
    restore: listen,
  };
}

export type DoorKey = 'gate' | 'A' | 'B';
export type RegisteredDoor = { key: DoorKey; id: string; code: number; name: string; lockId: string; address: string; secret: string };

/**
 * The cloud half of every door rig: the embedded broker, a community with buildings A and B, a super
 * admin, and one gateway provisioned through the API. `request` and `ok` call the app as a client would.
 */
export async function seedDoorCommunity(h: Harness) {
  const mqtt: CloudMqtt = await attachGatewayBroker(h.deps, { readings: { handle: async () => undefined }, doors: doorHandlers(h.deps), retry: { firstDelayMs: 10, maxDelayMs: 50 } });
  const { company, communities } = await createCompany(h, ['D']);
  const community = communities['D']!;
  const estate = await seedEstate(h, community.id, [
    { name: 'A', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '88.00' }, { number: '102', floor: 1, area: '90.00' }] }] },
    { name: 'B', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '70.00' }] }] },
  ]);
  const admin = await createStaff(h, company.id, 'super_admin', [community.id]);
  const request = async (method: string, url: string, headers: Record<string, string>, body?: unknown) =>
    h.app.request(url, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const ok = async <T>(res: Response | Promise<Response>, status = 200): Promise<T> => {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${await r.text()}`);
    return (await r.json()) as T;
  };
  const provisioned = await ok<{ gateway: { id: string }; config: GatewayConfig }>(request('POST', `/v1/communities/${community.id}/gateways`, admin.headers, { name: 'Door gateway' }), 201);
  return { mqtt, company, community, estate, admin, request, ok, provisioned };
}

/**
 * Registers the rig's three doors through the API (a community gate, and the entrances of buildings A
 * and B), each with a lock at C0:FF:EE:00:00:0n, and returns them with the lock secrets the API made.
 */
export async function registerRigDoors(seed: Awaited<ReturnType<typeof seedDoorCommunity>>): Promise<RegisteredDoor[]> {
  const specs = [
    { key: 'gate', name: 'North gate', kind: 'community-gate', buildingId: null },
    { key: 'A', name: 'Building A entrance', kind: 'building-entrance', buildingId: seed.estate.buildings['A'] },
    { key: 'B', name: 'Building B entrance', kind: 'building-entrance', buildingId: seed.estate.buildings['B'] },
  ] as const;
  const out: RegisteredDoor[] = [];
  for (const [i, spec] of specs.entries()) {
    const lockId = `lock-${i + 1}`;
    const address = `C0:FF:EE:00:00:0${i + 1}`;
    const created = await seed.ok<{ door: { id: string; code: number; name: string }; lockSecret: string }>(
      seed.request('POST', `/v1/communities/${seed.community.id}/doors`, seed.admin.headers, { name: spec.name, kind: spec.kind, buildingId: spec.buildingId, gatewayId: seed.provisioned.gateway.id, lock: { id: lockId, address }, holdMs: 1000 }),
      201,
    );
    out.push({ key: spec.key, id: created.door.id, code: created.door.code, name: created.door.name, lockId, address, secret: created.lockSecret });
  }
  return out;
}

/** The owner of house A-1-101 the rigs open doors as. */
export async function addRigOwner(h: Harness, estate: Awaited<ReturnType<typeof seedEstate>>) {
  const owner = await createResident(h, '13800000001');
  await addMember(h, estate.houses['A-1-101']!, owner.resident.id, { role: 'owner', isPrimary: true });
  return owner;
}

export type DoorRig = Awaited<ReturnType<typeof startDoorRig>>;

/**
 * A whole door loop in one process: the cloud (own PostgreSQL schema) with its embedded broker on a free
 * port, one edge gateway provisioned through the API with a simulated radio, three doors registered
 * through the API (a community gate, and the entrances of buildings A and B) whose simulated locks hold
 * the secrets the API made, and an owner of a house in building A.
 *
 * @example
 * const rig = await startDoorRig();
 * const phone = newPhone();
 * const [key] = await rig.residentKeys(rig.owner.headers, phone);
 */
export async function startDoorRig(options: { harness?: HarnessOptions; lockLatencyMs?: number; statusEveryMs?: number } = {}) {
  const h: Harness = await createHarness({ ...options.harness, env: { MQTT_HOST: '127.0.0.1', MQTT_PORT: '0', DOOR_OPEN_WAIT_MS: '1000', ...options.harness?.env } });
  const seed = await seedDoorCommunity(h);
  const { mqtt, company, community, estate, admin, request, ok, provisioned } = seed;
  const radio = new SimRadio();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'estate-door-gw-'));
  const brokerUrl = new URL(provisioned.config.cloud.mqttUrl);
  const uplink = await startUplink({ host: '127.0.0.1', port: Number(brokerUrl.port) });
  const gatewayConfig: GatewayConfig = { ...provisioned.config, cloud: { ...provisioned.config.cloud, mqttUrl: uplink.url() } };
  let gateway: Gateway = await startGateway({
    config: gatewayConfig,
    dataDir,
    log: silentLogger,
    backoff: { baseMs: 50, maxMs: 200 },
    doors: { openCentral: async () => radio.central(), reader: { host: '127.0.0.1', port: 0 }, statusEveryMs: options.statusEveryMs ?? 500 },
  });
  const gatewayOnline = () => waitFor('the gateway online', async () => (await h.deps.db.select().from(gateways).where(eq(gateways.id, provisioned.gateway.id)))[0]?.state === 'online');
  await gatewayOnline();

  const doors: Record<DoorKey, RigDoor> = {} as never;
  /** Per-lock latency, changeable while running (a slow or unreachable lock). */
  const latency: Record<DoorKey, number> = { gate: options.lockLatencyMs ?? 0, A: options.lockLatencyMs ?? 0, B: options.lockLatencyMs ?? 0 };
  for (const door of await registerRigDoors(seed)) {
    const lock = radio.addLock({ address: door.address, secret: Buffer.from(door.secret, 'base64url'), latencyMs: () => latency[door.key], autoRelockMs: 50 });
    doors[door.key] = { id: door.id, code: door.code, name: door.name, lock, lockId: door.lockId };
  }
  await waitFor('the gateway to hold all three doors', () => gateway.doors!.readerUrl() !== null && gateway.doors!.doors().length === 3);

  const owner = await addRigOwner(h, estate);

  async function residentKeys(headers: Record<string, string>, phone: Phone): Promise<IssuedKey[]> {
    const body = await ok<{ keys: IssuedKey[] }>(request('POST', '/v1/me/door-keys', headers, { devicePublicKey: phone.raw }));
    return body.keys;
  }

  /** Waits until the gateway holds the community's key set (published when the first key was signed). */
  async function gatewayHasKeys(): Promise<void> {
    await waitFor('the gateway to receive the key set', () => gateway.doors!.versions().keySet !== null);
  }

  /** A new phone of the rig's owner with its key issued and the key set on the gateway: most tests' start. */
  async function ownerPhoneWithKey(): Promise<{ phone: Phone; key: IssuedKey }> {
    const phone = newPhone();
    const [key] = await residentKeys(owner.headers, phone);
    await gatewayHasKeys();
    return { phone, key: key! };
  }

  function gatewayVersions() {
    return gateway.doors!.versions();
  }

  async function scan(doorCode: number, token: string, readerId = 'reader-1') {
    const res = await fetch(`${gateway.doors!.readerUrl()}/doors/${doorCode}/scan`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-reader-id': readerId }, body: token });
    return { status: res.status, body: (await res.json()) as { outcome: string; reason?: string; attemptId: string } };
  }

  async function restartGateway(): Promise<void> {
    await gateway.stop();
    gateway = await startGateway({ config: gatewayConfig, dataDir, log: silentLogger, backoff: { baseMs: 50, maxMs: 200 }, doors: { openCentral: async () => radio.central(), reader: { host: '127.0.0.1', port: 0 }, statusEveryMs: options.statusEveryMs ?? 500 } });
  }

  return {
    h,
    mqtt,
    company,
    community,
    estate,
    admin,
    owner,
    radio,
    doors,
    latency,
    uplink,
    gatewayId: provisioned.gateway.id,
    get gateway() {
      return gateway;
    },
    request,
    ok,
    residentKeys,
    gatewayHasKeys,
    ownerPhoneWithKey,
    gatewayVersions,
    gatewayOnline,
    scan,
    restartGateway,
    slotNow: () => slotOf(new Date()),
    close: async () => {
      await gateway.stop().catch(() => undefined);
      await uplink.cut();
      await mqtt.close();
      await h.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
