import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { DoorScope } from '@estate/protocol';
import type { AppDeps, StaffPrincipal } from '../../context.js';
import { Problem } from '../../http/problem.js';
import { communities, houses, units } from '../estate/estate.schema.js';
import { membershipIsLive } from '../people/membership.js';
import { houseMembers } from '../people/people.schema.js';
import { issueCredential, liveCredentials, publishAfterCommit, RESIDENT_KEY_MS, revokeCredentials, STAFF_KEY_MS, type Credential } from './door-credentials.js';
import { communityScope, doorGroupCodes, houseScope } from './door-registry.js';
import { doorCredentials, doors, visitorPasses } from './doors.schema.js';

/** Keys are renewed by the phone this long before they expire (it asks again; a fresh key is issued). */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

function sameScope(a: unknown, b: DoorScope): boolean {
  const x = a as DoorScope;
  const norm = (s: DoorScope) => JSON.stringify({ doors: [...s.doors].sort((p, q) => p - q), groups: [...s.groups].sort((p, q) => p - q) });
  return norm(x) === norm(b);
}

/**
 * A resident's keys for this device: one per live house membership that opens anything, valid for 30
 * days and never past a tenancy's last day (in the community's time zone). A key still good for this
 * device and scope is returned as it is; one that is about to expire, whose scope changed (a new door
 * group, the owner's choice) or that belongs to another device is replaced, the old one revoked.
 */
export async function residentKeys(deps: AppDeps, residentId: string, devicePublicKey: Uint8Array): Promise<Credential[]> {
  const now = deps.now();
  const device = Buffer.from(devicePublicKey).toString('base64url');
  const memberships = await deps.db
    .select({
      houseId: houses.id,
      communityId: houses.communityId,
      buildingId: units.buildingId,
      doorAccess: houseMembers.doorAccess,
      // Midnight after the tenancy's last day, in the community's time zone, as epoch milliseconds.
      tenancyUntilMs: sql<number | null>`case when ${houseMembers.tenancyEnd} is null then null else extract(epoch from ((${houseMembers.tenancyEnd} + 1)::timestamp at time zone ${communities.timeZone})) * 1000 end`.mapWith(Number),
    })
    .from(houseMembers)
    .innerJoin(houses, eq(houses.id, houseMembers.houseId))
    .innerJoin(units, eq(units.id, houses.unitId))
    .innerJoin(communities, eq(communities.id, houses.communityId))
    .where(and(eq(houseMembers.residentId, residentId), membershipIsLive(now)));
  const existing = await liveCredentials(deps.db, 'resident', [residentId], now);
  const out: Credential[] = [];
  const keySetChanged: string[] = [];
  const revokedIn: string[] = [];
  await deps.db.transaction(async (tx) => {
    for (const m of memberships) {
      const scope = await houseScope(tx, m.communityId, m.buildingId, m.doorAccess);
      const current = existing.filter((c) => c.houseId === m.houseId);
      const keep = scope && current.find((c) => c.devicePublicKey === device && sameScope(c.scope, scope) && c.validUntil.getTime() - now.getTime() > RENEW_BEFORE_MS);
      if (keep) {
        out.push(keep);
        continue;
      }
      // A key of this house for this device that no longer fits is replaced; other devices keep theirs.
      const stale = current.filter((c) => c.devicePublicKey === device).map((c) => c.id);
      if (stale.length) {
        const r = await revokeCredentials(deps, tx, inArray(doorCredentials.id, stale), 'replaced');
        revokedIn.push(...r.communities);
      }
      if (!scope) continue;
      let until = new Date(now.getTime() + RESIDENT_KEY_MS);
      if (m.tenancyUntilMs !== null) until = new Date(Math.min(until.getTime(), m.tenancyUntilMs));
      if (until.getTime() - now.getTime() < 1000) continue;
      const issued = await issueCredential(deps, tx, { communityId: m.communityId, holderKind: 'resident', holderId: residentId, houseId: m.houseId, devicePublicKey, scope, validFrom: new Date(now.getTime() - 60_000), validUntil: until });
      if (issued.keySetChanged) keySetChanged.push(m.communityId);
      out.push(issued.credential);
    }
  });
  await publishAfterCommit(deps, { keySet: keySetChanged, revocations: revokedIn });
  return out;
}

/** A staff member's key for one community: every door, for a 12-hour shift. Roles without `door:key` get none. */
export async function staffKey(deps: AppDeps, staff: StaffPrincipal, communityId: string, devicePublicKey: Uint8Array): Promise<Credential> {
  const now = deps.now();
  const scope = await communityScope(deps.db, communityId);
  if (!scope) throw new Problem('conflict', 'This community has no doors yet');
  const issued = await deps.db.transaction((tx) =>
    issueCredential(deps, tx, { communityId, holderKind: 'staff', holderId: staff.staffId, devicePublicKey, scope, validFrom: new Date(now.getTime() - 60_000), validUntil: new Date(now.getTime() + STAFF_KEY_MS) }),
  );
  if (issued.keySetChanged) await publishAfterCommit(deps, { keySet: [communityId] });
  return issued.credential;
}

export type PassCreate = { visitorName: string; validFrom: Date; validUntil: Date; uses: number; doorIds?: string[] };
export const MAX_PASS_MS = 7 * 24 * 3600 * 1000;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/**
 * A visitor pass from a member of the house: a window (at most 7 days), a number of uses, and doors
 * within what the member's own keys open (all of them, or chosen ones). Returns the claim secret once;
 * the link carries it, the database only its hash.
 */
export async function createVisitorPass(deps: AppDeps, member: { residentId: string; houseId: string; communityId: string; buildingId: string; doorAccess: 'all' | 'gates-only' | 'none' }, input: PassCreate) {
  const memberScope = await houseScope(deps.db, member.communityId, member.buildingId, member.doorAccess);
  if (!memberScope) throw new Problem('forbidden', 'Your keys for this house open no doors, so you cannot pass any on');
  let scope: DoorScope = memberScope;
  if (input.doorIds?.length) {
    const chosen = await deps.db
      .select({ id: doors.id, code: doors.code })
      .from(doors)
      .where(and(inArray(doors.id, input.doorIds), eq(doors.communityId, member.communityId), isNull(doors.removedAt)));
    const missing = input.doorIds.filter((id) => !chosen.some((d) => d.id === id));
    if (missing.length) throw new Problem('validation-failed', `doorIds ${missing.join(', ')} are not doors of this community`, { errors: [{ path: 'doorIds', message: 'unknown door' }] });
    // Only doors the member opens: a door is in scope through one of the member's groups.
    for (const d of chosen) {
      const groups = await doorGroupCodes(deps.db, d.id);
      if (!groups.some((g) => memberScope.groups.includes(g))) throw new Problem('forbidden', `Your keys do not open door ${d.code}, so a pass cannot either`);
    }
    scope = { doors: chosen.map((d) => d.code), groups: [] };
  }
  if (input.validUntil.getTime() <= input.validFrom.getTime()) throw new Problem('validation-failed', 'validUntil must be after validFrom', { errors: [{ path: 'validUntil', message: 'must be after validFrom' }] });
  if (input.validUntil.getTime() - input.validFrom.getTime() > MAX_PASS_MS) throw new Problem('validation-failed', 'a visitor pass lasts at most 7 days', { errors: [{ path: 'validUntil', message: 'at most 7 days after validFrom' }] });
  if (input.validUntil.getTime() <= deps.now().getTime()) throw new Problem('validation-failed', 'validUntil is in the past', { errors: [{ path: 'validUntil', message: 'in the past' }] });
  const secret = randomBytes(18).toString('base64url');
  const [pass] = await deps.db
    .insert(visitorPasses)
    .values({
      communityId: member.communityId,
      houseId: member.houseId,
      createdBy: member.residentId,
      visitorName: input.visitorName,
      validFrom: input.validFrom,
      validUntil: input.validUntil,
      useLimit: input.uses,
      doorScope: scope,
      claimSecretHash: hashSecret(secret),
      createdAt: deps.now(),
    })
    .returning();
  return { pass: pass!, secret };
}

/**
 * The visitor's phone claims the pass with the secret from the link and its own device key. The first
 * device wins; the same device asking again gets the same key back; another device is refused.
 */
export async function claimVisitorPass(deps: AppDeps, passId: string, secret: string, devicePublicKey: Uint8Array) {
  const device = Buffer.from(devicePublicKey).toString('base64url');
  const result = await deps.db.transaction(async (tx) => {
    const [pass] = await tx.select().from(visitorPasses).where(eq(visitorPasses.id, passId)).for('update');
    const expected = pass ? Buffer.from(pass.claimSecretHash) : Buffer.alloc(43);
    const given = Buffer.from(hashSecret(secret));
    if (!pass || given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Problem('not-found', 'No such visitor pass, or the link is incomplete');
    if (pass.revokedAt) throw new Problem('conflict', 'The pass was cancelled by the resident', { reason: 'cancelled' });
    if (pass.validUntil.getTime() <= deps.now().getTime()) throw new Problem('conflict', 'The pass has expired', { reason: 'expired' });
    if (pass.credentialId) {
      const [credential] = await tx.select().from(doorCredentials).where(eq(doorCredentials.id, pass.credentialId));
      if (credential?.devicePublicKey !== device) throw new Problem('conflict', 'This pass was already claimed on another phone', { reason: 'claimed-elsewhere' });
      return { pass, credential, keySetChanged: false };
    }
    const issued = await issueCredential(deps, tx, {
      communityId: pass.communityId,
      holderKind: 'visitor',
      holderId: pass.id,
      houseId: pass.houseId,
      devicePublicKey,
      scope: pass.doorScope as DoorScope,
      validFrom: pass.validFrom,
      validUntil: pass.validUntil,
      useLimit: pass.useLimit,
    });
    await tx.update(visitorPasses).set({ credentialId: issued.credential.id, claimedAt: deps.now() }).where(eq(visitorPasses.id, pass.id));
    return { pass, credential: issued.credential, keySetChanged: issued.keySetChanged };
  });
  if (result.keySetChanged) await publishAfterCommit(deps, { keySet: [result.pass.communityId] });
  return result;
}

/** Cancels a pass; its key, if claimed, is revoked at every gateway. */
export async function revokeVisitorPass(deps: AppDeps, houseId: string, passId: string): Promise<void> {
  const communities = await deps.db.transaction(async (tx) => {
    const [pass] = await tx
      .update(visitorPasses)
      .set({ revokedAt: deps.now() })
      .where(and(eq(visitorPasses.id, passId), eq(visitorPasses.houseId, houseId), isNull(visitorPasses.revokedAt)))
      .returning();
    if (!pass) throw new Problem('not-found', 'No such active visitor pass for this house');
    if (!pass.credentialId) return [];
    return (await revokeCredentials(deps, tx, eq(doorCredentials.id, pass.credentialId), 'pass-revoked')).communities;
  });
  await publishAfterCommit(deps, { revocations: communities });
}
