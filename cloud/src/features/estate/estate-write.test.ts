import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { auditEvents } from '../audit/audit.schema.js';
import { communities, houses } from './estate.schema.js';
import { expectProblem, json, seedEstate, sendJson, type Page } from './estate.test-fixture.js';

// Changing the estate (house status and area, new communities), and every kind of bad input.

let h: Harness;
let x: Awaited<ReturnType<typeof createCompany>>;
let y: Awaited<ReturnType<typeof createCompany>>;
let houseId: string;
type Actor = { headers: Record<string, string> };
let superX: Actor, cs: Actor, csB: Actor, tech: Actor, finance: Actor;

const housePath = () => `/v1/communities/${x.communities['A']!.id}/houses/${houseId}`;
const patch = (actor: Actor, body: unknown) => h.app.request(housePath(), sendJson('PATCH', actor.headers, body));
const create = (actor: Actor, body: unknown) => h.app.request('/v1/communities', sendJson('POST', actor.headers, body));

beforeAll(async () => {
  h = await createHarness();
  x = await createCompany(h, ['A', 'B']);
  y = await createCompany(h, ['C']);
  const estate = await seedEstate(h, x.communities['A']!.id, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '89.50' }] }] }]);
  houseId = estate.houses['1-1-101']!;
  superX = await createStaff(h, x.company.id, 'super_admin');
  cs = await createStaff(h, x.company.id, 'customer_service', [x.communities['A']!.id]);
  csB = await createStaff(h, x.company.id, 'customer_service', [x.communities['B']!.id]);
  tech = await createStaff(h, x.company.id, 'technician', [x.communities['A']!.id]);
  finance = await createStaff(h, x.company.id, 'finance', [x.communities['A']!.id]);
});
afterAll(() => h?.close());

describe('PATCH /v1/communities/{id}/houses/{houseId}', () => {
  it('changes status and floor area and records before and after in the audit log', async () => {
    const res = await patch(cs, { status: 'under_renovation', floorAreaM2: '95.5' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: houseId, status: 'under_renovation', floorAreaM2: '95.50' });
    const [row] = await h.deps.db.select().from(houses).where(eq(houses.id, houseId));
    expect(row).toMatchObject({ status: 'under_renovation', floorAreaM2: '95.50' });
    const events = await h.deps.db.select().from(auditEvents).where(and(eq(auditEvents.targetId, houseId), eq(auditEvents.action, 'house.update')));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      communityId: x.communities['A']!.id,
      outcome: 'success',
      details: { before: { status: 'occupied', floorAreaM2: '89.50' }, after: { status: 'under_renovation', floorAreaM2: '95.50' } },
    });
  });

  it('writes and records nothing when nothing changes', async () => {
    const res = await patch(cs, { floorAreaM2: '95.50' });
    expect(res.status).toBe(200);
    const events = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.targetId, houseId));
    expect(events).toHaveLength(1);
  });

  it('refuses roles without house:write and staff of another community', async () => {
    await expectProblem(await patch(tech, { status: 'vacant' }), 403, 'forbidden');
    await expectProblem(await patch(finance, { status: 'vacant' }), 403, 'forbidden');
    await expectProblem(await patch(csB, { status: 'vacant' }), 403, 'forbidden');
    await expectProblem(await h.app.request(housePath(), sendJson('PATCH', {}, { status: 'vacant' })), 401, 'unauthenticated');
    const [row] = await h.deps.db.select().from(houses).where(eq(houses.id, houseId));
    expect(row!.status).toBe('under_renovation');
  });

  it('checks authorisation before the body, so a stranger learns nothing from validation', async () => {
    await expectProblem(await h.app.request(housePath(), sendJson('PATCH', {}, { nonsense: true })), 401, 'unauthenticated');
    await expectProblem(await patch(tech, '{not json'), 403, 'forbidden');
  });

  it('refuses a floor area with three decimals, zero, a JSON number or text', async () => {
    for (const floorAreaM2 of ['89.505', '0.00', 89.5, 'eighty', '-1', '1e3', '123456789.00']) {
      const body = await expectProblem(await patch(cs, { floorAreaM2 }), 400, 'validation-failed');
      expect(body['errors']).toEqual([expect.objectContaining({ path: 'floorAreaM2' })]);
    }
  });

  it('refuses unknown fields, naming them', async () => {
    const body = await expectProblem(await patch(cs, { status: 'vacant', owner: 'me' }), 400, 'validation-failed');
    expect(JSON.stringify(body['errors'])).toContain('owner');
  });

  it('refuses wrong types, unknown statuses and an empty change', async () => {
    await expectProblem(await patch(cs, { status: 3 }), 400, 'validation-failed');
    await expectProblem(await patch(cs, { status: 'demolished' }), 400, 'validation-failed');
    await expectProblem(await patch(cs, {}), 400, 'validation-failed');
    await expectProblem(await patch(cs, []), 400, 'validation-failed');
    await expectProblem(await patch(cs, null), 400, 'validation-failed');
  });

  it('refuses malformed JSON and bodies that are not JSON', async () => {
    await expectProblem(await patch(cs, '{"status": "vacant"'), 400, 'malformed-json');
    await expectProblem(await h.app.request(housePath(), { method: 'PATCH', headers: { ...cs.headers, 'content-type': 'text/plain' }, body: 'status=vacant' }), 415, 'unsupported-media-type');
  });

  it('answers 404 for an unknown house', async () => {
    await expectProblem(await h.app.request(`/v1/communities/${x.communities['A']!.id}/houses/7f1c2c1e-1c1a-4c1a-9c1a-1c1a1c1a1c1a`, sendJson('PATCH', cs.headers, { status: 'vacant' })), 404, 'not-found');
  });
});

describe('POST /v1/communities', () => {
  it('creates a community in the caller’s company, visible at once, and audits it', async () => {
    const res = await create(superX, { code: 'D', name: '滨江花园', timeZone: 'Asia/Urumqi', address: '滨江路 1 号' });
    expect(res.status).toBe(201);
    const body = await json<{ id: string }>(res);
    expect(body).toMatchObject({ code: 'D', name: '滨江花园', timeZone: 'Asia/Urumqi', address: '滨江路 1 号' });
    const [row] = await h.deps.db.select().from(communities).where(eq(communities.id, body.id));
    expect(row!.companyId).toBe(x.company.id);
    const list = await json<Page<{ code: string }>>(h.app.request('/v1/communities', { headers: superX.headers }));
    expect(list.items.map((c) => c.code)).toContain('D');
    const [event] = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.targetId, body.id));
    expect(event).toMatchObject({ action: 'community.create', communityId: body.id });
  });

  it('defaults the time zone to Asia/Shanghai and keeps names verbatim, quotes and all', async () => {
    const name = "Robert'); DROP TABLE houses;-- <script>";
    const res = await create(superX, { code: 'E', name });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name, timeZone: 'Asia/Shanghai', address: '' });
    expect((await h.deps.db.select().from(houses)).length).toBe(1);
  });

  it('refuses a code the company already uses, but not one another company uses', async () => {
    await expectProblem(await create(superX, { code: 'A', name: 'Again' }), 409, 'conflict');
    expect((await create(superX, { code: 'C', name: 'Same code as company Y' })).status).toBe(201);
  });

  it('refuses time zones that are not IANA names', async () => {
    for (const timeZone of ['Mars/Olympus', 'EST', '+08:00', 'Asia/Shanghai; drop table x', '']) {
      const body = await expectProblem(await create(superX, { code: 'Z', name: 'Z', timeZone }), 400, 'validation-failed');
      expect(body['errors']).toEqual([expect.objectContaining({ path: 'timeZone' })]);
    }
  });

  it('refuses time zones the database does not know, though ICU does (they would break every resident query)', async () => {
    for (const timeZone of ['US/Pacific-New', 'Canada/East-Saskatchewan', 'SystemV/AST4']) {
      const body = await expectProblem(await create(superX, { code: 'TZ', name: 'TZ', timeZone }), 400, 'validation-failed');
      expect(body['errors'], timeZone).toEqual([expect.objectContaining({ path: 'timeZone' })]);
    }
    expect((await h.deps.db.select().from(communities).where(eq(communities.code, 'TZ'))).length).toBe(0);
  });

  it('refuses control characters, bad codes and unknown fields', async () => {
    await expectProblem(await create(superX, { code: 'Z', name: 'bad\u0000name' }), 400, 'validation-failed');
    await expectProblem(await create(superX, { code: 'has space', name: 'Z' }), 400, 'validation-failed');
    const body = await expectProblem(await create(superX, { code: 'Z', name: 'Z', companyId: y.company.id }), 400, 'validation-failed');
    expect(JSON.stringify(body['errors'])).toContain('companyId');
  });

  it('refuses roles without staff:manage', async () => {
    await expectProblem(await create(cs, { code: 'Q', name: 'Q' }), 403, 'forbidden');
    await expectProblem(await create(finance, { code: 'Q', name: 'Q' }), 403, 'forbidden');
  });
});

describe('body size limit', () => {
  let small: Harness;
  beforeAll(async () => {
    small = await createHarness({ env: { BODY_LIMIT_BYTES: '1000' } });
  });
  afterAll(() => small?.close());

  it('answers 413 problem+json for a body over BODY_LIMIT_BYTES', async () => {
    const company = await createCompany(small, ['A']);
    const admin = await createStaff(small, company.company.id, 'super_admin');
    const res = await small.app.request('/v1/communities', sendJson('POST', admin.headers, { code: 'BIG', name: 'x'.repeat(2000) }));
    const body = await expectProblem(res, 413, 'payload-too-large');
    expect(body['limitBytes']).toBe(1000);
    expect((await small.deps.db.select().from(communities)).map((c) => c.code)).toEqual(['A']);
  });
});

describe('OpenAPI document', () => {
  it('describes the estate routes with bearer security', async () => {
    type Operation = { security: unknown; requestBody: { required: boolean }; responses: Record<string, { content: Record<string, unknown> }> };
    const doc = await json<{ paths: Record<string, Record<string, Operation>> }>(h.app.request('/openapi.json'));
    for (const path of ['/v1/communities', '/v1/communities/{communityId}/houses/{houseId}', '/v1/communities/{communityId}/reports/fee-basis', '/v1/communities/{communityId}/vehicles']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const op = doc.paths['/v1/communities/{communityId}/houses/{houseId}']!['patch']!;
    expect(op.security).toEqual([{ bearer: [] }]);
    expect(op.requestBody.required).toBe(true);
    expect(op.responses['403']!.content['application/problem+json']).toBeDefined();
  });
});
