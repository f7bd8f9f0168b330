import { and, asc, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { localMidnight, type BillingCycle, type Period } from './billing-periods.js';
import { feeItems, tariffVersions } from './billing.schema.js';
import type { FeeItem, HouseFacts, MeterWindow, ReadingPoint } from './house-lines.js';

/**
 * The bill run's reads, in bulk per chunk of houses: one query per kind of fact, never one per house,
 * so a run over 100 000 houses costs a few hundred queries. Dates and numbers come back as text so
 * both drivers (postgres.js, PGlite) hand over the same exact values.
 */

const ARRAY_ELEMENT = /^[0-9A-Za-z_-]+$/;

/**
 * A list as one array parameter (`= any(…)` plans like an IN list without 500 placeholders), written as
 * a PostgreSQL array literal, so it binds the same on postgres.js and PGlite. For ids, dates and codes
 * only: an element with anything but letters, digits, '-' and '_' would change the literal, and throws.
 */
export function sqlArray(values: readonly string[], type: 'uuid' | 'text' | 'date'): SQL {
  for (const v of values) if (!ARRAY_ELEMENT.test(v)) throw new RangeError(`"${v}" cannot go into an array parameter`);
  return sql`${`{${values.join(',')}}`}::${sql.raw(type)}[]`;
}

export function uuidArray(ids: readonly string[]): SQL {
  return sqlArray(ids, 'uuid');
}

async function query<T>(db: Database, statement: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(statement));
}

export async function loadFeeItems(db: Database, communityId: string, cycle?: BillingCycle): Promise<FeeItem[]> {
  const items = await db
    .select()
    .from(feeItems)
    .where(and(eq(feeItems.communityId, communityId), isNull(feeItems.archivedAt), cycle ? eq(feeItems.cycle, cycle) : undefined))
    .orderBy(asc(feeItems.code));
  if (items.length === 0) return [];
  const versions = await db
    .select()
    .from(tariffVersions)
    .where(sql`${tariffVersions.feeItemId} = any(${uuidArray(items.map((i) => i.id))})`)
    .orderBy(asc(tariffVersions.version));
  return items.map((item) => ({
    ...item,
    versions: versions
      .filter((v) => v.feeItemId === item.id)
      .map((v) => ({ id: v.id, version: v.version, effectiveFrom: v.effectiveFrom, effectiveTo: v.effectiveTo, unitPrice: v.unitPrice, tiers: v.tiers })),
  }));
}

type HouseRow = { id: string; code: string; building_id: string; floor_area_m2: string; billing_starts_on: string | null; billing_ends_on: string | null };

/** The next `limit` houses of the community after `afterId`, in id order (keyset, so memory stays flat). */
export async function houseChunk(db: Database, communityId: string, afterId: string | null, limit: number): Promise<HouseRow[]> {
  return query<HouseRow>(
    db,
    sql`select h.id::text, h.code, u.building_id::text, h.floor_area_m2::text, h.billing_starts_on::text, h.billing_ends_on::text
        from houses h join units u on u.id = h.unit_id
        where h.community_id = ${communityId} ${afterId ? sql`and h.id > ${afterId}` : sql``}
        order by h.id limit ${limit}`,
  );
}

export async function housesById(db: Database, ids: readonly string[]): Promise<HouseRow[]> {
  return query<HouseRow>(
    db,
    sql`select h.id::text, h.code, u.building_id::text, h.floor_area_m2::text, h.billing_starts_on::text, h.billing_ends_on::text
        from houses h join units u on u.id = h.unit_id where h.id = any(${uuidArray(ids)}) order by h.id`,
  );
}

/** Vacancies and parking spaces of a chunk of houses, folded into HouseFacts. */
export async function houseFacts(db: Database, rows: readonly HouseRow[], needs: { vacancies: boolean; spaces: boolean }): Promise<HouseFacts[]> {
  const ids = rows.map((r) => r.id);
  const vacancies = new Map<string, Period[]>();
  const spaces = new Map<string, { owned: number; rented: number }>();
  if (needs.vacancies && ids.length) {
    const found = await query<{ house_id: string; starts_on: string; ends_on: string | null }>(
      db,
      sql`select house_id::text, starts_on::text, ends_on::text from house_vacancies where house_id = any(${uuidArray(ids)})`,
    );
    for (const v of found) {
      const list = vacancies.get(v.house_id) ?? [];
      list.push({ start: v.starts_on, end: v.ends_on ?? '9999-12-31' });
      vacancies.set(v.house_id, list);
    }
  }
  if (needs.spaces && ids.length) {
    const found = await query<{ house_id: string; kind: string; n: string }>(
      db,
      sql`select house_id::text, kind, count(*)::text as n from parking_spaces where house_id = any(${uuidArray(ids)}) group by 1, 2`,
    );
    for (const s of found) {
      const entry = spaces.get(s.house_id) ?? { owned: 0, rented: 0 };
      if (s.kind === 'owned') entry.owned = Number(s.n);
      if (s.kind === 'rented') entry.rented = Number(s.n);
      spaces.set(s.house_id, entry);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    buildingId: r.building_id,
    floorAreaM2: r.floor_area_m2,
    billingStartsOn: r.billing_starts_on,
    billingEndsOn: r.billing_ends_on,
    vacancies: vacancies.get(r.id) ?? [],
    spaces: spaces.get(r.id) ?? { owned: 0, rented: 0 },
  }));
}

const ISO = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

type WindowRow = {
  meter_id: string;
  house_id: string | null;
  kind: string;
  serial_no: string;
  unit: string;
  installed_in: boolean;
  s_id: string | null;
  s_at: string | null;
  s_value: string | null;
  f_id: string | null;
  f_at: string | null;
  f_value: string | null;
  e_id: string | null;
  e_at: string | null;
  e_value: string | null;
  backwards: boolean;
};

/**
 * Every meter live during `usage` (of the houses, or the listed meters), with the latest reading at or
 * before each edge (local midnight), its first reading inside the span, and whether any reading in
 * between was flagged backwards. Three index probes per meter on (meter_id, read_at).
 */
export async function meterWindows(
  db: Database,
  filter: { houseIds: readonly string[]; kinds: readonly string[] } | { meterIds: readonly string[] },
  usage: Period,
  timeZone: string,
): Promise<{ houseId: string | null; kind: string; window: MeterWindow }[]> {
  const from = localMidnight(usage.start, timeZone).toISOString();
  const to = localMidnight(usage.end, timeZone).toISOString();
  const which =
    'meterIds' in filter
      ? sql`m.id = any(${uuidArray(filter.meterIds)})`
      : sql`m.house_id = any(${uuidArray(filter.houseIds)}) and m.kind = any(${sqlArray(filter.kinds, 'text')})`;
  const rows = await query<WindowRow>(
    db,
    sql`select m.id::text as meter_id, m.house_id::text, m.kind, m.serial_no, m.unit,
          (m.installed_at > ${from}::timestamptz) as installed_in,
          s.id::text as s_id, ${ISO(sql`s.read_at`)} as s_at, s.value::text as s_value,
          f.id::text as f_id, ${ISO(sql`f.read_at`)} as f_at, f.value::text as f_value,
          e.id::text as e_id, ${ISO(sql`e.read_at`)} as e_at, e.value::text as e_value,
          exists (select 1 from meter_readings b where b.meter_id = m.id and b.read_at > coalesce(s.read_at, ${from}::timestamptz)
                  and b.read_at <= ${to}::timestamptz and b.anomalies @> '["backwards"]'::jsonb) as backwards
        from meters m
        left join lateral (select id, read_at, value from meter_readings r where r.meter_id = m.id and r.read_at <= ${from}::timestamptz order by r.read_at desc limit 1) s on true
        left join lateral (select id, read_at, value from meter_readings r where r.meter_id = m.id and r.read_at > ${from}::timestamptz and r.read_at <= ${to}::timestamptz order by r.read_at asc limit 1) f on true
        left join lateral (select id, read_at, value from meter_readings r where r.meter_id = m.id and r.read_at <= ${to}::timestamptz order by r.read_at desc limit 1) e on true
        where ${which} and m.installed_at < ${to}::timestamptz and (m.removed_at is null or m.removed_at > ${from}::timestamptz)
        order by m.house_id, m.installed_at`,
  );
  const point = (id: string | null, at: string | null, value: string | null): ReadingPoint | null => (id && at && value ? { id: Number(id), readAt: at, value } : null);
  return rows.map((r) => ({
    houseId: r.house_id,
    kind: r.kind,
    window: {
      meterId: r.meter_id,
      serialNo: r.serial_no,
      unit: r.unit,
      installedInPeriod: r.installed_in,
      start: point(r.s_id, r.s_at, r.s_value),
      firstInPeriod: point(r.f_id, r.f_at, r.f_value),
      end: point(r.e_id, r.e_at, r.e_value),
      wentBackwards: r.backwards,
    },
  }));
}

type LineFact = { house_id: string; fee_item_id: string; period_start: string; period_end: string; quantity: string | null; estimated: boolean };

/** Charge lines of these houses and items that start in [from, before): the history tiers and true-ups need. */
export async function priorLines(db: Database, houseIds: readonly string[], itemIds: readonly string[], from: string, before: string): Promise<LineFact[]> {
  if (!houseIds.length || !itemIds.length) return [];
  return query<LineFact>(
    db,
    // Posted lines only: another run's preview may yet be discarded.
    sql`select l.house_id::text, l.fee_item_id::text, l.period_start::text, l.period_end::text, l.quantity::text, l.estimated
        from bill_lines l join bills b on b.id = l.bill_id
        where l.house_id = any(${uuidArray(houseIds)}) and l.fee_item_id = any(${uuidArray(itemIds)}) and l.line_kind = 'charge'
          and l.period_start >= ${from}::date and l.period_start < ${before}::date and b.status = 'posted'
        order by l.period_start desc`,
  );
}

/**
 * (house, fee item, period start) keys already billed (posted, or drafted by `runId` itself before a
 * restart), each saying whether `runId` billed it: the run skips them all, so a re-run changes nothing.
 * Another run's preview does not count: it may be discarded, and the unique key stops a double insert.
 */
export async function billedKeys(db: Database, houseIds: readonly string[], itemIds: readonly string[], periodStarts: readonly string[], runId: string): Promise<Map<string, boolean>> {
  if (!houseIds.length || !itemIds.length) return new Map();
  const rows = await query<{ k: string; mine: boolean }>(
    db,
    sql`select l.house_id::text || '|' || l.fee_item_id::text || '|' || l.period_start::text as k, (b.run_id is not distinct from ${runId}::uuid) as mine
        from bill_lines l join bills b on b.id = l.bill_id
        where l.house_id = any(${uuidArray(houseIds)}) and l.fee_item_id = any(${uuidArray(itemIds)}) and l.line_kind = 'charge'
          and l.period_start = any(${sqlArray(periodStarts, 'date')})
          and (b.status = 'posted' or b.run_id = ${runId}::uuid)`,
  );
  return new Map(rows.map((r) => [r.k, r.mine]));
}

/** Houses in the item's scope and their floor areas: the weights of a shared split. */
export async function shareWeights(db: Database, communityId: string, buildingIds: readonly string[] | null, span: Period) {
  return query<{ id: string; floor_area_m2: string }>(
    db,
    sql`select h.id::text, h.floor_area_m2::text from houses h join units u on u.id = h.unit_id
        where h.community_id = ${communityId} ${buildingIds ? sql`and u.building_id = any(${uuidArray(buildingIds)})` : sql``}
          and (h.billing_starts_on is null or h.billing_starts_on < ${span.end}::date)
          and (h.billing_ends_on is null or h.billing_ends_on > ${span.start}::date)
        order by h.id`,
  );
}
