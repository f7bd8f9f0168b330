import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { and, count, countDistinct, eq, sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../cloud/src/config.js';
import { meterReadings, meters } from '../cloud/src/features/meters/meters.schema.js';
import { startCloud, type RunningCloud } from '../cloud/src/server.js';
import { TEST_DATABASE_URL } from '../cloud/test/harness.js';
import { newPhone, openToken, type IssuedKey } from '../cloud/test/door-rig.js';
import { startSession } from '../cloud/src/features/auth/session-service.js';
import { houseMembers, residents } from '../cloud/src/features/people/people.schema.js';
import { billRuns } from '../cloud/src/features/billing/billing.schema.js';
import { localDate, periodContaining } from '../cloud/src/features/billing/billing-periods.js';
import { startDemoDevices, type DemoDevices } from './community.js';

// The meter loop end to end, on the real PostgreSQL: simulated Modbus meters -> edge gateway (outbox)
// -> MQTT -> cloud ingest -> meter_readings, and the cloud restarted while the gateway keeps reading.
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
const log = pino({ level: 'silent' });
let cloud: RunningCloud | undefined;
let devices: DemoDevices | undefined;

afterAll(async () => {
  await devices?.stop();
  if (cloud) {
    await cloud.deps.db.execute(sql.raw(`drop schema if exists "${schema}" cascade`));
    await cloud.stop();
  }
}, 60_000);

it('brings every demo meter’s readings into PostgreSQL, exactly once across a cloud restart', async () => {
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'estate-demo-')),
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    PORT: '0',
    MQTT_PORT: String(await freePort()),
    SEED_DEMO: 'always',
  };
  const config = loadConfig(env);
  cloud = await startCloud(config, log);
  devices = await startDemoDevices(cloud, { pollSeconds: 10 });
  const { gatewayId } = devices;
  const db = () => cloud!.deps.db;
  const metersWithReadings = async () => {
    const [row] = await db().select({ n: countDistinct(meterReadings.meterId) }).from(meterReadings).innerJoin(meters, eq(meters.id, meterReadings.meterId)).where(eq(meters.gatewayId, gatewayId));
    return row!.n;
  };
  await until('a reading from every meter', async () => (await metersWithReadings()) === devices!.meters, 60_000);

  // A demo owner opens their building's entrance by phone: keys issued, the simulated lock turns.
  const demoPhone = cloud.demo!.residentPhones[0]!;
  const [owner] = await db().select().from(residents).where(eq(residents.phoneIndex, cloud.deps.vault.blindIndex(demoPhone, 'phone')));
  const session = await startSession(cloud.deps, { kind: 'resident', id: owner!.id }, { ip: '127.0.0.1', userAgent: 'demo test' });
  const phone = newPhone();
  const keysRes = await fetch(`${cloud.baseUrl}/v1/me/door-keys`, { method: 'POST', headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ devicePublicKey: phone.raw }) });
  const [key] = ((await keysRes.json()) as { keys: IssuedKey[] }).keys;
  const entrance = key!.doors.find((d) => d.name.endsWith('entrance'))!;
  const lock = devices.radio.lock(devices.doors.find((d) => d.id === entrance.id)!.address)!;
  await until('the gateway to hold its doors and the key set', async () => devices!.gateway.doors!.versions().keySet !== null && devices!.gateway.doors!.doors().length === devices!.doors.length, 10_000);
  const opened = await fetch(`${cloud.baseUrl}/v1/doors/${entrance.id}/open`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: openToken(phone, key!, entrance.code, 'online') }) });
  expect(opened.status, await opened.clone().text()).toBe(200);
  expect(lock.unlocks).toBe(1);

  // The demo bills this month: last month's meter round, every house's electricity and water, posted.
  const [run] = await db().select().from(billRuns).where(eq(billRuns.communityId, cloud.demo!.communityId));
  expect(run).toMatchObject({ status: 'posted', periodStart: periodContaining('monthly', localDate(new Date(), 'Asia/Shanghai')).start });
  const report = run!.report!;
  expect(report).toMatchObject({ held: 0, billedHouses: report.houses });
  for (const code of ['electricity', 'water', 'property', 'public-light']) expect(report.byFeeItem.find((f) => f.code === code)?.lines).toBe(report.houses);
  const [membership] = await db().select().from(houseMembers).where(eq(houseMembers.residentId, owner!.id)).limit(1);
  const overview = await fetch(`${cloud.baseUrl}/v1/me/houses/${membership!.houseId}/billing`, { headers: { authorization: `Bearer ${session.accessToken}` } });
  expect(overview.status, await overview.clone().text()).toBe(200);
  expect(((await overview.json()) as { latestBill: { period: { start: string } } }).latestBill.period.start).toBe(run!.periodStart);

  // The cloud (and its broker) goes away; the gateway keeps polling into its outbox.
  await cloud.stop();
  cloud = undefined;
  const storedBefore = devices.gateway.readingCounters().stored;
  await until('readings piling up in the outbox while the cloud is down', async () => devices!.gateway.readingCounters().stored > storedBefore + 50, 30_000);
  expect(devices.gateway.outboxStats().depth).toBeGreaterThan(50);

  cloud = await startCloud(config, log);
  await until('the outbox to drain after the cloud is back', async () => devices!.gateway.outboxStats().depth === 0 && devices!.gateway.isConnected(), 60_000);
  await devices.gateway.stop();
  const produced = devices.gateway.readingCounters().stored;

  const [stored] = await db()
    .select({ rows: count(), seqs: countDistinct(meterReadings.gatewaySeq) })
    .from(meterReadings)
    .where(and(eq(meterReadings.gatewayId, gatewayId), eq(meterReadings.source, 'gateway')));
  // Every reading the gateway stored in its outbox is in PostgreSQL once: none lost, none doubled.
  expect(stored!.rows).toBe(produced);
  expect(stored!.seqs).toBe(produced);
  const flagged = await db().select({ n: count() }).from(meterReadings).where(and(eq(meterReadings.gatewayId, gatewayId), sql`${meterReadings.anomalies} <> '[]'::jsonb`));
  expect(flagged[0]!.n).toBe(0);
}, 240_000);
