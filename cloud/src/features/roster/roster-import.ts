import { eq, inArray, sql } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { buildings, houses, units, type HouseStatus } from '../estate/estate.schema.js';
import { houseMembers, rosterOwners } from '../people/people.schema.js';
import type { PlannedHouse, PlannedOwner, RosterPlan } from './roster-validate.js';
import type { RosterImportSummary, RosterRowError } from './roster.schema.js';
import { transactionLock } from '../../db/advisory-lock.js';

/** What the import needs from the app: the database, the PII vault and the clock. */
export type RosterDeps = Pick<AppDeps, 'db' | 'vault' | 'now'>;

/** Rows per statement: small enough for steady progress, large enough that round trips do not matter. */
export const BATCH_ROWS = 1000;

export type RosterImportOptions = {
  communityId: string;
  plan: RosterPlan;
  dryRun: boolean;
  /** Called after each batch with rows written so far; see roster-progress.ts for where it goes. */
  onProgress?: (processedRows: number, totalRows: number) => Promise<void>;
  /** Runs inside the import transaction after the last write: the caller marks its job done atomically. */
  onCommit?: (tx: Database, summary: RosterImportSummary) => Promise<void>;
};

export type RosterImportResult = { summary: RosterImportSummary; errors: RosterRowError[] };

type ExistingHouse = { id: string; unitId: string; number: string; code: string; floor: number; floorAreaM2: string; status: HouseStatus };
type ExistingOwner = { id: string; houseId: string; name: string; idNumberIndex: string; phoneIndex: string | null; isPrimary: boolean };
type OwnerWrite = { house: PlannedHouse; owner: PlannedOwner; idIndex: string; phoneIndex: string | null };

/** The difference between a valid plan and the database: what to write, and the counts. */
type ChangeSet = {
  summary: RosterImportSummary;
  errors: RosterRowError[];
  newBuildings: string[];
  newUnits: { building: string; unit: string }[];
  buildingIds: Map<string, string>;
  unitIds: Map<string, string>;
  houseWrites: PlannedHouse[];
  houseIds: Map<string, string>;
  ownerWrites: OwnerWrite[];
  demoteOwnerIds: string[];
};

const unitKey = (building: string, unit: string) => `${building}\u0000${unit}`;

/**
 * Imports a validated roster into a community. A dry run only compares with the database and reports
 * the counts. A real import is one transaction (all or nothing) and an upsert on the natural keys
 * (building name, unit name, house code, owner ID-number index), so importing the same file again
 * reports everything unchanged and writes nothing.
 *
 * @example
 * const plan = validateRoster(await readRosterFile(bytes, 'roster.csv'));
 * const { summary, errors } = await importRoster(deps, { communityId, plan, dryRun: false });
 */
export async function importRoster(deps: RosterDeps, options: RosterImportOptions): Promise<RosterImportResult> {
  const { communityId, plan } = options;
  if (plan.errors.length > 0) throw new Error('importRoster needs a plan without errors; report plan.errors instead');
  if (options.dryRun) {
    const changes = await diffWithDatabase(deps, deps.db, communityId, plan);
    await options.onProgress?.(plan.rows, plan.rows);
    return { summary: changes.summary, errors: changes.errors };
  }
  return deps.db.transaction(async (tx) => {
    // Two imports into one community at once would each see the other's houses as absent and both
    // insert them; the lock makes the second wait and then find everything the first wrote.
    await transactionLock(tx, `roster-import:${communityId}`);
    const changes = await diffWithDatabase(deps, tx, communityId, plan);
    if (changes.errors.length > 0) return { summary: changes.summary, errors: changes.errors };
    await writeChanges(deps, tx, communityId, changes, plan.rows, options.onProgress);
    await options.onCommit?.(tx, changes.summary);
    return { summary: changes.summary, errors: [] };
  });
}

async function diffWithDatabase(deps: RosterDeps, db: Database, communityId: string, plan: RosterPlan): Promise<ChangeSet> {
  const [existingBuildings, existingUnits, existingHouses, existingOwners] = await Promise.all([
    db.select({ id: buildings.id, name: buildings.name }).from(buildings).where(eq(buildings.communityId, communityId)),
    db
      .select({ id: units.id, name: units.name, building: buildings.name })
      .from(units)
      .innerJoin(buildings, eq(buildings.id, units.buildingId))
      .where(eq(buildings.communityId, communityId)),
    db
      .select({ id: houses.id, unitId: houses.unitId, number: houses.number, code: houses.code, floor: houses.floor, floorAreaM2: houses.floorAreaM2, status: houses.status })
      .from(houses)
      .where(eq(houses.communityId, communityId)),
    db
      .select({
        id: rosterOwners.id,
        houseId: rosterOwners.houseId,
        name: rosterOwners.name,
        idNumberIndex: rosterOwners.idNumberIndex,
        phoneIndex: rosterOwners.phoneIndex,
        isPrimary: rosterOwners.isPrimary,
      })
      .from(rosterOwners)
      .innerJoin(houses, eq(houses.id, rosterOwners.houseId))
      .where(eq(houses.communityId, communityId)),
  ]);

  const buildingIds = new Map(existingBuildings.map((b) => [b.name, b.id]));
  const unitIds = new Map(existingUnits.map((u) => [unitKey(u.building, u.name), u.id]));
  const houseByCode = new Map<string, ExistingHouse>(existingHouses.map((h) => [h.code, h]));
  const codeByPlace = new Map(existingHouses.map((h) => [`${h.unitId}\u0000${h.number}`, h.code]));
  const ownersByHouse = new Map<string, ExistingOwner[]>();
  for (const o of existingOwners) ownersByHouse.set(o.houseId, [...(ownersByHouse.get(o.houseId) ?? []), o]);

  const summary: RosterImportSummary = {
    rows: plan.rows,
    buildings: { created: 0, existing: 0 },
    units: { created: 0, existing: 0 },
    houses: { created: 0, updated: 0, unchanged: 0 },
    owners: { created: 0, updated: 0, unchanged: 0 },
  };
  const errors: RosterRowError[] = [];
  const newBuildings = new Set<string>();
  const newUnits = new Map<string, { building: string; unit: string }>();
  const houseWrites: PlannedHouse[] = [];
  const houseIds = new Map<string, string>();
  const ownerWrites: OwnerWrite[] = [];
  const demoteOwnerIds: string[] = [];

  for (const house of plan.houses) {
    if (!buildingIds.has(house.building)) newBuildings.add(house.building);
    const uKey = unitKey(house.building, house.unit);
    const unitId = unitIds.get(uKey);
    if (!unitId) newUnits.set(uKey, { building: house.building, unit: house.unit });

    const existing = houseByCode.get(house.code);
    if (existing && (existing.unitId !== unitId || existing.number !== house.room)) {
      errors.push({ row: house.row, column: '房号/room', reason: `house code ${house.code} already belongs to another unit or room in this community` });
      continue;
    }
    const codeAtPlace = unitId ? codeByPlace.get(`${unitId}\u0000${house.room}`) : undefined;
    if (!existing && codeAtPlace !== undefined) {
      errors.push({ row: house.row, column: '房号/room', reason: `room ${house.room} of this unit already exists with house code ${codeAtPlace}` });
      continue;
    }
    if (!existing) {
      summary.houses.created++;
      houseWrites.push(house);
    } else {
      houseIds.set(house.code, existing.id);
      const same = existing.floor === house.floor && existing.floorAreaM2 === house.areaM2 && existing.status === house.status;
      if (same) summary.houses.unchanged++;
      else {
        summary.houses.updated++;
        houseWrites.push(house);
      }
    }

    const current = existing ? (ownersByHouse.get(existing.id) ?? []) : [];
    const byIndex = new Map(current.map((o) => [o.idNumberIndex, o]));
    const planned = new Set<string>();
    for (const owner of house.owners) {
      const idIndex = deps.vault.blindIndex(owner.idNumber, 'id_number');
      const phoneIndex = owner.phone ? deps.vault.blindIndex(owner.phone, 'phone') : null;
      planned.add(idIndex);
      const before = byIndex.get(idIndex);
      if (!before) summary.owners.created++;
      else if (before.name === owner.name && before.phoneIndex === phoneIndex && before.isPrimary === owner.isPrimary) {
        summary.owners.unchanged++;
        continue;
      } else summary.owners.updated++;
      ownerWrites.push({ house, owner, idIndex, phoneIndex });
      // Demoted first, in a statement of its own: PostgreSQL checks the one-primary index row by
      // row, so swapping the primary inside one upsert could trip it halfway.
      if (before?.isPrimary && !owner.isPrimary) demoteOwnerIds.push(before.id);
    }
    // Owners the file no longer lists are kept (bindings may point at them) but lose the primary
    // flag when the file names another primary for the house.
    if (house.owners.length > 0) {
      for (const o of current) {
        if (o.isPrimary && !planned.has(o.idNumberIndex)) {
          demoteOwnerIds.push(o.id);
          summary.owners.updated++;
        }
      }
    }
  }
  const plannedBuildings = new Set(plan.houses.map((h) => h.building));
  const plannedUnits = new Set(plan.houses.map((h) => unitKey(h.building, h.unit)));
  summary.buildings = { created: newBuildings.size, existing: plannedBuildings.size - newBuildings.size };
  summary.units = { created: newUnits.size, existing: plannedUnits.size - newUnits.size };
  errors.sort((a, b) => a.row - b.row);
  return { summary, errors, newBuildings: [...newBuildings], newUnits: [...newUnits.values()], buildingIds, unitIds, houseWrites, houseIds, ownerWrites, demoteOwnerIds };
}

function* chunks<T>(items: T[], size = BATCH_ROWS): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

async function writeChanges(
  deps: RosterDeps,
  tx: Database,
  communityId: string,
  changes: ChangeSet,
  totalRows: number,
  onProgress?: (processedRows: number, totalRows: number) => Promise<void>,
): Promise<void> {
  const now = deps.now();
  // Progress is reported in file rows, apportioned over the house and owner statements.
  const work = Math.max(1, changes.houseWrites.length + changes.ownerWrites.length);
  let done = 0;
  const advance = async (n: number) => {
    done += n;
    await onProgress?.(Math.min(totalRows, Math.floor((done / work) * totalRows)), totalRows);
  };

  for (const batch of chunks(changes.newBuildings)) {
    const rows = await tx
      .insert(buildings)
      .values(batch.map((name) => ({ communityId, name })))
      .returning({ id: buildings.id, name: buildings.name });
    for (const r of rows) changes.buildingIds.set(r.name, r.id);
  }
  for (const batch of chunks(changes.newUnits)) {
    const rows = await tx
      .insert(units)
      .values(batch.map((u) => ({ buildingId: changes.buildingIds.get(u.building)!, name: u.unit })))
      .returning({ id: units.id, buildingId: units.buildingId, name: units.name });
    const buildingNames = new Map([...changes.buildingIds].map(([name, id]) => [id, name]));
    for (const r of rows) changes.unitIds.set(unitKey(buildingNames.get(r.buildingId)!, r.name), r.id);
  }

  // The two big statements are written as SQL over json_to_recordset rather than drizzle's insert
  // builder: rendering a 1000-row VALUES list costs the builder ~70 µs per row (3 s of CPU for a
  // 20,000-house roster); one JSON parameter per batch costs almost nothing and PostgreSQL and PGlite
  // read it the same way. The conflict targets are the natural keys (houses_community_code_uq,
  // roster_owners_house_id_number_uq), which is what makes a re-import an upsert.
  const stamp = now.toISOString();
  for (const batch of chunks(changes.houseWrites)) {
    const json = JSON.stringify(
      batch.map((h) => ({
        unit_id: changes.unitIds.get(unitKey(h.building, h.unit))!,
        number: h.room,
        code: h.code,
        floor: h.floor,
        floor_area_m2: h.areaM2,
        status: h.status,
      })),
    );
    const rows = rowsOf<{ id: string; code: string }>(
      await tx.execute(sql`
        insert into ${houses} (community_id, unit_id, number, code, floor, floor_area_m2, status, created_at, updated_at)
        select ${communityId}::uuid, r.unit_id, r.number, r.code, r.floor, r.floor_area_m2, r.status, ${stamp}::timestamptz, ${stamp}::timestamptz
        from json_to_recordset(${json}::json) as r(unit_id uuid, number text, code text, floor integer, floor_area_m2 numeric(10, 2), status text)
        on conflict (community_id, code) do update
          set floor = excluded.floor, floor_area_m2 = excluded.floor_area_m2, status = excluded.status, updated_at = excluded.updated_at
        returning id, code`),
    );
    for (const r of rows) changes.houseIds.set(r.code, r.id);
    await advance(batch.length);
  }

  for (const batch of chunks(changes.demoteOwnerIds)) {
    await tx.update(rosterOwners).set({ isPrimary: false, updatedAt: now }).where(inArray(rosterOwners.id, batch));
  }

  for (const batch of chunks(changes.ownerWrites)) {
    const json = JSON.stringify(
      batch.map(({ house, owner, idIndex, phoneIndex }) => ({
        house_id: changes.houseIds.get(house.code)!,
        name: owner.name,
        id_number_enc: deps.vault.encrypt(owner.idNumber, 'id_number'),
        id_number_index: idIndex,
        phone_enc: owner.phone ? deps.vault.encrypt(owner.phone, 'phone') : null,
        phone_index: phoneIndex,
        is_primary: owner.isPrimary,
      })),
    );
    await tx.execute(sql`
      insert into ${rosterOwners} (house_id, name, id_number_enc, id_number_index, phone_enc, phone_index, is_primary, updated_at)
      select r.house_id, r.name, r.id_number_enc, r.id_number_index, r.phone_enc, r.phone_index, r.is_primary, ${stamp}::timestamptz
      from json_to_recordset(${json}::json)
        as r(house_id uuid, name text, id_number_enc text, id_number_index text, phone_enc text, phone_index text, is_primary boolean)
      on conflict (house_id, id_number_index) do update
        set name = excluded.name, phone_enc = excluded.phone_enc, phone_index = excluded.phone_index,
            is_primary = excluded.is_primary, updated_at = excluded.updated_at`);
    await advance(batch.length);
  }
  await syncMemberPrimaries(tx, communityId);
  if (done === 0) await onProgress?.(totalRows, totalRows);
}

/**
 * Makes the primary flag of bound members follow the roster: a member bound to a roster owner is
 * primary exactly when that owner is (they manage the house's members). Cleared first, then set, so
 * house_members_one_primary_uq never sees two primaries of one house. A primary member bound to no
 * roster owner keeps the flag unless a member bound to the roster's primary owner takes it.
 */
async function syncMemberPrimaries(tx: Database, communityId: string): Promise<void> {
  await tx.execute(sql`
    update ${houseMembers} m set is_primary = false
    from ${houses} h
    where h.id = m.house_id and h.community_id = ${communityId}::uuid and m.ended_at is null and m.is_primary
      and (
        exists (select 1 from ${rosterOwners} o where o.id = m.roster_owner_id and not o.is_primary)
        or exists (
          select 1 from ${houseMembers} other join ${rosterOwners} o on o.id = other.roster_owner_id
          where other.house_id = m.house_id and other.id <> m.id and other.ended_at is null and other.role = 'owner' and o.is_primary
        )
      )`);
  await tx.execute(sql`
    update ${houseMembers} m set is_primary = true
    from ${houses} h, ${rosterOwners} o
    where h.id = m.house_id and h.community_id = ${communityId}::uuid and o.id = m.roster_owner_id
      and m.ended_at is null and m.role = 'owner' and not m.is_primary and o.is_primary`);
}
