import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRosterCsv } from '../../../../fixtures/roster-generator.js';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { auditEvents } from '../audit/audit.schema.js';
import { buildings, houses, units } from '../estate/estate.schema.js';
import { normalizeHouseCode } from '../estate/house-code.js';
import { houseMembers, residents, rosterOwners } from '../people/people.schema.js';
import { readRosterFile } from './roster-file.js';
import { importRoster } from './roster-import.js';
import { liveProgress, progressReporter } from './roster-progress.js';
import { validateRoster } from './roster-validate.js';
import { recoverRosterImports, runRosterImport, storeUpload } from './roster.jobs.js';
import { rosterImports } from './roster.schema.js';
import { csv, idNumber } from './roster.test-helpers.js';

async function planOf(bytes: Uint8Array) {
  return validateRoster(await readRosterFile(bytes, 'roster.csv'));
}

async function countHouses(h: Harness, communityId: string): Promise<number> {
  const [row] = await h.deps.db.select({ n: sql<number>`count(*)::int` }).from(houses).where(eq(houses.communityId, communityId));
  return row!.n;
}

describe('roster import on PostgreSQL', () => {
  let h: Harness;
  let company: Awaited<ReturnType<typeof createCompany>>;
  beforeAll(async () => {
    h = await createHarness();
    company = await createCompany(h, ['P', 'Q', 'R']);
  });
  afterAll(() => h?.close());

  it('shows progress to other connections while the one transaction is still open, and nothing else', async () => {
    const communityId = company.communities['P']!.id;
    const plan = await planOf(Buffer.from(generateRosterCsv(2500, 3)));
    const [row] = await h.deps.db
      .insert(rosterImports)
      .values({ communityId, fileName: 'p.csv', fileSha256: 'x', format: 'csv', dryRun: false, createdBy: randomUUID(), totalRows: plan.rows })
      .returning();
    const report = progressReporter(h.deps, row!.id);
    const seen: { processed: number; housesVisible: number }[] = [];
    await importRoster(h.deps, {
      communityId,
      plan,
      dryRun: false,
      onProgress: async (processed, total) => {
        await report(processed, total);
        // deps.db is the pool: another connection than the import's transaction.
        const [stored] = await h.deps.db.select().from(rosterImports).where(eq(rosterImports.id, row!.id));
        seen.push({ processed: stored!.processedRows, housesVisible: await countHouses(h, communityId) });
      },
    });
    expect(seen[0]!.processed).toBeGreaterThan(0);
    expect(seen[0]!.processed).toBeLessThan(plan.rows);
    expect(seen.at(-1)!.processed).toBe(plan.rows);
    // All or nothing: until the commit, other connections see no house at all.
    expect(seen.every((s) => s.housesVisible === 0)).toBe(true);
    expect(await countHouses(h, communityId)).toBe(2500);
  });

  it('serialises two imports into one community: no duplicates, the second finds everything unchanged', async () => {
    const communityId = company.communities['Q']!.id;
    const plan = await planOf(Buffer.from(generateRosterCsv(300, 5)));
    const [a, b] = await Promise.all([
      importRoster(h.deps, { communityId, plan, dryRun: false }),
      importRoster(h.deps, { communityId, plan, dryRun: false }),
    ]);
    expect([a.summary.houses.created, b.summary.houses.created].sort()).toEqual([0, 300]);
    expect(await countHouses(h, communityId)).toBe(300);
  });

  it('refuses rows whose house code already belongs to another unit, writing nothing', async () => {
    const communityId = company.communities['R']!.id;
    const [building] = await h.deps.db.insert(buildings).values({ communityId, name: 'X' }).returning();
    const [unit] = await h.deps.db.insert(units).values({ buildingId: building!.id, name: '9' }).returning();
    await h.deps.db.insert(houses).values({ communityId, unitId: unit!.id, number: '901', code: '1-1-101', floor: 9, floorAreaM2: '50.00' });
    const plan = await planOf(csv(`1,1,102,1,90,,甲,${idNumber(1)},,`, `1,1,101,1,90,,乙,${idNumber(2)},,`));
    const result = await importRoster(h.deps, { communityId, plan, dryRun: false });
    expect(result.errors).toEqual([{ row: 3, column: '房号/room', reason: expect.stringMatching(/1-1-101 already belongs to another unit/) }]);
    expect(await countHouses(h, communityId)).toBe(1);
  });

  it('deletes the upload once the job has read it (it holds ID numbers in clear)', async () => {
    const staff = await createStaff(h, company.company.id, 'super_admin');
    const form = new FormData();
    form.set('file', new File([csv(`7,1,101,1,90,,甲,${idNumber(9)},,`)], 'r.csv'));
    const res = await h.app.request(`/v1/communities/${company.communities['R']!.id}/roster-imports`, { method: 'POST', headers: staff.headers, body: form });
    expect(res.status).toBe(200);
    const uploads = path.join(h.deps.config.DATA_DIR, 'uploads');
    expect(existsSync(uploads) ? readdirSync(uploads) : []).toEqual([]);
  });
});

describe('house codes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h?.close());

  it('stores the canonical code binding looks for, keeping building and unit names as written', async () => {
    const { communities } = await createCompany(h, ['K']);
    const communityId = communities['K']!.id;
    const plan = await planOf(csv(`1栋,1单元,101,1,90,,甲,${idNumber(21)},,`, `3号楼,2单元,1502室,15,90,,乙,${idNumber(22)},,`));
    expect(plan.errors).toEqual([]);
    await importRoster(h.deps, { communityId, plan, dryRun: false });
    const stored = await h.deps.db
      .select({ code: houses.code, number: houses.number, unit: units.name, building: buildings.name })
      .from(houses)
      .innerJoin(units, eq(units.id, houses.unitId))
      .innerJoin(buildings, eq(buildings.id, units.buildingId))
      .where(eq(houses.communityId, communityId))
      .orderBy(houses.code);
    expect(stored).toEqual([
      { code: '1-1-101', number: '101', unit: '1单元', building: '1栋' },
      { code: '3-2-1502', number: '1502室', unit: '2单元', building: '3号楼' },
    ]);
    // What a resident types, in either form, names the stored house.
    expect(normalizeHouseCode('1栋1单元101室')).toBe('1-1-101');
    expect(normalizeHouseCode('1栋-1单元-101')).toBe('1-1-101');
  });
});

describe('re-importing a roster that changes the primary owner', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h?.close());

  async function resident(phone: string): Promise<string> {
    const [r] = await h.deps.db
      .insert(residents)
      .values({ phoneEnc: h.deps.vault.encrypt(phone, 'phone'), phoneIndex: h.deps.vault.blindIndex(phone, 'phone') })
      .returning();
    return r!.id;
  }

  /** What binding inserts: an owner membership, primary as the roster owner is. */
  async function bind(communityId: string, code: string, ownerName: string, residentId: string) {
    const [owner] = await h.deps.db
      .select({ id: rosterOwners.id, houseId: rosterOwners.houseId, isPrimary: rosterOwners.isPrimary })
      .from(rosterOwners)
      .innerJoin(houses, eq(houses.id, rosterOwners.houseId))
      .where(and(eq(houses.communityId, communityId), eq(houses.code, code), eq(rosterOwners.name, ownerName)));
    const [member] = await h.deps.db
      .insert(houseMembers)
      .values({ houseId: owner!.houseId, residentId, role: 'owner', isPrimary: owner!.isPrimary, rosterOwnerId: owner!.id })
      .returning();
    return member!;
  }

  const primaryOf = async (memberId: string) =>
    (await h.deps.db.select({ isPrimary: houseMembers.isPrimary }).from(houseMembers).where(eq(houseMembers.id, memberId)))[0]!.isPrimary;

  it('moves the primary flag of bound members with the roster, and the new primary can bind', async () => {
    const { communities } = await createCompany(h, ['S']);
    const communityId = communities['S']!.id;
    const roster = (primary: 'A' | 'B') =>
      csv(
        `1,1,101,1,90,,甲A,${idNumber(11)},,${primary === 'A' ? '是' : '否'}`,
        `1,1,101,1,90,,乙B,${idNumber(12)},,${primary === 'B' ? '是' : '否'}`,
        `1,1,102,1,90,,丙A,${idNumber(13)},,${primary === 'A' ? '是' : '否'}`,
        `1,1,102,1,90,,丁B,${idNumber(14)},,${primary === 'B' ? '是' : '否'}`,
      );
    await importRoster(h.deps, { communityId, plan: await planOf(roster('A')), dryRun: false });
    // House 101: only A has bound. House 102: both owners have.
    const a101 = await bind(communityId, '1-1-101', '甲A', await resident('13800000101'));
    const a102 = await bind(communityId, '1-1-102', '丙A', await resident('13800000102'));
    const b102 = await bind(communityId, '1-1-102', '丁B', await resident('13800000202'));
    expect([a101.isPrimary, a102.isPrimary, b102.isPrimary]).toEqual([true, true, false]);

    const result = await importRoster(h.deps, { communityId, plan: await planOf(roster('B')), dryRun: false });
    expect(result.errors).toEqual([]);
    expect(await primaryOf(a101.id)).toBe(false);
    expect(await primaryOf(a102.id)).toBe(false);
    expect(await primaryOf(b102.id)).toBe(true);
    // B binds house 101 now, as primary, without tripping house_members_one_primary_uq.
    const b101 = await bind(communityId, '1-1-101', '乙B', await resident('13800000201'));
    expect(b101.isPrimary).toBe(true);

    // And back again: the flags follow once more.
    await importRoster(h.deps, { communityId, plan: await planOf(roster('A')), dryRun: false });
    expect(await Promise.all([a101, b101, a102, b102].map((m) => primaryOf(m.id)))).toEqual([true, false, true, false]);
  });
});

describe('recovering imports after a crash', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h?.close());

  it('fails the queued and running imports of a dead in-process runner and deletes their uploads and stale ones', async () => {
    const { communities } = await createCompany(h, ['J']);
    const communityId = communities['J']!.id;
    const uploads = path.join(h.deps.config.DATA_DIR, 'uploads');
    const earlier = new Date(h.deps.now().getTime() - 60_000);
    const make = async (status: 'queued' | 'running' | 'succeeded') => {
      const id = randomUUID();
      await storeUpload(h.deps.config.DATA_DIR, id, csv(`1,1,101,1,90,,甲,${idNumber(31)},,`));
      await h.deps.db
        .insert(rosterImports)
        .values({ id, communityId, fileName: 'j.csv', fileSha256: 'x', format: 'csv', dryRun: false, status, createdBy: randomUUID(), createdAt: earlier });
      return id;
    };
    const queued = await make('queued');
    const running = await make('running');
    const done = await make('succeeded');
    // An hour-old upload nobody will read, and a fresh one the route has just written.
    const staleFile = path.join(uploads, randomUUID());
    const freshFile = path.join(uploads, randomUUID());
    writeFileSync(staleFile, 'old');
    writeFileSync(freshFile, 'new');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(staleFile, twoHoursAgo, twoHoursAgo);
    utimesSync(path.join(uploads, done), twoHoursAgo, twoHoursAgo);

    // With BullMQ the queue still owns queued and running jobs: only the stale orphans go.
    const asBull = await recoverRosterImports({ ...h.deps, jobs: { ...h.deps.jobs, kind: 'bullmq' } as never });
    expect(asBull).toEqual({ interrupted: [], removedUploads: 2 });
    expect(existsSync(staleFile)).toBe(false);
    expect(existsSync(path.join(uploads, done))).toBe(false);
    expect(existsSync(path.join(uploads, queued))).toBe(true);

    const result = await recoverRosterImports(h.deps);
    expect(result.interrupted.sort()).toEqual([queued, running].sort());
    const rows = await h.deps.db.select().from(rosterImports).where(eq(rosterImports.communityId, communityId));
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of [queued, running]) {
      expect(byId.get(id)).toMatchObject({ status: 'failed', failure: 'interrupted by a restart; upload the file again' });
      expect(byId.get(id)!.finishedAt).not.toBeNull();
      expect(existsSync(path.join(uploads, id))).toBe(false);
    }
    expect(byId.get(done)!.status).toBe('succeeded');
    expect(existsSync(freshFile)).toBe(true);
    const events = await h.deps.db.select().from(auditEvents).where(inArray(auditEvents.targetId, [queued, running]));
    expect(events.map((e) => [e.actorKind, e.outcome])).toEqual([
      ['system', 'failure'],
      ['system', 'failure'],
    ]);

    // A job delivered after all finds its import finished and does nothing.
    expect(await runRosterImport(h.deps, { importId: queued })).toEqual({ status: 'failed' });
    // Nothing left to do the second time.
    expect(await recoverRosterImports(h.deps)).toEqual({ interrupted: [], removedUploads: 0 });
  });
});

describe('roster import through BullMQ on Redis', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ jobs: 'bullmq' });
  });
  afterAll(() => h?.close());

  it('hands the file to the worker through DATA_DIR and answers with the result', async () => {
    const { company, communities } = await createCompany(h, ['M']);
    const staff = await createStaff(h, company.id, 'customer_service', [communities['M']!.id]);
    const form = new FormData();
    form.set('file', new File([Buffer.from(generateRosterCsv(120, 9))], 'roster.csv'));
    const res = await h.app.request(`/v1/communities/${communities['M']!.id}/roster-imports`, { method: 'POST', headers: { ...staff.headers, prefer: 'wait=20' }, body: form });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { summary: { houses: { created: number } } }).summary.houses.created).toBe(120);
    expect(await countHouses(h, communities['M']!.id)).toBe(120);
  });
});

describe('roster import on PGlite', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ database: 'pglite' });
  });
  afterAll(() => h?.close());

  it('keeps progress in the process while the transaction holds the only connection', async () => {
    const { communities } = await createCompany(h, ['L']);
    const communityId = communities['L']!.id;
    const bytes = Buffer.from(generateRosterCsv(1200, 11));
    const importId = randomUUID();
    await storeUpload(h.deps.config.DATA_DIR, importId, bytes);
    await h.deps.db.insert(rosterImports).values({ id: importId, communityId, fileName: 'l.csv', fileSha256: 'x', format: 'csv', dryRun: false, createdBy: randomUUID() });
    const seen: number[] = [];
    const outcome = await runRosterImport(h.deps, { importId }, { reportProgress: async () => void seen.push(liveProgress(importId)!.processedRows) });
    expect(outcome.status).toBe('succeeded');
    expect(seen.length).toBeGreaterThan(0);
    const [row] = await h.deps.db.select().from(rosterImports).where(eq(rosterImports.id, importId));
    expect(row).toMatchObject({ status: 'succeeded', processedRows: row!.totalRows });
    expect(await countHouses(h, communityId)).toBe(1200);
    const [owners] = await h.deps.db.select({ n: sql<number>`count(*)::int` }).from(rosterOwners);
    expect(owners!.n).toBeGreaterThan(1000);
  });
});
