// Meter reading ingest: many gateways publishing readings over MQTT into PostgreSQL (target: ≥ 20,000 readings/s, ratio ≥ 0.5).
//
// Run: npx tsx bench/ingest.ts [--seconds 10] [--gateways 50] [--meters 200] [--batch 100] [--window 2] [--source mqtt|direct]
//      (npm run bench -- ingest ...)
// Uses DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh schema dropped at the end.
//
// --source mqtt (default): the real path. The cloud's embedded aedes broker with gateway credentials, the
//   gateway dispatcher (topic ACL, zod decoding) and createReadingIngest; each simulated gateway is an
//   MQTT.js client publishing QoS 1 ReadingsMessages. The broker PUBACKs only after the batch commits,
//   so "lag" is readAt -> PUBACK at the gateway, which is after the commit.
// --source direct: the same messages handed to ingest.handle() (no broker), to see what MQTT costs.
//
// Baseline: the same rows, read back after the run, the table emptied (TRUNCATE), and the rows inserted
// again into meter_readings itself (same indexes, checks and foreign key) by a plain multi-row INSERT
// through postgres.js, 1000 rows per statement. That is the floor: no routing, dedup, anomaly checks or acks.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import postgres from 'postgres';
import { topics, type MeterReading, type ReadingsMessage } from '@estate/protocol';
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

type SimGateway = { gatewayId: string; communityId: string; password: string; devices: string[]; seq: number };

/** Where the simulated gateways' messages go; `send` resolves when the cloud has acknowledged them. */
type ReadingSource = { send(gw: SimGateway, message: ReadingsMessage): Promise<void>; close(): Promise<void> };

async function mqttSource(deps: AppDeps, ingest: ReadingIngest, sims: SimGateway[]): Promise<ReadingSource> {
  const broker = await attachGatewayBroker(deps, { readings: ingest });
  const clients = new Map<string, MqttClient>();
  await Promise.all(
    sims.map(async (gw) => {
      const client = await mqtt.connectAsync(broker.url.replace('0.0.0.0', '127.0.0.1'), {
        clientId: gw.gatewayId,
        username: gw.gatewayId,
        password: gw.password,
        protocolVersion: 4,
        reconnectPeriod: 0,
        clean: true,
      });
      clients.set(gw.gatewayId, client);
    }),
  );
  return {
    async send(gw, message) {
      await clients.get(gw.gatewayId)!.publishAsync(topics.uplink(gw, 'readings'), JSON.stringify(message), { qos: 1 });
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.endAsync()));
      await broker.close();
    },
  };
}

function directSource(ingest: ReadingIngest): ReadingSource {
  return { send: (gw, message) => ingest.handle(gw, message), close: async () => {} };
}

/** A counter that grows linearly in time (3.6 kWh/h per meter), so no interval looks like a spike. */
function readingsFor(gw: SimGateway, devices: string[], t0: number): ReadingsMessage {
  const now = Date.now();
  const readAt = new Date(now).toISOString();
  const items: MeterReading[] = devices.map((d, i) => ({
    seq: ++gw.seq,
    meterId: d,
    readAt,
    values: { energy_import: { value: (1000 + i + (now - t0) / 1_000_000).toFixed(6), unit: 'kWh' }, voltage: { value: '229.8', unit: 'V' } },
  }));
  return { v: 1, gatewayId: gw.gatewayId, sentAt: readAt, items };
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

/** Each gateway publishes its meters in messages of BATCH readings, with up to WINDOW messages in flight. */
async function drive(source: ReadingSource, sims: SimGateway[], untilMs: number, t0: number, lags: number[] | null) {
  let readings = 0;
  await Promise.all(
    sims.map(async (gw) => {
      const lanes = Array.from({ length: WINDOW }, async (_, lane) => {
        let offset = lane * BATCH;
        while (Date.now() < untilMs) {
          if (offset >= gw.devices.length) offset %= gw.devices.length;
          const message = readingsFor(gw, gw.devices.slice(offset, offset + BATCH), t0);
          offset += WINDOW * BATCH;
          const readAt = Date.parse(message.sentAt);
          await source.send(gw, message);
          lags?.push(Date.now() - readAt);
          readings += message.items.length;
        }
      });
      await Promise.all(lanes);
    }),
  );
  return readings;
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
  const source = SOURCE === 'mqtt' ? await mqttSource(deps, ingest, sims) : directSource(ingest);
  console.log(`ingest: ${GATEWAYS} gateways × ${METERS_PER_GATEWAY} meters, messages of ${BATCH} readings, ${WINDOW} in flight per gateway, source ${SOURCE}, PostgreSQL schema ${schemaName}`);

  const t0 = Date.now();
  // Warm-up: every meter read once (meter directory filled, first readings have no predecessor).
  await drive(source, sims, Date.now() + 1500, t0, null);
  const lags: number[] = [];
  const started = performance.now();
  const readings = await drive(source, sims, Date.now() + SECONDS * 1000, t0, lags);
  const elapsed = (performance.now() - started) / 1000;
  await source.close();
  await ingest.close();
  const rate = readings / elapsed;
  lags.sort((a, b) => a - b);

  const [counts] = rowsOf<{ total: number; flagged: number; rejected: number }>(
    await deps.db.execute(sql`select (select count(*)::int from meter_readings) as total,
      (select count(*)::int from meter_readings where anomalies <> '[]'::jsonb) as flagged, (select count(*)::int from ingest_rejections) as rejected`),
  );
  const expected = sims.reduce((sum, gw) => sum + gw.seq, 0);
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
  await database.db.execute(sql.raw(`drop schema if exists "${schemaName}" cascade`));
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
