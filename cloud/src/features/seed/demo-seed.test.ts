import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../../test/harness.js';
import { buildings, houses } from '../estate/estate.schema.js';
import { parkingSpaces, vehicles } from '../parking/parking.schema.js';
import { houseMembers, rosterOwners } from '../people/people.schema.js';
import { staffAccounts, staffCommunities } from '../staff/staff.schema.js';
import { seedDemo, type DemoSeedResult } from './demo-seed.js';

const count = (rows: { n: number }[]) => rows[0]!.n;
const n = sql<number>`count(*)::int`;

describe('demo seed on PGlite (what npm start runs)', () => {
  let h: Harness;
  let first: DemoSeedResult;
  beforeAll(async () => {
    h = await createHarness({ database: 'pglite' });
    first = await seedDemo(h.deps);
  }, 120_000);
  afterAll(() => h?.close());

  it('seeds one community of about 200 houses in 4 buildings, with owners, parking and vehicles', async () => {
    expect(first.seeded).toBe(true);
    const db = h.deps.db;
    expect(count(await db.select({ n }).from(buildings).where(eq(buildings.communityId, first.communityId)))).toBe(4);
    const houseCount = count(await db.select({ n }).from(houses).where(eq(houses.communityId, first.communityId)));
    expect(houseCount).toBeGreaterThanOrEqual(190);
    expect(houseCount).toBeLessThanOrEqual(220);
    expect(count(await db.select({ n }).from(rosterOwners))).toBeGreaterThan(houseCount * 0.8);
    expect(count(await db.select({ n }).from(parkingSpaces))).toBe(150);
    expect(count(await db.select({ n }).from(vehicles))).toBeGreaterThan(30);
    expect(count(await db.select({ n }).from(houseMembers))).toBe(6);
  });

  it('creates one staff account per role, the non-admins scoped to the demo community, with passwords that work', async () => {
    expect(first.logins.map((l) => [l.username, l.role])).toEqual([
      ['admin', 'super_admin'],
      ['finance', 'finance'],
      ['service', 'customer_service'],
      ['tech', 'technician'],
      ['guard', 'gate_guard'],
    ]);
    expect(count(await h.deps.db.select({ n }).from(staffAccounts))).toBe(5);
    expect(count(await h.deps.db.select({ n }).from(staffCommunities).where(eq(staffCommunities.communityId, first.communityId)))).toBe(4);
    const login = await h.app.request('/v1/auth/staff-login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'service', password: first.logins[2]!.password }),
    });
    expect(login.status).toBe(200);
  });

  it('keeps the generated passwords in DATA_DIR only, readable by the owner alone', () => {
    const file = path.join(h.deps.config.DATA_DIR, 'demo-logins.json');
    expect((JSON.parse(readFileSync(file, 'utf8')) as { logins: unknown }).logins).toEqual(first.logins);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(new Set(first.logins.map((l) => l.password)).size).toBe(5);
    for (const l of first.logins) expect(l.password).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  });

  it('returns resident phones that can log in, owners first', async () => {
    expect(first.residentPhones.length).toBe(6);
    for (const phone of first.residentPhones) expect(phone).toMatch(/^1[358]\d{9}$/);
    // The first phone logs in the way the demo does: SMS code, read back from the development outbox.
    const phone = first.residentPhones[0]!;
    const post = (url: string, body: unknown) => h.app.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/v1/auth/sms-codes', { phone })).status).toBe(202);
    const outbox = await h.app.request(`/v1/dev/sms-outbox?phone=${phone}`);
    expect(outbox.status).toBe(200);
    const { items } = (await outbox.json()) as { items: { body: string }[] };
    const code = /\b(\d{6})\b/.exec(items[0]?.body ?? '')?.[1];
    expect(code).toBeDefined();
    const login = await post('/v1/auth/resident-login', { phone, code });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const mine = await h.app.request('/v1/me/houses', { headers: { authorization: `Bearer ${accessToken}` } });
    expect(mine.status).toBe(200);
    const houses = ((await mine.json()) as { items: { communityId: string; role: string; isPrimary: boolean }[] }).items;
    expect(houses.length).toBeGreaterThan(0);
    expect(houses[0]).toMatchObject({ communityId: first.communityId, role: 'owner' });
  });

  it('does nothing the second time and returns the same logins', async () => {
    const again = await seedDemo(h.deps);
    expect(again).toEqual({ ...first, seeded: false });
    expect(count(await h.deps.db.select({ n }).from(staffAccounts))).toBe(5);
  });
});

describe('demo seed on PostgreSQL (npm start with DATABASE_URL)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h?.close());

  it('seeds in one transaction, the roster import nested inside it', async () => {
    const result = await seedDemo(h.deps);
    expect(result.seeded).toBe(true);
    expect(count(await h.deps.db.select({ n }).from(houses).where(eq(houses.communityId, result.communityId)))).toBe(208);
    expect((await seedDemo(h.deps)).seeded).toBe(false);
  });
});
