// The door rigs of bench/doors.ts. `split` (the production topology): the cloud (its own PostgreSQL
// schema), its embedded MQTT broker and the HTTP app in the bench's process, and the edge gateway with its
// simulated radio and locks in a child process (door-gateway-child.ts), connected to the broker over TCP
// as a gateway box would be. `single`: cloud/test/door-rig.ts, everything in one process (the gateway
// behind an in-process TCP relay). Both set up the same community: three doors registered through the API
// (a community gate, the entrances of buildings A and B) whose locks hold the secrets the API made, and
// an owner of house A-1-101; both hand the bench the same BenchGateway.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import type { GatewayConfig, RosterDoor } from '@estate/protocol';
import { addRigOwner, registerRigDoors, seedDoorCommunity, startDoorRig, waitFor, type IssuedKey, type Phone } from '../../cloud/test/door-rig.js';
import { createHarness, type Harness, type HarnessOptions } from '../../cloud/test/harness.js';
import { attachGatewayBroker } from '../../cloud/src/features/gateways/gateway-broker.js';
import { gateways } from '../../cloud/src/features/gateways/gateways.schema.js';
import { fromHr, type DoorVersions, type FromGatewayProcess, type GatewayCall, type GatewayCalls, type ProcessSample, type ToGatewayProcess } from './door-gateway-ipc.js';

export type Topology = 'single' | 'split';
export type BenchDoor = { id: string; code: number; name: string };

/** The gateway as the bench sees it. Times are this process's performance.now(). */
export interface BenchGateway {
  /** Where the door readers post QR codes. */
  readonly readerUrl: string;
  /** The doors the gateway held at start (code, groups: what the QR check needs). */
  readonly roster: readonly RosterDoor[];
  versions(): Promise<DoorVersions>;
  /** Resolves when the gateway holds revocation list `atLeast` or newer, with when it was seen there (polled every 1 ms). */
  revocations(atLeast: number, timeoutMs?: number): Promise<{ version: number; at: number }>;
  outbox(): Promise<{ depth: number; byChannel: Record<string, { depth: number }> }>;
  /** When the gateway took and answered each online open since the last call, by command id. */
  marks(): Promise<Map<string, { gatewayIn?: number; gatewayOut?: number }>>;
  /** The gateway process's CPU and event-loop counters; null when it is this process. */
  sample(): Promise<ProcessSample | null>;
}

export type BenchDoorRig = {
  topology: Topology;
  h: Harness;
  community: { id: string };
  admin: { headers: Record<string, string> };
  owner: { headers: Record<string, string> };
  gatewayId: string;
  doors: Record<'gate' | 'A' | 'B', BenchDoor>;
  gateway: BenchGateway;
  residentKeys(headers: Record<string, string>, phone: Phone): Promise<IssuedKey[]>;
  /** Waits until the gateway holds the community's key set (published when the first key was signed). */
  gatewayHasKeys(): Promise<void>;
  scan(doorCode: number, token: string): Promise<{ status: number; body: { outcome: string; reason?: string; attemptId: string } }>;
  close(): Promise<void>;
};

export type RigOptions = { harness?: HarnessOptions; statusEveryMs: number };

export function startBenchDoorRig(topology: Topology, options: RigOptions): Promise<BenchDoorRig> {
  return topology === 'split' ? startSplitDoorRig(options) : startSingleDoorRig(options);
}

async function scanAt(readerUrl: string, doorCode: number, token: string) {
  const res = await fetch(`${readerUrl}/doors/${doorCode}/scan`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-reader-id': 'reader-1' }, body: token });
  return { status: res.status, body: (await res.json()) as { outcome: string; reason?: string; attemptId: string } };
}

/** cloud/test/door-rig.ts as it is, with its in-process gateway behind a BenchGateway. */
async function startSingleDoorRig(options: RigOptions): Promise<BenchDoorRig> {
  const rig = await startDoorRig({ lockLatencyMs: 0, statusEveryMs: options.statusEveryMs, harness: options.harness });
  const doors = rig.gateway.doors!;
  let marks = new Map<string, { gatewayIn?: number; gatewayOut?: number }>();
  const openOnline = doors.openOnline.bind(doors);
  doors.openOnline = async (params, commandId) => {
    const m = { gatewayIn: performance.now() } as { gatewayIn: number; gatewayOut?: number };
    marks.set(commandId, m);
    try {
      return await openOnline(params, commandId);
    } finally {
      m.gatewayOut = performance.now();
    }
  };
  const gateway: BenchGateway = {
    readerUrl: doors.readerUrl()!,
    roster: doors.doors(),
    versions: async () => rig.gatewayVersions(),
    async revocations(atLeast, timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const version = rig.gatewayVersions().revocations ?? 0;
        if (version >= atLeast) return { version, at: performance.now() };
        if (performance.now() > deadline) throw new Error(`the gateway did not receive revocation list ${atLeast} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    },
    outbox: async () => rig.gateway.outboxStats(),
    async marks() {
      const taken = marks;
      marks = new Map();
      return taken;
    },
    sample: async () => null,
  };
  return {
    topology: 'single',
    h: rig.h,
    community: rig.community,
    admin: rig.admin,
    owner: rig.owner,
    gatewayId: rig.gatewayId,
    doors: { gate: rig.doors.gate, A: rig.doors.A, B: rig.doors.B },
    gateway,
    residentKeys: rig.residentKeys,
    gatewayHasKeys: rig.gatewayHasKeys,
    scan: (doorCode, token) => scanAt(gateway.readerUrl, doorCode, token),
    close: rig.close,
  };
}

/** The gateway process and typed calls to it; a call still pending when it exits fails. */
function gatewayProcess() {
  const child: ChildProcess = fork(fileURLToPath(new URL('./door-gateway-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; call: GatewayCall }>();
  let nextId = 0;
  let exited: string | null = null;
  child.on('message', (message: FromGatewayProcess) => {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new Error(`gateway process, ${waiting.call}: ${message.error}`));
  });
  child.on('exit', (code, signal) => {
    exited = `the gateway process exited (${signal ?? `code ${code}`})`;
    for (const { reject, call } of pending.values()) reject(new Error(`${exited} before answering ${call}`));
    pending.clear();
  });
  const call = <K extends GatewayCall>(name: K, args: GatewayCalls[K]['args']): Promise<GatewayCalls[K]['result']> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${exited}; cannot ${name}`));
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, call: name });
      child.send({ id, call: name, args } as ToGatewayProcess);
    });
  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await call('stop', {}).catch(() => child.kill());
    await gone;
  };
  return { call, stop, pid: child.pid };
}

/**
 * The cloud here, the gateway with its radio and locks in a child process. The set-up follows
 * cloud/test/door-rig.ts (provisioned and registered through the API), without its uplink relay: the
 * gateway connects to the broker's port itself.
 */
async function startSplitDoorRig(options: RigOptions): Promise<BenchDoorRig> {
  const h = await createHarness({ ...options.harness, env: { MQTT_HOST: '127.0.0.1', MQTT_PORT: '0', ...options.harness?.env } });
  let mqtt: Awaited<ReturnType<typeof attachGatewayBroker>> | null = null;
  let child: ReturnType<typeof gatewayProcess> | null = null;
  const close = async () => {
    await child?.stop();
    await mqtt?.close();
    await h.close();
  };
  try {
    const seed = await seedDoorCommunity(h);
    mqtt = seed.mqtt;
    const { community, estate, admin, provisioned } = seed;
    const ok = <T>(method: string, url: string, headers: Record<string, string>, body: unknown, status = 200): Promise<T> => seed.ok<T>(seed.request(method, url, headers, body), status);
    const brokerUrl = new URL(provisioned.config.cloud.mqttUrl);
    brokerUrl.hostname = '127.0.0.1';
    const config: GatewayConfig = { ...provisioned.config, cloud: { ...provisioned.config.cloud, mqttUrl: brokerUrl.toString().replace(/\/$/, '') } };
    child = gatewayProcess();
    const call = child.call;
    await call('start', { config, statusEveryMs: options.statusEveryMs });
    await waitFor('the gateway online', async () => (await h.deps.db.select().from(gateways).where(eq(gateways.id, provisioned.gateway.id)))[0]?.state === 'online');

    const registered = await registerRigDoors(seed);
    const doors = Object.fromEntries(registered.map((d) => [d.key, { id: d.id, code: d.code, name: d.name }])) as Record<'gate' | 'A' | 'B', BenchDoor>;
    const held = await call('locks', { locks: registered.map((d) => ({ address: d.address, secret: d.secret })), doors: registered.length });

    const owner = await addRigOwner(h, estate);

    const gateway: BenchGateway = {
      readerUrl: held.readerUrl,
      roster: held.doors,
      versions: () => call('versions', {}),
      async revocations(atLeast, timeoutMs = 30_000) {
        const seen = await call('revocations', { atLeast, timeoutMs });
        return { version: seen.version, at: fromHr(seen.at) };
      },
      outbox: () => call('outbox', {}),
      async marks() {
        const raw = await call('marks', {});
        const local = (hr: number | undefined) => (hr === undefined ? undefined : fromHr(hr));
        return new Map(Object.entries(raw).map(([id, m]) => [id, { gatewayIn: local(m.gatewayIn), gatewayOut: local(m.gatewayOut) }]));
      },
      sample: () => call('sample', {}),
    };
    return {
      topology: 'split',
      h,
      community,
      admin,
      owner,
      gatewayId: provisioned.gateway.id,
      doors,
      gateway,
      residentKeys: async (headers, phone) => (await ok<{ keys: IssuedKey[] }>('POST', '/v1/me/door-keys', headers, { devicePublicKey: phone.raw })).keys,
      gatewayHasKeys: async () => void (await waitFor('the gateway to receive the key set', async () => (await call('versions', {})).keySet !== null)),
      scan: (doorCode, token) => scanAt(held.readerUrl, doorCode, token),
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
