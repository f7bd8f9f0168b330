import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { and, eq, isNull } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { normalizePhone } from '../../crypto/pii.js';
import { communities, houses, propertyCompanies } from '../estate/estate.schema.js';
import { normalizePlate } from '../estate/estate-values.js';
import { parkingLots, parkingSpaces, vehicles } from '../parking/parking.schema.js';
import { houseMembers, residents, rosterOwners } from '../people/people.schema.js';
import { runRosterImport, storeUpload } from '../roster/roster.jobs.js';
import { rosterImports } from '../roster/roster.schema.js';
import { hashPassword } from '../staff/passwords.js';
import { staffAccounts, staffCommunities, type StaffRole } from '../staff/staff.schema.js';
import { DEMO_FIXTURE_DIR, expandSpaces, loadCommunityFixture, type CommunityFixture } from './demo-fixture.js';
import { transactionLock } from '../../db/advisory-lock.js';

export type DemoLogin = { username: string; role: StaffRole; password: string };
export type DemoSeedResult = { seeded: boolean; logins: DemoLogin[]; residentPhones: string[]; communityId: string };

// No 0/O, 1/l/i: the password is read off a terminal and typed into a login form.
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** 16 characters from 31 (≈79 bits), grouped for reading: "k7vq-2mx9-pt4h-r8cw". */
function generatePassword(): string {
  const chars = Array.from({ length: 16 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]!);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

function loginsFile(dataDir: string): string {
  return path.resolve(dataDir, 'demo-logins.json');
}

function readLogins(dataDir: string): DemoLogin[] | null {
  const file = loginsFile(dataDir);
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { logins: DemoLogin[] }).logins;
}

/**
 * Seeds the demo community of fixtures/demo-community into an empty database: company, community,
 * one staff account per role, the owner roster (through the same import the API runs), resident
 * accounts, parking lots, spaces and vehicles, all in one transaction.
 *
 * Staff passwords are generated per installation, never committed, and kept in
 * DATA_DIR/demo-logins.json (mode 0600) so every restart prints the same ones. When the company
 * already exists the seed does nothing and returns what that file holds.
 *
 * @example
 * const demo = await seedDemo(deps);
 * for (const l of demo.logins) console.log(l.username, l.password);
 */
export async function seedDemo(deps: AppDeps, options: { fixtureDir?: string } = {}): Promise<DemoSeedResult> {
  const dir = options.fixtureDir ?? DEMO_FIXTURE_DIR;
  const fixture = loadCommunityFixture(dir);
  const existing = await findDemo(deps.db, fixture);
  if (existing) {
    return { seeded: false, logins: readLogins(deps.config.DATA_DIR) ?? [], residentPhones: await residentPhones(deps, existing), communityId: existing };
  }

  // The file is written before the database: if the seed fails, the next start retries with the same
  // passwords; if the file were written after, a crash in between would lose them.
  const known = new Map((readLogins(deps.config.DATA_DIR) ?? []).map((l) => [l.username, l]));
  const logins: DemoLogin[] = fixture.staff.map((s) => ({
    username: s.username,
    role: s.role,
    password: known.get(s.username)?.role === s.role ? known.get(s.username)!.password : generatePassword(),
  }));
  mkdirSync(deps.config.DATA_DIR, { recursive: true });
  writeFileSync(
    loginsFile(deps.config.DATA_DIR),
    JSON.stringify({ $comment: 'Demo staff logins generated for this installation by the seed. Not for production.', logins }, null, 2),
    { mode: 0o600 },
  );
  const hashes = await Promise.all(logins.map((l) => hashPassword(l.password)));
  const roster = readFileSync(path.join(dir, fixture.roster));

  const communityId = await deps.db.transaction(async (tx) => {
    // Two API nodes starting together against one PostgreSQL: the second waits, then finds the demo.
    await transactionLock(tx, 'estate-demo-seed');
    const already = await findDemo(tx, fixture);
    if (already) return already;

    const [company] = await tx.insert(propertyCompanies).values({ name: fixture.company.name }).returning();
    const [community] = await tx
      .insert(communities)
      .values({ companyId: company!.id, ...fixture.community })
      .returning();
    const staff = await tx
      .insert(staffAccounts)
      .values(fixture.staff.map((s, i) => ({ companyId: company!.id, username: s.username, displayName: s.displayName, role: s.role, passwordHash: hashes[i]! })))
      .returning();
    const scoped = staff.filter((s) => s.role !== 'super_admin');
    if (scoped.length) await tx.insert(staffCommunities).values(scoped.map((s) => ({ staffId: s.id, communityId: community!.id })));

    await importDemoRoster({ ...deps, db: tx }, community!.id, staff.find((s) => s.role === 'super_admin')?.id ?? staff[0]!.id, fixture.roster, roster);
    const houseIds = new Map((await tx.select({ id: houses.id, code: houses.code }).from(houses).where(eq(houses.communityId, community!.id))).map((h) => [h.code, h.id]));
    const houseId = (code: string, what: string) => {
      const id = houseIds.get(code);
      if (!id) throw new Error(`community.json: ${what} names house ${code}, which roster.csv does not have`);
      return id;
    };
    await seedResidents({ ...deps, db: tx }, fixture, houseId);
    await seedParking(tx, community!.id, fixture, houseId);
    return community!.id;
  });
  deps.log.info({ communityId }, 'demo community seeded');
  return { seeded: true, logins, residentPhones: await residentPhones(deps, communityId), communityId };
}

async function findDemo(db: Database, fixture: CommunityFixture): Promise<string | null> {
  const [row] = await db
    .select({ id: communities.id })
    .from(communities)
    .innerJoin(propertyCompanies, eq(propertyCompanies.id, communities.companyId))
    .where(and(eq(propertyCompanies.name, fixture.company.name), eq(communities.code, fixture.community.code)));
  if (row) return row.id;
  const [company] = await db.select({ id: propertyCompanies.id }).from(propertyCompanies).where(eq(propertyCompanies.name, fixture.company.name));
  if (company) throw new Error(`The demo company "${fixture.company.name}" exists without its community ${fixture.community.code}; the database was changed by hand`);
  return null;
}

/** The roster goes through the API's own path: an upload on disk, a roster_imports row, the job. */
async function importDemoRoster(deps: AppDeps, communityId: string, createdBy: string, fileName: string, bytes: Buffer): Promise<void> {
  const importId = randomUUID();
  await storeUpload(deps.config.DATA_DIR, importId, bytes);
  await deps.db.insert(rosterImports).values({
    id: importId,
    communityId,
    fileName,
    fileSha256: createHash('sha256').update(bytes).digest('hex'),
    format: 'csv',
    dryRun: false,
    createdBy,
    createdAt: deps.now(),
  });
  const outcome = await runRosterImport(deps, { importId, actor: { kind: 'system', id: null } });
  if (outcome.status !== 'succeeded') {
    const [row] = await deps.db.select().from(rosterImports).where(eq(rosterImports.id, importId));
    const first = row?.errors.slice(0, 5).map((e) => `row ${e.row} ${e.column ?? ''}: ${e.reason}`) ?? [];
    throw new Error(`The demo roster ${fileName} did not import: ${outcome.detail ?? row?.failure}\n  ${first.join('\n  ')}`);
  }
}

async function seedResidents(deps: AppDeps, fixture: CommunityFixture, houseId: (code: string, what: string) => string): Promise<void> {
  const ownerResident = new Map<string, string>();
  for (const r of fixture.residents) {
    const house = houseId(r.house, `resident (${r.role})`);
    let name: string;
    let phone: string | null;
    let rosterOwnerId: string | null = null;
    if (r.role === 'owner') {
      const [owner] = await deps.db
        .select()
        .from(rosterOwners)
        .where(and(eq(rosterOwners.houseId, house), eq(rosterOwners.isPrimary, true)));
      if (!owner?.phoneEnc) throw new Error(`community.json: house ${r.house} has no primary owner with a phone in roster.csv`);
      name = owner.name;
      phone = deps.vault.decrypt(owner.phoneEnc, 'phone');
      rosterOwnerId = owner.id;
    } else {
      name = r.name;
      phone = normalizePhone(r.phone);
      if (!phone) throw new Error(`community.json: ${r.phone} is not a mobile number`);
    }
    const phoneIndex = deps.vault.blindIndex(phone, 'phone');
    const [resident] = await deps.db
      .insert(residents)
      .values({ phoneEnc: deps.vault.encrypt(phone, 'phone'), phoneIndex, name })
      .onConflictDoUpdate({ target: residents.phoneIndex, set: { name } })
      .returning({ id: residents.id });
    if (r.role === 'owner') ownerResident.set(r.house, resident!.id);
    await deps.db.insert(houseMembers).values({
      houseId: house,
      residentId: resident!.id,
      role: r.role,
      isPrimary: r.role === 'owner',
      rosterOwnerId,
      tenancyStart: r.role === 'tenant' ? r.tenancyStart : null,
      tenancyEnd: r.role === 'tenant' ? r.tenancyEnd : null,
      invitedBy: r.role === 'owner' ? null : (ownerResident.get(r.house) ?? null),
      createdAt: deps.now(),
    });
  }
}

async function seedParking(db: Database, communityId: string, fixture: CommunityFixture, houseId: (code: string, what: string) => string): Promise<void> {
  for (const lot of fixture.parkingLots) {
    const [row] = await db.insert(parkingLots).values({ communityId, name: lot.name, capacity: lot.capacity }).returning({ id: parkingLots.id });
    const spaces = expandSpaces(lot);
    if (spaces.length) {
      await db.insert(parkingSpaces).values(
        spaces.map((s) => ({ lotId: row!.id, number: s.number, kind: s.kind, houseId: s.house ? houseId(s.house, `parking space ${s.number}`) : null })),
      );
    }
  }
  if (fixture.vehicles.length) {
    await db.insert(vehicles).values(
      fixture.vehicles.map((v) => ({ communityId, plate: normalizePlate(v.plate), houseId: v.house ? houseId(v.house, `vehicle ${v.plate}`) : null })),
    );
  }
}

/** Phones of the demo's resident accounts, for the start-up banner (fictitious numbers). */
async function residentPhones(deps: AppDeps, communityId: string): Promise<string[]> {
  const rows = await deps.db
    .selectDistinct({ phoneEnc: residents.phoneEnc, role: houseMembers.role })
    .from(houseMembers)
    .innerJoin(residents, eq(residents.id, houseMembers.residentId))
    .innerJoin(houses, eq(houses.id, houseMembers.houseId))
    .where(and(eq(houses.communityId, communityId), isNull(houseMembers.endedAt)));
  const order = { owner: 0, family: 1, tenant: 2 } as const;
  rows.sort((a, b) => order[a.role] - order[b.role]);
  return [...new Set(rows.map((r) => deps.vault.decrypt(r.phoneEnc, 'phone')))];
}
