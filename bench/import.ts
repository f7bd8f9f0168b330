// Roster import: 20,000 houses through the real import path on PostgreSQL (target: under 30 s).
//
// Run: npx tsx bench/import.ts [houses]   (npm run bench -- import)
// Uses DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh schema dropped at the end.
// Baseline: the same house rows as a plain multi-row INSERT (1000 rows per statement, straight through
// postgres.js) with no parsing, validation, owners, encryption or upsert: the floor any import of these
// rows stands on.
import { randomUUID, createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import pino from 'pino';
import postgres from 'postgres';
import type { AppDeps } from '../cloud/src/context.js';
import { PiiVault } from '../cloud/src/crypto/pii.js';
import { migrate, rowsOf } from '../cloud/src/db/migrate.js';
import { buildings, communities, houses, propertyCompanies, units } from '../cloud/src/features/estate/estate.schema.js';
import { rosterOwners } from '../cloud/src/features/people/people.schema.js';
import { readRosterFile } from '../cloud/src/features/roster/roster-file.js';
import { validateRoster } from '../cloud/src/features/roster/roster-validate.js';
import { runRosterImport, storeUpload } from '../cloud/src/features/roster/roster.jobs.js';
import { rosterImports } from '../cloud/src/features/roster/roster.schema.js';
import { generateRosterCsv } from '../fixtures/roster-generator.js';
import { openBenchDatabase } from './lib/bench-database.js';

const HOUSES = Number(process.argv[2] ?? 20_000);
const TARGET_SECONDS = 30;
const bench = await openBenchDatabase('bench_import');
const { url, schemaName, dataDir, config, database } = bench;
const seconds = (from: number) => (performance.now() - from) / 1000;

try {
  await migrate(database.db, schemaName);
  const deps = {
    config,
    database,
    db: database.db,
    log: pino({ level: 'silent' }),
    vault: new PiiVault(config.secrets),
    now: () => new Date(),
  } as unknown as AppDeps;
  const [company] = await deps.db.insert(propertyCompanies).values({ name: 'Bench company' }).returning();
  const [target, baselineCommunity] = await deps.db
    .insert(communities)
    .values([
      { companyId: company!.id, code: 'BENCH', name: 'Bench community' },
      { companyId: company!.id, code: 'BASE', name: 'Baseline community' },
    ])
    .returning();

  const csv = Buffer.from(generateRosterCsv(HOUSES, 42));
  const rows = csv.toString('utf8').split('\r\n').length - 2;
  console.log(`roster: ${HOUSES} houses, ${rows} rows, ${(csv.length / 1024 / 1024).toFixed(1)} MiB CSV, PostgreSQL schema ${schemaName}`);

  const runImport = async (dryRun: boolean) => {
    const importId = randomUUID();
    await storeUpload(dataDir, importId, csv);
    await deps.db.insert(rosterImports).values({
      id: importId,
      communityId: target!.id,
      fileName: 'bench.csv',
      fileSha256: createHash('sha256').update(csv).digest('hex'),
      format: 'csv',
      dryRun,
      createdBy: randomUUID(),
    });
    const started = performance.now();
    const outcome = await runRosterImport(deps, { importId, actor: { kind: 'system', id: null } });
    const elapsed = seconds(started);
    const [row] = await deps.db.select().from(rosterImports).where(eq(rosterImports.id, importId));
    if (outcome.status !== 'succeeded') throw new Error(`import failed: ${row?.failure} ${JSON.stringify(row?.errors.slice(0, 3))}`);
    return { elapsed, summary: row!.summary! };
  };

  const dry = await runImport(true);
  console.log(`dry run:    ${dry.elapsed.toFixed(2)} s  (would create ${dry.summary.houses.created} houses, ${dry.summary.owners.created} owners)`);
  const first = await runImport(false);
  console.log(`import:     ${first.elapsed.toFixed(2)} s  (${first.summary.houses.created} houses, ${first.summary.owners.created} owners created)`);
  const again = await runImport(false);
  console.log(`re-import:  ${again.elapsed.toFixed(2)} s  (${again.summary.houses.unchanged} houses, ${again.summary.owners.unchanged} owners unchanged)`);
  const [counts] = rowsOf<{ houses: number; owners: number }>(
    await deps.db.execute(sql`select (select count(*)::int from ${houses} where community_id = ${target!.id}) as houses, (select count(*)::int from ${rosterOwners}) as owners`),
  );
  console.log(`in database: ${counts?.houses} houses, ${counts?.owners} owners`);

  // Baseline: the same house rows, already parsed, straight into the table.
  const plan = validateRoster(await readRosterFile(csv, 'bench.csv'));
  const buildingIds = new Map<string, string>();
  for (const name of new Set(plan.houses.map((h) => h.building))) {
    const [b] = await deps.db.insert(buildings).values({ communityId: baselineCommunity!.id, name }).returning();
    buildingIds.set(name, b!.id);
  }
  const unitIds = new Map<string, string>();
  for (const h of plan.houses) {
    const key = `${h.building}/${h.unit}`;
    if (unitIds.has(key)) continue;
    const [u] = await deps.db.insert(units).values({ buildingId: buildingIds.get(h.building)!, name: h.unit }).returning();
    unitIds.set(key, u!.id);
  }
  // Straight through postgres.js, not drizzle's builder, so the baseline is the driver and the server only.
  const raw = postgres(url, { max: 1, onnotice: () => {}, connection: { search_path: schemaName } });
  const baselineStarted = performance.now();
  for (let i = 0; i < plan.houses.length; i += 1000) {
    const batch = plan.houses.slice(i, i + 1000);
    const params = batch.flatMap((h) => [baselineCommunity!.id, unitIds.get(`${h.building}/${h.unit}`)!, h.room, h.code, h.floor, h.areaM2, h.status]);
    const values = batch.map((_, r) => `(${[1, 2, 3, 4, 5, 6, 7].map((c) => `$${r * 7 + c}`).join(', ')})`).join(', ');
    await raw.unsafe(`insert into houses (community_id, unit_id, number, code, floor, floor_area_m2, status) values ${values}`, params);
  }
  const baseline = seconds(baselineStarted);
  await raw.end();
  console.log(`baseline:   ${baseline.toFixed(2)} s  (plain INSERT of the ${plan.houses.length} house rows, nothing else)`);

  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(`peak RSS:   ${peakRssMiB} MiB`);
  console.log(
    `import of ${HOUSES} houses: ${first.elapsed.toFixed(2)} s, ${(first.elapsed / baseline).toFixed(1)}× the plain INSERT, ${first.elapsed < TARGET_SECONDS ? 'within' : 'OVER'} the ${TARGET_SECONDS} s target`,
  );
  console.log(
    JSON.stringify({
      name: 'import',
      unit: 's',
      value: Number(first.elapsed.toFixed(3)),
      baseline: Number(baseline.toFixed(3)),
      ratio: Number((first.elapsed / baseline).toFixed(2)),
      houses: HOUSES,
      rows,
      rowsPerSecond: Math.round(rows / first.elapsed),
      dryRunSeconds: Number(dry.elapsed.toFixed(3)),
      reimportSeconds: Number(again.elapsed.toFixed(3)),
      peakRssMiB,
      target: TARGET_SECONDS,
    }),
  );
} finally {
  await bench.close();
}
