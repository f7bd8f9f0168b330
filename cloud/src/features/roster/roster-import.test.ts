import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRosterCsv } from '../../../../fixtures/roster-generator.js';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { buildings, houses, units } from '../estate/estate.schema.js';
import { rosterOwners } from '../people/people.schema.js';
import { readRosterFile } from './roster-file.js';
import { importRoster } from './roster-import.js';
import { liveProgress, progressReporter } from './roster-progress.js';
import { validateRoster } from './roster-validate.js';
import { runRosterImport, storeUpload } from './roster.jobs.js';
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
