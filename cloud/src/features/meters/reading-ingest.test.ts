import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { openDatabase } from '../../db/client.js';
import { gateways, ingestRejections } from '../gateways/gateways.schema.js';
import { meterReadings, meters } from './meters.schema.js';
import { energyReading, pollTimes, readingsMessage, seedGateway, seedMeter } from './meters.test-fixture.js';
import { createReadingIngest } from './reading-ingest.js';

let h: Harness;
let communityId: string;
let otherCommunityId: string;
let gatewayId: string;
const gw = () => ({ communityId, gatewayId });

beforeAll(async () => {
  h = await createHarness();
  const { communities } = await createCompany(h, ['A', 'B']);
  communityId = communities['A']!.id;
  otherCommunityId = communities['B']!.id;
  gatewayId = (await seedGateway(h, communityId)).id;
});
afterAll(() => h.close());

const readingsOf = (meterId: string) => h.deps.db.select().from(meterReadings).where(eq(meterReadings.meterId, meterId)).orderBy(asc(meterReadings.readAt));
const metric = async (name: string) => (await h.deps.metrics.registry.getSingleMetricAsString(name)) ?? '';

describe('reading ingest', () => {
  it('stores the same message delivered twice exactly once', async () => {
    const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'dup-1' });
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 5 });
    const message = readingsMessage(gatewayId, [energyReading(1, 'dup-1', '2025-03-01T00:00:00Z', '10.00'), energyReading(2, 'dup-1', '2025-03-01T00:15:00Z', '10.25')]);
    await ingest.handle(gw(), message);
    await ingest.handle(gw(), message);
    await Promise.all([ingest.handle(gw(), message), ingest.handle(gw(), message)]);
    const rows = await readingsOf(meter.id);
    expect(rows.map((r) => [r.gatewaySeq, r.value, r.source])).toEqual([
      [1, '10.000000', 'gateway'],
      [2, '10.250000', 'gateway'],
    ]);
    expect(rows[1]!.values['voltage']).toEqual({ value: '229.8', unit: 'V' });
    const [g] = await h.deps.db.select().from(gateways).where(eq(gateways.id, gatewayId));
    expect(g!.highestSeq).toBeGreaterThanOrEqual(2);
    expect(await metric('meter_readings_duplicate_total')).toMatch(/meter_readings_duplicate_total 6/);
    await ingest.close();
  });

  it('group-commits many concurrent messages: every handle resolves and every row is there', async () => {
    const devices = Array.from({ length: 20 }, (_, i) => `conc-${i}`);
    for (const d of devices) await seedMeter(h, { communityId, gatewayId, deviceId: d });
    const ingest = createReadingIngest(h.deps, { maxBatchRows: 150, maxDelayMs: 10 });
    const times = pollTimes('2025-04-01T00:00:00Z', 25);
    let seq = 10_000;
    const messages = times.map((t, round) => readingsMessage(gatewayId, devices.map((d) => energyReading(++seq, d, t, `${100 + round}.5`))));
    await Promise.all(messages.map((m) => ingest.handle(gw(), m)));
    const ids = (await h.deps.db.select({ id: meters.id, deviceId: meters.deviceId }).from(meters)).filter((m) => devices.includes(m.deviceId ?? ''));
    for (const m of ids) expect((await readingsOf(m.id)).map((r) => r.anomalies.length)).toEqual(Array(25).fill(0));
    await ingest.close();
    await expect(ingest.handle(gw(), messages[0]!)).rejects.toThrow(/closed/);
  });

  it('keeps a reading for an unknown meter or another community\'s meter as a rejection, and stores the rest', async () => {
    const good = await seedMeter(h, { communityId, gatewayId, deviceId: 'good-1' });
    // A meter of community B that was (wrongly) configured on community A's gateway.
    await seedMeter(h, { communityId: otherCommunityId, gatewayId, deviceId: 'stray-1' });
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    const noBilling = { seq: 503, meterId: 'good-1', readAt: '2025-05-01T00:30:00Z', values: { voltage: { value: '230', unit: 'V' } } };
    const message = readingsMessage(gatewayId, [
      energyReading(500, 'good-1', '2025-05-01T00:00:00Z', '1.00'),
      energyReading(501, 'ghost-9', '2025-05-01T00:00:00Z', '7.00'),
      energyReading(502, 'stray-1', '2025-05-01T00:00:00Z', '7.00'),
      noBilling,
      energyReading(504, 'good-1', '2025-05-01T00:15:00Z', '1.10'),
    ]);
    await ingest.handle(gw(), message);
    await ingest.handle(gw(), message); // redelivered: no second copy of the rejections either
    expect((await readingsOf(good.id)).map((r) => r.gatewaySeq)).toEqual([500, 504]);
    const rejections = await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, gatewayId)).orderBy(asc(ingestRejections.id));
    expect(rejections.map((r) => r.reason).sort()).toEqual(['community-mismatch', 'missing-billing-quantity', 'unknown-meter']);
    const ghost = rejections.find((r) => r.reason === 'unknown-meter')!;
    expect(JSON.parse(ghost.payload)).toMatchObject({ seq: 501, meterId: 'ghost-9' });
    expect(ghost.topic).toBe(`estate/v1/${communityId}/gw/${gatewayId}/up/readings`);
    expect(await metric('meter_readings_rejected_total')).toMatch(/reason="unknown-meter"} 2/);
    await ingest.close();
  });

  it('flags backwards, rollover, spike and gap with concrete numbers', async () => {
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    const send = async (device: string, seq0: number, values: string[], times = pollTimes('2025-06-01T00:00:00Z', values.length)) => {
      const meter = await seedMeter(h, { communityId, gatewayId, deviceId: device });
      await ingest.handle(gw(), readingsMessage(gatewayId, values.map((v, i) => energyReading(seq0 + i, device, times[i]!, v))));
      return (await readingsOf(meter.id)).map((r) => r.anomalies);
    };
    expect(await send('back-1', 600, ['100.00', '99.50'])).toEqual([[], ['backwards']]);
    // DTSY-TOU wraps at raw 99999999 x 0.01 kWh: 999999.90 -> 0.05 is a wrap (0.15 kWh consumed).
    expect(await send('roll-1', 610, ['999999.80', '999999.90', '0.05'])).toEqual([[], [], ['rollover']]);
    // 0.25 kWh per 15 min (1 kWh/h) for four intervals, then 3 kWh in 15 min (12 kWh/h).
    expect(await send('spike-1', 620, ['10.00', '10.25', '10.50', '10.75', '11.00', '14.00'])).toEqual([[], [], [], [], [], ['spike']]);
    // Polled every 900 s; one reading 4 hours after the previous.
    const gapTimes = ['2025-06-01T00:00:00Z', '2025-06-01T00:15:00Z', '2025-06-01T04:15:00Z'];
    expect(await send('gap-1', 640, ['5.00', '5.20', '6.50'], gapTimes)).toEqual([[], [], ['gap']]);
    await ingest.close();
  });

  it('judges a late reading against its neighbours in time, and re-judges the one after it', async () => {
    const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'late-1' });
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    const [t0, t1, t2] = pollTimes('2025-07-01T00:00:00Z', 3);
    await ingest.handle(gw(), readingsMessage(gatewayId, [energyReading(700, 'late-1', t0!, '50.00'), energyReading(702, 'late-1', t2!, '50.40')]));
    // t1 arrives late with a value above t2's: it is the odd one, so it is fine and t2 becomes backwards.
    await ingest.handle(gw(), readingsMessage(gatewayId, [energyReading(701, 'late-1', t1!, '50.60')]));
    expect((await readingsOf(meter.id)).map((r) => [r.value, r.anomalies])).toEqual([
      ['50.000000', []],
      ['50.600000', []],
      ['50.400000', ['backwards']],
    ]);
    await ingest.close();
  });

  it('keeps a second reading at the same time under another sequence number as a rejection', async () => {
    const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'same-t' });
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    await ingest.handle(gw(), readingsMessage(gatewayId, [energyReading(800, 'same-t', '2025-08-01T00:00:00Z', '1.00'), energyReading(801, 'same-t', '2025-08-01T00:00:00Z', '1.01')]));
    expect(await readingsOf(meter.id)).toHaveLength(1);
    const [row] = await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.reason, 'duplicate-read-time'));
    expect(JSON.parse(row!.payload)).toMatchObject({ seq: 801 });
    await ingest.close();
  });

  it('keeps a reading whose sequence number the gateway already used for another reading, and stores the rest', async () => {
    // A gateway whose outbox was lost (a new SD card) starts its sequence again; its new readings meet the
    // (gateway, sequence) index. They must not vanish as "redeliveries": they are kept as rejections.
    const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'seq-again' });
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    const [t0, t1, t2, t3] = pollTimes('2025-10-01T00:00:00Z', 4);
    await ingest.handle(gw(), readingsMessage(gatewayId, [energyReading(1000, 'seq-again', t0!, '5.00'), energyReading(1001, 'seq-again', t1!, '5.25')]));
    const duplicatesBefore = Number(/meter_readings_duplicate_total (\d+)/.exec(await metric('meter_readings_duplicate_total'))?.[1] ?? 0);
    await ingest.handle(
      gw(),
      readingsMessage(gatewayId, [energyReading(1001, 'seq-again', t2!, '5.50'), energyReading(1002, 'seq-again', t3!, '4.00')]),
    );
    expect((await readingsOf(meter.id)).map((r) => [r.gatewaySeq, r.readAt.toISOString(), r.anomalies])).toEqual([
      [1000, t0, []],
      [1001, t1, []],
      [1002, t3, ['backwards']],
    ]);
    expect(await metric('meter_readings_duplicate_total')).toContain(`meter_readings_duplicate_total ${duplicatesBefore}`);
    const rejected = (await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, gatewayId))).filter((r) => r.payload.includes('seq-again'));
    expect(rejected.map((r) => r.reason)).toEqual(['seq-reused']);
    expect(JSON.parse(rejected[0]!.payload)).toMatchObject({ seq: 1001, readAt: t2, values: { energy_import: { value: '5.50' } } });

    // The same message delivered again is a true redelivery of the first one: nothing new, nothing rejected twice.
    await ingest.handle(gw(), readingsMessage(gatewayId, [energyReading(1000, 'seq-again', t0!, '5.00')]));
    expect(await metric('meter_readings_duplicate_total')).toContain(`meter_readings_duplicate_total ${duplicatesBefore + 1}`);
    await ingest.close();
  });

  it('keeps aside a reading stamped in the future by a gateway whose clock jumped, and stores the rest', async () => {
    const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'clock-jump' });
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    const now = Date.now();
    const honest = new Date(now - 60_000).toISOString();
    const future = new Date(now + 3 * 3600_000).toISOString();
    await ingest.handle(gw(), readingsMessage(gatewayId, [energyReading(4000, 'clock-jump', honest, '10.00'), energyReading(4001, 'clock-jump', future, '10.50')]));
    expect((await readingsOf(meter.id)).map((r) => r.gatewaySeq)).toEqual([4000]);
    const rejected = (await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, gatewayId))).filter((r) => r.payload.includes('clock-jump'));
    expect(rejected.map((r) => r.reason)).toEqual(['future-read-time']);
    await ingest.close();
  });

  it('rejects (never acknowledges) when the database is down, and stores the message on the retry', async () => {
    await seedMeter(h, { communityId, gatewayId, deviceId: 'down-1' });
    const dead = await openDatabase({ url: 'postgres://postgres@127.0.0.1:1/none', dataDir: '/tmp', maxConnections: 1 });
    const broken = createReadingIngest({ ...h.deps, db: dead.db }, { maxDelayMs: 0 });
    const message = readingsMessage(gatewayId, [energyReading(900, 'down-1', '2025-09-01T00:00:00Z', '3.00')]);
    await expect(broken.handle(gw(), message)).rejects.toThrow();
    await dead.close();
    const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
    await ingest.handle(gw(), message);
    const [m] = await h.deps.db.select().from(meters).where(eq(meters.deviceId, 'down-1'));
    expect(await readingsOf(m!.id)).toHaveLength(1);
    await ingest.close();
  });

  it('checks its options', () => {
    expect(() => createReadingIngest(h.deps, { maxBatchRows: 0 })).toThrow(/maxBatchRows/);
  });
});
