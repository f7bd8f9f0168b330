import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createResident, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { parkingLots, parkingSpaces, vehicles } from '../parking/parking.schema.js';
import { residents } from '../people/people.schema.js';
import { eq } from 'drizzle-orm';
import { expectProblem, json, seedEstate, type Page } from './estate.test-fixture.js';

type Report = { communityId: string; buildings: unknown[]; byStatus: unknown[]; total: unknown };
type VehicleItem = { plate: string };

// Parking lots and vehicles, and the fee-basis finance report.

let h: Harness;
let x: Awaited<ReturnType<typeof createCompany>>;
let y: Awaited<ReturnType<typeof createCompany>>;
let estate: Awaited<ReturnType<typeof seedEstate>>;
type Actor = { headers: Record<string, string> };
let superX: Actor, cs: Actor, tech: Actor, guard: Actor, finance: Actor, financeB: Actor, superY: Actor;

const A = () => x.communities['A']!.id;
const get = (path: string, actor?: Actor) => h.app.request(path, actor ? { headers: actor.headers } : {});

beforeAll(async () => {
  h = await createHarness();
  x = await createCompany(h, ['A', 'B']);
  y = await createCompany(h, ['C']);
  estate = await seedEstate(h, A(), [
    { name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '89.50' }, { number: '102', floor: 1, area: '100.25' }, { number: '103', floor: 1, area: '0.01', status: 'unsold' }] }] },
    { name: '2', units: [{ name: '1', houses: [{ number: '201', floor: 2, area: '120.33', status: 'vacant' }, { number: '202', floor: 2, area: '99999999.99' }] }] },
  ]);
  await seedEstate(h, x.communities['B']!.id, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '1000.00' }] }] }]);

  const [lot] = await h.deps.db.insert(parkingLots).values({ communityId: A(), name: 'North', capacity: 10 }).returning();
  await h.deps.db.insert(parkingLots).values({ communityId: A(), name: 'South', capacity: 0 });
  await h.deps.db.insert(parkingSpaces).values([
    { lotId: lot!.id, number: 'N-1', kind: 'owned', houseId: estate.houses['1-1-101'] },
    { lotId: lot!.id, number: 'N-2', kind: 'rented', houseId: estate.houses['1-1-102'] },
    { lotId: lot!.id, number: 'N-3', kind: 'public' },
    { lotId: lot!.id, number: 'N-4', kind: 'public' },
  ]);
  const owner = await createResident(h, '13900001111');
  await h.deps.db.update(residents).set({ name: '王五' }).where(eq(residents.id, owner.resident.id));
  await h.deps.db.insert(vehicles).values([
    { communityId: A(), plate: '沪A12345', houseId: estate.houses['1-1-101'], ownerResidentId: owner.resident.id },
    { communityId: A(), plate: '沪A12399' },
    { communityId: A(), plate: '粤BD12345' },
    { communityId: x.communities['B']!.id, plate: '沪A12346' },
  ]);

  superX = await createStaff(h, x.company.id, 'super_admin');
  cs = await createStaff(h, x.company.id, 'customer_service', [A()]);
  tech = await createStaff(h, x.company.id, 'technician', [A()]);
  guard = await createStaff(h, x.company.id, 'gate_guard', [A()]);
  finance = await createStaff(h, x.company.id, 'finance', [A()]);
  financeB = await createStaff(h, x.company.id, 'finance', [x.communities['B']!.id]);
  superY = await createStaff(h, y.company.id, 'super_admin');
});
afterAll(() => h?.close());

describe('GET /v1/communities/{id}/reports/fee-basis', () => {
  it('sums chargeable floor area per building and status exactly, as decimal strings', async () => {
    const res = await get(`/v1/communities/${A()}/reports/fee-basis`, finance);
    expect(res.status).toBe(200);
    const report = await json<Report>(res);
    expect(report.communityId).toBe(A());
    expect(report.buildings).toEqual([
      {
        buildingId: estate.buildings['1'],
        buildingName: '1',
        houses: 3,
        floorAreaM2: '189.76',
        byStatus: [
          { status: 'occupied', houses: 2, floorAreaM2: '189.75' },
          { status: 'unsold', houses: 1, floorAreaM2: '0.01' },
        ],
      },
      {
        buildingId: estate.buildings['2'],
        buildingName: '2',
        houses: 2,
        // Includes the largest area numeric(10,2) holds: the sum must widen, not overflow.
        floorAreaM2: '100000120.32',
        byStatus: [
          { status: 'occupied', houses: 1, floorAreaM2: '99999999.99' },
          { status: 'vacant', houses: 1, floorAreaM2: '120.33' },
        ],
      },
    ]);
    expect(report.byStatus).toEqual([
      { status: 'occupied', houses: 3, floorAreaM2: '100000189.74' },
      { status: 'unsold', houses: 1, floorAreaM2: '0.01' },
      { status: 'vacant', houses: 1, floorAreaM2: '120.33' },
    ]);
    expect(report.total).toEqual({ houses: 5, floorAreaM2: '100000310.08' });
  });

  it('is empty, with a zero total, for a community without houses', async () => {
    const fresh = await createCompany(h, ['Z']);
    const admin = await createStaff(h, fresh.company.id, 'super_admin');
    const report = await json<Report>(get(`/v1/communities/${fresh.communities['Z']!.id}/reports/fee-basis`, admin));
    expect(report).toMatchObject({ buildings: [], byStatus: [], total: { houses: 0, floorAreaM2: '0.00' } });
  });

  it('refuses a technician, customer service and a gate guard: finance data is finance’s', async () => {
    for (const actor of [tech, cs, guard]) await expectProblem(await get(`/v1/communities/${A()}/reports/fee-basis`, actor), 403, 'forbidden');
  });

  it('refuses finance of another community and a super admin of another company', async () => {
    await expectProblem(await get(`/v1/communities/${A()}/reports/fee-basis`, financeB), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A()}/reports/fee-basis`, superY), 403, 'forbidden');
    expect((await get(`/v1/communities/${A()}/reports/fee-basis`, superX)).status).toBe(200);
    await expectProblem(await get(`/v1/communities/${A()}/reports/fee-basis`), 401, 'unauthenticated');
  });
});

describe('GET /v1/communities/{id}/parking-lots', () => {
  it('lists lots with spaces counted by kind', async () => {
    const body = await json<Page<unknown>>(get(`/v1/communities/${A()}/parking-lots`, guard));
    expect(body.total).toBe(2);
    expect(body.items).toEqual([
      { id: expect.any(String), name: 'North', capacity: 10, spaces: { owned: 1, rented: 1, public: 2, total: 4 } },
      { id: expect.any(String), name: 'South', capacity: 0, spaces: { owned: 0, rented: 0, public: 0, total: 0 } },
    ]);
  });

  it('refuses a technician (no parking:read) and staff of another community', async () => {
    await expectProblem(await get(`/v1/communities/${A()}/parking-lots`, tech), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${A()}/parking-lots`, financeB), 403, 'forbidden');
  });
});

describe('GET /v1/communities/{id}/vehicles', () => {
  const plates = async (query: string, actor = guard) => (await json<Page<VehicleItem>>(get(`/v1/communities/${A()}/vehicles?${query}`, actor))).items.map((v) => v.plate);

  it('matches plates however they were typed: case, spaces, dots, middle dots', async () => {
    expect(await plates(`plate=${encodeURIComponent('沪a·123 45')}`)).toEqual(['沪A12345']);
    expect(await plates(`plate=${encodeURIComponent('a.123')}`)).toEqual(['沪A12345', '沪A12399']);
    expect(await plates(`plate=${encodeURIComponent('%')}`)).toEqual([]);
    expect(await plates('')).toEqual(['沪A12345', '沪A12399', '粤BD12345']);
    await expectProblem(await get(`/v1/communities/${A()}/vehicles?plate=${encodeURIComponent(' · ')}`, guard), 400, 'validation-failed');
  });

  it('pages by plate', async () => {
    const first = await json<Page<VehicleItem>>(get(`/v1/communities/${A()}/vehicles?limit=2`, guard));
    expect(first.items).toHaveLength(2);
    const second = await json<Page<VehicleItem>>(get(`/v1/communities/${A()}/vehicles?limit=2&cursor=${first.nextCursor}`, guard));
    expect(second).toMatchObject({ items: [{ plate: '粤BD12345' }], nextCursor: null });
  });

  it('names the owner only for roles with resident:read', async () => {
    const forGuard = await json<Page<VehicleItem>>(get(`/v1/communities/${A()}/vehicles?plate=12345`, guard));
    expect(forGuard.items[0]).toMatchObject({ plate: '沪A12345', houseCode: '1-1-101' });
    expect(forGuard.items[0]).not.toHaveProperty('ownerName');
    const forCs = await json<Page<VehicleItem>>(get(`/v1/communities/${A()}/vehicles?plate=12345`, cs));
    expect(forCs.items[0]).toMatchObject({ plate: '沪A12345', ownerName: '王五' });
  });

  it('refuses a technician and staff of another community', async () => {
    await expectProblem(await get(`/v1/communities/${A()}/vehicles`, tech), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${x.communities['B']!.id}/vehicles`, guard), 403, 'forbidden');
  });
});
