import { and, asc, count, eq, ilike, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv, StaffPrincipal } from '../../context.js';
import { requireStaff } from '../../http/auth-middleware.js';
import type { Permission } from '../rbac/permissions.js';
import { maskIdNumber, maskPhone, type PiiVault } from '../../crypto/pii.js';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { Problem } from '../../http/problem.js';
import { houseMembers, residents, rosterOwners } from '../people/people.schema.js';
import { buildings, communities, houses, units, type HouseStatus } from './estate.schema.js';
import { decodeCursor, keysetPage } from '../../http/paging.js';
import { containsPattern } from '../../http/route-kit.js';

export type Community = typeof communities.$inferSelect;

/**
 * The community, if the staff member may act in it. `requireStaff` has already checked the scope set;
 * the company is checked again here so a stray scope row pointing at another company's community
 * (a bad import, a hand-edited table) still grants nothing.
 */
export async function loadScopedCommunity(db: Database, staff: StaffPrincipal, communityId: string): Promise<Community> {
  const [community] = await db
    .select()
    .from(communities)
    .where(and(eq(communities.id, communityId), eq(communities.companyId, staff.companyId)));
  if (!community || !staff.communityIds.has(community.id)) throw new Problem('forbidden', 'You are not assigned to this community');
  return community;
}

/**
 * The staff member acting in a route and the community they act on: the role holds `permission`, and
 * the community is theirs (loadScopedCommunity). Every community-scoped staff route starts with this.
 *
 * @example
 * const { staff, community } = await scopedCommunity(c, 'door:read', communityId);
 */
export async function scopedCommunity(c: Context<AppEnv>, permission: Permission, communityId: string): Promise<{ staff: StaffPrincipal; community: Community }> {
  const staff = requireStaff(c, permission, communityId);
  return { staff, community: await loadScopedCommunity(c.get('deps').db, staff, communityId) };
}

/** The API shape of a community. */
export function communityView(c: Community) {
  return { id: c.id, code: c.code, name: c.name, timeZone: c.timeZone, address: c.address, createdAt: c.createdAt.toISOString() };
}

/** Building, unit and house counts and the total floor area, summed exactly in SQL numeric. */
export async function communityTotals(db: Database, communityId: string) {
  const result = await db.execute<{ buildings: number; units: number; houses: number; floor_area_m2: string }>(sql`
    select
      (select count(*) from ${buildings} where ${buildings.communityId} = ${communityId})::int as buildings,
      (select count(*) from ${units} join ${buildings} on ${buildings.id} = ${units.buildingId}
        where ${buildings.communityId} = ${communityId})::int as units,
      (select count(*) from ${houses} where ${houses.communityId} = ${communityId})::int as houses,
      (select coalesce(sum(${houses.floorAreaM2}), 0)::numeric(14, 2)::text from ${houses}
        where ${houses.communityId} = ${communityId}) as floor_area_m2`);
  const row = rowsOf<{ buildings: number; units: number; houses: number; floor_area_m2: string }>(result)[0]!;
  return { buildings: Number(row.buildings), units: Number(row.units), houses: Number(row.houses), floorAreaM2: row.floor_area_m2 };
}

/** One page of a community's buildings (by name), each with its units and house counts. */
export async function listBuildingsWithUnits(db: Database, communityId: string, limit: number, offset: number) {
  const where = eq(buildings.communityId, communityId);
  const [page, [total]] = await Promise.all([
    db.select().from(buildings).where(where).orderBy(asc(buildings.name), asc(buildings.id)).limit(limit).offset(offset),
    db.select({ n: count() }).from(buildings).where(where),
  ]);
  const unitRows = page.length
    ? await db
        .select({ id: units.id, name: units.name, buildingId: units.buildingId, houses: sql<number>`count(${houses.id})::int` })
        .from(units)
        .leftJoin(houses, eq(houses.unitId, units.id))
        .where(inArray(units.buildingId, page.map((b) => b.id)))
        .groupBy(units.id)
        .orderBy(asc(units.name))
    : [];
  const items = page.map((b) => {
    const own = unitRows.filter((u) => u.buildingId === b.id).map((u) => ({ id: u.id, name: u.name, houses: Number(u.houses) }));
    return { id: b.id, name: b.name, houses: own.reduce((n, u) => n + u.houses, 0), units: own };
  });
  return { items, total: total?.n ?? 0 };
}

export type HouseFilter = { buildingId?: string | undefined; status?: HouseStatus | undefined; q?: string | undefined };

// Houses are listed the way an office reads a roster: building, unit, floor, room. The row id breaks ties.
const HouseKey = z.tuple([z.string(), z.string(), z.number().int(), z.string(), z.uuid()]);

/**
 * One page of houses with their primary owner's name. `withOwners` false (the caller lacks
 * resident:read) leaves the name out and keeps `q` from matching owner names, so a search cannot be
 * used to probe who owns what.
 */
export async function listHouses(db: Database, communityId: string, filter: HouseFilter, page: { limit: number; cursor?: string | undefined }, withOwners: boolean) {
  const conditions: SQL[] = [eq(houses.communityId, communityId)];
  if (filter.buildingId) conditions.push(eq(units.buildingId, filter.buildingId));
  if (filter.status) conditions.push(eq(houses.status, filter.status));
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    conditions.push(withOwners ? or(ilike(houses.code, pattern), ilike(rosterOwners.name, pattern))! : ilike(houses.code, pattern));
  }
  if (page.cursor) {
    const [b, u, floor, number, id] = decodeCursor(page.cursor, HouseKey);
    conditions.push(sql`(${buildings.name}, ${units.name}, ${houses.floor}, ${houses.number}, ${houses.id}) > (${b}, ${u}, ${floor}::int, ${number}, ${id}::uuid)`);
  }
  const rows = await db
    .select({
      id: houses.id,
      code: houses.code,
      number: houses.number,
      floor: houses.floor,
      floorAreaM2: houses.floorAreaM2,
      status: houses.status,
      buildingId: buildings.id,
      buildingName: buildings.name,
      unitId: units.id,
      unitName: units.name,
      ownerName: rosterOwners.name,
    })
    .from(houses)
    .innerJoin(units, eq(units.id, houses.unitId))
    .innerJoin(buildings, eq(buildings.id, units.buildingId))
    .leftJoin(rosterOwners, and(eq(rosterOwners.houseId, houses.id), eq(rosterOwners.isPrimary, true)))
    .where(and(...conditions))
    .orderBy(asc(buildings.name), asc(units.name), asc(houses.floor), asc(houses.number), asc(houses.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = keysetPage(rows, page.limit, (r) => [r.buildingName, r.unitName, r.floor, r.number, r.id]);
  return {
    items: items.map(({ ownerName, ...house }) => ({ ...house, ...(withOwners ? { primaryOwnerName: ownerName } : {}) })),
    nextCursor,
  };
}

/**
 * A house of the community with its building and unit, or a 404. `forUpdate` locks the house row
 * until the caller's transaction ends, so the "before" an audit event records is the real one.
 */
export async function loadHouse(db: Database, communityId: string, houseId: string, forUpdate = false) {
  const query = db
    .select({ house: houses, buildingName: buildings.name, buildingId: buildings.id, unitName: units.name })
    .from(houses)
    .innerJoin(units, eq(units.id, houses.unitId))
    .innerJoin(buildings, eq(buildings.id, units.buildingId))
    .where(and(eq(houses.id, houseId), eq(houses.communityId, communityId)));
  const [row] = forUpdate ? await query.for('update', { of: houses }) : await query;
  if (!row) throw new Problem('not-found', 'This community has no such house');
  return row;
}

/** The API shape of a house, without people. */
export function houseView(row: Awaited<ReturnType<typeof loadHouse>>) {
  const h = row.house;
  return {
    id: h.id,
    code: h.code,
    number: h.number,
    floor: h.floor,
    floorAreaM2: h.floorAreaM2,
    status: h.status,
    buildingId: row.buildingId,
    buildingName: row.buildingName,
    unitId: h.unitId,
    unitName: row.unitName,
    billingStartsOn: h.billingStartsOn,
    billingEndsOn: h.billingEndsOn,
    updatedAt: h.updatedAt.toISOString(),
  };
}

/**
 * Owners on the roster and the residents living in the house, with ID and phone numbers masked. The
 * clear values exist only in this function's memory, between decryption and masking.
 */
export async function housePeople(db: Database, vault: PiiVault, houseId: string) {
  const [owners, members] = await Promise.all([
    db.select().from(rosterOwners).where(eq(rosterOwners.houseId, houseId)).orderBy(sql`${rosterOwners.isPrimary} desc`, asc(rosterOwners.name)),
    db
      .select({ member: houseMembers, name: residents.name, phoneEnc: residents.phoneEnc })
      .from(houseMembers)
      .innerJoin(residents, eq(residents.id, houseMembers.residentId))
      .where(and(eq(houseMembers.houseId, houseId), isNull(houseMembers.endedAt)))
      .orderBy(sql`${houseMembers.isPrimary} desc`, asc(houseMembers.createdAt)),
  ]);
  return {
    owners: owners.map((o) => ({
      id: o.id,
      name: o.name,
      isPrimary: o.isPrimary,
      idNumberMasked: maskIdNumber(vault.decrypt(o.idNumberEnc, 'id_number')),
      phoneMasked: o.phoneEnc ? maskPhone(vault.decrypt(o.phoneEnc, 'phone')) : null,
    })),
    members: members.map(({ member: m, name, phoneEnc }) => ({
      id: m.id,
      residentId: m.residentId,
      name,
      role: m.role,
      isPrimary: m.isPrimary,
      phoneMasked: maskPhone(vault.decrypt(phoneEnc, 'phone')),
      tenancyStart: m.tenancyStart,
      tenancyEnd: m.tenancyEnd,
      since: m.createdAt.toISOString(),
    })),
  };
}

type FeeBasisRow = { level: number; building_id: string | null; building_name: string | null; status: HouseStatus | null; houses: number; floor_area_m2: string };

type StatusArea = { status: HouseStatus; houses: number; floorAreaM2: string };
type BuildingArea = { buildingId: string; buildingName: string; houses: number; floorAreaM2: string; byStatus: StatusArea[] };

/**
 * Floor area per building and house status, the basis the property fee is billed on. Every sum,
 * subtotal and total comes out of PostgreSQL numeric as text in one GROUPING SETS query, so nothing
 * passes through a float and the parts add up to the whole to the last 0.01 m².
 */
export async function feeBasis(db: Database, communityId: string) {
  // grouping(b.id, h.status) is a bit mask of the columns rolled up: 0 building × status, 1 building,
  // 2 status across buildings, 3 the whole community.
  const result = await db.execute(sql`
    select grouping(b.id, h.status) as level, b.id as building_id, b.name as building_name, h.status,
           count(*)::int as houses, coalesce(sum(h.floor_area_m2), 0)::numeric(14, 2)::text as floor_area_m2
    from ${houses} h
    join ${units} u on u.id = h.unit_id
    join ${buildings} b on b.id = u.building_id
    where h.community_id = ${communityId}
    group by grouping sets ((b.id, b.name, h.status), (b.id, b.name), (h.status), ())
    order by b.name, b.id, h.status`);
  const perBuilding = new Map<string, BuildingArea>();
  const byStatus: StatusArea[] = [];
  let total = { houses: 0, floorAreaM2: '0.00' };
  for (const r of rowsOf<FeeBasisRow>(result)) {
    const area = { houses: Number(r.houses), floorAreaM2: r.floor_area_m2 };
    const level = Number(r.level);
    if (level === 3) total = area;
    else if (level === 2) byStatus.push({ status: r.status!, ...area });
    else {
      const entry = perBuilding.get(r.building_id!) ?? { buildingId: r.building_id!, buildingName: r.building_name!, houses: 0, floorAreaM2: '0.00', byStatus: [] };
      perBuilding.set(entry.buildingId, entry);
      if (level === 1) Object.assign(entry, area);
      else entry.byStatus.push({ status: r.status!, ...area });
    }
  }
  return { buildings: [...perBuilding.values()], byStatus, total };
}
