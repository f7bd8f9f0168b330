import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { auditEvents } from '../audit/audit.schema.js';
import { sessions } from '../auth/auth.schema.js';
import { startSession } from '../auth/session-service.js';
import { expectProblem, json, sendJson, type Page } from '../estate/estate.test-fixture.js';

type Account = { id: string; role: string; scope: string; communities: { id: string }[] };
import { verifyPassword } from './passwords.js';
import { staffAccounts } from './staff.schema.js';

let h: Harness;
let x: Awaited<ReturnType<typeof createCompany>>;
let y: Awaited<ReturnType<typeof createCompany>>;
let superX: Awaited<ReturnType<typeof createStaff>>;
let otherSuperX: Awaited<ReturnType<typeof createStaff>>;
let financeX: Awaited<ReturnType<typeof createStaff>>;
let superY: Awaited<ReturnType<typeof createStaff>>;
type Actor = { headers: Record<string, string> };

const A = () => x.communities['A']!.id;
const B = () => x.communities['B']!.id;
const post = (actor: Actor, body: unknown) => h.app.request('/v1/staff', sendJson('POST', actor.headers, body));
const patch = (actor: Actor, id: string, body: unknown) => h.app.request(`/v1/staff/${id}`, sendJson('PATCH', actor.headers, body));
const headersFor = async (staffId: string) => ({
  authorization: `Bearer ${(await startSession(h.deps, { kind: 'staff', id: staffId }, { ip: '127.0.0.1', userAgent: 'test' })).accessToken}`,
});
const newAccount = (over: Record<string, unknown> = {}) => ({
  username: `user${Math.random().toString(36).slice(2, 10)}`,
  displayName: '收费员 小李',
  role: 'finance',
  communityIds: [A()],
  password: 'long enough pass',
  ...over,
});

beforeAll(async () => {
  h = await createHarness();
  x = await createCompany(h, ['A', 'B']);
  y = await createCompany(h, ['C']);
  superX = await createStaff(h, x.company.id, 'super_admin');
  otherSuperX = await createStaff(h, x.company.id, 'super_admin');
  financeX = await createStaff(h, x.company.id, 'finance', [A()]);
  superY = await createStaff(h, y.company.id, 'super_admin');
});
afterAll(() => h?.close());

describe('GET /v1/staff', () => {
  it('lists the accounts of the caller’s company only, with role and scope', async () => {
    const res = await h.app.request('/v1/staff', { headers: superX.headers });
    expect(res.status).toBe(200);
    const body = await json<Page<Account>>(res);
    const ids = body.items.map((s) => s.id);
    expect(ids).toContain(financeX.staff.id);
    expect(ids).not.toContain(superY.staff.id);
    expect(body.total).toBe(body.items.length);
    const finance = body.items.find((s) => s.id === financeX.staff.id);
    expect(finance).toMatchObject({ role: 'finance', scope: 'communities', disabled: false, communities: [{ id: A(), code: 'A', name: 'Community A' }] });
    expect(finance).not.toHaveProperty('passwordHash');
    expect(body.items.find((s) => s.id === superX.staff.id)).toMatchObject({ scope: 'company', communities: [] });
  });

  it('refuses finance', async () => {
    await expectProblem(await h.app.request('/v1/staff', { headers: financeX.headers }), 403, 'forbidden');
    await expectProblem(await h.app.request('/v1/staff'), 401, 'unauthenticated');
  });
});

describe('POST /v1/staff', () => {
  it('creates an account with a hashed password and its scope, and audits it', async () => {
    const input = newAccount();
    const res = await post(superX, input);
    expect(res.status).toBe(201);
    const created = await json<Account>(res);
    expect(created).toMatchObject({ username: input.username, role: 'finance', scope: 'communities', communities: [{ id: A() }] });
    const [row] = await h.deps.db.select().from(staffAccounts).where(eq(staffAccounts.id, created.id));
    expect(row!.companyId).toBe(x.company.id);
    expect(row!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(row!.passwordHash, input.password)).toBe(true);
    const [event] = await h.deps.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'staff.create'), eq(auditEvents.targetId, created.id)));
    expect(event).toMatchObject({ actorId: superX.staff.id, outcome: 'success', details: { username: input.username, role: 'finance', communityIds: [A()] } });
    expect(JSON.stringify(event)).not.toContain(input.password);
    // The new account works, within its scope.
    const list = await json<Page<{ code: string }>>(h.app.request('/v1/communities', { headers: await headersFor(created.id) }));
    expect(list.items.map((c) => c.code)).toEqual(['A']);
  });

  it('answers 409 for a taken username, whatever its case', async () => {
    const input = newAccount();
    expect((await post(superX, input)).status).toBe(201);
    await expectProblem(await post(superX, { ...input }), 409, 'conflict');
    await expectProblem(await post(superX, { ...input, username: input.username.toUpperCase() }), 409, 'conflict');
  });

  it('refuses communities of another company, naming the offending entry', async () => {
    const body = await expectProblem(await post(superX, newAccount({ communityIds: [A(), y.communities['C']!.id] })), 400, 'validation-failed');
    expect(body['errors']).toEqual([expect.objectContaining({ path: 'communityIds.1' })]);
  });

  it('refuses a scoped role without communities, and a super admin with some', async () => {
    await expectProblem(await post(superX, newAccount({ communityIds: [] })), 400, 'validation-failed');
    await expectProblem(await post(superX, newAccount({ role: 'super_admin' })), 400, 'validation-failed');
    expect((await post(superX, newAccount({ role: 'super_admin', communityIds: [] }))).status).toBe(201);
  });

  it('refuses short passwords, unknown roles, unknown fields and repeated communities', async () => {
    const short = await expectProblem(await post(superX, newAccount({ password: '123456789' })), 400, 'validation-failed');
    expect(short['errors']).toEqual([expect.objectContaining({ path: 'password' })]);
    await expectProblem(await post(superX, newAccount({ role: 'janitor' })), 400, 'validation-failed');
    await expectProblem(await post(superX, newAccount({ communityIds: [A(), A()] })), 400, 'validation-failed');
    await expectProblem(await post(superX, newAccount({ username: "x'; drop table staff_accounts;--" })), 400, 'validation-failed');
    const unknown = await expectProblem(await post(superX, newAccount({ companyId: y.company.id })), 400, 'validation-failed');
    expect(JSON.stringify(unknown['errors'])).toContain('companyId');
    await expectProblem(await h.app.request('/v1/staff', sendJson('POST', superX.headers, '{"username":')), 400, 'malformed-json');
  });

  it('refuses finance creating staff', async () => {
    await expectProblem(await post(financeX, newAccount()), 403, 'forbidden');
  });
});

describe('PATCH /v1/staff/{id}', () => {
  it('changes role and scope, acts on the next request, and records before and after', async () => {
    const created = await json<Account>(post(superX, newAccount()));
    const theirHeaders = await headersFor(created.id);
    expect((await h.app.request(`/v1/communities/${A()}/reports/fee-basis`, { headers: theirHeaders })).status).toBe(200);

    const res = await patch(superX, created.id, { role: 'technician', communityIds: [B()] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ role: 'technician', communities: [{ id: B() }] });
    await expectProblem(await h.app.request(`/v1/communities/${A()}/reports/fee-basis`, { headers: theirHeaders }), 403, 'forbidden');
    await expectProblem(await h.app.request(`/v1/communities/${A()}`, { headers: theirHeaders }), 403, 'forbidden');
    expect((await h.app.request(`/v1/communities/${B()}`, { headers: theirHeaders })).status).toBe(200);

    const [event] = await h.deps.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'staff.role_change'), eq(auditEvents.targetId, created.id)));
    expect(event!.details).toMatchObject({
      before: { role: 'finance', communityIds: [A()], disabled: false },
      after: { role: 'technician', communityIds: [B()], disabled: false },
    });
  });

  it('keeps the scope on a role change between scoped roles, and demands one when leaving super admin', async () => {
    const created = await json<Account>(post(superX, newAccount()));
    expect(await (await patch(superX, created.id, { role: 'gate_guard' })).json()).toMatchObject({ role: 'gate_guard', communities: [{ id: A() }] });
    const admin = await json<Account>(post(superX, newAccount({ role: 'super_admin', communityIds: [] })));
    await expectProblem(await patch(superX, admin.id, { role: 'finance' }), 400, 'validation-failed');
    expect(await (await patch(superX, admin.id, { role: 'finance', communityIds: [B()] })).json()).toMatchObject({ role: 'finance', scope: 'communities' });
  });

  it('disables an account and ends its sessions at once', async () => {
    const created = await json<Account>(post(superX, newAccount()));
    const theirHeaders = await headersFor(created.id);
    expect((await patch(superX, created.id, { disabled: true })).status).toBe(200);
    await expectProblem(await h.app.request('/v1/communities', { headers: theirHeaders }), 401, 'invalid-token');
    const live = await h.deps.db.select().from(sessions).where(and(eq(sessions.subjectId, created.id), isNull(sessions.revokedAt)));
    expect(live).toEqual([]);
  });

  it('will not let a super admin demote or disable themself, but another super admin may', async () => {
    await expectProblem(await patch(superX, superX.staff.id, { role: 'finance', communityIds: [A()] }), 409, 'conflict');
    await expectProblem(await patch(superX, superX.staff.id, { disabled: true }), 409, 'conflict');
    const [me] = await h.deps.db.select().from(staffAccounts).where(eq(staffAccounts.id, superX.staff.id));
    expect(me).toMatchObject({ role: 'super_admin', disabled: false });
    expect((await patch(superX, otherSuperX.staff.id, { disabled: true })).status).toBe(200);
  });

  it('answers 404 for another company’s account, and 403 for finance', async () => {
    await expectProblem(await patch(superX, superY.staff.id, { disabled: true }), 404, 'not-found');
    const [them] = await h.deps.db.select().from(staffAccounts).where(eq(staffAccounts.id, superY.staff.id));
    expect(them!.disabled).toBe(false);
    await expectProblem(await patch(financeX, financeX.staff.id, { role: 'super_admin', communityIds: [] }), 403, 'forbidden');
  });

  it('refuses empty, unknown and ill-typed changes', async () => {
    await expectProblem(await patch(superX, financeX.staff.id, {}), 400, 'validation-failed');
    await expectProblem(await patch(superX, financeX.staff.id, { disabled: 'yes' }), 400, 'validation-failed');
    await expectProblem(await patch(superX, financeX.staff.id, { passwordHash: 'x' }), 400, 'validation-failed');
    await expectProblem(await patch(superX, financeX.staff.id, { communityIds: [y.communities['C']!.id] }), 400, 'validation-failed');
    await expectProblem(await patch(superX, 'nope', { disabled: true }), 400, 'validation-failed');
  });
});
