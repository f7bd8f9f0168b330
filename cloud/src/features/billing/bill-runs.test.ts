import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createResident, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { addMember, expectProblem, seedEstate, sendJson } from '../estate/estate.test-fixture.js';
import { houses } from '../estate/estate.schema.js';
import { meterReadings } from '../meters/meters.schema.js';
import { seedMeter } from '../meters/meters.test-fixture.js';
import { electricityItem } from './billing.test-fixture.js';
import { parkingLots, parkingSpaces } from '../parking/parking.schema.js';
import { eq } from 'drizzle-orm';

// A small community billed for December 2026 by hand-checkable numbers (docs/billing.md walks through
// the same figures). The clock stands at 3 December 2026, 10:00 in Shanghai.
const NOW = Date.parse('2026-12-03T02:00:00Z');

type Money = { fen: number; display: string };
type Run = { id: string; status: string; period: { label: string }; report: null | { lines: number; bills: number; billedHouses: number; total: Money; held: number; alreadyBilled: number; notApplicable: number; byFeeItem: { code: string; lines: number; total: Money; held: number }[] } };
type Bill = { id: string; number: string; houseCode: string; status: string; total: Money; outstanding: Money; lateFee: Money; adjustments: Money; dueOn: string; feeTypes: string[] };
type TierRow = { tier: number; quantity: string; unitPrice: number; amountFen: number };
type Segment = { from: string; to: string; days: number; tariffVersion: number; amountFen: number };
type Provenance = { meters?: Record<string, unknown>[]; tiers?: TierRow[]; segments?: Segment[]; [key: string]: unknown };
type Line = { id: number; feeItemCode: string; feeType: string; kind: string; amount: Money; quantity: string | null; estimated: boolean; provenance: Provenance };
type Detail = Bill & { lines: Line[]; lateFees: { accrued: Money; waived: Money; due: Money } };

let h: Harness;
let A: string;
let companyId: string;
let finance: Awaited<ReturnType<typeof createStaff>>;
let csB: Awaited<ReturnType<typeof createStaff>>;
let estate: Awaited<ReturnType<typeof seedEstate>>;
let owner: Awaited<ReturnType<typeof createResident>>;
let stranger: Awaited<ReturnType<typeof createResident>>;
const meterOf: Record<string, string> = {};
let sharedMeter: string;
let houseMeterForShared: string;

const post = (path: string, headers: Record<string, string>, body: unknown) => h.app.request(path, sendJson('POST', headers, body));
const get = (path: string, headers: Record<string, string>) => h.app.request(path, { headers });

async function reading(meterId: string, readAt: string, value: string) {
  await h.deps.db.insert(meterReadings).values({ meterId, readAt: new Date(readAt), value, values: { energy_import: { value, unit: 'kWh' } }, source: 'manual' });
}

async function ok<T>(res: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await res;
  const text = await r.text();
  expect(r.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function runAndWait(period = '2026-12', extra: Record<string, unknown> = {}): Promise<Run> {
  const started = await ok<Run>(post(`/v1/communities/${A}/bill-runs`, finance.headers, { cycle: 'monthly', period, ...extra }), 202);
  await h.deps.jobs.waitFor(started.id);
  return ok<Run>(get(`/v1/bill-runs/${started.id}`, finance.headers));
}

async function billOf(runId: string, houseCode: string): Promise<Detail> {
  const page = await ok<{ items: Bill[] }>(get(`/v1/communities/${A}/bills?run=${runId}&limit=200`, finance.headers));
  const bill = page.items.find((b) => b.houseCode === houseCode);
  expect(bill, `a bill for ${houseCode}`).toBeDefined();
  return ok<Detail>(get(`/v1/bills/${bill!.id}`, finance.headers));
}

beforeAll(async () => {
  h = await createHarness();
  h.advance(NOW - Date.now());
  const { company, communities } = await createCompany(h, ['A', 'B']);
  companyId = company.id;
  A = communities['A']!.id;
  finance = await createStaff(h, company.id, 'finance', [A]);
  csB = await createStaff(h, company.id, 'customer_service', [communities['B']!.id]);
  estate = await seedEstate(h, A, [
    {
      name: '1',
      units: [
        {
          name: '1',
          houses: [
            { number: '101', floor: 1, area: '89.50' },
            { number: '102', floor: 1, area: '120.00' },
            { number: '201', floor: 2, area: '60.25' },
          ],
        },
      ],
    },
    { name: '2', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '100.00' }] }] },
  ]);
  // 1-1-201 moves in on 11 December; 2-1-101 stands empty from 20 December.
  await h.deps.db.update(houses).set({ billingStartsOn: '2026-12-11' }).where(eq(houses.id, estate.houses['1-1-201']!));
  const [lot] = await h.deps.db.insert(parkingLots).values({ communityId: A, name: 'B1', capacity: 10 }).returning();
  await h.deps.db.insert(parkingSpaces).values({ lotId: lot!.id, number: 'B1-001', kind: 'owned', houseId: estate.houses['1-1-101']! });

  for (const code of ['1-1-101', '1-1-102', '1-1-201', '2-1-101']) {
    meterOf[code] = (await seedMeter(h, { communityId: A, houseId: estate.houses[code]!, gatewayId: null, serialNo: `E-${code}` })).id;
  }
  houseMeterForShared = meterOf['1-1-101']!;
  sharedMeter = (await seedMeter(h, { communityId: A, houseId: null, gatewayId: null, serialNo: 'E-CORRIDOR-1' })).id;
  // November's usage: local midnight 1 Nov is 2026-10-31T16:00Z, 1 Dec is 2026-11-30T16:00Z.
  await reading(meterOf['1-1-101']!, '2026-10-31T16:00:00Z', '1000.00');
  await reading(meterOf['1-1-101']!, '2026-11-30T15:45:00Z', '1300.50');
  await reading(meterOf['1-1-101']!, '2026-11-30T16:30:00Z', '1301.00');
  await reading(meterOf['1-1-102']!, '2026-10-31T16:00:00Z', '500.00');
  await reading(meterOf['1-1-102']!, '2026-11-30T16:00:00Z', '480.00');
  await reading(meterOf['1-1-201']!, '2026-10-31T16:00:00Z', '800.00');
  await reading(meterOf['2-1-101']!, '2026-10-31T15:00:00Z', '2000.00');
  await reading(sharedMeter, '2026-10-31T16:00:00Z', '10000.00');
  await reading(sharedMeter, '2026-11-30T16:00:00Z', '10123.40');

  owner = await createResident(h, '13800138001');
  stranger = await createResident(h, '13800138002');
  await addMember(h, estate.houses['1-1-101']!, owner.resident.id, { role: 'owner', isPrimary: true });
});
afterAll(() => h.close());

describe('fee items refuse what cannot be billed', () => {
  const base = { code: 'x', name: '测试', kind: 'property', cycle: 'monthly', tariff: { effectiveFrom: '2026-01-01', unitPrice: 24500 } };

  it('refuses zero and negative prices, tiers out of order, an open tier that is not last', async () => {
    for (const unitPrice of [0, -5]) {
      const body = await expectProblem(await post(`/v1/communities/${A}/fee-items`, finance.headers, { ...base, tariff: { effectiveFrom: '2026-01-01', unitPrice } }), 400, 'validation-failed');
      expect(String(body['detail'])).toMatch(/greater than zero/);
    }
    const tiers = [{ upTo: '400', unitPrice: 5383 }, { upTo: '240', unitPrice: 4883 }, { upTo: null, unitPrice: 7883 }];
    const outOfOrder = await expectProblem(
      await post(`/v1/communities/${A}/fee-items`, finance.headers, { ...base, kind: 'metered', meterKind: 'electricity', tiered: true, tariff: { effectiveFrom: '2026-01-01', tiers } }),
      400,
      'validation-failed',
    );
    expect(String(outOfOrder['detail'])).toMatch(/tiers\.1\.upTo: thresholds must rise/);
    const openMiddle = await expectProblem(
      await post(`/v1/communities/${A}/fee-items`, finance.headers, {
        ...base,
        kind: 'metered',
        meterKind: 'electricity',
        tiered: true,
        tariff: { effectiveFrom: '2026-01-01', tiers: [{ upTo: null, unitPrice: 1 }, { upTo: '10', unitPrice: 2 }] },
      }),
      400,
      'validation-failed',
    );
    expect(String(openMiddle['detail'])).toMatch(/only the last tier may be open-ended/);
  });

  it('refuses fee items pointing at meters that do not exist or are not common meters', async () => {
    const gas = await expectProblem(await post(`/v1/communities/${A}/fee-items`, finance.headers, { ...base, kind: 'metered', meterKind: 'gas' }), 400, 'validation-failed');
    expect(String(gas['detail'])).toMatch(/no gas meter/);
    const houseMeter = await expectProblem(
      await post(`/v1/communities/${A}/fee-items`, finance.headers, { ...base, kind: 'shared', sharedMeterId: houseMeterForShared, shareMethod: 'area', tariff: { effectiveFrom: '2026-01-01', unitPrice: 6000 } }),
      400,
      'validation-failed',
    );
    expect(String(houseMeter['detail'])).toMatch(/belongs to a house/);
    const missing = await expectProblem(
      await post(`/v1/communities/${A}/fee-items`, finance.headers, { ...base, kind: 'shared', sharedMeterId: '00000000-0000-4000-8000-000000000000', shareMethod: 'area', tariff: { effectiveFrom: '2026-01-01', unitPrice: 6000 } }),
      400,
      'validation-failed',
    );
    expect(String(missing['detail'])).toMatch(/not a meter of this community/);
  });

  it('is scoped: staff of another community and residents are refused', async () => {
    await expectProblem(await post(`/v1/communities/${A}/fee-items`, csB.headers, base), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A}/fee-items`, csB.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A}/fee-items`, owner.headers), 403, 'forbidden');
  });
});

describe('a monthly bill run', () => {
  let property: { id: string };
  let firstRun: Run;
  let prepayBillId: string;

  beforeAll(async () => {
    property = await ok(
      post(`/v1/communities/${A}/fee-items`, finance.headers, {
        code: 'property',
        name: '物业费',
        kind: 'property',
        cycle: 'monthly',
        vacancyDiscountBp: 3000,
        lateFee: { rule: 'daily-rate', ratePerDayBp: 5 },
        prepayOffers: [{ months: 12, freeMonths: 1 }],
        tariff: { effectiveFrom: '2026-01-01', unitPrice: 24500 },
      }),
      201,
    );
    await ok(post(`/v1/communities/${A}/fee-items`, finance.headers, electricityItem('2026-01-01')), 201);
    await ok(
      post(`/v1/communities/${A}/fee-items`, finance.headers, {
        code: 'corridor-light',
        name: '公摊电费',
        kind: 'shared',
        sharedMeterId: sharedMeter,
        shareMethod: 'area',
        cycle: 'monthly',
        buildingIds: [estate.buildings['1']],
        tariff: { effectiveFrom: '2026-01-01', unitPrice: 6000 },
      }),
      201,
    );
    await ok(post(`/v1/communities/${A}/fee-items`, finance.headers, { code: 'parking', name: '车位管理费', kind: 'parking-management', cycle: 'monthly', tariff: { effectiveFrom: '2026-01-01', unitPrice: 1_000_000 } }), 201);
    await ok(post(`/v1/communities/${A}/houses/${estate.houses['2-1-101']}/vacancies`, { ...finance.headers }, { startsOn: '2026-12-20', note: '业主出国' }), 201);
  });

  it('changes a price mid-month by closing the open version, and refuses overlaps', async () => {
    const changed = await ok<{ tariffs: { version: number; effectiveFrom: string; effectiveTo: string | null }[] }>(
      post(`/v1/fee-items/${property.id}/tariffs`, finance.headers, { effectiveFrom: '2026-12-16', unitPrice: 26000 }),
      201,
    );
    expect(changed.tariffs.map((t) => [t.version, t.effectiveFrom, t.effectiveTo])).toEqual([
      [1, '2026-01-01', '2026-12-16'],
      [2, '2026-12-16', null],
    ]);
    const overlap = await expectProblem(await post(`/v1/fee-items/${property.id}/tariffs`, finance.headers, { effectiveFrom: '2026-06-01', effectiveTo: '2026-09-01', unitPrice: 25000 }), 400, 'validation-failed');
    expect(String(overlap['detail'])).toMatch(/overlaps version 1/);
  });

  it('refuses periods that do not tile or have not begun', async () => {
    const offset = await expectProblem(await post(`/v1/communities/${A}/bill-runs`, finance.headers, { cycle: 'monthly', period: '2026-12-05..2027-01-05' }), 400, 'validation-failed');
    expect(String(offset['detail'])).toMatch(/not where a monthly period starts/);
    const twoMonths = await expectProblem(await post(`/v1/communities/${A}/bill-runs`, finance.headers, { cycle: 'monthly', period: '2026-11-01..2027-01-01' }), 400, 'validation-failed');
    expect(String(twoMonths['detail'])).toMatch(/periods must tile/);
    await expectProblem(await post(`/v1/communities/${A}/bill-runs`, finance.headers, { cycle: 'quarterly', period: '2026-12' }), 400, 'validation-failed');
    const future = await expectProblem(await post(`/v1/communities/${A}/bill-runs`, finance.headers, { cycle: 'monthly', period: '2027-01' }), 400, 'validation-failed');
    expect(String(future['detail'])).toMatch(/has not begun/);
  });

  it('previews every house with hand-checkable amounts and holds what it cannot bill', async () => {
    firstRun = await runAndWait();
    expect(firstRun.status).toBe('draft');
    const report = firstRun.report!;
    // Property 22620 + 30329 + 10466 + 22255, electricity 14976, shared 3163 + 4241, parking 10000.
    expect(report.byFeeItem.map((f) => [f.code, f.lines, f.total.fen, f.held])).toEqual([
      ['corridor-light', 2, 7404, 0],
      ['electricity', 1, 14976, 2],
      ['parking', 1, 10000, 0],
      ['property', 4, 85670, 0],
    ]);
    // Not applicable: parking for the three houses without a space; 1-1-201 (moved in in December) for
    // November's electricity and corridor light.
    expect(report).toMatchObject({ lines: 8, bills: 4, billedHouses: 4, held: 2, alreadyBilled: 0, notApplicable: 5 });
    expect(report.total).toEqual({ fen: 118050, display: '¥1180.50' });

    const holds = await ok<{ items: { houseCode: string; reason: string; detail: string }[] }>(get(`/v1/bill-runs/${firstRun.id}/holds`, finance.headers));
    expect(holds.items.map((x) => [x.houseCode, x.reason]).sort()).toEqual([
      ['1-1-102', 'backwards-reading'],
      ['2-1-101', 'missing-reading'],
    ]);
    expect(holds.items.find((x) => x.houseCode === '1-1-102')!.detail).toMatch(/500 .*→ 480/);
  });

  it('keeps the provenance of every line', async () => {
    const bill = await billOf(firstRun.id, '1-1-101');
    const electricity = bill.lines.find((l) => l.feeItemCode === 'electricity')!;
    expect(electricity.quantity).toBe('300.5');
    expect(electricity.provenance.meters![0]).toMatchObject({ serialNo: 'E-1-1-101', start: { value: '1000', readAt: '2026-10-31T16:00:00.000Z' }, end: { value: '1300.5', readAt: '2026-11-30T15:45:00.000Z' }, consumption: '300.5' });
    expect(electricity.provenance.tiers!.map((t) => [t.tier, t.quantity, t.unitPrice, t.amountFen])).toEqual([
      [1, '240', 4883, 11719],
      [2, '60.5', 5383, 3257],
    ]);
    const propertyLine = bill.lines.find((l) => l.feeItemCode === 'property')!;
    expect(propertyLine.amount.fen).toBe(22620);
    expect(propertyLine.provenance.segments!.map((s) => [s.from, s.to, s.days, s.tariffVersion, s.amountFen])).toEqual([
      ['2026-12-01', '2026-12-16', 15, 1, 10610],
      ['2026-12-16', '2027-01-01', 16, 2, 12010],
    ]);
    const shared = bill.lines.find((l) => l.feeItemCode === 'corridor-light')!;
    expect(shared.provenance).toMatchObject({ method: 'shared', consumption: '123.4', totalFen: 7404, shareMethod: 'area', weight: '89.5', totalWeight: '209.5', houses: 2 });
    const moved = await billOf(firstRun.id, '1-1-201');
    expect(moved.lines.map((l) => [l.feeItemCode, l.amount.fen])).toEqual([['property', 10466]]);
    expect(moved.lines[0]!.provenance).toMatchObject({ prorated: true, billable: { start: '2026-12-11', end: '2027-01-01' } });
    const vacant = await billOf(firstRun.id, '2-1-101');
    expect(vacant.lines.find((l) => l.feeItemCode === 'property')!.amount.fen).toBe(22255);
  });

  it('keeps drafts from owners, refuses a second preview, then posts', async () => {
    const drafts = await ok<{ items: Bill[] }>(get(`/v1/me/houses/${estate.houses['1-1-101']}/bills`, owner.headers));
    expect(drafts.items).toEqual([]);
    await expectProblem(await post(`/v1/communities/${A}/bill-runs`, finance.headers, { cycle: 'monthly', period: '2026-12' }), 409, 'conflict');
    const posted = await ok<Run>(post(`/v1/bill-runs/${firstRun.id}/post`, finance.headers, {}));
    expect(posted.status).toBe('posted');
    await expectProblem(await post(`/v1/bill-runs/${firstRun.id}/post`, finance.headers, {}), 409, 'conflict');
  });

  it('keeps runs and bills to the staff of the community and the roles that may act', async () => {
    const bill = await billOf(firstRun.id, '1-1-101');
    const service = await createStaff(h, companyId, 'customer_service', [A]);
    const guard = await createStaff(h, companyId, 'gate_guard', [A]);
    // Another community's staff: nothing of A, by id or by community.
    await expectProblem(await get(`/v1/bills/${bill.id}`, csB.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/bill-runs/${firstRun.id}`, csB.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A}/bills`, csB.headers), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A}/arrears`, csB.headers), 403, 'forbidden');
    // Customer service reads bills but neither runs nor corrects them; a gate guard does not see them.
    expect((await get(`/v1/bills/${bill.id}`, service.headers)).status).toBe(200);
    await expectProblem(await post(`/v1/communities/${A}/bill-runs`, service.headers, { cycle: 'monthly', period: '2026-12' }), 403, 'forbidden');
    await expectProblem(await post(`/v1/bills/${bill.id}/adjustments`, service.headers, { kind: 'credit-note', amountFen: -1, reason: '客服' }), 403, 'forbidden');
    await expectProblem(await post(`/v1/bill-runs/${firstRun.id}/discard`, service.headers, {}), 403, 'forbidden');
    await expectProblem(await get(`/v1/bills/${bill.id}`, guard.headers), 403, 'forbidden');
    // A resident is not staff, even for their own house's bill.
    await expectProblem(await get(`/v1/bills/${bill.id}`, owner.headers), 403, 'forbidden');
  });

  it('ends a vacancy only where no billed day would change', async () => {
    const house = estate.houses['2-1-101'];
    const [vacancy] = (await ok<{ items: { id: string; endsOn: string | null }[] }>(get(`/v1/communities/${A}/houses/${house}/vacancies`, finance.headers))).items;
    // December is posted with 12 vacant days: ending the vacancy on the 25th would re-price them.
    const inside = await expectProblem(await h.app.request(`/v1/communities/${A}/houses/${house}/vacancies/${vacancy!.id}`, sendJson('PUT', finance.headers, { endsOn: '2026-12-25' })), 409, 'conflict');
    expect(String(inside['detail'])).toMatch(/billed up to 2027-01-01/);
    await expectProblem(await h.app.request(`/v1/communities/${A}/houses/${house}/vacancies/${vacancy!.id}`, sendJson('PUT', finance.headers, { endsOn: '2026-12-01' })), 400, 'validation-failed');
    const ended = await ok<{ endsOn: string }>(h.app.request(`/v1/communities/${A}/houses/${house}/vacancies/${vacancy!.id}`, sendJson('PUT', finance.headers, { endsOn: '2027-01-10' })));
    expect(ended.endsOn).toBe('2027-01-10');
  });

  it('makes posted bills immutable in the database itself', async () => {
    const bill = await billOf(firstRun.id, '1-1-101');
    await expect(h.deps.db.execute(sql`update bills set total_fen = 1 where id = ${bill.id}`)).rejects.toThrow();
    await expect(h.deps.db.execute(sql`delete from bill_lines where bill_id = ${bill.id}`)).rejects.toThrow();
    await expect(h.deps.db.execute(sql`update bill_lines set amount_fen = 0 where bill_id = ${bill.id}`)).rejects.toThrow();
    const again = await billOf(firstRun.id, '1-1-101');
    expect(again.total.fen).toBe(bill.total.fen);
  });

  it('re-runs without billing anything twice, and bills a held line once its reading arrives', async () => {
    const rerun = await runAndWait('2026-12', { post: true });
    expect(rerun.report).toMatchObject({ lines: 0, bills: 0, alreadyBilled: 8, held: 2 });
    await reading(meterOf['2-1-101']!, '2026-11-30T15:59:00Z', '2240.00');
    const third = await runAndWait('2026-12', { post: true });
    expect(third.status).toBe('posted');
    // 240 kWh, exactly the top of tier 1: 240 × ¥0.4883 = 11719.2 fen → 11719, nothing in tier 2.
    expect(third.report).toMatchObject({ lines: 1, bills: 1, alreadyBilled: 8, held: 1 });
    expect(third.report!.total.fen).toBe(11719);
    const lateLine = (await billOf(third.id, '2-1-101')).lines[0]!;
    expect(lateLine.provenance.tiers!.map((t) => [t.tier, t.quantity])).toEqual([[1, '240']]);
    const priceAfterPosting = await expectProblem(await post(`/v1/fee-items/${property.id}/tariffs`, finance.headers, { effectiveFrom: '2026-12-20', unitPrice: 27000 }), 409, 'conflict');
    expect(String(priceAfterPosting['detail'])).toMatch(/posted .* up to 2027-01-01/);
  });

  it('shows the owner what is due and why, and nobody else', async () => {
    const overview = await ok<{ outstanding: Money; nextDueOn: string; latestBill: Bill }>(get(`/v1/me/houses/${estate.houses['1-1-101']}/billing`, owner.headers));
    // 22620 + 14976 + 3163 + 10000
    expect(overview.outstanding).toEqual({ fen: 50759, display: '¥507.59' });
    expect(overview.nextDueOn).toBe('2026-12-18');
    const electricity = await ok<{ items: Bill[] }>(get(`/v1/me/houses/${estate.houses['1-1-101']}/bills?feeType=electricity&period=2026-12`, owner.headers));
    expect(electricity.items).toHaveLength(1);
    const water = await ok<{ items: Bill[] }>(get(`/v1/me/houses/${estate.houses['1-1-101']}/bills?feeType=water`, owner.headers));
    expect(water.items).toHaveLength(0);
    const detail = await ok<Detail>(get(`/v1/me/bills/${overview.latestBill.id}`, owner.headers));
    expect(detail.lines.map((l) => l.feeItemCode).sort()).toEqual(['corridor-light', 'electricity', 'parking', 'property']);
    await expectProblem(await get(`/v1/me/bills/${overview.latestBill.id}`, stranger.headers), 404, 'not-found');
    await expectProblem(await get(`/v1/me/houses/${estate.houses['1-1-101']}/billing`, stranger.headers), 404, 'not-found');
    await expectProblem(await get(`/v1/me/houses/${estate.houses['1-1-101']}/bills?period=2026-13`, owner.headers), 400, 'validation-failed');
  });

  it('prices a prepayment with its free month and bills those months once', async () => {
    const house = estate.houses['1-1-101'];
    const quote = await ok<{ periods: { start: string; free: boolean; amount: Money }[]; charge: Money; discount: Money; total: Money }>(
      post(`/v1/me/houses/${house}/prepayments/quote`, owner.headers, { feeItemId: property.id, months: 12 }),
    );
    // 89.50 m² × ¥2.60 = 23270 fen a month; 13 months, the 13th free.
    expect(quote.periods).toHaveLength(13);
    expect(quote.periods[0]!.start).toBe('2027-01-01');
    expect(quote.periods.filter((p) => p.free).map((p) => p.start)).toEqual(['2028-01-01']);
    expect([quote.charge.fen, quote.discount.fen, quote.total.fen]).toEqual([13 * 23270, -23270, 12 * 23270]);
    const bill = await ok<Detail>(post(`/v1/me/houses/${house}/prepayments`, owner.headers, { feeItemId: property.id, months: 12 }), 201);
    prepayBillId = bill.id;
    expect(bill.dueOn).toBe('2026-12-18');
    expect(bill.total.fen).toBe(12 * 23270);
    expect(bill.lines.filter((l) => l.kind === 'discount')).toHaveLength(1);
    const again = await ok<{ periods: { start: string }[] }>(post(`/v1/me/houses/${house}/prepayments/quote`, owner.headers, { feeItemId: property.id, months: 12 }));
    expect(again.periods[0]!.start).toBe('2028-02-01');
    await expectProblem(await post(`/v1/me/houses/${house}/prepayments/quote`, stranger.headers, { feeItemId: property.id, months: 12 }), 404, 'not-found');
  });
  it('corrects with credit notes, accrues late fees after the due date and waives them with a reason', async () => {
    const bill = (await billOf(firstRun.id, '1-1-101')) as Detail;
    await expectProblem(await post(`/v1/bills/${bill.id}/adjustments`, finance.headers, { kind: 'credit-note', amountFen: -(bill.outstanding.fen + 1), reason: '太多' }), 400, 'validation-failed');
    await expectProblem(await post(`/v1/bills/${bill.id}/adjustments`, finance.headers, { kind: 'credit-note', amountFen: 500, reason: '正数' }), 400, 'validation-failed');
    await expectProblem(await post(`/v1/bills/${bill.id}/adjustments`, finance.headers, { kind: 'adjustment', amountFen: 0, reason: '零' }), 400, 'validation-failed');
    // The parking line charged 10000 fen: a line's credit stays within it.
    const parkingLine = bill.lines.find((l) => l.feeItemCode === 'parking')!.id;
    const tooMuch = await expectProblem(await post(`/v1/bills/${bill.id}/adjustments`, finance.headers, { kind: 'credit-note', amountFen: -10001, lineId: parkingLine, reason: '超额' }), 400, 'validation-failed');
    expect(String(tooMuch['detail'])).toMatch(/owes ¥100\.00/);
    await ok(post(`/v1/bills/${bill.id}/adjustments`, finance.headers, { kind: 'credit-note', amountFen: -1000, reason: '电梯停运补偿', lineId: bill.lines.find((l) => l.feeItemCode === 'parking')!.id }), 201);
    await expectProblem(await post(`/v1/bills/${bill.id}/late-fee-waivers`, finance.headers, { reason: '未逾期' }), 409, 'conflict');

    // Billed on 3 December, due 15 days later. Ten days past the due date (18 December):
    // 22620 fen × 0.05 % × 10 = 113.1 → 113 fen.
    h.advance(Date.parse('2026-12-28T02:00:00Z') - h.deps.now().getTime());
    const financeLater = await createStaff(h, companyId, 'finance', [A]);
    const late = await ok<Detail>(get(`/v1/bills/${bill.id}`, financeLater.headers));
    expect(late.status).toBe('overdue');
    expect(late.outstanding.fen).toBe(bill.outstanding.fen - 1000);
    expect(late.lateFees.accrued.fen).toBe(113);
    await expectProblem(await post(`/v1/bills/${bill.id}/late-fee-waivers`, financeLater.headers, { amountFen: 114, reason: '多了' }), 400, 'validation-failed');
    await ok(post(`/v1/bills/${bill.id}/late-fee-waivers`, financeLater.headers, { amountFen: 50, reason: '业主困难，经理批准' }), 201);
    // Every correction is in the audit log with who made it and why.
    const admin = await createStaff(h, companyId, 'super_admin');
    const audited = await ok<{ items: { action: string; targetId: string; details: { reason?: string; amountFen?: number } }[] }>(get(`/v1/audit-events?action=billing.adjust`, admin.headers));
    expect(audited.items.filter((e) => e.targetId === bill.id).map((e) => [e.details.amountFen, e.details.reason])).toEqual([[-1000, '电梯停运补偿']]);
    const waived = await ok<Detail>(get(`/v1/bills/${bill.id}`, financeLater.headers));
    expect(waived.lateFees).toMatchObject({ accrued: { fen: 113 }, waived: { fen: 50 }, due: { fen: 63 } });
    // The prepayment is past its due date, but none of the months it covers has begun: nobody is late
    // paying for January in December, so it accrues nothing yet.
    const prepay = await ok<Detail & { lateFees: { byLine: { principal: Money; accrued: Money; terms: { rule: string; ratePerDayBp: number } }[] } }>(get(`/v1/bills/${prepayBillId}`, financeLater.headers));
    expect(prepay.status).toBe('overdue');
    expect(prepay.lateFees.accrued.fen).toBe(0);
    expect(prepay.lateFees.byLine[0]).toMatchObject({ principal: { fen: 0 }, accrued: { fen: 0 }, terms: { rule: 'daily-rate', ratePerDayBp: 5 } });

    const arrears = await ok<{ outstanding: Money; lateFee: Money; houses: number; buildings: { buildingName: string; houses: number }[] }>(get(`/v1/communities/${A}/arrears`, financeLater.headers));
    expect(arrears.houses).toBe(4);
    expect(arrears.buildings.map((b) => [b.buildingName, b.houses])).toEqual([
      ['1', 3],
      ['2', 1],
    ]);
    const page = await ok<{ items: { houseCode: string; bills: number }[]; total: number }>(get(`/v1/communities/${A}/arrears/houses?building=${estate.buildings['1']}&offset=1&limit=1`, financeLater.headers));
    expect(page.total).toBe(3);
    expect(page.items.map((x) => x.houseCode)).toEqual(['1-1-102']);
    // Every posted line (118050 + 11719), less the credit note, and the prepayment bill (due on the day it was made).
    expect(arrears.outstanding.fen).toBe(118050 + 11719 - 1000 + 12 * 23270);
  });

});

describe('a quarterly run', () => {
  it('bills a quarterly item for each month of the quarter, rounded down as the item says', async () => {
    const clerk = await createStaff(h, companyId, 'finance', [A]);
    await ok(
      post(`/v1/communities/${A}/fee-items`, clerk.headers, { code: 'fund', name: '专项维修资金', kind: 'maintenance-fund', cycle: 'quarterly', rounding: 'down', tariff: { effectiveFrom: '2026-01-01', unitPrice: 2500 } }),
      201,
    );
    const started = await ok<Run>(post(`/v1/communities/${A}/bill-runs`, clerk.headers, { cycle: 'quarterly', period: '2026-Q4', post: true }), 202);
    await h.deps.jobs.waitFor(started.id);
    const run = await ok<Run>(get(`/v1/bill-runs/${started.id}`, clerk.headers));
    expect(run.period.label).toBe('2026-Q4');
    // ¥0.25/m² a month for October to December: 89.5 × 25 × 3 = 6712.5 → 6712 (down); 120 × 75 = 9000;
    // 1-1-201 from 11 December only: 60.25 × 25 × 21/31 = 1020.36 → 1020; 100 × 75 = 7500.
    expect(run.report!.byFeeItem.map((f) => [f.code, f.lines, f.total.fen])).toEqual([['fund', 4, 6712 + 9000 + 1020 + 7500]]);

    // Archived, the item is billed no more: the community has no quarterly item left to run.
    const fund = (await ok<{ items: { id: string; code: string }[] }>(get(`/v1/communities/${A}/fee-items`, clerk.headers))).items.find((i) => i.code === 'fund')!;
    expect((await ok<{ archived: boolean }>(post(`/v1/fee-items/${fund.id}/archive`, clerk.headers, {}))).archived).toBe(true);
    await expectProblem(await post(`/v1/fee-items/${fund.id}/archive`, clerk.headers, {}), 409, 'conflict');
    const none = await expectProblem(await post(`/v1/communities/${A}/bill-runs`, clerk.headers, { cycle: 'quarterly', period: '2026-Q4' }), 400, 'validation-failed');
    expect(String(none['detail'])).toMatch(/no quarterly fee items/);
  });
});
