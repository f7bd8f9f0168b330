// The load and the clocks of bench/doors.ts: phones making fresh open tokens, a closed-loop driver, the
// per-stage clock of an online open, and the offline QR check timed the way the gateway runs it.
import { verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import {
  checkOpenToken,
  decodeOpenToken,
  deviceKeyObject,
  openTokenMessage,
  signOpenToken,
  type DoorKeySet,
  type DoorRevocations,
  type GatewayAddress,
  type OpenMethod,
  type RosterDoor,
} from '@estate/protocol';
import type { IssuedKey, Phone } from '../../cloud/test/door-rig.js';
import { DoorState } from '../../edge/src/doors/door-state.js';
import { runQueueMs } from './door-gateway-ipc.js';
import { openGatewayStore } from '../../edge/src/outbox/store.js';

export type Summary = { n: number; p50: number; p99: number; max: number; mean: number };

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (ms: number, digits = 2) => Number(ms.toFixed(digits));

/** p50, p99, max and mean of latencies in ms, rounded for printing. */
export function summarize(values: readonly number[], digits = 2): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : 0;
  return { n: sorted.length, p50: round(percentile(sorted, 50), digits), p99: round(percentile(sorted, 99), digits), max: round(sorted.at(-1) ?? 0, digits), mean: round(mean, digits) };
}

export function formatSummary(s: Summary, digits = 1): string {
  return `p50 ${s.p50.toFixed(digits)} ms, p99 ${s.p99.toFixed(digits)} ms, max ${s.max.toFixed(digits)} ms (n=${s.n})`;
}

/**
 * Phones holding keys, handing out fresh tokens: every token gets its own nonce (a counter, not the 4
 * random bytes a phone uses), so no two tokens of the run share a replay key and none is refused `replayed`.
 */
export class PhoneFleet {
  private nonce = 0;
  private turn = 0;

  constructor(private readonly holders: readonly { phone: Phone; key: IssuedKey }[]) {
    if (holders.length === 0) throw new Error('a phone fleet needs at least one phone with a key');
  }

  /** A token for this door from the next phone in turn, for now (or `at`). */
  token(doorCode: number, method: OpenMethod, at = new Date()): string {
    const { phone, key } = this.holders[this.turn++ % this.holders.length]!;
    const nonce = Buffer.alloc(4);
    nonce.writeUInt32BE(++this.nonce >>> 0);
    return signOpenToken({ credential: Buffer.from(key.credential, 'base64url'), doorCode, method, at, devicePrivateKey: phone.privateKey, nonce });
  }
}

/** One finished request: its command id (an online open's attemptId is its command id), when it left and came back. */
export type Timed = { commandId: string | null; sent: number; answered: number; outcome: string };

/**
 * What the process did meanwhile: event-loop utilisation (1 = never idle), CPU time per wall second
 * (above 1 = more than one core, e.g. libuv threads and GC), and the event loop's delay p99 (how long a
 * ready callback waited for the loop, which the load generator shares with the cloud, and in the single
 * topology with the gateway too), and the fraction of the time the loop's thread was ready to run but
 * waited for a core (Linux; null elsewhere).
 */
export type ProcessLoad = { elu: number; cpuCores: number; loopDelayP99: number; runQueueWait: number | null };

/** The machine's CPU time counters (the first line of /proc/stat, in clock ticks); null where there is none. */
export type MachineSample = { busy: number; iowait: number; total: number } | null;

export function machineSample(): MachineSample {
  try {
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq + steal, iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return null;
  }
}

/** Between two samples: how many of the machine's cores were busy (all processes, PostgreSQL included), and how many idle waiting on disk I/O. */
export function machineUse(before: MachineSample, after: MachineSample): { busyCores: number; iowaitCores: number } | null {
  if (!before || !after || after.total === before.total) return null;
  const cores = os.availableParallelism();
  const share = (a: number, b: number) => Number((((b - a) / (after.total - before.total)) * cores).toFixed(2));
  return { busyCores: share(before.busy, after.busy), iowaitCores: share(before.iowait, after.iowait) };
}

export type LoopResult = { requests: Timed[]; outcomes: Record<string, number>; seconds: number; latency: Summary; load: ProcessLoad };

/**
 * `concurrency` callers, each sending `request` back to back until `seconds` have passed (a closed loop:
 * a new request leaves as soon as one returns). `request` times itself from just before it sends, so a
 * caller's own preparation (signing the token) is not billed to the system under test; one that throws
 * counts as `error`.
 */
export async function closedLoop(concurrency: number, seconds: number, request: () => Promise<Timed>): Promise<LoopResult> {
  const requests: Timed[] = [];
  const outcomes: Record<string, number> = {};
  const count = (o: string) => (outcomes[o] = (outcomes[o] ?? 0) + 1);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const queued = runQueueMs();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          const done = await request();
          requests.push(done);
          count(done.outcome);
        } catch {
          count('error');
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const queuedNow = runQueueMs();
  delay.disable();
  const load = {
    elu: Number(performance.eventLoopUtilization(elu).utilization.toFixed(2)),
    cpuCores: Number(((used.user + used.system) / 1e6 / elapsed).toFixed(2)),
    loopDelayP99: Number((delay.percentile(99) / 1e6).toFixed(1)),
    runQueueWait: queued === null || queuedNow === null ? null : Number(((queuedNow - queued) / 1000 / elapsed).toFixed(2)),
  };
  return { requests, outcomes, seconds: elapsed, latency: summarize(requests.map((r) => r.answered - r.sent)), load };
}

/** Stage timestamps of one command, keyed by its id. */
export type StageMarks = { published?: number; publishedAfter?: number; gatewayIn?: number; gatewayOut?: number; ingested?: number };

/** Per-stage clock, filled by the bench's hooks on the broker and the result events, and with the gateway's marks. */
export class StageClock {
  readonly marks = new Map<string, StageMarks>();
  mark(commandId: string, stage: keyof StageMarks, at = performance.now()): void {
    const m = this.marks.get(commandId) ?? {};
    if (m[stage] === undefined) m[stage] = at;
    this.marks.set(commandId, m);
  }
  /** Adds marks taken elsewhere (the gateway's, as this process's performance.now()). */
  merge(marks: ReadonlyMap<string, Partial<Record<keyof StageMarks, number>>>): void {
    for (const [commandId, m] of marks) for (const [stage, at] of Object.entries(m)) if (at !== undefined) this.mark(commandId, stage as keyof StageMarks, at);
  }
  clear(): void {
    this.marks.clear();
  }
}

const STAGES = [
  ['cloud: HTTP in, checks, command row', 'sent', 'published'],
  ['broker: publish to the gateway', 'published', 'publishedAfter'],
  ['MQTT down, gateway takes the command', 'publishedAfter', 'gatewayIn'],
  ['gateway: check, consume, BLE unlock', 'gatewayIn', 'gatewayOut'],
  ['result: outbox, MQTT up, ingest', 'gatewayOut', 'ingested'],
  ['cloud: settle, HTTP out', 'ingested', 'answered'],
] as const;

/** Each stage's duration (p50/p99) over the requests that have both its marks; a stage no request has is left out. */
export function stageBreakdown(requests: readonly Timed[], clock: StageClock): { stage: string; summary: Summary }[] {
  const out: { stage: string; summary: Summary }[] = [];
  for (const [stage, from, to] of STAGES) {
    const values: number[] = [];
    for (const r of requests) {
      if (!r.commandId) continue;
      const m = { ...clock.marks.get(r.commandId), sent: r.sent, answered: r.answered } as Record<string, number | undefined>;
      const a = m[from];
      const b = m[to];
      if (a !== undefined && b !== undefined) values.push(b - a);
    }
    if (values.length) out.push({ stage, summary: summarize(values) });
  }
  return out;
}

export type QrVerifyResult = { check: Summary; consume: Summary; baseline: Summary; outcomes: Record<string, number>; replayKeys: number; revocations: number };

/**
 * The offline check as the gateway runs it (DoorService.open): checkOpenToken with the signing keys,
 * revocation set, use counts and replay memory of a DoorState on an LMDB store opened the gateway's way,
 * holding `keySet` and `revocations`. Each accepted token is then consumed (its replay key written, as
 * the gateway does before unlocking), so later lookups search a replay memory that grows to `count`
 * keys; that write is timed apart. Tokens are signed in chunks just before they are checked, so none
 * goes stale on a slow machine.
 *
 * The baseline is the two signature verifications alone on the same tokens: Ed25519 over the key and
 * ECDSA P-256 over the token, with both public keys as ready KeyObjects and the bytes already cut out.
 */
export async function timeQrVerification(input: {
  gateway: GatewayAddress;
  keySet: DoorKeySet;
  revocations: DoorRevocations;
  doors: readonly RosterDoor[];
  fleet: PhoneFleet;
  count: number;
  signingKeys: ReadonlyMap<string, KeyObject>;
}): Promise<QrVerifyResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'estate-bench-doors-'));
  const store = openGatewayStore(dir);
  try {
    const state = new DoorState(store);
    if (!state.applyKeySet(input.keySet) || !state.applyRevocations(input.revocations)) throw new Error('the bench door state did not take the key set or revocations');
    const checks: number[] = [];
    const consumes: number[] = [];
    const baselines: number[] = [];
    const outcomes: Record<string, number> = {};
    const deviceKeys = new Map<string, KeyObject>();
    const CHUNK = 1000;
    for (let done = 0; done < input.count; done += CHUNK) {
      // The rig shares this event loop: let the broker, the gateway (single topology) and the sockets breathe between chunks.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = Array.from({ length: Math.min(CHUNK, input.count - done) }, (_, i) => {
        const door = input.doors[(done + i) % input.doors.length]!;
        return { door, token: input.fleet.token(door.code, 'qr') };
      });
      for (const { door, token } of batch) {
        // As DoorService.open: one clock reading, then the check with the state's lookups.
        const t0 = performance.now();
        const now = new Date();
        const check = checkOpenToken(token, {
          now,
          communityId: input.gateway.communityId,
          method: 'qr',
          door: { code: door.code, groups: door.groups },
          signingKey: (keyId) => state.signingKey(keyId, now.getTime()),
          isRevoked: (id) => state.isRevoked(id),
          usesSoFar: (id) => state.usesSoFar(id),
          seen: (key) => state.seen(key, now.getTime()),
        });
        const t1 = performance.now();
        checks.push(t1 - t0);
        const outcome = check.ok ? 'opened' : check.reason;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (check.ok) {
          const credential = check.token.credential;
          const t2 = performance.now();
          state.consume({ credentialId: credential.credentialId, replayKey: check.replayKey, limited: credential.useLimit > 0, validUntil: credential.validUntil }, now.getTime());
          consumes.push(performance.now() - t2);
        }
      }
      // Baseline on the same tokens: decoding and key conversion done beforehand, not timed.
      for (const { token } of batch) {
        const decoded = decodeOpenToken(token);
        const key = decoded.credential;
        const signingKey = input.signingKeys.get(key.keyId);
        if (!signingKey) throw new Error(`no signing key ${key.keyId} for the baseline`);
        const deviceHex = Buffer.from(key.devicePublicKey).toString('hex');
        let deviceKey = deviceKeys.get(deviceHex);
        if (!deviceKey) deviceKeys.set(deviceHex, (deviceKey = deviceKeyObject(key.devicePublicKey)));
        const message = openTokenMessage(decoded.signedBytes);
        const t0 = performance.now();
        const ok = verify(null, key.signedBytes, signingKey, key.signature) && verify('sha256', message, { key: deviceKey, dsaEncoding: 'ieee-p1363' }, decoded.signature);
        baselines.push(performance.now() - t0);
        if (!ok) throw new Error('a token failed the bare signature check');
      }
    }
    return {
      check: summarize(checks, 3),
      consume: summarize(consumes, 3),
      baseline: summarize(baselines, 3),
      outcomes,
      replayKeys: consumes.length,
      revocations: input.revocations.entries.length,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
