import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCompany } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { ingestRejections } from '../gateways/gateways.schema.js';
import { meterReadings } from './meters.schema.js';
import { energyReading, pollTimes, readingsMessage, seedGateway, seedMeter } from './meters.test-fixture.js';
import { createReadingIngest } from './reading-ingest.js';

// `npm start` without DATABASE_URL runs on embedded PGlite: the same ingest SQL must work there.
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ database: 'pglite' });
});
afterAll(() => h.close());

it('ingests, deduplicates, flags and rejects on embedded PGlite', async () => {
  const { communities } = await createCompany(h, ['P']);
  const communityId = communities['P']!.id;
  const gatewayId = (await seedGateway(h, communityId)).id;
  const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'pg-1' });
  const ingest = createReadingIngest(h.deps, { maxDelayMs: 2 });
  const [t0, t1, t2] = pollTimes('2025-03-01T00:00:00Z', 3);
  const message = readingsMessage(gatewayId, [
    energyReading(1, 'pg-1', t0!, '100.00'),
    energyReading(2, 'pg-1', t1!, '99.50'),
    energyReading(3, 'pg-1', t2!, '99.75'),
    energyReading(4, 'ghost', t0!, '1'),
  ]);
  await Promise.all([ingest.handle({ communityId, gatewayId }, message), ingest.handle({ communityId, gatewayId }, message)]);
  await ingest.handle({ communityId, gatewayId }, message);
  const rows = await h.deps.db.select().from(meterReadings).where(eq(meterReadings.meterId, meter.id)).orderBy(asc(meterReadings.readAt));
  expect(rows.map((r) => [r.gatewaySeq, r.anomalies])).toEqual([
    [1, []],
    [2, ['backwards']],
    [3, []],
  ]);
  expect(await h.deps.db.select().from(ingestRejections)).toHaveLength(1);
  await ingest.close();
});

it('falls back to ON CONFLICT DO NOTHING on PGlite when the plain INSERT meets a unique index', async () => {
  const { communities } = await createCompany(h, ['Q']);
  const communityId = communities['Q']!.id;
  const gatewayId = (await seedGateway(h, communityId)).id;
  const meter = await seedMeter(h, { communityId, gatewayId, deviceId: 'pg-2' });
  const ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
  const [t0, t1, t2] = pollTimes('2025-04-01T00:00:00Z', 3);
  await ingest.handle({ communityId, gatewayId }, readingsMessage(gatewayId, [energyReading(10, 'pg-2', t0!, '1.00')]));
  // Sequence 10 again under another read time: the savepoint is rolled back and the batch written again.
  await ingest.handle({ communityId, gatewayId }, readingsMessage(gatewayId, [energyReading(10, 'pg-2', t1!, '1.25'), energyReading(11, 'pg-2', t2!, '1.50')]));
  const rows = await h.deps.db.select().from(meterReadings).where(eq(meterReadings.meterId, meter.id)).orderBy(asc(meterReadings.readAt));
  expect(rows.map((r) => [r.gatewaySeq, r.value])).toEqual([
    [10, '1.000000'],
    [11, '1.500000'],
  ]);
  // The reused sequence number's reading is kept, not dropped as a redelivery.
  const rejected = await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, gatewayId));
  expect(rejected.map((r) => r.reason)).toEqual(['seq-reused']);
  await ingest.close();
});
