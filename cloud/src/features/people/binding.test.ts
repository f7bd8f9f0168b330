import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createResident } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { buildings, houses, units } from '../estate/estate.schema.js';
import { rosterOwners } from './people.schema.js';
import { normalizeHouseCode } from '../estate/house-code.js';
import { BINDING_MAX_FAILURES } from './binding.js';

let h: Harness;
let communityId: string;
let otherCommunityId: string;
const house: Record<string, string> = {};
// Fictitious, checksum-valid numbers (GB 11643-1999).
const OWNER = { name: '张伟', idNumber: '11010519491231002X' };
const CO_OWNER = { name: '李娜', idNumber: '11010519900307451X' };

async function addHouse(community: string, code: string, owners: { name: string; idNumber: string; primary: boolean }[]) {
  const [building] = await h.deps.db.insert(buildings).values({ communityId: community, name: code.split('-')[0]! }).onConflictDoNothing().returning();
  const b = building ?? (await h.deps.db.query.buildings.findFirst({ where: (t, { and, eq }) => and(eq(t.communityId, community), eq(t.name, code.split('-')[0]!)) }))!;
  const [unit] = await h.deps.db.insert(units).values({ buildingId: b.id, name: code.split('-')[1]! }).onConflictDoNothing().returning();
  const u = unit ?? (await h.deps.db.query.units.findFirst({ where: (t, { and, eq }) => and(eq(t.buildingId, b.id), eq(t.name, code.split('-')[1]!)) }))!;
  const [row] = await h.deps.db.insert(houses).values({ communityId: community, unitId: u.id, number: code.split('-')[2]!, code, floor: 3, floorAreaM2: '89.50' }).returning();
  for (const o of owners) {
    await h.deps.db.insert(rosterOwners).values({
      houseId: row!.id,
      name: o.name,
      idNumberEnc: h.deps.vault.encrypt(o.idNumber, 'id_number'),
      idNumberIndex: h.deps.vault.blindIndex(o.idNumber, 'id_number'),
      isPrimary: o.primary,
    });
  }
  return row!.id;
}

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return h.app.request(path, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
}

beforeAll(async () => {
  h = await createHarness();
  const { communities } = await createCompany(h, ['A', 'B']);
  communityId = communities['A']!.id;
  otherCommunityId = communities['B']!.id;
  house['1-2-301'] = await addHouse(communityId, '1-2-301', [
    { ...OWNER, primary: true },
    { ...CO_OWNER, primary: false },
  ]);
  house['1-2-302'] = await addHouse(communityId, '1-2-302', [{ name: '王芳', idNumber: '110105198506150022', primary: true }]);
});
afterAll(() => h.close());

describe('binding a house against the roster', () => {
  it('binds the primary owner, accepts the house number as people write it, and is idempotent', async () => {
    const owner = await createResident(h, '13800000001');
    const first = await call('POST', '/v1/me/house-bindings', owner.headers, { communityId, houseCode: '1栋-2单元-301室', ownerName: OWNER.name, idNumber: OWNER.idNumber.toLowerCase() });
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ houseCode: '1-2-301', role: 'owner', isPrimary: true, floorAreaM2: '89.50' });
    const again = await call('POST', '/v1/me/house-bindings', owner.headers, { communityId, houseCode: '1-2-301', ownerName: OWNER.name, idNumber: OWNER.idNumber });
    expect(again.status).toBe(200);
    const mine = (await (await call('GET', '/v1/me/houses', owner.headers)).json()) as { items: unknown[] };
    expect(mine.items).toHaveLength(1);
  });

  it('refuses a wrong name, a wrong ID number and an unknown house with the same answer', async () => {
    const stranger = await createResident(h, '13800000002');
    const attempts = [
      { communityId, houseCode: '1-2-301', ownerName: '张三', idNumber: OWNER.idNumber },
      { communityId, houseCode: '1-2-301', ownerName: OWNER.name, idNumber: '11010519900307451X' },
      { communityId, houseCode: '9-9-999', ownerName: OWNER.name, idNumber: OWNER.idNumber },
      { communityId: otherCommunityId, houseCode: '1-2-301', ownerName: OWNER.name, idNumber: OWNER.idNumber },
    ];
    const details = new Set<string>();
    for (const body of attempts) {
      const res = await call('POST', '/v1/me/house-bindings', stranger.headers, body);
      expect(res.status).toBe(422);
      details.add(((await res.json()) as { detail: string }).detail);
    }
    expect(details.size).toBe(1);
  });

  it('locks binding after repeated failures, even for the right answer', async () => {
    const guesser = await createResident(h, '13800000003');
    for (let i = 0; i < BINDING_MAX_FAILURES; i++) {
      await call('POST', '/v1/me/house-bindings', guesser.headers, { communityId, houseCode: '1-2-302', ownerName: '王芳', idNumber: `11010519850615${String(1000 + i).slice(1)}X` });
    }
    const right = await call('POST', '/v1/me/house-bindings', guesser.headers, { communityId, houseCode: '1-2-302', ownerName: '王芳', idNumber: '110105198506150022' });
    expect(right.status).toBe(423);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    h.advance(3601_000);
    // An hour on, the old access token has expired too: log in again, as the resident would.
    const back = await createResident(h, '13800000003');
    const later = await call('POST', '/v1/me/house-bindings', back.headers, { communityId, houseCode: '1-2-302', ownerName: '王芳', idNumber: '110105198506150022' });
    expect(later.status).toBe(201);
  });

  it('rejects malformed bodies before touching the roster', async () => {
    const r = await createResident(h, '13800000004');
    const res = await call('POST', '/v1/me/house-bindings', r.headers, { communityId: 'not-a-uuid', houseCode: '', ownerName: 'x\u0000y', idNumber: 'short', admin: true });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { path: string }[] };
    expect(new Set(body.errors.map((e) => e.path))).toEqual(new Set(['communityId', 'houseCode', 'ownerName', 'idNumber', '']));
  });

  it('is for residents only', async () => {
    const res = await call('POST', '/v1/me/house-bindings', {}, { communityId, houseCode: '1-2-301', ownerName: OWNER.name, idNumber: OWNER.idNumber });
    expect(res.status).toBe(401);
  });
});

describe('members of a house', () => {
  it('lets the primary owner invite family and tenants, and removal ends their access at once', async () => {
    const owner = await createResident(h, '13800000001');
    const invite = await call('POST', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers, { phone: '13800000011', name: '张小伟', role: 'family' });
    expect(invite.status).toBe(201);
    const member = (await invite.json()) as { memberId: string; phoneMasked: string };
    expect(member.phoneMasked).toBe('138****0011');

    const family = await createResident(h, '13800000011');
    const seen = (await (await call('GET', '/v1/me/houses', family.headers)).json()) as { items: { houseCode: string; role: string }[] };
    expect(seen.items).toEqual([expect.objectContaining({ houseCode: '1-2-301', role: 'family' })]);
    expect((await call('GET', `/v1/me/houses/${house['1-2-301']}/members`, family.headers)).status).toBe(200);

    // A family member cannot invite, nor remove others.
    expect((await call('POST', `/v1/me/houses/${house['1-2-301']}/members`, family.headers, { phone: '13800000012', name: 'X', role: 'family' })).status).toBe(403);

    expect((await call('DELETE', `/v1/me/houses/${house['1-2-301']}/members/${member.memberId}`, owner.headers)).status).toBe(204);
    const after = (await (await call('GET', '/v1/me/houses', family.headers)).json()) as { items: unknown[] };
    expect(after.items).toEqual([]);
    expect((await call('GET', `/v1/me/houses/${house['1-2-301']}/members`, family.headers)).status).toBe(404);
  });

  it('requires tenancy dates for tenants and ends access outside them', async () => {
    const owner = await createResident(h, '13800000001');
    const noDates = await call('POST', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers, { phone: '13800000021', name: '租客', role: 'tenant' });
    expect(noDates.status).toBe(400);
    const backwards = await call('POST', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers, { phone: '13800000021', name: '租客', role: 'tenant', tenancyStart: '2026-05-01', tenancyEnd: '2026-01-01' });
    expect(backwards.status).toBe(400);
    const expired = await call('POST', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers, { phone: '13800000021', name: '租客', role: 'tenant', tenancyStart: '2020-01-01', tenancyEnd: '2020-12-31' });
    expect(expired.status).toBe(201);
    const tenant = await createResident(h, '13800000021');
    expect(((await (await call('GET', '/v1/me/houses', tenant.headers)).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it("keeps a resident out of another resident's house", async () => {
    const owner = await createResident(h, '13800000001');
    const outsider = await createResident(h, '13800000099');
    expect((await call('GET', `/v1/me/houses/${house['1-2-301']}/members`, outsider.headers)).status).toBe(404);
    expect((await call('POST', `/v1/me/houses/${house['1-2-302']}/members`, owner.headers, { phone: '13800000031', name: 'X', role: 'family' })).status).toBe(404);
  });

  it('keeps a tenant in only while the tenancy lasts, by the app clock in the community time zone', async () => {
    const owner = await createResident(h, '13800000001');
    const today = new Date().toISOString().slice(0, 10);
    const nextWeek = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    expect((await call('POST', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers, { phone: '13800000061', name: '短租', role: 'tenant', tenancyStart: today, tenancyEnd: nextWeek })).status).toBe(201);
    const tenant = await createResident(h, '13800000061');
    expect(((await (await call('GET', '/v1/me/houses', tenant.headers)).json()) as { items: unknown[] }).items).toHaveLength(1);
    h.advance(9 * 86_400_000);
    const later = await createResident(h, '13800000061');
    expect(((await (await call('GET', '/v1/me/houses', later.headers)).json()) as { items: unknown[] }).items).toEqual([]);
    expect(((await (await call('GET', '/v1/communities', later.headers)).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await call('GET', `/v1/me/houses/${house['1-2-301']}/members`, later.headers)).status).toBe(404);
  });

  it('does not let one owner remove a co-owner', async () => {
    const coOwner = await createResident(h, '13800000071');
    expect((await call('POST', '/v1/me/house-bindings', coOwner.headers, { communityId, houseCode: '1-2-301', ownerName: CO_OWNER.name, idNumber: CO_OWNER.idNumber })).status).toBe(201);
    const owner = await createResident(h, '13800000001');
    const members = (await (await call('GET', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers)).json()) as { items: { memberId: string; residentId: string }[] };
    const co = members.items.find((m) => m.residentId === coOwner.resident.id)!;
    expect((await call('DELETE', `/v1/me/houses/${house['1-2-301']}/members/${co.memberId}`, owner.headers)).status).toBe(403);
    expect((await call('DELETE', `/v1/me/houses/${house['1-2-301']}/members/${co.memberId}`, coOwner.headers)).status).toBe(204);
  });

  it('refuses to remove the primary owner', async () => {
    const owner = await createResident(h, '13800000001');
    const members = (await (await call('GET', `/v1/me/houses/${house['1-2-301']}/members`, owner.headers)).json()) as { items: { memberId: string; isPrimary: boolean }[] };
    const primary = members.items.find((m) => m.isPrimary)!;
    expect((await call('DELETE', `/v1/me/houses/${house['1-2-301']}/members/${primary.memberId}`, owner.headers)).status).toBe(409);
  });
});

describe('binding under parallel requests', () => {
  it('counts 30 parallel wrong guesses one by one: the lock holds', async () => {
    const guesser = await createResident(h, '13800000041');
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call('POST', '/v1/me/house-bindings', guesser.headers, { communityId, houseCode: '1-2-302', ownerName: '王芳', idNumber: `1101051985061${String(10000 + i).slice(1)}X` }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 422)).toHaveLength(BINDING_MAX_FAILURES);
    expect(statuses.filter((s) => s === 423)).toHaveLength(30 - BINDING_MAX_FAILURES);
    const { auditEvents } = await import('../audit/audit.schema.js');
    const audited = await h.deps.db.select().from(auditEvents);
    expect(audited.filter((e) => e.action === 'house.bind' && e.actorId === guesser.resident.id)).toHaveLength(30);
  });

  it('lets only one of two phones bind the same roster owner at the same instant', async () => {
    const houseId = await addHouse(communityId, '5-1-101', [{ name: '赵磊', idNumber: '11010519491231002X', primary: true }]);
    const [one, two] = await Promise.all([createResident(h, '13800000051'), createResident(h, '13800000052')]);
    const body = { communityId, houseCode: '5-1-101', ownerName: '赵磊', idNumber: '11010519491231002X' };
    const statuses = (await Promise.all([call('POST', '/v1/me/house-bindings', one.headers, body), call('POST', '/v1/me/house-bindings', two.headers, body)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([201, 409]);
    const { houseMembers } = await import('./people.schema.js');
    const { eq } = await import('drizzle-orm');
    expect(await h.deps.db.select().from(houseMembers).where(eq(houseMembers.houseId, houseId))).toHaveLength(1);
  });
});

describe('normalizeHouseCode', () => {
  it.each([
    ['1-2-301', '1-2-301'],
    [' 1－2－301 ', '1-2-301'],
    ['1栋-2单元-301室', '1-2-301'],
    ['1 2 301', '1-2-301'],
    ['3号楼-1单元-1502', '3-1-1502'],
    ['1栋1单元301室', '1-1-301'],
    ['3号楼1单元1502', '3-1-1502'],
    ['１-２-３０１', '1-2-301'],
  ])('%s -> %s', (input, expected) => expect(normalizeHouseCode(input)).toBe(expected));
});
