import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createResident, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { addMember, expectProblem, json, seedEstate, sendJson } from '../estate/estate.test-fixture.js';
import { energyReading, pollTimes, readingsMessage, seedGateway } from './meters.test-fixture.js';
import { lockMeterRouting } from './meters.service.js';
import { createReadingIngest, type ReadingIngest } from './reading-ingest.js';

type Meter = { id: string; serialNo: string; houseId: string | null; deviceId: string | null; removedAt: string | null; replacedById: string | null; billingQuantity: string };
type Reading = { readAt: string; value: string; source: string; anomalies: string[]; enteredBy: string | null };
type HouseReadings = { meters: { meter: Meter; readings: Reading[] }[] };

let h: Harness;
let ingest: ReadingIngest;
let A: string;
let B: string;
let houseX: string;
let houseY: string;
let gatewayId: string;
let tech: Awaited<ReturnType<typeof createStaff>>;
let finance: Awaited<ReturnType<typeof createStaff>>;
let staffB: Awaited<ReturnType<typeof createStaff>>;

beforeAll(async () => {
  h = await createHarness();
  const { company, communities } = await createCompany(h, ['A', 'B']);
  A = communities['A']!.id;
  B = communities['B']!.id;
  const estate = await seedEstate(h, A, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '80.00' }, { number: '102', floor: 1, area: '80.00' }] }] }]);
  houseX = estate.houses['1-1-101']!;
  houseY = estate.houses['1-1-102']!;
  gatewayId = (await seedGateway(h, A)).id;
  tech = await createStaff(h, company.id, 'technician', [A]);
  finance = await createStaff(h, company.id, 'finance', [A]);
  staffB = await createStaff(h, company.id, 'customer_service', [B]);
  ingest = createReadingIngest(h.deps, { maxDelayMs: 0 });
});
afterAll(async () => {
  await ingest.close();
  await h.close();
});

const post = (path: string, headers: Record<string, string>, body: unknown) => h.app.request(path, sendJson('POST', headers, body));
const get = (path: string, headers: Record<string, string>) => h.app.request(path, { headers });

async function createMeter(body: Record<string, unknown>) {
  const res = await post(`/v1/communities/${A}/meters`, tech.headers, { kind: 'electricity', model: 'DTSY-TOU', ...body });
  expect(res.status, await res.clone().text()).toBe(201);
  return json<Meter>(res);
}

describe('meters API', () => {
  it('registers meters, refuses a taken serial, a wrong model and other communities', async () => {
    const m = await createMeter({ houseId: houseX, serialNo: 'E-X-1', gatewayId, deviceId: 'ex1', busId: 'rs485-1', modbusUnitId: 3 });
    expect(m).toMatchObject({ billingQuantity: 'energy_import', houseId: houseX, deviceId: 'ex1' });
    await expectProblem(await post(`/v1/communities/${A}/meters`, tech.headers, { houseId: houseX, kind: 'electricity', model: 'DTSY-TOU', serialNo: 'E-X-1' }), 409, 'conflict');
    await expectProblem(await post(`/v1/communities/${A}/meters`, tech.headers, { shared: true, kind: 'water', model: 'DTSY-TOU', serialNo: 'W-1' }), 400, 'validation-failed');
    await expectProblem(await post(`/v1/communities/${A}/meters`, finance.headers, { shared: true, kind: 'water', model: 'LXSY-RS485', serialNo: 'W-1' }), 403, 'forbidden');
    await expectProblem(await post(`/v1/communities/${A}/meters`, staffB.headers, { shared: true, kind: 'water', model: 'LXSY-RS485', serialNo: 'W-1' }), 403, 'forbidden');
    const list = await json<{ items: Meter[] }>(get(`/v1/communities/${A}/meters?house=${houseX}&kind=electricity`, finance.headers));
    expect(list.items.map((i) => i.serialNo)).toEqual(['E-X-1']);
    await expectProblem(await get(`/v1/communities/${A}/meters`, staffB.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/meters/${m.id}/readings`, staffB.headers), 403, 'forbidden');
  });

  it('waits for an ingest batch in flight before replacing a meter of its community', async () => {
    // A shared-area meter (a corridor's lights): no house listing in the other tests sees it.
    const old = await createMeter({ shared: true, serialNo: 'E-RACE', gatewayId, deviceId: 'race1', installedAt: '2025-01-01T00:00:00Z' });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    // A batch in flight holds the community's meter routing shared until it commits.
    const batch = h.deps.db.transaction(async (tx) => {
      await lockMeterRouting(tx, A, 'shared');
      locked();
      await held;
    });
    await lockTaken;
    let replaced = false;
    const replacement = Promise.resolve(post(`/v1/meters/${old.id}/replace`, tech.headers, { newSerialNo: 'E-RACE2', newInitialReading: '0', at: '2025-03-05T00:00:00Z' })).then((r) => {
      replaced = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(replaced).toBe(false);
    release();
    await batch;
    expect((await replacement).status).toBe(200);
  });

  it('replaces a meter: both histories stay, later readings reach the new one unflagged', async () => {
    const old = await createMeter({ houseId: houseX, serialNo: 'E-X-OLD', gatewayId, deviceId: 'rep1', installedAt: '2025-01-01T00:00:00Z' });
    const times = pollTimes('2025-03-01T00:00:00Z', 6);
    await ingest.handle({ communityId: A, gatewayId }, readingsMessage(gatewayId, [energyReading(1, 'rep1', times[0]!, '8000.00'), energyReading(2, 'rep1', times[1]!, '8000.30')]));
    // The technician swapped the meter at 00:20 but records it only later: the 00:30 poll, from the
    // new meter, first lands on the old one and looks backwards there.
    await ingest.handle({ communityId: A, gatewayId }, readingsMessage(gatewayId, [energyReading(3, 'rep1', times[2]!, '0.10')]));
    const res = await post(`/v1/meters/${old.id}/replace`, tech.headers, { newSerialNo: 'E-X-NEW', finalReading: '8000.50', newInitialReading: '0.00', at: '2025-03-01T00:20:00Z' });
    expect(res.status, await res.clone().text()).toBe(200);
    const swap = await json<{ old: Meter; new: Meter; movedReadings: number }>(res);
    expect(swap.old.replacedById).toBe(swap.new.id);
    expect(swap.movedReadings).toBe(1);
    // After the swap the new meter counts from 0; one late reading from before the swap still arrives.
    await ingest.handle(
      { communityId: A, gatewayId },
      readingsMessage(gatewayId, [energyReading(4, 'rep1', times[3]!, '0.35'), energyReading(5, 'rep1', '2025-03-01T00:18:00Z', '8000.45')]),
    );
    const oldReadings = await json<{ items: Reading[] }>(get(`/v1/meters/${old.id}/readings`, tech.headers));
    expect(oldReadings.items.map((r) => [r.value, r.source, r.anomalies])).toEqual([
      ['8000', 'gateway', []],
      ['8000.3', 'gateway', []],
      ['8000.45', 'gateway', []],
      ['8000.5', 'manual', []],
    ]);
    const newReadings = await json<{ items: Reading[] }>(get(`/v1/meters/${swap.new.id}/readings`, tech.headers));
    expect(newReadings.items.map((r) => [r.value, r.source, r.anomalies])).toEqual([
      ['0', 'manual', []],
      ['0.1', 'gateway', []],
      ['0.35', 'gateway', []],
    ]);
    const house = await json<HouseReadings>(get(`/v1/communities/${A}/houses/${houseX}/readings?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z`, finance.headers));
    expect(house.meters.filter((m) => m.meter.serialNo.startsWith('E-X-')).map((m) => [m.meter.serialNo, m.readings.length])).toEqual([
      ['E-X-OLD', 4],
      ['E-X-NEW', 3],
      ['E-X-1', 0],
    ]);
    await expectProblem(await post(`/v1/meters/${old.id}/replace`, tech.headers, { newSerialNo: 'E-X-NEW2', newInitialReading: '0', at: '2025-03-02T00:00:00Z' }), 409, 'conflict');
  });

  it('takes hand readings with anomaly checks and 409 on a duplicate time', async () => {
    const m = await createMeter({ houseId: houseY, serialNo: 'E-Y-HAND' });
    const first = await post(`/v1/meters/${m.id}/readings`, tech.headers, { readAt: '2025-01-01T08:00:00+08:00', value: '120.5', note: 'read by Wang' });
    expect(first.status).toBe(201);
    expect(await json<Reading>(first)).toMatchObject({ source: 'manual', value: '120.5', anomalies: [], enteredBy: tech.staff.id });
    const back = await json<Reading>(post(`/v1/meters/${m.id}/readings`, tech.headers, { readAt: '2025-02-01T08:00:00+08:00', value: '119' }));
    expect(back.anomalies).toEqual(['backwards']);
    await expectProblem(await post(`/v1/meters/${m.id}/readings`, tech.headers, { readAt: '2025-01-01T00:00:00Z', value: '121' }), 409, 'conflict');
    await expectProblem(await post(`/v1/meters/${m.id}/readings`, tech.headers, { readAt: '2025-03-01T00:00:00Z', value: '-1' }), 400, 'validation-failed');
    await expectProblem(await post(`/v1/meters/${m.id}/readings`, finance.headers, { readAt: '2025-03-01T00:00:00Z', value: '1' }), 403, 'forbidden');
    const latest = await json<Reading>(get(`/v1/meters/${m.id}/latest`, finance.headers));
    expect(latest.value).toBe('119');
  });

  it('imports a CSV all or nothing, listing every bad row', async () => {
    await createMeter({ houseId: houseY, serialNo: 'E-Y-CSV' });
    const upload = (csv: string) => {
      const form = new FormData();
      form.append('file', new File([csv], 'readings.csv', { type: 'text/csv' }));
      return h.app.request(`/v1/communities/${A}/meter-readings/import`, { method: 'POST', headers: tech.headers, body: form });
    };
    const bad = await expectProblem(
      await upload('serialNo,readAt,value\nE-Y-CSV,2025-01-31 09:00,10.5\nNOPE-1,2025-01-31 09:00,3\nE-Y-CSV,yesterday,11\nE-Y-CSV,2025-02-28 09:00,abc\nE-Y-CSV,2025-01-31 09:00,10.5\n'),
      400,
      'validation-failed',
    );
    expect((bad['errors'] as { row: number; column: string }[]).map((e) => [e.row, e.column])).toEqual([
      [3, 'serialNo'],
      [4, 'readAt'],
      [5, 'value'],
      [6, 'readAt'],
    ]);
    const meterList = await json<{ items: Meter[] }>(get(`/v1/communities/${A}/meters?house=${houseY}`, tech.headers));
    const csvMeter = meterList.items.find((m) => m.serialNo === 'E-Y-CSV')!;
    expect((await json<{ items: Reading[] }>(get(`/v1/meters/${csvMeter.id}/readings`, tech.headers))).items).toEqual([]);

    const ok = await upload('表号,抄表时间,读数\nE-Y-CSV,2025-01-31 09:00,10.5\nE-Y-CSV,2025-02-28T09:00:00+08:00,30.25\n');
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await json(ok)).toEqual({ imported: 2, meters: 1, flagged: 0 });
    const readings = (await json<{ items: Reading[] }>(get(`/v1/meters/${csvMeter.id}/readings`, tech.headers))).items;
    // Local wall-clock time in Asia/Shanghai (UTC+8).
    expect(readings.map((r) => [r.readAt, r.value, r.source])).toEqual([
      ['2025-01-31T01:00:00.000Z', '10.5', 'import'],
      ['2025-02-28T01:00:00.000Z', '30.25', 'import'],
    ]);
    // Importing the same rows again: every row already there, nothing written.
    await expectProblem(await upload('serialNo,readAt,value\nE-Y-CSV,2025-01-31 09:00,10.5\n'), 400, 'validation-failed');
  });

  it('lets a resident read only their own houses', async () => {
    const owner = await createResident(h, '13800001111');
    const neighbour = await createResident(h, '13800002222');
    await addMember(h, houseY, owner.resident.id, { role: 'owner', isPrimary: true });
    await addMember(h, houseX, neighbour.resident.id, { role: 'owner', isPrimary: true });
    const mine = await json<HouseReadings>(get(`/v1/me/houses/${houseY}/readings?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z`, owner.headers));
    expect(mine.meters.map((m) => m.meter.serialNo).sort()).toEqual(['E-Y-CSV', 'E-Y-HAND']);
    expect(mine.meters.find((m) => m.meter.serialNo === 'E-Y-CSV')!.readings).toHaveLength(2);
    await expectProblem(await get(`/v1/me/houses/${houseX}/readings`, owner.headers), 404, 'not-found');
    await expectProblem(await get(`/v1/communities/${A}/houses/${houseY}/readings`, owner.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/me/houses/${houseY}/readings`, tech.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A}/houses/${houseY}/readings`, staffB.headers), 403, 'forbidden');
  });

  it('shows a tenant only the readings of their tenancy; family see the whole history', async () => {
    const tenant = await createResident(h, '13800003333');
    const family = await createResident(h, '13800004444');
    await addMember(h, houseY, tenant.resident.id, { role: 'tenant', tenancy: ['2025-02-01', '2099-12-31'] });
    await addMember(h, houseY, family.resident.id, { role: 'family' });
    const range = '?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z';
    const csv = (r: HouseReadings) => r.meters.find((m) => m.meter.serialNo === 'E-Y-CSV')!.readings.map((x) => x.readAt);
    const theirs = await json<HouseReadings & { from: string }>(get(`/v1/me/houses/${houseY}/readings${range}`, tenant.headers));
    // The tenancy starts at midnight 2025-02-01 in Asia/Shanghai: the 2025-01-31 reading was the previous occupant's.
    expect(theirs.from).toBe('2025-01-31T16:00:00.000Z');
    expect(csv(theirs)).toEqual(['2025-02-28T01:00:00.000Z']);
    const before = await json<HouseReadings>(get(`/v1/me/houses/${houseY}/readings?from=2024-12-01T00:00:00Z&to=2025-01-31T12:00:00Z`, tenant.headers));
    expect(before.meters.flatMap((m) => m.readings)).toEqual([]);
    expect(csv(await json<HouseReadings>(get(`/v1/me/houses/${houseY}/readings${range}`, family.headers)))).toEqual(['2025-01-31T01:00:00.000Z', '2025-02-28T01:00:00.000Z']);
  });

  it('lists ingest rejections to staff of the community only', async () => {
    await ingest.handle({ communityId: A, gatewayId }, readingsMessage(gatewayId, [energyReading(99, 'nobody', '2025-03-01T00:00:00Z', '1')]));
    const page = await json<{ items: { reason: string; payload: string }[] }>(get(`/v1/communities/${A}/ingest-rejections?reason=unknown-meter`, finance.headers));
    expect(page.items.map((r) => r.reason)).toEqual(['unknown-meter']);
    await expectProblem(await get(`/v1/communities/${A}/ingest-rejections`, staffB.headers), 403, 'forbidden');
    expect((await json<{ items: unknown[] }>(get(`/v1/communities/${B}/ingest-rejections`, staffB.headers))).items).toEqual([]);
  });
});
