import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { seedEstate, sendJson } from '../estate/estate.test-fixture.js';
import { meterReadings } from '../meters/meters.schema.js';
import { seedMeter } from '../meters/meters.test-fixture.js';

// A water meter that stops answering for a month: the fee item says "estimate", so October is billed
// from September's daily use and marked as an estimate, and November's actual reading trues it up.
// Hand-checkable: ¥5.00 per m³ (50000 units) is 500 fen per m³.

type Line = { feeItemCode: string; quantity: string; amount: { fen: number }; estimated: boolean; description: string; provenance: Record<string, unknown> };
type Bill = { id: string; houseCode: string };

let h: Harness;
let communityId: string;
let finance: Awaited<ReturnType<typeof createStaff>>;
let meterId: string;

const post = (path: string, body: unknown) => h.app.request(path, sendJson('POST', finance.headers, body));
const get = (path: string) => h.app.request(path, { headers: finance.headers });

async function read(at: string, value: string) {
  await h.deps.db.insert(meterReadings).values({ meterId, readAt: new Date(at), value, values: { volume: { value, unit: 'm3' } }, source: 'manual' });
}

/** Runs and posts a month; answers the water line of the house, or the run's holds when there is none. */
async function bill(period: string): Promise<{ line: Line | undefined; holds: { reason: string; detail: string }[] }> {
  const res = await post(`/v1/communities/${communityId}/bill-runs`, { cycle: 'monthly', period, post: true });
  expect(res.status, await res.clone().text()).toBe(202);
  const run = (await res.json()) as { id: string };
  await h.deps.jobs.waitFor(run.id);
  const bills = (await (await get(`/v1/communities/${communityId}/bills?run=${run.id}`)).json()) as { items: Bill[] };
  const holds = ((await (await get(`/v1/bill-runs/${run.id}/holds`)).json()) as { items: { reason: string; detail: string }[] }).items;
  if (bills.items.length === 0) return { line: undefined, holds };
  const detail = (await (await get(`/v1/bills/${bills.items[0]!.id}`)).json()) as { lines: Line[] };
  return { line: detail.lines.find((l) => l.feeItemCode === 'water'), holds };
}

beforeAll(async () => {
  h = await createHarness();
  h.advance(Date.parse('2026-12-05T02:00:00Z') - h.deps.now().getTime());
  const { company, communities } = await createCompany(h, ['W']);
  communityId = communities['W']!.id;
  finance = await createStaff(h, company.id, 'finance', [communityId]);
  const estate = await seedEstate(h, communityId, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '80.00' }] }] }]);
  meterId = (await seedMeter(h, { communityId, houseId: estate.houses['1-1-101']!, gatewayId: null, model: 'LXSY-RS485', serialNo: 'W-101' })).id;
  // Local midnights in Shanghai: 1 Sep, 1 Oct; nothing on 1 Nov (the meter was dead); then 1 Dec.
  await read('2026-08-31T16:00:00Z', '100.000');
  await read('2026-09-30T16:00:00Z', '130.000');
  await read('2026-11-30T16:00:00Z', '190.000');
});
afterAll(() => h.close());

describe('a missing reading on an item that estimates', () => {
  it('holds the first month it cannot estimate, naming why', async () => {
    await h.app.request(
      `/v1/communities/${communityId}/fee-items`,
      sendJson('POST', finance.headers, { code: 'water', name: '水费', kind: 'metered', meterKind: 'water', cycle: 'monthly', onBadReading: 'estimate', tariff: { effectiveFrom: '2026-01-01', unitPrice: 50_000 } }),
    );
    // August's usage: no reading before 1 September and no earlier bill to estimate from.
    const { line, holds } = await bill('2026-09');
    expect(line).toBeUndefined();
    expect(holds).toEqual([expect.objectContaining({ reason: 'no-history', detail: expect.stringMatching(/no reading at the start.*nothing|no earlier actual consumption/) })]);
  });

  it('bills September from its readings', async () => {
    const { line } = await bill('2026-10');
    // 130 − 100 = 30 m³ × 500 fen.
    expect(line).toMatchObject({ quantity: '30', amount: { fen: 15_000 }, estimated: false });
  });

  it('estimates October from September’s daily use and says so', async () => {
    const { line } = await bill('2026-11');
    // 30 m³ over September's 30 days = 1 m³ a day, × October's 31 days = 31 m³ → 15500 fen.
    expect(line).toMatchObject({ quantity: '31', amount: { fen: 15_500 }, estimated: true });
    expect(line!.description).toMatch(/估/);
    expect(line!.provenance['estimate']).toMatchObject({ dailyAverage: '1.000000', usageDays: 31, totalQuantity: '30', days: 30 });
  });

  it('trues the estimate up with November’s actual reading', async () => {
    const { line } = await bill('2026-12');
    // From 1 October (the last actual reading before November) to 1 December: 190 − 130 = 60 m³,
    // less the 31 m³ October was billed as an estimate = 29 m³ → 14500 fen. Together, October and
    // November are billed exactly what the meter measured: 31 + 29 = 60.
    expect(line).toMatchObject({ quantity: '29', amount: { fen: 14_500 }, estimated: false });
    expect(line!.provenance['trueUp']).toEqual({ estimatedBefore: '31' });
  });

});

describe('yearly tiers', () => {
  it('wait for a held month, then bill each month from where the year stood', async () => {
    const y = await createHarness();
    try {
      y.advance(Date.parse('2027-01-05T02:00:00Z') - y.deps.now().getTime());
      const { company, communities } = await createCompany(y, ['Y']);
      const cid = communities['Y']!.id;
      const clerk = await createStaff(y, company.id, 'finance', [cid]);
      const estate = await seedEstate(y, cid, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '80.00' }] }] }]);
      const meter = (await seedMeter(y, { communityId: cid, houseId: estate.houses['1-1-101']!, gatewayId: null, serialNo: 'E-101' })).id;
      const at = (iso: string, value: string) => y.deps.db.insert(meterReadings).values({ meterId: meter, readAt: new Date(iso), value, values: { energy_import: { value, unit: 'kWh' } }, source: 'manual' });
      await at('2026-10-31T16:00:00Z', '1000');
      await at('2026-12-31T16:00:00Z', '1600');
      // ¥0.50 up to 500 kWh a year, ¥1.00 above.
      const created = await y.app.request(
        `/v1/communities/${cid}/fee-items`,
        sendJson('POST', clerk.headers, { code: 'power', name: '电费', kind: 'metered', meterKind: 'electricity', cycle: 'monthly', tiered: true, tierBasis: 'year', tariff: { effectiveFrom: '2026-01-01', tiers: [{ upTo: '500', unitPrice: 5_000 }, { upTo: null, unitPrice: 10_000 }] } }),
      );
      expect(created.status, await created.clone().text()).toBe(201);
      const run = async (period: string) => {
        const res = await y.app.request(`/v1/communities/${cid}/bill-runs`, sendJson('POST', clerk.headers, { cycle: 'monthly', period, post: true }));
        const { id } = (await res.json()) as { id: string };
        await y.deps.jobs.waitFor(id);
        const report = ((await (await y.app.request(`/v1/bill-runs/${id}`, { headers: clerk.headers })).json()) as { report: { total: { fen: number } } }).report;
        const holds = ((await (await y.app.request(`/v1/bill-runs/${id}/holds`, { headers: clerk.headers })).json()) as { items: { reason: string }[] }).items.map((x) => x.reason);
        return { totalFen: report.total.fen, holds };
      };
      // November has no closing reading; December must not be tiered as if November used nothing.
      expect(await run('2026-12')).toEqual({ totalFen: 0, holds: ['missing-reading'] });
      expect(await run('2027-01')).toEqual({ totalFen: 0, holds: ['earlier-period-held'] });
      await at('2026-11-30T16:00:00Z', '1400');
      // November: 400 kWh, all in tier 1 = 400 × 50 fen. December: 200 kWh from 400 used this year:
      // 100 kWh to the 500 bound at 50 fen, 100 above at 100 fen = 15000.
      expect(await run('2026-12')).toEqual({ totalFen: 20_000, holds: [] });
      expect(await run('2027-01')).toEqual({ totalFen: 15_000, holds: [] });
    } finally {
      await y.close();
    }
  });
});
