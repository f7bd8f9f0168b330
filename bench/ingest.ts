// Meter reading ingest: many gateways publishing readings over MQTT into PostgreSQL (target: ≥ 20,000 readings/s, ratio ≥ 0.5).
//
// Run: npx tsx bench/ingest.ts [--seconds 10] [--gateways 50] [--meters 200] [--batch 100] [--window 2] [--source mqtt|direct]
//      (npm run bench -- ingest ...)
// Uses DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh schema dropped at the end.
//
// --source mqtt (default): the real path. The cloud's embedded aedes broker with gateway credentials, the
//   gateway dispatcher (topic ACL, zod decoding) and createReadingIngest; each simulated gateway is an
//   MQTT.js client publishing QoS 1 ReadingsMessages. The broker PUBACKs only after the batch commits,
//   so "lag" is readAt -> PUBACK at the gateway, which is after the commit. The gateways run in a child
//   process (bench/lib/ingest-gateways.ts): they are the load generator, and the figure is the cloud's,
//   so they do not share its event loop (on a small machine they still share its cores).
// --source direct: the same messages handed to ingest.handle() in this process (no broker), to see what
//   MQTT costs.
// Baseline: the same rows, read back after the run, the table emptied (TRUNCATE), and the rows inserted
// again into meter_readings itself (same indexes, checks and foreign key) by a plain multi-row INSERT
// through postgres.js, 1000 rows per statement. That is the floor: no routing, dedup, anomaly checks or acks.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import postgres from 'postgres';
import { loadConfig } from '../cloud/src/config.js';
import type { AppDeps } from '../cloud/src/context.js';
import { openDatabase } from '../cloud/src/db/client.js';
import { migrate, rowsOf } from '../cloud/src/db/migrate.js';
import { assembleDeps } from '../cloud/src/deps.js';
import { communities, propertyCompanies } from '../cloud/src/features/estate/estate.schema.js';
import { attachGatewayBroker } from '../cloud/src/features/gateways/gateway-broker.js';
import { gateways } from '../cloud/src/features/gateways/gateways.schema.js';
import { createReadingIngest, type ReadingIngest } from '../cloud/src/features/meters/reading-ingest.js';
import { hashPassword } from '../cloud/src/features/staff/passwords.js';
import { InProcessJobQueue } from '../cloud/src/jobs/job-queue.js';
import { drive, type FromGateways, type LoadShape, type SimGateway, type ToGateways } from './lib/ingest-load.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    gateways: { type: 'string', default: '50' },
    meters: { type: 'string', default: '200' },
    batch: { type: 'string', default: '100' },
    window: { type: 'string', default: '2' },
    source: { type: 'string', default: 'mqtt' },
  },
});
const SECONDS = Number(args.seconds);
const GATEWAYS = Number(args.gateways);
const METERS_PER_GATEWAY = Number(args.meters);
const BATCH = Number(args.batch);
const WINDOW = Number(args.window);
const SOURCE = args.source === 'direct' ? 'direct' : 'mqtt';
const TARGET = 20_000;

const url = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schemaName = `bench_ingest_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'estate-bench-'));

/** Where the load runs: `drive` runs every gateway until `untilMs`; `close` ends it and returns the last sequence number of each gateway. */
type LoadSource = {
  drive(untilMs: number, t0: number, lags: number[] | null): Promise<number>;
  close(): Promise<Map<string, number>>;
};

const shape: LoadShape = { batch: BATCH, window: WINDOW };
/** The child process running the MQTT gateways, stopped in `finally` if the bench fails while it runs. */
let gatewayProcess = null as ChildProcess | null;

/** The gateways as MQTT.js clients in a child process, publishing to the cloud's embedded broker. */
async function mqttSource(deps: AppDeps, ingest: ReadingIngest, sims: SimGateway[]): Promise<LoadSource> {
  const broker = await attachGatewayBroker(deps, { readings: ingest });
  const child = fork(fileURLToPath(new URL('./lib/ingest-gateways.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  gatewayProcess = child;
  const ask = <T extends FromGateways['type']>(message: ToGateways, answer: T) =>
    new Promise<Extract<FromGateways, { type: T }>>((resolve, reject) => {
      const onMessage = (reply: FromGateways) => {
        cleanup();
        if (reply.type === answer) resolve(reply as Extract<FromGateways, { type: T }>);
        else reject(new Error(reply.type === 'failed' ? `gateway process failed: ${reply.error}` : `unexpected ${reply.type} from the gateway process`));
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`the gateway process exited (code ${code}) before answering ${message.type}`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send(message);
    });
  await ask({ type: 'start', url: broker.url.replace('0.0.0.0', '127.0.0.1'), sims, shape }, 'ready');
  return {
    async drive(untilMs, t0, lags) {
      const driven = await ask({ type: 'drive', untilMs, t0, measure: lags !== null }, 'driven');
      lags?.push(...driven.lags);
      return driven.readings;
    },
    async close() {
      const closed = await ask({ type: 'close' }, 'closed');
      await exited(child);
      await broker.close();
      return new Map(Object.entries(closed.seqs));
    },
  };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The same gateways in this process, handing their messages to ingest.handle(). */
function directSource(ingest: ReadingIngest, sims: SimGateway[]): LoadSource {
  return {
    drive: (untilMs, t0, lags) => drive((gw, message) => ingest.handle(gw, message), sims, shape, untilMs, t0, lags),
    close: async () => new Map(sims.map((gw) => [gw.gatewayId, gw.seq])),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function seed(deps: AppDeps): Promise<SimGateway[]> {
  const [company] = await deps.db.insert(propertyCompanies).values({ name: 'Bench company' }).returning();
  const sims: SimGateway[] = [];
  const password = randomBytes(18).toString('base64url');
  const credentialHash = await hashPassword(password);
  for (let g = 0; g < GATEWAYS; g++) {
    const [community] = await deps.db.insert(communities).values({ companyId: company!.id, code: `B${g}`, name: `Bench community ${g}` }).returning();
    const [gateway] = await deps.db.insert(gateways).values({ communityId: community!.id, name: `gw-${g}`, credentialHash, config: {} }).returning();
    const devices = Array.from({ length: METERS_PER_GATEWAY }, (_, i) => `em-${i}`);
    const json = JSON.stringify(devices.map((d) => ({ d, s: `${g}-${d}` })));
    await deps.db.execute(sql`
      insert into meters (community_id, kind, model, serial_no, billing_quantity, unit, gateway_id, device_id, poll_seconds)
      select ${community!.id}::uuid, 'electricity', 'DTSY-TOU', r.s, 'energy_import', 'kWh', ${gateway!.id}::uuid, r.d, 900
      from json_to_recordset(${json}::json) as r(d text, s text)`);
    sims.push({ gatewayId: gateway!.id, communityId: community!.id, password, devices, seq: 0 });
  }
  return sims;
}

const config = loadConfig({
  NODE_ENV: 'test',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  MQTT_HOST: '127.0.0.1',
  MQTT_PORT: '0',
  JWT_SECRET: randomBytes(32).toString('base64'),
  PII_KEYS: `b1:${randomBytes(32).toString('base64')}`,
  BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
});
const log = pino({ level: 'silent' });
const database = await openDatabase({ url, dataDir, schemaName, maxConnections: 8 });

try {
  await migrate(database.db, schemaName);
  const deps = assembleDeps({ config, database, jobs: new InProcessJobQueue(log), log });
  const sims = await seed(deps);
  const ingest = createReadingIngest(deps);
  const source = SOURCE === 'mqtt' ? await mqttSource(deps, ingest, sims) : directSource(ingest, sims);
  console.log(`ingest: ${GATEWAYS} gateways × ${METERS_PER_GATEWAY} meters, messages of ${BATCH} readings, ${WINDOW} in flight per gateway, source ${SOURCE}, PostgreSQL schema ${schemaName}`);

  const t0 = Date.now();
  // Warm-up: every meter read once (meter directory filled, first readings have no predecessor).
  await source.drive(Date.now() + 1500, t0, null);
  const lags: number[] = [];
  const started = performance.now();
  const readings = await source.drive(Date.now() + SECONDS * 1000, t0, lags);
  const elapsed = (performance.now() - started) / 1000;
  const seqs = await source.close();
  await ingest.close();
  const rate = readings / elapsed;
  lags.sort((a, b) => a - b);

  const [counts] = rowsOf<{ total: number; flagged: number; rejected: number }>(
    await deps.db.execute(sql`select (select count(*)::int from meter_readings) as total,
      (select count(*)::int from meter_readings where anomalies <> '[]'::jsonb) as flagged, (select count(*)::int from ingest_rejections) as rejected`),
  );
  const expected = [...seqs.values()].reduce((sum, seq) => sum + seq, 0);
  console.log(`ingest:   ${readings} readings in ${elapsed.toFixed(2)} s = ${Math.round(rate)} readings/s; lag read→commit p50 ${percentile(lags, 50)} ms, p99 ${percentile(lags, 99)} ms`);
  console.log(`in database: ${counts!.total} readings (${expected} sent in all, warm-up included), ${counts!.flagged} flagged, ${counts!.rejected} rejected`);
  if (counts!.total !== expected) throw new Error(`expected ${expected} readings in the database, found ${counts!.total}`);

  // Baseline: the same rows, read back, inserted again by a plain multi-row INSERT.
  const raw = postgres(url, { max: 1, onnotice: () => {}, connection: { search_path: schemaName } });
  const rows = await raw.unsafe<{ meter_id: string; read_at: string; value: string; values: string; gateway_id: string; gateway_seq: string }[]>(
    `select meter_id::text, read_at::text, value::text, "values"::text, gateway_id::text, gateway_seq::text from meter_readings order by id`,
  );
  await raw.unsafe('truncate meter_readings');
  const baselineStarted = performance.now();
  for (let i = 0; i < rows.length; i += 1000) {
    const batch = rows.slice(i, i + 1000);
    const params = batch.flatMap((r) => [r.meter_id, r.read_at, r.value, r.values, 'gateway', r.gateway_id, r.gateway_seq]);
    const values = batch.map((_, n) => `(${[1, 2, 3, 4, 5, 6, 7].map((c) => `$${n * 7 + c}`).join(', ')})`).join(', ');
    await raw.unsafe(`insert into meter_readings (meter_id, read_at, value, "values", source, gateway_id, gateway_seq) values ${values}`, params);
  }
  const baselineSeconds = (performance.now() - baselineStarted) / 1000;
  await raw.end();
  const baseline = rows.length / baselineSeconds;
  const ratio = rate / baseline;
  console.log(`baseline: ${rows.length} rows in ${baselineSeconds.toFixed(2)} s = ${Math.round(baseline)} rows/s (the same rows again, plain INSERT into the emptied table, 1000 rows per statement)`);
  console.log(`ingest of readings: ${Math.round(rate)}/s, ${ratio.toFixed(2)} of the plain INSERT; ${rate >= TARGET && ratio >= 0.5 ? 'meets' : 'MISSES'} the target (≥ ${TARGET}/s, ratio ≥ 0.5)`);
  console.log(
    JSON.stringify({
      name: 'ingest',
      unit: 'readings/s',
      value: Math.round(rate),
      baseline: Math.round(baseline),
      ratio: Number(ratio.toFixed(2)),
      p50: percentile(lags, 50),
      p99: percentile(lags, 99),
      readings,
      gateways: GATEWAYS,
      source: SOURCE,
      target: TARGET,
    }),
  );
} finally {
  if (gatewayProcess && gatewayProcess.exitCode === null && gatewayProcess.signalCode === null) gatewayProcess.kill();
  await database.db.execute(sql.raw(`drop schema if exists "${schemaName}" cascade`));
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
