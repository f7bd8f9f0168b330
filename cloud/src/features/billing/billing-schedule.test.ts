import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { seedEstate, sendJson } from '../estate/estate.test-fixture.js';
import { addMonths } from './billing-periods.js';
import { billingSettings, billLines, billRuns, bills } from './billing.schema.js';
import { BILLING_TICK_JOB, billingTick, resumeBillRuns } from './billing.jobs.js';
import { computeRun } from './bill-run.js';
import { communities, houses, units } from '../estate/estate.schema.js';
import { rowsOf } from '../../db/migrate.js';
import { seedBilledCommunity } from './billing.test-fixture.js';

const harnesses: Harness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

async function harness(options: Parameters<typeof createHarness>[0] = {}) {
  const h = await createHarness(options);
  harnesses.push(h);
  return h;
}

/** A community with one monthly property fee over two houses; the clock at `at`. */
async function propertyCommunity(h: Harness, at: string) {
  h.advance(Date.parse(at) - h.deps.now().getTime());
  const { company, communities } = await createCompany(h, ['S']);
  const communityId = communities['S']!.id;
  const finance = await createStaff(h, company.id, 'finance', [communityId]);
  await seedEstate(h, communityId, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '80.00' }, { number: '102', floor: 1, area: '100.00' }] }] }]);
  const res = await h.app.request(
    `/v1/communities/${communityId}/fee-items`,
    sendJson('POST', finance.headers, { code: 'property', name: '物业费', kind: 'property', cycle: 'monthly', tariff: { effectiveFrom: '2026-01-01', unitPrice: 25000 } }),
  );
  expect(res.status, await res.clone().text()).toBe(201);
  return { communityId, finance };
}

const runsOf = (h: Harness, communityId: string) => h.deps.db.select().from(billRuns).where(eq(billRuns.communityId, communityId));

describe('the billing schedule', () => {
  it('starts one run per community and period on the bill day, posts it, and never a second', async () => {
    const h = await harness();
    // 3 December, 10:00 in Shanghai; the community bills on the 5th.
    const { communityId } = await propertyCommunity(h, '2026-12-03T02:00:00Z');
    await h.deps.db.insert(billingSettings).values({ communityId, billDay: 5, dueDays: 10, autoPost: true });
    expect((await billingTick(h.deps)).started).toEqual([]);

    h.advance(Date.parse('2026-12-05T00:30:00Z') - h.deps.now().getTime());
    const { started } = await billingTick(h.deps);
    expect(started).toHaveLength(1);
    await h.deps.jobs.waitFor(started[0]!);
    const [run] = await runsOf(h, communityId);
    expect(run).toMatchObject({ status: 'posted', trigger: 'schedule', periodStart: '2026-12-01', dueOn: '2026-12-15' });
    // 80 m² and 100 m² at ¥2.50 for the whole month.
    expect(run!.report).toMatchObject({ bills: 2, lines: 2, totalFen: 45000 });

    expect((await billingTick(h.deps)).started).toEqual([]);
    h.advance(86_400_000);
    expect((await billingTick(h.deps)).started).toEqual([]);
    expect(await runsOf(h, communityId)).toHaveLength(1);
  });

  it('leaves a scheduled preview for finance when auto-posting is off, and does not redo a discarded one', async () => {
    const h = await harness();
    const { communityId, finance } = await propertyCommunity(h, '2027-01-01T01:00:00Z');
    await h.deps.db.insert(billingSettings).values({ communityId, billDay: 1, dueDays: 15, autoPost: false });
    const { started } = await billingTick(h.deps);
    await h.deps.jobs.waitFor(started[0]!);
    const [preview] = await runsOf(h, communityId);
    expect(preview!.status).toBe('draft');
    const discarded = await h.app.request(`/v1/bill-runs/${preview!.id}/discard`, sendJson('POST', finance.headers, {}));
    expect(discarded.status).toBe(200);
    expect(await h.deps.db.select().from(bills).where(eq(bills.runId, preview!.id))).toEqual([]);
    expect((await billingTick(h.deps)).started).toEqual([]);
  });

  it('runs on BullMQ: the repeatable tick starts the run through Redis', async () => {
    const h = await harness({ jobs: 'bullmq' });
    const { communityId } = await propertyCommunity(h, '2027-02-01T03:00:00Z');
    await h.deps.jobs.repeat(BILLING_TICK_JOB, 300);
    const deadline = Date.now() + 15_000;
    let runs = await runsOf(h, communityId);
    while (!runs.some((r) => r.status === 'posted') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      runs = await runsOf(h, communityId);
    }
    expect(runs.map((r) => [r.status, r.periodStart])).toEqual([['posted', '2027-02-01']]);
  });
});

describe('a run interrupted by a restart', () => {
  it('resumes where it stopped: what it wrote stays, the rest is billed, nothing twice', async () => {
    const h = await harness();
    const billed = await seedBilledCommunity(h);
    const [before] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, billed.runId));
    // Re-create the state a kill -9 leaves mid-run: a second run of the next month, "running", with
    // some of its chunks written. Run it fully as a draft, then take back one house's bill and reopen it.
    const start = await h.app.request(`/v1/communities/${billed.communityId}/bill-runs`, sendJson('POST', billed.finance.headers, { cycle: 'monthly', period: addMonths(before!.periodStart, 1).slice(0, 7) }));
    const run = (await start.json()) as { id: string };
    await h.deps.jobs.waitFor(run.id);
    const full = (await h.deps.db.select().from(billRuns).where(eq(billRuns.id, run.id)))[0]!.report!;
    const [victim] = await h.deps.db.select().from(bills).where(eq(bills.runId, run.id)).limit(1);
    await h.deps.db.delete(billLines).where(eq(billLines.billId, victim!.id));
    await h.deps.db.delete(bills).where(eq(bills.id, victim!.id));
    await h.deps.db.update(billRuns).set({ status: 'running', report: null }).where(eq(billRuns.id, run.id));

    expect(await resumeBillRuns(h.deps)).toEqual([run.id]);
    for (let i = 0; i < 100; i++) {
      const [row] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, run.id));
      if (row!.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const [resumed] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, run.id));
    expect(resumed!.status).toBe('draft');
    expect(resumed!.report).toMatchObject({ lines: full.lines, bills: full.bills, totalFen: full.totalFen, alreadyBilled: full.alreadyBilled });
    const keys = await h.deps.db.execute(sql`select count(*)::int as n, count(distinct (house_id, fee_item_id, period_start))::int as distinct_keys from bill_lines where fee_item_id in (select id from fee_items where community_id = ${billed.communityId})`);
    const [count] = rowsOf<{ n: number; distinct_keys: number }>(keys);
    expect(count!.n).toBe(count!.distinct_keys);
  });

  it('removes its drafts when it fails, so the next run is not blocked', async () => {
    const h = await harness();
    const billed = await seedBilledCommunity(h);
    const [posted] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, billed.runId));
    const [run] = await h.deps.db
      .insert(billRuns)
      .values({ communityId: billed.communityId, cycle: 'monthly', periodStart: addMonths(posted!.periodStart, 1), periodEnd: addMonths(posted!.periodStart, 2), trigger: 'manual', dueOn: '2030-01-01' })
      .returning();
    // The database refuses the last house's lines (one house per chunk, in id order): the first chunks
    // have written their drafts by then, and the failure must take them back.
    const [last] = await h.deps.db.select({ id: houses.id }).from(houses).where(eq(houses.communityId, billed.communityId)).orderBy(desc(houses.id)).limit(1);
    await h.deps.db.execute(
      sql.raw(`create function fail_last() returns trigger language plpgsql as $$ begin if new.house_id = '${last!.id}' then raise exception 'disk full'; end if; return new; end $$;
               create trigger fail_last before insert on bill_lines for each row execute function fail_last();`),
    );
    await expect(computeRun(h.deps, run!.id, { chunkHouses: 1 })).rejects.toThrow();
    const [failed] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, run!.id));
    expect(failed!.status).toBe('failed');
    expect(failed!.failure).toMatch(/wrote nothing.*disk full/);
    expect(await h.deps.db.select().from(bills).where(and(eq(bills.runId, run!.id), inArray(bills.status, ['draft', 'posted'])))).toEqual([]);
  });
});

describe('on PGlite, the embedded default', () => {
  it('bills the same community to the same fen as on PostgreSQL', async () => {
    const pg = await harness();
    const lite = await harness({ database: 'pglite' });
    const a = await seedBilledCommunity(pg);
    const b = await seedBilledCommunity(lite);
    const report = async (h: Harness, runId: string) => (await h.deps.db.select().from(billRuns).where(eq(billRuns.id, runId)))[0]!.report!;
    const [ra, rb] = [await report(pg, a.runId), await report(lite, b.runId)];
    expect(rb.totalFen).toBe(ra.totalFen);
    expect(rb.lines).toBe(ra.lines);
    expect(rb.held).toBe(1);
  });
});

describe('running a posted period again', () => {
  it('does not split a common meter again when a house was added since', async () => {
    const h = await harness();
    const billed = await seedBilledCommunity(h);
    const [unit] = await h.deps.db.select().from(units).where(eq(units.buildingId, billed.buildings['1']!));
    await h.deps.db.insert(houses).values({ communityId: billed.communityId, unitId: unit!.id, number: '103', code: '1-1-103', floor: 1, floorAreaM2: '70.00' });
    const corridorTotal = async () => {
      const rows = rowsOf<{ fen: string }>(
        await h.deps.db.execute(sql`select coalesce(sum(l.amount_fen), 0)::text as fen from bill_lines l join fee_items f on f.id = l.fee_item_id where f.code = 'corridor-light' and f.community_id = ${billed.communityId}`),
      );
      return Number(rows[0]!.fen);
    };
    expect(await corridorTotal()).toBe(7404);
    const res = await h.app.request(`/v1/communities/${billed.communityId}/bill-runs`, sendJson('POST', billed.finance.headers, { cycle: 'monthly', period: billed.period.start.slice(0, 7), post: true }));
    const run = (await res.json()) as { id: string };
    await h.deps.jobs.waitFor(run.id);
    // The new house gets its property fee; the corridor's 7404 fen were split once and stay split.
    expect(await corridorTotal()).toBe(7404);
    const [rerun] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, run.id));
    expect(rerun!.report!.byFeeItem.find((f) => f.code === 'corridor-light')).toMatchObject({ lines: 0 });
    expect(rerun!.report!.byFeeItem.find((f) => f.code === 'property')).toMatchObject({ lines: 1 });
  });

  it('moves a default due date on when a preview is posted days after it was computed', async () => {
    const h = await harness();
    const { communityId, finance } = await propertyCommunity(h, '2026-12-01T02:00:00Z');
    const res = await h.app.request(`/v1/communities/${communityId}/bill-runs`, sendJson('POST', finance.headers, { cycle: 'monthly', period: '2026-12' }));
    const preview = (await res.json()) as { id: string; dueOn: string };
    await h.deps.jobs.waitFor(preview.id);
    expect(preview.dueOn).toBe('2026-12-16');
    h.advance(5 * 86_400_000);
    const clerk = await createStaff(h, (await h.deps.db.select().from(communities).where(eq(communities.id, communityId)))[0]!.companyId, 'finance', [communityId]);
    const posted = await h.app.request(`/v1/bill-runs/${preview.id}/post`, sendJson('POST', clerk.headers, {}));
    expect(((await posted.json()) as { dueOn: string }).dueOn).toBe('2026-12-21');
    const dues = await h.deps.db.selectDistinct({ dueOn: bills.dueOn }).from(bills).where(eq(bills.runId, preview.id));
    expect(dues).toEqual([{ dueOn: '2026-12-21' }]);
  });
});

describe('a key taken while the run writes', () => {
  it('keeps the other writer’s line, counts it as already billed, and leaves no empty bill', async () => {
    const h = await harness();
    const billed = await seedBilledCommunity(h);
    const period = { start: addMonths(billed.period.start, 1), end: addMonths(billed.period.start, 2) };
    // A writer the run cannot see when it checks (an unposted bill of no run) holds 1-1-101's property
    // fee for the period: the run's insert meets the unique key.
    const houseId = billed.houses['1-1-101']!;
    const [other] = await h.deps.db
      .insert(bills)
      .values({ communityId: billed.communityId, houseId, kind: 'prepay', cycle: 'monthly', periodStart: period.start, periodEnd: period.end, status: 'draft', totalFen: 1, dueOn: period.start })
      .returning();
    await h.deps.db.insert(billLines).values({ billId: other!.id, houseId, feeItemId: billed.propertyFeeItemId, feeType: 'property', description: 'taken', periodStart: period.start, periodEnd: period.end, amountFen: 1, provenance: { method: 'time' } });

    const res = await h.app.request(`/v1/communities/${billed.communityId}/bill-runs`, sendJson('POST', billed.finance.headers, { cycle: 'monthly', period: period.start.slice(0, 7) }));
    const run = (await res.json()) as { id: string };
    await h.deps.jobs.waitFor(run.id);
    const [done] = await h.deps.db.select().from(billRuns).where(eq(billRuns.id, run.id));
    expect(done!.report).toMatchObject({ alreadyBilled: 1 });
    // Its property fee was 1-1-101's only line this month (last month's meters are not read yet), so
    // the run leaves no empty bill behind; every bill it kept totals exactly its lines.
    const mine = await h.deps.db.select().from(bills).where(eq(bills.runId, run.id));
    expect(mine.map((b) => b.houseId)).not.toContain(houseId);
    expect(mine).toHaveLength(2);
    for (const bill of mine) {
      const lines = await h.deps.db.select().from(billLines).where(eq(billLines.billId, bill.id));
      expect(bill.totalFen).toBe(lines.reduce((sum, l) => sum + l.amountFen, 0));
    }
  });
});
