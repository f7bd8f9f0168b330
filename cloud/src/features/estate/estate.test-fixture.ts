import type { Harness } from '../../../test/harness.js';
import { idNumberCheckChar } from '../../crypto/pii.js';
import { houseMembers, rosterOwners } from '../people/people.schema.js';
import { buildings, houses, units, type HouseStatus } from './estate.schema.js';

// Test-only setup, written straight into the tables because the roster importer is built separately.
// Not a *.test.ts file, so vitest does not run it on its own.

export type HouseSpec = { number: string; floor: number; area: string; status?: HouseStatus };
export type BuildingSpec = { name: string; units: { name: string; houses: HouseSpec[] }[] };

/**
 * Inserts buildings, units and houses into a community; returns ids by name and by house code
 * ("<building>-<unit>-<room>").
 *
 * @example
 * const estate = await seedEstate(h, communityId, [{ name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '89.50' }] }] }]);
 * estate.houses['1-1-101'] // house id
 */
export async function seedEstate(h: Harness, communityId: string, spec: BuildingSpec[]) {
  const out = { buildings: {} as Record<string, string>, units: {} as Record<string, string>, houses: {} as Record<string, string> };
  for (const b of spec) {
    const [building] = await h.deps.db.insert(buildings).values({ communityId, name: b.name }).returning();
    out.buildings[b.name] = building!.id;
    for (const u of b.units) {
      const [unit] = await h.deps.db.insert(units).values({ buildingId: building!.id, name: u.name }).returning();
      out.units[`${b.name}-${u.name}`] = unit!.id;
      for (const house of u.houses) {
        const code = `${b.name}-${u.name}-${house.number}`;
        const [row] = await h.deps.db
          .insert(houses)
          .values({ communityId, unitId: unit!.id, number: house.number, code, floor: house.floor, floorAreaM2: house.area, status: house.status ?? 'occupied' })
          .returning();
        out.houses[code] = row!.id;
      }
    }
  }
  return out;
}

/** A valid, fictitious resident ID number (GB 11643) built from a 17-digit stem. */
export function fakeIdNumber(first17: string): string {
  return first17 + idNumberCheckChar(first17);
}

/** Puts an owner on the roster of a house, with ID and phone encrypted as the importer would. */
export async function addRosterOwner(h: Harness, houseId: string, owner: { name: string; idNumber: string; phone?: string; isPrimary?: boolean }) {
  const { vault } = h.deps;
  const [row] = await h.deps.db
    .insert(rosterOwners)
    .values({
      houseId,
      name: owner.name,
      idNumberEnc: vault.encrypt(owner.idNumber, 'id_number'),
      idNumberIndex: vault.blindIndex(owner.idNumber, 'id_number'),
      phoneEnc: owner.phone ? vault.encrypt(owner.phone, 'phone') : null,
      phoneIndex: owner.phone ? vault.blindIndex(owner.phone, 'phone') : null,
      isPrimary: owner.isPrimary ?? false,
    })
    .returning();
  return row!;
}

/** Links a resident to a house as binding would. */
export async function addMember(
  h: Harness,
  houseId: string,
  residentId: string,
  member: { role: 'owner' | 'family' | 'tenant'; isPrimary?: boolean; tenancy?: [string, string]; ended?: boolean },
) {
  const [row] = await h.deps.db
    .insert(houseMembers)
    .values({
      houseId,
      residentId,
      role: member.role,
      isPrimary: member.isPrimary ?? false,
      tenancyStart: member.tenancy?.[0] ?? null,
      tenancyEnd: member.tenancy?.[1] ?? null,
      endedAt: member.ended ? new Date() : null,
    })
    .returning();
  return row!;
}

/**
 * Asserts a response is an RFC 9457 problem of the given status and stable type; returns its body.
 *
 * @example
 * await expectProblem(res, 403, 'forbidden');
 */
export async function expectProblem(res: Response, status: number, kind: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status} ${kind}, got ${res.status}: ${text}`);
  if (!res.headers.get('content-type')?.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${res.headers.get('content-type')}`);
  const body = JSON.parse(text) as Record<string, unknown>;
  if (body['type'] !== `/problems/${kind}`) throw new Error(`expected type /problems/${kind}, got ${String(body['type'])}: ${text}`);
  if (body['status'] !== status) throw new Error(`body status ${String(body['status'])} differs from ${status}`);
  return body;
}

/** JSON request options for `app.request`. */
export function sendJson(method: string, headers: Record<string, string>, body: unknown): RequestInit {
  return { method, headers: { ...headers, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

/** The response body parsed as JSON, typed as the test expects it to be. */
export async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

/** A list page as the estate, staff and audit routes return it. */
export type Page<T> = { items: T[]; total?: number; nextCursor?: string | null };
