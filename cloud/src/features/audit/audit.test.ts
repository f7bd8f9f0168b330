import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createResident, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { expectProblem } from '../estate/estate.test-fixture.js';
import { auditEvents } from './audit.schema.js';

let h: Harness;
let x: Awaited<ReturnType<typeof createCompany>>;
let y: Awaited<ReturnType<typeof createCompany>>;
let superX: Awaited<ReturnType<typeof createStaff>>;
let financeX: Awaited<ReturnType<typeof createStaff>>;
let superY: Awaited<ReturnType<typeof createStaff>>;
type Actor = { headers: Record<string, string> };
type Event = { id: number; action: string; communityId: string | null; targetId: string | null; actorName: string | null; at: string };

const A = () => x.communities['A']!.id;
const list = async (query: string, actor: Actor = superX) => {
  const res = await h.app.request(`/v1/audit-events?${query}`, { headers: actor.headers });
  expect(res.status).toBe(200);
  return (await res.json()) as { items: Event[]; nextCursor: string | null };
};
const event = (over: Partial<typeof auditEvents.$inferInsert>) =>
  h.deps.db.insert(auditEvents).values({ actorKind: 'system', action: 'test.event', outcome: 'success', ...over }).returning();

beforeAll(async () => {
  h = await createHarness();
  x = await createCompany(h, ['A', 'B']);
  y = await createCompany(h, ['C']);
  superX = await createStaff(h, x.company.id, 'super_admin');
  financeX = await createStaff(h, x.company.id, 'finance', [A()]);
  superY = await createStaff(h, y.company.id, 'super_admin');
  const resident = await createResident(h, '13900001111');
  const at = new Date('2025-03-01T08:00:00.000Z');
  await event({ action: 'house.bind', communityId: A(), actorKind: 'resident', actorId: resident.resident.id, at, targetKind: 'house', targetId: 'h1' });
  await event({ action: 'staff.login', actorKind: 'staff', actorId: financeX.staff.id, at: new Date('2025-03-02T08:00:00.000Z') });
  await event({ action: 'staff.login', actorKind: 'anonymous', targetKind: 'staff', targetId: financeX.staff.id, outcome: 'failure', at: new Date('2025-03-03T08:00:00.000Z') });
  await event({ action: 'house.bind', communityId: y.communities['C']!.id, at });
  await event({ action: 'staff.login', actorKind: 'staff', actorId: superY.staff.id, at });
  await event({ action: 'resident.login', actorKind: 'resident', actorId: resident.resident.id, at });
  // Five events in the same millisecond: the cursor must neither skip nor repeat any of them.
  for (let i = 0; i < 5; i++) await event({ action: 'roster.import', communityId: A(), at: new Date('2025-04-01T00:00:00.000Z'), targetId: `same-ms-${i}` });
  await event({ action: 'roster.export', communityId: A(), at: new Date('2025-04-02T00:00:00.000Z'), targetId: '=HYPERLINK("http://evil")', details: { note: '@SUM(1)' } });
});
afterAll(() => h?.close());

describe('GET /v1/audit-events', () => {
  it('shows a super admin the events of their communities and of their company’s staff, newest first', async () => {
    const { items } = await list('limit=200');
    const actions = items.map((e) => e.action);
    expect(actions.filter((a) => a === 'house.bind')).toHaveLength(1);
    expect(items.find((e) => e.action === 'house.bind')!.communityId).toBe(A());
    expect(actions.filter((a) => a === 'staff.login')).toHaveLength(2);
    expect(actions).not.toContain('resident.login');
    const times = items.map((e) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(items.find((e) => e.action === 'staff.login' && e.actorName)!.actorName).toBe(financeX.username);
  });

  it('shows another company nothing of this one', async () => {
    const { items } = await list('limit=200', superY);
    expect(items.map((e) => e.communityId).filter(Boolean)).toEqual([y.communities['C']!.id]);
    expect(items.some((e) => e.targetId === financeX.staff.id)).toBe(false);
    await expectProblem(await h.app.request(`/v1/audit-events?communityId=${A()}`, { headers: superY.headers }), 403, 'forbidden');
  });

  it('filters by community, action and time window (from inclusive, to exclusive)', async () => {
    expect((await list(`communityId=${A()}&action=house.bind`)).items).toHaveLength(1);
    expect((await list('action=staff.login&from=2025-03-02T08:00:00Z&to=2025-03-03T08:00:00Z')).items).toHaveLength(1);
    expect((await list('action=staff.login&from=2025-03-02T16:00:00%2B08:00')).items).toHaveLength(2);
    await expectProblem(await h.app.request('/v1/audit-events?from=2025-03-02&to=2025-03-01', { headers: superX.headers }), 400, 'validation-failed');
    await expectProblem(await h.app.request('/v1/audit-events?from=2025-03-03T00:00:00Z&to=2025-03-01T00:00:00Z', { headers: superX.headers }), 400, 'validation-failed');
    await expectProblem(await h.app.request("/v1/audit-events?action=x'%20or%201=1", { headers: superX.headers }), 400, 'validation-failed');
  });

  it('pages through events of the same millisecond without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Event[]; nextCursor: string | null } = await list(`action=roster.import&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((e) => e.targetId!));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(['same-ms-0', 'same-ms-1', 'same-ms-2', 'same-ms-3', 'same-ms-4']);
  });

  it('answers 400, not 500, to a forged cursor whose instant is not a date', async () => {
    const forge = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    for (const at of ['not a date', '2025-13-45T99:00:00Z', "2025-01-01'::timestamptz) or (1=1", '', '2025-04-01 00:00:00+00']) {
      await expectProblem(await h.app.request(`/v1/audit-events?cursor=${forge([at, 1])}`, { headers: superX.headers }), 400, 'validation-failed');
    }
  });

  it('refuses finance, residents and anonymous callers', async () => {
    await expectProblem(await h.app.request('/v1/audit-events', { headers: financeX.headers }), 403, 'forbidden');
    await expectProblem(await h.app.request('/v1/audit-events'), 401, 'unauthenticated');
    await expectProblem(await h.app.request('/v1/audit-events', { headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl' } }), 401, 'invalid-token');
  });
});

describe('GET /v1/audit-events/export.csv', () => {
  it('exports the filtered events as CSV for Excel, defused against formulas, and records the export', async () => {
    const res = await h.app.request(`/v1/audit-events/export.csv?communityId=${A()}&to=2025-06-01T00:00:00Z`, { headers: superX.headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-events-\d{4}-\d{2}-\d{2}\.csv"$/);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = new TextDecoder().decode(bytes).trim().split('\n');
    expect(lines[0]).toBe('id,at,actorKind,actorId,actorName,action,outcome,communityId,targetKind,targetId,ip,requestId,details');
    expect(lines).toHaveLength(1 + 7);
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(lines[1]).toContain('""note"":""@SUM(1)""');
    const [exported] = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.action, 'audit.export'));
    expect(exported).toMatchObject({ actorId: superX.staff.id, communityId: A(), details: { format: 'csv', filter: { communityId: A() } } });
  });

  it('streams every event, past one batch', async () => {
    await h.deps.db.insert(auditEvents).values(
      Array.from({ length: 2100 }, (_, i) => ({ actorKind: 'system', action: 'bulk.event', outcome: 'success', communityId: A(), targetId: String(i) })),
    );
    const res = await h.app.request('/v1/audit-events/export.csv?action=bulk.event', { headers: superX.headers });
    const lines = (await res.text()).trim().split('\n');
    expect(lines).toHaveLength(1 + 2100);
    expect(new Set(lines.slice(1).map((l) => l.split(',')[0])).size).toBe(2100);
  });

  it('writes just the header when nothing matches', async () => {
    const text = await (await h.app.request('/v1/audit-events/export.csv?action=nothing.here', { headers: superX.headers })).text();
    expect(text.replace('\uFEFF', '').trim()).toBe('id,at,actorKind,actorId,actorName,action,outcome,communityId,targetKind,targetId,ip,requestId,details');
  });

  it('refuses finance and callers outside the community, and records nothing for them', async () => {
    const before = (await h.deps.db.select().from(auditEvents).where(eq(auditEvents.action, 'audit.export'))).length;
    await expectProblem(await h.app.request('/v1/audit-events/export.csv', { headers: financeX.headers }), 403, 'forbidden');
    await expectProblem(await h.app.request(`/v1/audit-events/export.csv?communityId=${A()}`, { headers: superY.headers }), 403, 'forbidden');
    await expectProblem(await h.app.request('/v1/audit-events/export.csv'), 401, 'unauthenticated');
    expect((await h.deps.db.select().from(auditEvents).where(eq(auditEvents.action, 'audit.export'))).length).toBe(before);
  });
});
