// Monthly bill run: 100,000 houses × 5 fee items on PostgreSQL (target: under 60 s, memory bounded).
//
// Run: npx tsx bench/billing.ts [houses]   (npm run bench -- billing)
// Uses DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh schema dropped at the end.
// Fee items: property fee by area, tiered electricity (yearly tiers), tiered water (monthly tiers), a
// common meter split by area, parking management per owned space. Every house has an electricity and a
// water meter with last month's two readings; one house in five owns a parking space.
// Baseline: the same bill and line rows (provenance included) inserted again, as they are, in the same
// batches by the same bulk insert the run uses, with no reads and no computation: the floor any run
// stands on. The ratio is what reading the meters, pricing and splitting cost on top of writing.
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import pino from 'pino';
import type { AppDeps } from '../cloud/src/context.js';
import { migrate, rowsOf } from '../cloud/src/db/migrate.js';
import { communities, propertyCompanies } from '../cloud/src/features/estate/estate.schema.js';
import { localMidnight } from '../cloud/src/features/billing/billing-periods.js';
import { billLines, billRuns, bills, feeItems, tariffVersions } from '../cloud/src/features/billing/billing.schema.js';
import { computeRun, insertBills, insertLines, RUN_CHUNK_HOUSES, type LineRow } from '../cloud/src/features/billing/bill-run.js';
import { openBenchDatabase } from './lib/bench-database.js';

const HOUSES = Number(process.argv[2] ?? 100_000);
const TARGET_SECONDS = 60;
const TZ = 'Asia/Shanghai';
const PERIOD = { start: '2026-11-01', end: '2026-12-01' };
const USAGE = { start: '2026-10-01', end: '2026-11-01' };

const bench = await openBenchDatabase('bench_billing');
const { schemaName, config, database } = bench;
const db = database.db;
const seconds = (from: number) => (performance.now() - from) / 1000;
const count = async (statement: ReturnType<typeof sql>) => Number(rowsOf<{ n: string }>(await db.execute(statement))[0]!.n);

try {
  await migrate(db, schemaName);
  const [company] = await db.insert(propertyCompanies).values({ name: 'Bench company' }).returning();
  const [community] = await db.insert(communities).values({ companyId: company!.id, code: 'BENCH', name: 'Bench community' }).returning();
  const communityId = community!.id;

  let started = performance.now();
  const from = localMidnight(USAGE.start, TZ).toISOString();
  const to = localMidnight(USAGE.end, TZ).toISOString();
  // The estate, meters and readings in set-based SQL: seeding is not what is measured.
  await db.execute(sql`insert into buildings (community_id, name) select ${communityId}, 'B' || g from generate_series(1, ${Math.ceil(HOUSES / 1000)}) g`);
  await db.execute(sql`insert into units (building_id, name) select b.id, 'U' || g from buildings b, generate_series(1, 2) g where b.community_id = ${communityId}`);
  await db.execute(sql`
    insert into houses (community_id, unit_id, number, code, floor, floor_area_m2)
    select ${communityId}, u.id, g::text, b.name || '-' || u.name || '-' || g, 1 + g / 10, round((50 + random() * 100)::numeric, 2)
    from units u join buildings b on b.id = u.building_id, generate_series(1, 500) g
    where b.community_id = ${communityId}
    order by b.name, u.name, g limit ${HOUSES}`);
  await db.execute(sql`
    insert into meters (community_id, house_id, kind, model, serial_no, billing_quantity, unit, installed_at)
    select ${communityId}, h.id, k.kind, k.model, k.prefix || h.code, k.quantity, k.unit, '2026-01-01T00:00:00Z'
    from houses h, (values ('electricity', 'DTSY-TOU', 'E', 'energy_import', 'kWh'), ('water', 'LXSY-RS485', 'W', 'volume', 'm3')) k(kind, model, prefix, quantity, unit)
    where h.community_id = ${communityId}`);
  await db.execute(sql`
    insert into meters (community_id, house_id, kind, model, serial_no, billing_quantity, unit, installed_at)
    values (${communityId}, null, 'electricity', 'DTSY-TOU', 'E-PUBLIC', 'energy_import', 'kWh', '2026-01-01T00:00:00Z')`);
  await db.execute(sql`
    insert into meter_readings (meter_id, read_at, value, values, source)
    select m.id, e.at, case when e.n = 0 then v.base else v.base + v.used end, '{}'::jsonb, 'manual'
    from meters m
    cross join lateral (select (1000 + random() * 5000)::numeric(20, 2) as base,
                               (case when m.kind = 'water' then 5 + random() * 25 else 80 + random() * 500 end)::numeric(20, 2) as used) v
    cross join (values (0, ${from}::timestamptz), (1, ${to}::timestamptz)) e(n, at)
    where m.community_id = ${communityId}`);
  await db.execute(sql`insert into parking_lots (community_id, name, capacity) values (${communityId}, 'P1', ${HOUSES})`);
  await db.execute(sql`
    insert into parking_spaces (lot_id, number, kind, house_id)
    select l.id, 'P-' || h.code, 'owned', h.id from parking_lots l, houses h
    where l.community_id = ${communityId} and h.community_id = ${communityId} and abs(hashtext(h.id::text)) % 5 = 0`);
  await db.execute(sql`analyze`);
  const seeded = { houses: await count(sql`select count(*)::text as n from houses`), readings: await count(sql`select count(*)::text as n from meter_readings`) };
  console.log(`seeded ${seeded.houses} houses, ${seeded.readings} readings in ${seconds(started).toFixed(1)} s (schema ${schemaName})`);

  const publicMeter = rowsOf<{ id: string }>(await db.execute(sql`select id::text from meters where serial_no = 'E-PUBLIC'`))[0]!.id;
  const item = async (fields: Partial<typeof feeItems.$inferInsert>, tariff: Partial<typeof tariffVersions.$inferInsert>) => {
    const [row] = await db.insert(feeItems).values({ communityId, cycle: 'monthly', code: 'x', name: 'x', kind: 'property', ...fields }).returning();
    await db.insert(tariffVersions).values({ feeItemId: row!.id, version: 1, effectiveFrom: '2026-01-01', ...tariff });
  };
  await item({ code: 'property', name: '物业费', kind: 'property' }, { unitPrice: 24_500 });
  await item({ code: 'electricity', name: '电费', kind: 'metered', meterKind: 'electricity', tiered: true, tierBasis: 'year' }, { tiers: [{ upTo: '3120', unitPrice: 6_170 }, { upTo: '4800', unitPrice: 6_670 }, { upTo: null, unitPrice: 9_170 }] });
  await item({ code: 'water', name: '水费', kind: 'metered', meterKind: 'water', tiered: true }, { tiers: [{ upTo: '18', unitPrice: 34_500 }, { upTo: '25', unitPrice: 48_300 }, { upTo: null, unitPrice: 58_300 }] });
  await item({ code: 'public-light', name: '公摊电费', kind: 'shared', sharedMeterId: publicMeter, shareMethod: 'area' }, { unitPrice: 6_170 });
  await item({ code: 'parking', name: '车位管理费', kind: 'parking-management' }, { unitPrice: 800_000 });
  // The common meter's month: 40 kWh per house.
  await db.execute(sql`update meter_readings set value = value + ${HOUSES * 40} where meter_id = ${publicMeter} and read_at = ${to}::timestamptz`);

  const deps = { config, database, db, log: pino({ level: 'silent' }), now: () => new Date('2026-11-02T02:00:00Z') } as unknown as AppDeps;
  const [run] = await db.insert(billRuns).values({ communityId, cycle: 'monthly', periodStart: PERIOD.start, periodEnd: PERIOD.end, trigger: 'manual', dueOn: '2026-11-16' }).returning();

  // Peak memory while the run streams; a run that held every line in memory would grow with the houses.
  const rssBefore = process.memoryUsage().rss;
  let peakHeap = 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  }, 20);
  started = performance.now();
  const done = await computeRun(deps, run!.id);
  const runSeconds = seconds(started);
  clearInterval(sampler);
  const report = done.report!;
  console.log(`run: ${report.lines} lines, ${report.bills} bills, ¥${(report.totalFen / 100).toFixed(2)}, ${report.held} held, in ${runSeconds.toFixed(1)} s; peak heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (${((peakRss - rssBefore) / 2 ** 20).toFixed(0)} MiB above the start)`);
  const sum = await count(sql`select sum(amount_fen)::text as n from bill_lines`);
  if (sum !== report.totalFen || report.lines < HOUSES * 4) throw new Error(`the run's lines (${report.lines}, ${sum} fen) do not match its report`);

  // Baseline: the run's own rows written again as they are (a period later, so the unique key allows
  // them), chunk by chunk; only the inserts are timed.
  let baselineSeconds = 0;
  let baselineLines = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const chunk = await db.select().from(bills).where(sql`${bills.runId} = ${run!.id} and ${bills.id} > ${after}`).orderBy(bills.id).limit(RUN_CHUNK_HOUSES);
    if (chunk.length === 0) break;
    after = chunk.at(-1)!.id;
    const lines = await db.select().from(billLines).where(sql`${billLines.billId} = any(${`{${chunk.map((b) => b.id).join(',')}}`}::uuid[])`);
    const ids = new Map(chunk.map((b) => [b.id, randomUUID()]));
    const t = performance.now();
    await db.transaction(async (tx) => {
      const billRows = chunk.map(({ seq: _seq, id, ...b }) => ({ ...b, id: ids.get(id)!, runId: null, periodStart: PERIOD.end, periodEnd: '2027-01-01', status: 'draft' as const }));
      for (let i = 0; i < billRows.length; i += 2000) await insertBills(tx, billRows.slice(i, i + 2000));
      const lineRows: LineRow[] = lines.map((l) => ({
        bill_id: ids.get(l.billId)!,
        house_id: l.houseId,
        fee_item_id: l.feeItemId,
        fee_type: l.feeType,
        description: l.description,
        period_start: '2099-01-01',
        period_end: l.periodEnd,
        quantity: l.quantity,
        unit: l.unit,
        amount_fen: l.amountFen,
        estimated: l.estimated,
        provenance: l.provenance,
      }));
      for (let i = 0; i < lineRows.length; i += 2000) await insertLines(tx, lineRows.slice(i, i + 2000));
    });
    baselineSeconds += seconds(t);
    baselineLines += lines.length;
  }
  console.log(`baseline: ${baselineLines} lines and their bills inserted as they are in ${baselineSeconds.toFixed(1)} s`);
  const [posted] = await db.select({ status: billRuns.status }).from(billRuns).where(eq(billRuns.id, run!.id));
  console.log(
    JSON.stringify({
      name: 'billing',
      unit: 's',
      value: Number(runSeconds.toFixed(2)),
      baseline: Number(baselineSeconds.toFixed(2)),
      ratio: Number((runSeconds / baselineSeconds).toFixed(2)),
      target: TARGET_SECONDS,
      houses: seeded.houses,
      feeItems: 5,
      lines: report.lines,
      linesPerSecond: Math.round(report.lines / runSeconds),
      held: report.held,
      peakHeapMiB: Math.round(peakHeap / 2 ** 20),
      peakRssMiB: Math.round(peakRss / 2 ** 20),
      status: posted!.status,
    }),
  );
} finally {
  await bench.close();
}
