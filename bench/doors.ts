// Door access: online open latency at 20 concurrent (target: p99 < 100 ms), offline QR check at the gateway (target: p99 < 5 ms), revocation propagation.
//
// Run: npx tsx bench/doors.ts [--topology split|single] [--seconds 10] [--concurrency 20] [--serial 100] [--tokens 20000] [--scans 300] [--revocations 20]
//      (npm run bench -- doors ...)
// The cloud on PostgreSQL (TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, a fresh schema
// dropped at the end) with its embedded MQTT broker, one edge gateway with a simulated BLE radio and three
// locks answering at once (latency 0), set up as in the cloud tests' door rig (bench/lib/door-rig-split.ts).
// --topology split (default), as in production where the gateway is a box of its own: the gateway, its
//   radio and locks run in a child process (bench/lib/door-gateway-child.ts, driven over IPC) and connect
//   to the broker over TCP; the cloud, the broker and the load generator run in this process.
// --topology single: everything in this one process (cloud/test/door-rig.ts), the figure of earlier runs.
// The processes still share this machine's cores with each other and PostgreSQL, so the figures are the
// software's on this machine, whatever else it runs (its load average is printed: compare runs at a
// similar load). The cloud's app is served over real HTTP (@hono/node-server on a free port) and called
// with fetch, so HTTP parsing counts. DOOR_OPEN_WAIT_MS is the production default (8 s), so a slow open
// shows as latency, not as a 504. Each load phase prints this process's event loop and CPU use, and the
// gateway process's (split).
//
// 1. Online open: `concurrency` callers, each sending POST /v1/doors/{id}/open with a fresh token
//    (own nonce, the owner's keys on four phones, doors gate and A in turn) back to back for `seconds`:
//    cloud check -> door.open over MQTT -> gateway check -> BLE unlock -> result over MQTT -> response.
//    Baseline, same run and concurrency: POST /v1/gateways/{id}/commands?wait=10 {name: 'ping'} as the
//    admin, which waits for the result the same way: the same HTTP, command row, MQTT both ways, gateway
//    journal and outbox, result ingest and wake-up, without the door's checks, lock and access records.
//    `ratio` = open p99 / ping p99. Opens per minute per gateway = opened / seconds * 60.
//    Each open is also clocked per stage by hooks on the broker's publish, the gateway's openOnline and
//    the cloud's result events (bench-side wrappers; the product code is unchanged). In the split topology
//    the gateway's marks are taken in its process on the monotonic clock both processes share. Per phase the bench
//    also counts the cloud's retried gateway messages (mqtt_message_retries_total: a handler that failed,
//    e.g. on a deadlock) and PostgreSQL's deadlocks (pg_stat_database, the whole database: other users
//    of it count too). Before the concurrent run, `serial` opens one at a time give the unloaded latency.
// 2. Revocation propagation: `revocations` times, a fresh phone gets a key, the admin revokes it
//    (POST /v1/door-credentials/{id}/revoke), and the time runs until the gateway holds the new
//    revocation list version (polled every 1 ms where the gateway runs); then a QR scan of that key must be
//    refused `revoked`.
//    Repeated 5 times with the list filled to its maximum (MAX_REVOCATIONS, 3000 entries: revoked copies
//    of a key of other holders, inserted into door_credentials and published).
// 3. Offline QR check: `tokens` fresh QR tokens through checkOpenToken exactly as DoorService.open calls
//    it, on a DoorState in an LMDB store opened the gateway's way, holding the community's key set and the
//    full 3000-entry revocation list, each accepted token then consumed (replay memory grows). It runs in
//    this process in both topologies: it times checkOpenToken's CPU alone.
//    Baseline: the two bare signature verifications (Ed25519 over the key, ECDSA P-256 over the token)
//    with node:crypto on the same tokens, keys ready. Also the reader path, one scan at a time:
//    POST to the gateway's reader endpoint (over HTTP, in the child process when split) -> check -> BLE
//    unlock -> response, `scans` times.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { MAX_REVOCATIONS, signingKeyObject, type DoorKeySet, type DoorRevocations } from '@estate/protocol';
import { newPhone, type IssuedKey, type Phone } from '../cloud/test/door-rig.js';
import { rowsOf } from '../cloud/src/db/migrate.js';
import { publishRevocations } from '../cloud/src/features/doors/door-credentials.js';
import { keysInForce } from '../cloud/src/features/doors/door-keys.js';
import { commandEvents } from '../cloud/src/features/gateways/command-events.js';
import { closedLoop, formatSummary, machineSample, machineUse, PhoneFleet, StageClock, stageBreakdown, summarize, timeQrVerification, type LoopResult, type Timed } from './lib/door-load.js';
import { processUse, type ProcessUse } from './lib/door-gateway-ipc.js';
import { startBenchDoorRig, type BenchDoorRig, type Topology } from './lib/door-rig-split.js';

const { values: args } = parseArgs({
  options: {
    topology: { type: 'string', default: 'split' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '20' },
    serial: { type: 'string', default: '100' },
    tokens: { type: 'string', default: '20000' },
    scans: { type: 'string', default: '300' },
    revocations: { type: 'string', default: '20' },
  },
});
if (args.topology !== 'split' && args.topology !== 'single') throw new Error(`--topology is split or single, not ${args.topology}`);
const TOPOLOGY: Topology = args.topology;
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const SERIAL = Number(args.serial);
const TOKENS = Number(args.tokens);
const SCANS = Number(args.scans);
const REVOCATIONS = Number(args.revocations);
const FULL_LIST_REVOCATIONS = 5;
const WARM_UP_SECONDS = 2;
const TARGET_OPEN_P99_MS = 100;
const TARGET_QR_P99_MS = 5;
const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Holder = { phone: Phone; key: IssuedKey };
/** A load phase with what went wrong meanwhile, and what the gateway process used (null: it is this process). */
type Phase = LoopResult & { retries: number; deadlocks: number; gatewayLoad: ProcessUse | null; machine: ReturnType<typeof machineUse> };
type StageFigure = { stage: string; p50: number; p99: number };

const rig: BenchDoorRig = await startBenchDoorRig(TOPOLOGY, { statusEveryMs: 3_600_000, harness: { env: { DOOR_OPEN_WAIT_MS: '8000' } } });
let server: ReturnType<typeof serve> | null = null;
let base = '';

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Clocks each command through the cloud and the broker, from outside the product code; the gateway's marks are added by `gatewayMarks`. */
function attachStageClock(): StageClock {
  const clock = new StageClock();
  const mqtt = rig.h.deps.mqtt;
  const publish = mqtt.publish.bind(mqtt);
  mqtt.publish = async (topic, payload, options) => {
    const id = topic.endsWith('/commands') ? /"commandId":"([0-9a-f-]{36})"/.exec(payload.toString())?.[1] : undefined;
    if (id) clock.mark(id, 'published');
    await publish(topic, payload, options);
    if (id) clock.mark(id, 'publishedAfter');
  };
  const events = commandEvents(rig.h.deps);
  const emit = events.emit.bind(events) as (name: string | symbol, ...rest: unknown[]) => boolean;
  events.emit = ((name: string | symbol, ...rest: unknown[]) => {
    if (typeof name === 'string') clock.mark(name, 'ingested');
    return emit(name, ...rest);
  }) as typeof events.emit;
  return clock;
}

/** Starts the clock afresh: forgets this process's marks and the gateway's. */
async function resetClock(clock: StageClock): Promise<void> {
  clock.clear();
  await rig.gateway.marks();
}

/** Adds the gateway's marks since the last call to the clock. */
async function gatewayMarks(clock: StageClock): Promise<void> {
  clock.merge(await rig.gateway.marks());
}

/** Waits until the gateway has sent everything in its outbox (access records, lock events, results) and the cloud took it. */
async function drained(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let outbox = await rig.gateway.outbox(); outbox.depth > 0; outbox = await rig.gateway.outbox()) {
    if (Date.now() > deadline) throw new Error(`the gateway's outbox did not drain: ${JSON.stringify(outbox.byChannel)}`);
    await sleep(20);
  }
  await sleep(200);
}

/** What went wrong under the load that the latency alone does not say: retried gateway messages and deadlocks. */
async function contention(): Promise<{ retries: number; deadlocks: number }> {
  const metric = await rig.h.deps.metrics.registry.getSingleMetric('mqtt_message_retries_total')?.get();
  const [row] = rowsOf<{ n: number }>(await rig.h.deps.db.execute(sql`select deadlocks::int as n from pg_stat_database where datname = current_database()`));
  return { retries: metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0, deadlocks: row?.n ?? 0 };
}

/** Runs a load phase and says how many gateway messages were retried and deadlocks happened meanwhile. */
async function measured(run: () => Promise<LoopResult>): Promise<Phase> {
  const before = await contention();
  const gatewayBefore = await rig.gateway.sample();
  const machineBefore = machineSample();
  const result = await run();
  const machineAfter = machineSample();
  const gatewayAfter = await rig.gateway.sample();
  const after = await contention();
  const gatewayLoad = gatewayBefore && gatewayAfter ? processUse(gatewayBefore, gatewayAfter) : null;
  return { ...result, retries: after.retries - before.retries, deadlocks: after.deadlocks - before.deadlocks, gatewayLoad, machine: machineUse(machineBefore, machineAfter) };
}

const outcomeList = (outcomes: Record<string, number>) => Object.entries(outcomes).map(([o, n]) => `${o} ${n}`).join(', ');

function printLoop(label: string, result: Phase): void {
  log(`${label}: ${formatSummary(result.latency)}; ${(result.requests.length / result.seconds).toFixed(0)}/s over ${result.seconds.toFixed(1)} s; ${outcomeList(result.outcomes)}`);
  const here = rig.topology === 'split' ? 'cloud + broker + load process' : 'process (cloud + broker + gateway + load)';
  const use = (u: ProcessUse) =>
    `event loop ${Math.round(u.elu * 100)}% busy, ${u.cpuCores} cores of CPU, loop delay p99 ${u.loopDelayP99} ms` + (u.runQueueWait === null ? '' : `, waiting for a core ${Math.round(u.runQueueWait * 100)}% of the time`);
  log(`    ${here}: ${use(result.load)}`);
  if (result.gatewayLoad) log(`    gateway process: ${use(result.gatewayLoad)}`);
  if (result.machine) log(`    machine: ${result.machine.busyCores} of ${os.availableParallelism()} cores busy (all processes, PostgreSQL included), ${result.machine.iowaitCores} idle waiting on disk`);
  log(`    gateway messages retried by the cloud: ${result.retries}; PostgreSQL deadlocks (database-wide): ${result.deadlocks}`);
}

function printStages(result: Pick<LoopResult, 'requests'>, clock: StageClock): StageFigure[] {
  const stages = stageBreakdown(result.requests, clock);
  for (const { stage, summary } of stages) log(`    ${stage.padEnd(40)} p50 ${summary.p50.toFixed(1).padStart(6)} ms   p99 ${summary.p99.toFixed(1).padStart(6)} ms`);
  return stages.map(({ stage, summary }) => ({ stage, p50: summary.p50, p99: summary.p99 }));
}

/** Four phones of the owner, each with the key of house A-1-101 (the community gate and building A). */
async function ownerPhones(): Promise<Holder[]> {
  const holders: Holder[] = [];
  for (let i = 0; i < 4; i++) {
    const phone = newPhone();
    const [key] = await rig.residentKeys(rig.owner.headers, phone);
    if (!key) throw new Error('the owner got no door key');
    holders.push({ phone, key });
  }
  await rig.gatewayHasKeys();
  return holders;
}

/** The two requests of phase 1, each timed from just before it is sent. */
function requests(fleet: PhoneFleet) {
  const doors = [rig.doors.gate, rig.doors.A];
  let turn = 0;
  const open = async (): Promise<Timed> => {
    const door = doors[turn++ % doors.length]!;
    const token = fleet.token(door.code, 'online');
    const sent = performance.now();
    const res = await post(`/v1/doors/${door.id}/open`, {}, { token });
    const answered = performance.now();
    const outcome = res.status === 200 ? String(res.body['outcome']) : `${res.status} ${String(res.body['reason'] ?? res.body['type'])}`;
    if (res.status >= 500) console.error(`doors: open of ${door.name} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
    return { commandId: typeof res.body['attemptId'] === 'string' ? res.body['attemptId'] : null, sent, answered, outcome };
  };
  const ping = async (): Promise<Timed> => {
    const sent = performance.now();
    const res = await post(`/v1/gateways/${rig.gatewayId}/commands?wait=10`, rig.admin.headers, { name: 'ping', params: {} });
    const answered = performance.now();
    const outcome = res.status === 200 ? String(res.body['state']) : `${res.status} ${String(res.body['state'] ?? res.body['type'])}`;
    return { commandId: typeof res.body['id'] === 'string' ? res.body['id'] : null, sent, answered, outcome };
  };
  return { open, ping };
}

/** Phase 1: opens one at a time, then the ping baseline and the opens at CONCURRENCY; each after a warm-up, with the outbox drained. */
async function onlinePhase(fleet: PhoneFleet, clock: StageClock) {
  const { open, ping } = requests(fleet);
  await closedLoop(1, WARM_UP_SECONDS / 2, open);
  await drained();
  await resetClock(clock);
  const serial: Timed[] = [];
  for (let i = 0; i < SERIAL; i++) serial.push(await open());
  await gatewayMarks(clock);
  const unloaded = summarize(serial.map((r) => r.answered - r.sent));
  log(`online open, one at a time: ${formatSummary(unloaded)}; ${serial.filter((r) => r.outcome === 'opened').length}/${SERIAL} opened`);
  const unloadedStages = printStages({ requests: serial }, clock);
  await drained();

  const loaded = async (label: string, request: () => Promise<Timed>): Promise<{ result: Phase; stages: StageFigure[] }> => {
    await closedLoop(CONCURRENCY, WARM_UP_SECONDS, request);
    await drained();
    await resetClock(clock);
    const result = await measured(() => closedLoop(CONCURRENCY, SECONDS, request));
    await gatewayMarks(clock);
    printLoop(label, result);
    const stages = printStages(result, clock);
    await drained();
    return { result, stages };
  };
  const pings = await loaded('baseline, ping command round trip', ping);
  const opens = await loaded('online open', open);
  const opened = opens.result.outcomes['opened'] ?? 0;
  const notOpened = opens.result.requests.length + (opens.result.outcomes['error'] ?? 0) - opened;
  const opensPerMinute = Math.round((opened / opens.result.seconds) * 60);
  log(`sustained: ${opensPerMinute} opens/min per gateway (${opened} opened, ${notOpened} not opened)`);
  return { unloaded, unloadedStages, pings, opens, opened, notOpened, opensPerMinute };
}

/** Revokes a fresh phone's key as the admin; times it until the gateway holds the new list, then checks the reader refuses it. */
async function revokeOnce() {
  const phone = newPhone();
  const [key] = await rig.residentKeys(rig.owner.headers, phone);
  if (!key) throw new Error('the owner got no door key');
  const before = (await rig.gateway.versions()).revocations ?? 0;
  const sent = performance.now();
  let answered = 0;
  const response = post(`/v1/door-credentials/${key.credentialId}/revoke`, rig.admin.headers, { reason: 'key-revoked' }).then((r) => ((answered = performance.now()), r));
  const { at: applied } = await rig.gateway.revocations(before + 1, 30_000);
  const res = await response;
  if (res.status !== 200) throw new Error(`revoke answered ${res.status}: ${JSON.stringify(res.body)}`);
  const scan = await rig.scan(rig.doors.gate.code, new PhoneFleet([{ phone, key }]).token(rig.doors.gate.code, 'qr'));
  return { propagation: applied - sent, response: answered - sent, refused: scan.body.reason === 'revoked' };
}

async function revocationRuns(n: number) {
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await revokeOnce());
  return { propagation: summarize(runs.map((r) => r.propagation)), response: summarize(runs.map((r) => r.response)), refused: runs.filter((r) => r.refused).length };
}

/** Publishes the community's revocation list again and waits until the gateway holds it. */
async function republishRevocations(): Promise<DoorRevocations> {
  const message = await publishRevocations(rig.h.deps, rig.community.id);
  await rig.gateway.revocations(message.version, 30_000);
  return message;
}

/** Phase 2: revocations with a short list, then with the list filled to its maximum. */
async function revocationPhase(aLiveKey: IssuedKey) {
  const short = await revocationRuns(REVOCATIONS);
  log(`revocation to gateway: ${formatSummary(short.propagation)}; HTTP answer ${formatSummary(short.response)}; ${short.refused}/${REVOCATIONS} keys then refused 'revoked' at the reader`);
  const [counted] = rowsOf<{ n: number }>(
    await rig.h.deps.db.execute(sql`select count(*)::int as n from door_credentials where community_id = ${rig.community.id} and revoked_at is not null and valid_until > now()`),
  );
  const fill = MAX_REVOCATIONS - FULL_LIST_REVOCATIONS - (counted?.n ?? 0);
  await rig.h.deps.db.execute(sql`
    insert into door_credentials (id, community_id, holder_kind, holder_id, house_id, device_public_key, key_id, scope, valid_from, valid_until, use_limit, uses, credential, issued_at, revoked_at, revoke_reason)
    select gen_random_uuid(), community_id, holder_kind, gen_random_uuid(), house_id, device_public_key, key_id, scope, valid_from, valid_until, use_limit, 0, credential, issued_at, now(), 'phone-lost'
    from door_credentials cross join generate_series(1, ${fill}) where id = ${aLiveKey.credentialId}`);
  await republishRevocations();
  const full = await revocationRuns(FULL_LIST_REVOCATIONS);
  log(`revocation at a full list (${MAX_REVOCATIONS - FULL_LIST_REVOCATIONS}..${MAX_REVOCATIONS} entries): ${formatSummary(full.propagation)}; ${full.refused}/${FULL_LIST_REVOCATIONS} refused 'revoked'`);
  await drained();
  return { short, full };
}

/** Phase 3: the QR check alone on the gateway's state with the full list, then the reader path one scan at a time. */
async function offlinePhase(fleet: PhoneFleet) {
  const communityId = rig.community.id;
  const revocations = await republishRevocations();
  const signing = await keysInForce(rig.h.deps.db, communityId, new Date());
  const keySet: DoorKeySet = {
    v: 1,
    communityId,
    version: 1,
    issuedAt: new Date().toISOString(),
    keys: signing.map((k) => ({ keyId: k.keyId, alg: 'Ed25519', publicKey: k.publicKey, notAfter: k.notAfter?.toISOString() ?? null })),
  };
  const doors = [rig.doors.gate, rig.doors.A];
  const qr = await timeQrVerification({
    gateway: { communityId, gatewayId: rig.gatewayId },
    keySet,
    revocations,
    doors: rig.gateway.roster.filter((d) => doors.some((door) => door.code === d.code)),
    fleet,
    count: TOKENS,
    signingKeys: new Map(signing.map((k) => [k.keyId, signingKeyObject(Buffer.from(k.publicKey, 'base64url'))])),
  });
  log(`QR check (checkOpenToken, ${qr.revocations} revocations, replay memory up to ${qr.replayKeys}): ${formatSummary(qr.check, 3)}; ${outcomeList(qr.outcomes)}`);
  log(`  then consume (replay key + use, LMDB fsync): ${formatSummary(qr.consume, 3)}`);
  log(`  baseline, two bare signature verifications: ${formatSummary(qr.baseline, 3)}`);
  const scans: number[] = [];
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < SCANS; i++) {
    const door = doors[i % doors.length]!;
    const token = fleet.token(door.code, 'qr');
    const t0 = performance.now();
    const res = await rig.scan(door.code, token);
    scans.push(performance.now() - t0);
    const outcome = res.body.outcome === 'opened' ? 'opened' : `${res.status} ${res.body.reason}`;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  const scan = summarize(scans);
  log(`reader scan (HTTP -> check -> BLE unlock -> answer, one at a time): ${formatSummary(scan)}; ${outcomeList(outcomes)}`);
  return { qr, scan };
}

try {
  server = serve({ fetch: rig.h.app.fetch, hostname: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const holders = await ownerPhones();
  const fleet = new PhoneFleet(holders);
  const clock = attachStageClock();
  const loadAverage = os.loadavg()[0]!;
  const layout =
    TOPOLOGY === 'split'
      ? 'topology split: cloud + broker + load generator in this process, gateway + 3 simulated locks (latency 0) in a child process'
      : 'topology single: cloud + broker + gateway + 3 simulated locks (latency 0) + load generator in one process';
  log(`doors: ${layout}, HTTP at ${base}, PostgreSQL; ${CONCURRENCY} concurrent for ${SECONDS} s`);
  log(`machine: ${os.availableParallelism()} cores, load average ${loadAverage.toFixed(2)} at start`);

  const online = await onlinePhase(fleet, clock);
  const revocation = await revocationPhase(holders[0]!.key);
  const { qr, scan } = await offlinePhase(fleet);

  const { opens, pings } = online;
  const ratio = opens.result.latency.p99 / pings.result.latency.p99;
  const qrRatio = qr.check.p99 / qr.baseline.p99;
  log(
    `online open p99 ${opens.result.latency.p99.toFixed(1)} ms at ${CONCURRENCY} concurrent, ${ratio.toFixed(2)}× the ping round trip: ${opens.result.latency.p99 < TARGET_OPEN_P99_MS ? 'meets' : 'MISSES'} the target (< ${TARGET_OPEN_P99_MS} ms); ` +
      `QR check p99 ${qr.check.p99.toFixed(3)} ms, ${qrRatio.toFixed(2)}× the bare verifications: ${qr.check.p99 < TARGET_QR_P99_MS ? 'meets' : 'MISSES'} the target (< ${TARGET_QR_P99_MS} ms)`,
  );
  console.log(
    JSON.stringify({
      name: 'doors',
      topology: TOPOLOGY,
      unit: `ms (online open p99, ${CONCURRENCY} concurrent)`,
      value: opens.result.latency.p99,
      baseline: pings.result.latency.p99,
      ratio: Number(ratio.toFixed(2)),
      p50: opens.result.latency.p50,
      p99: opens.result.latency.p99,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      opensPerSecond: Number((opens.result.requests.length / opens.result.seconds).toFixed(1)),
      opensPerMinute: online.opensPerMinute,
      opened: online.opened,
      notOpened: online.notOpened,
      baselineP50: pings.result.latency.p50,
      unloadedP50: online.unloaded.p50,
      unloadedP99: online.unloaded.p99,
      openRetries: opens.result.retries,
      openDeadlocks: opens.result.deadlocks,
      pingRetries: pings.result.retries,
      eventLoopBusy: opens.result.load.elu,
      cpuCores: opens.result.load.cpuCores,
      runQueueWait: opens.result.load.runQueueWait,
      gatewayRunQueueWait: opens.result.gatewayLoad?.runQueueWait ?? null,
      machineBusyCores: opens.result.machine?.busyCores ?? null,
      machineIowaitCores: opens.result.machine?.iowaitCores ?? null,
      gatewayEventLoopBusy: opens.result.gatewayLoad?.elu ?? null,
      gatewayCpuCores: opens.result.gatewayLoad?.cpuCores ?? null,
      pingEventLoopBusy: pings.result.load.elu,
      pingGatewayEventLoopBusy: pings.result.gatewayLoad?.elu ?? null,
      loadAverage: Number(loadAverage.toFixed(2)),
      qrVerifyP50: qr.check.p50,
      qrVerifyP99: qr.check.p99,
      qrVerifyBaselineP50: qr.baseline.p50,
      qrVerifyBaselineP99: qr.baseline.p99,
      qrVerifyRatio: Number(qrRatio.toFixed(2)),
      qrConsumeP99: qr.consume.p99,
      qrTokens: qr.check.n,
      qrRevocations: qr.revocations,
      readerScanP50: scan.p50,
      readerScanP99: scan.p99,
      readerScans: scan.n,
      revocationP50: revocation.short.propagation.p50,
      revocationP99: revocation.short.propagation.p99,
      revocationFullListP50: revocation.full.propagation.p50,
      revocationFullListP99: revocation.full.propagation.p99,
      revocations: REVOCATIONS,
      openStages: opens.stages,
      unloadedStages: online.unloadedStages,
      pingStages: pings.stages,
      target: { openP99: TARGET_OPEN_P99_MS, qrVerifyP99: TARGET_QR_P99_MS },
    }),
  );
} finally {
  const listening = server;
  if (listening) await new Promise<void>((resolve) => listening.close(() => resolve()));
  await rig.close();
}
process.exit(0);
