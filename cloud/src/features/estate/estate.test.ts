import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createResident, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { staffCommunities } from '../staff/staff.schema.js';
import { addMember, addRosterOwner, expectProblem, fakeIdNumber, json, seedEstate, type Page } from './estate.test-fixture.js';

type Community = { id: string; code: string; name: string; timeZone: string };
type HouseItem = { code: string; floor: number; floorAreaM2: string; primaryOwnerName?: string | null };
type HouseDetail = HouseItem & { owners?: unknown[]; members?: unknown[] };

// Reading the estate: what each role and each resident sees, and every denial.

let h: Harness;
let x: Awaited<ReturnType<typeof createCompany>>;
let y: Awaited<ReturnType<typeof createCompany>>;
let estate: Awaited<ReturnType<typeof seedEstate>>;
let estateB: Awaited<ReturnType<typeof seedEstate>>;
type Actor = { headers: Record<string, string> };
const as: Record<'superX' | 'cs' | 'tech' | 'guard' | 'finance' | 'superY' | 'straySpy', Actor> = {} as never;
const OWNER_ID = fakeIdNumber('11010519491231002');
let resident: Awaited<ReturnType<typeof createResident>>;

const get = (path: string, actor?: Actor) => h.app.request(path, actor ? { headers: actor.headers } : {});

beforeAll(async () => {
  h = await createHarness();
  x = await createCompany(h, ['A', 'B']);
  y = await createCompany(h, ['C']);
  const A = x.communities['A']!.id;
  estate = await seedEstate(h, A, [
    { name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '89.50' }, { number: '102', floor: 1, area: '100.25' }] }] },
    { name: '2', units: [{ name: '1', houses: [{ number: '201', floor: 2, area: '120.00', status: 'vacant' }] }] },
  ]);
  estateB = await seedEstate(h, x.communities['B']!.id, [{ name: '9', units: [{ name: '1', houses: [{ number: '901', floor: 9, area: '70.00' }] }] }]);
  await seedEstate(h, y.communities['C']!.id, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '50.00' }] }] }]);
  const house = estate.houses['1-1-101']!;
  await addRosterOwner(h, house, { name: '张三', idNumber: OWNER_ID, phone: '13812345678', isPrimary: true });
  await addRosterOwner(h, house, { name: '李四', idNumber: fakeIdNumber('31010119800101003') });
  resident = await createResident(h, '13900001111');
  await addMember(h, house, resident.resident.id, { role: 'owner', isPrimary: true });

  as.superX = await createStaff(h, x.company.id, 'super_admin');
  as.cs = await createStaff(h, x.company.id, 'customer_service', [A]);
  as.tech = await createStaff(h, x.company.id, 'technician', [A]);
  as.guard = await createStaff(h, x.company.id, 'gate_guard', [A]);
  as.finance = await createStaff(h, x.company.id, 'finance', [A]);
  as.superY = await createStaff(h, y.company.id, 'super_admin');
  // A scope row pointing across companies, as a bad import or hand edit could leave: it must grant nothing.
  as.straySpy = await createStaff(h, x.company.id, 'customer_service', [A]);
  const spy = as.straySpy as unknown as { staff: { id: string } };
  await h.deps.db.insert(staffCommunities).values({ staffId: spy.staff.id, communityId: y.communities['C']!.id });
});
afterAll(() => h?.close());

describe('GET /v1/communities', () => {
  it('lists only the communities in the staff member’s scope', async () => {
    const res = await get('/v1/communities', as.cs);
    expect(res.status).toBe(200);
    const body = await json<Page<Community>>(res);
    expect(body.items.map((c) => c.code)).toEqual(['A']);
    expect(body.total).toBe(1);
    expect(body.items[0]).toMatchObject({ timeZone: 'Asia/Shanghai', name: 'Community A' });
  });

  it('gives a super admin every community of their company and none of another', async () => {
    const mine = await json<Page<Community>>(get('/v1/communities', as.superX));
    expect(mine.items.map((c) => c.code)).toEqual(['A', 'B']);
    const theirs = await json<Page<Community>>(get('/v1/communities', as.superY));
    expect(theirs.items.map((c) => c.id)).toEqual([y.communities['C']!.id]);
  });

  it('ignores a scope row that points into another company', async () => {
    const body = await json<Page<Community>>(get('/v1/communities', as.straySpy));
    expect(body.items.map((c) => c.code)).toEqual(['A']);
  });

  it('gives a resident the communities of the houses they live in, and nothing once membership ended', async () => {
    const body = await json<Page<Community>>(get('/v1/communities', resident));
    expect(body.items.map((c) => c.id)).toEqual([x.communities['A']!.id]);
    const former = await createResident(h, '13700002222');
    await addMember(h, estateB.houses['9-1-901']!, former.resident.id, { role: 'family', ended: true });
    const expiredTenant = await createResident(h, '13600003333');
    await addMember(h, estateB.houses['9-1-901']!, expiredTenant.resident.id, { role: 'tenant', tenancy: ['2020-01-01', '2020-12-31'] });
    expect((await json<Page<Community>>(get('/v1/communities', former))).items).toEqual([]);
    expect((await json<Page<Community>>(get('/v1/communities', expiredTenant))).items).toEqual([]);
  });

  it('paginates with limit and offset', async () => {
    const body = await json<Page<Community>>(get('/v1/communities?limit=1&offset=1', as.superX));
    expect(body).toMatchObject({ total: 2, items: [{ code: 'B' }] });
    await expectProblem(await get('/v1/communities?limit=201', as.superX), 400, 'validation-failed');
    await expectProblem(await get('/v1/communities?limit=ten', as.superX), 400, 'validation-failed');
  });

  it('refuses callers without a token, or with a garbage or expired one', async () => {
    await expectProblem(await get('/v1/communities'), 401, 'unauthenticated');
    await expectProblem(await h.app.request('/v1/communities', { headers: { authorization: 'Bearer not.a.jwt' } }), 401, 'invalid-token');
    await expectProblem(await h.app.request('/v1/communities', { headers: { authorization: 'Basic abc' } }), 401, 'invalid-token');
    h.advance(16 * 60 * 1000);
    try {
      await expectProblem(await get('/v1/communities', as.cs), 401, 'invalid-token');
    } finally {
      h.advance(-16 * 60 * 1000);
    }
    expect((await get('/v1/communities', as.cs)).status).toBe(200);
  });
});

describe('GET /v1/communities/{id} and /buildings', () => {
  it('counts buildings, units and houses and sums the floor area exactly', async () => {
    const res = await get(`/v1/communities/${x.communities['A']!.id}`, as.tech);
    expect(res.status).toBe(200);
    expect((await json<{ totals: unknown }>(res)).totals).toEqual({ buildings: 2, units: 2, houses: 3, floorAreaM2: '309.75' });
  });

  it('lists buildings with their units and house counts', async () => {
    const body = await json<Page<unknown>>(get(`/v1/communities/${x.communities['A']!.id}/buildings`, as.guard));
    expect(body.total).toBe(2);
    expect(body.items).toEqual([
      { id: estate.buildings['1'], name: '1', houses: 2, units: [{ id: estate.units['1-1'], name: '1', houses: 2 }] },
      { id: estate.buildings['2'], name: '2', houses: 1, units: [{ id: estate.units['2-1'], name: '1', houses: 1 }] },
    ]);
  });

  it('refuses staff of community A reading community B, and any staff reading another company', async () => {
    const B = x.communities['B']!.id;
    const C = y.communities['C']!.id;
    await expectProblem(await get(`/v1/communities/${B}`, as.cs), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${B}/buildings`, as.cs), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${C}`, as.superX), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${C}/buildings`, as.straySpy), 403, 'forbidden');
  });

  it('answers a malformed id with 400 and an unknown one with 403, revealing nothing', async () => {
    const body = await expectProblem(await get('/v1/communities/not-a-uuid', as.superX), 400, 'validation-failed');
    expect(body['errors']).toEqual([expect.objectContaining({ path: 'communityId' })]);
    await expectProblem(await get('/v1/communities/7f1c2c1e-1c1a-4c1a-9c1a-1c1a1c1a1c1a', as.superX), 403, 'forbidden');
  });
});

describe('GET /v1/communities/{id}/houses', () => {
  const path = () => `/v1/communities/${x.communities['A']!.id}/houses`;

  it('lists houses in building, unit, floor, room order with area as a decimal string', async () => {
    const body = await json<Page<HouseItem>>(get(path(), as.cs));
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((i) => i.code)).toEqual(['1-1-101', '1-1-102', '2-1-201']);
    expect(body.items[0]).toMatchObject({ floor: 1, floorAreaM2: '89.50', status: 'occupied', buildingName: '1', unitName: '1', primaryOwnerName: '张三' });
    expect(body.items[1]!.primaryOwnerName).toBeNull();
  });

  it('leaves the owner name out for roles without resident:read', async () => {
    for (const actor of [as.tech, as.guard, as.finance]) {
      const body = await json<Page<HouseItem>>(get(path(), actor));
      expect(body.items).toHaveLength(3);
      for (const item of body.items) expect(item).not.toHaveProperty('primaryOwnerName');
    }
  });

  it('filters by building, status and text; owner names are searchable only with resident:read', async () => {
    const codes = async (query: string, actor = as.cs) => (await json<Page<HouseItem>>(get(`${path()}?${query}`, actor))).items.map((i) => i.code);
    expect(await codes('status=vacant')).toEqual(['2-1-201']);
    expect(await codes(`building=${estate.buildings['1']}`)).toEqual(['1-1-101', '1-1-102']);
    expect(await codes('q=1-1-10')).toEqual(['1-1-101', '1-1-102']);
    expect(await codes(`q=${encodeURIComponent('张')}`)).toEqual(['1-1-101']);
    expect(await codes(`q=${encodeURIComponent('张')}`, as.tech)).toEqual([]);
    expect(await codes(`q=${encodeURIComponent("%' or 1=1 --")}`)).toEqual([]);
    expect(await codes('q=_')).toEqual([]);
    await expectProblem(await get(`${path()}?status=demolished`, as.cs), 400, 'validation-failed');
  });

  it('pages with a cursor, without gaps or repeats', async () => {
    const first = await json<Page<HouseItem>>(get(`${path()}?limit=2`, as.cs));
    expect(first.items.map((i) => i.code)).toEqual(['1-1-101', '1-1-102']);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await json<Page<HouseItem>>(get(`${path()}?limit=2&cursor=${first.nextCursor}`, as.cs));
    expect(second).toMatchObject({ items: [{ code: '2-1-201' }], nextCursor: null });
    const bad = await expectProblem(await get(`${path()}?cursor=bm9wZQ`, as.cs), 400, 'validation-failed');
    expect(bad['errors']).toEqual([expect.objectContaining({ path: 'cursor' })]);
  });

  it('refuses staff of community A reading the houses of B, and a super admin reading another company’s', async () => {
    await expectProblem(await get(`/v1/communities/${x.communities['B']!.id}/houses`, as.cs), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${y.communities['C']!.id}/houses`, as.superX), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${y.communities['C']!.id}/houses`, as.straySpy), 403, 'forbidden');
    await expectProblem(await get(`/v1/communities/${x.communities['A']!.id}/houses`, resident), 403, 'forbidden');
  });
});

describe('GET /v1/communities/{id}/houses/{houseId}', () => {
  const path = (code = '1-1-101') => `/v1/communities/${x.communities['A']!.id}/houses/${estate.houses[code]}`;

  it('shows owners and residents to customer service with ID and phone numbers masked', async () => {
    const res = await get(path(), as.cs);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain(OWNER_ID);
    expect(text).not.toContain('13812345678');
    expect(text).not.toContain('13900001111');
    const body = JSON.parse(text) as HouseDetail;
    expect(body).toMatchObject({ code: '1-1-101', floorAreaM2: '89.50', buildingId: estate.buildings['1'] });
    expect(body.owners).toEqual([
      { id: expect.any(String), name: '张三', isPrimary: true, idNumberMasked: `${OWNER_ID.slice(0, 4)}**********${OWNER_ID.slice(-4)}`, phoneMasked: '138****5678' },
      { id: expect.any(String), name: '李四', isPrimary: false, idNumberMasked: expect.stringMatching(/^3101\*{10}\d{3}[\dX]$/), phoneMasked: null },
    ]);
    expect(body.members).toEqual([expect.objectContaining({ residentId: resident.resident.id, role: 'owner', isPrimary: true, phoneMasked: '139****1111' })]);
  });

  // Chosen behaviour: the gate guard may see the house (community:read) but the owner and member
  // fields are absent, rather than the whole request being refused.
  it('leaves owners and members out for a gate guard, technician and finance', async () => {
    for (const actor of [as.guard, as.tech, as.finance]) {
      const res = await get(path(), actor);
      expect(res.status).toBe(200);
      const body = await json<HouseDetail>(res);
      expect(body.code).toBe('1-1-101');
      expect(body).not.toHaveProperty('owners');
      expect(body).not.toHaveProperty('members');
    }
  });

  it('answers 404 for a house of another community named under this one, 403 outside the scope', async () => {
    await expectProblem(await h.app.request(`/v1/communities/${x.communities['A']!.id}/houses/${estateB.houses['9-1-901']}`, { headers: as.superX.headers }), 404, 'not-found');
    await expectProblem(await get(`/v1/communities/${x.communities['B']!.id}/houses/${estateB.houses['9-1-901']}`, as.cs), 403, 'forbidden');
  });
});
