import { randomBytes } from 'node:crypto';
import { and, asc, eq, inArray, isNull, max, sql } from 'drizzle-orm';
import { DoorRoster, type DoorScope } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import { transactionLock } from '../../db/advisory-lock.js';
import type { Database } from '../../db/client.js';
import { Problem } from '../../http/problem.js';
import { buildings } from '../estate/estate.schema.js';
import { sendCommand } from '../gateways/gateway-commands.js';
import { gatewayDevices, gateways } from '../gateways/gateways.schema.js';
import { publishAfterCommit } from './door-credentials.js';
import { activeSigner } from './door-keys.js';
import { doorGroupMembers, doorGroups, doors, gatewayDoorRosters, type DoorAccessLevel } from './doors.schema.js';

export type Door = typeof doors.$inferSelect;
export type DoorGroup = typeof doorGroups.$inferSelect;

export type DoorCreate = {
  name: string;
  kind: Door['kind'];
  buildingId?: string | null;
  gatewayId: string;
  lock: { id: string; address: string };
  holdMs?: number;
  code?: number;
};

/**
 * The group a door of this kind belongs to, made on first use: `community-gates` for community gates,
 * one group per building for its entrances. Codes are allocated upward from 1 per community.
 */
async function ensureGroup(tx: Database, communityId: string, kind: 'community-gates' | 'building', building: { id: string; name: string } | null): Promise<DoorGroup> {
  const [existing] = await tx
    .select()
    .from(doorGroups)
    .where(and(eq(doorGroups.communityId, communityId), eq(doorGroups.kind, kind), building ? eq(doorGroups.buildingId, building.id) : undefined));
  if (existing) return existing;
  const [top] = await tx.select({ code: max(doorGroups.code) }).from(doorGroups).where(eq(doorGroups.communityId, communityId));
  const [created] = await tx
    .insert(doorGroups)
    .values({ communityId, code: (top?.code ?? 0) + 1, name: kind === 'community-gates' ? 'Community gates' : `Building ${building!.name}`, kind, buildingId: building?.id ?? null })
    .returning();
  return created!;
}

/**
 * Registers a door with its lock on a gateway and makes the lock's 16-byte secret, returned this once so
 * the installer can provision it into the lock; the database keeps it sealed. The gateway gets the new
 * roster right away (`doors.sync`).
 */
export async function createDoor(deps: AppDeps, communityId: string, input: DoorCreate): Promise<{ door: Door; lockSecret: string }> {
  const secret = randomBytes(16).toString('base64url');
  const door = await deps.db.transaction(async (tx) => {
    await transactionLock(tx, `doors:${communityId}`);
    const [gateway] = await tx.select().from(gateways).where(and(eq(gateways.id, input.gatewayId), isNull(gateways.revokedAt)));
    if (!gateway || gateway.communityId !== communityId) throw new Problem('validation-failed', 'gatewayId is not a gateway of this community', { errors: [{ path: 'gatewayId', message: 'not a gateway of this community' }] });
    let building: { id: string; name: string } | null = null;
    if (input.buildingId) {
      const [row] = await tx.select().from(buildings).where(and(eq(buildings.id, input.buildingId), eq(buildings.communityId, communityId)));
      if (!row) throw new Problem('validation-failed', 'buildingId is not a building of this community', { errors: [{ path: 'buildingId', message: 'not a building of this community' }] });
      building = row;
    }
    if (input.kind === 'building-entrance' && !building) throw new Problem('validation-failed', 'a building entrance needs buildingId', { errors: [{ path: 'buildingId', message: 'required for a building entrance' }] });
    const [top] = await tx.select({ code: max(doors.code) }).from(doors).where(eq(doors.communityId, communityId));
    const code = input.code ?? (top?.code ?? 0) + 1;
    const [taken] = await tx.select({ id: doors.id }).from(doors).where(and(eq(doors.communityId, communityId), eq(doors.code, code)));
    if (taken) throw new Problem('conflict', `Door code ${code} is already used in this community`);
    const [lockTaken] = await tx
      .select({ id: doors.id })
      .from(doors)
      .where(and(eq(doors.gatewayId, gateway.id), isNull(doors.removedAt), sql`(${doors.lockId} = ${input.lock.id} or upper(${doors.lockAddress}) = ${input.lock.address.toUpperCase()})`));
    if (lockTaken) throw new Problem('conflict', `Lock ${input.lock.id} (${input.lock.address}) is already fitted to another door on this gateway`);
    const [created] = await tx
      .insert(doors)
      .values({
        communityId,
        code,
        name: input.name,
        kind: input.kind,
        buildingId: building?.id ?? null,
        gatewayId: gateway.id,
        lockId: input.lock.id,
        lockAddress: input.lock.address.toUpperCase(),
        lockSecretSealed: deps.vault.encrypt(secret, 'lock_secret'),
        holdMs: input.holdMs ?? 5000,
        createdAt: deps.now(),
      })
      .returning();
    const group = input.kind === 'community-gate' ? await ensureGroup(tx, communityId, 'community-gates', null) : input.kind === 'building-entrance' ? await ensureGroup(tx, communityId, 'building', building) : null;
    if (group) await tx.insert(doorGroupMembers).values({ groupId: group.id, doorId: created!.id });
    // The community's signing key is made with its first door, so its gateways hold the key set before
    // the first virtual key exists (an online open right after the first key is then never `unknown-key`).
    const { keySetChanged } = await activeSigner(deps, tx, communityId);
    return { created: created!, keySetChanged };
  }).then(async ({ created, keySetChanged }) => {
    if (keySetChanged) await publishAfterCommit(deps, { keySet: [communityId] });
    return created;
  });
  await syncGatewayDoors(deps, door.gatewayId!, null);
  return { door, lockSecret: secret };
}

/** The doors a gateway serves as the DoorRoster it runs, lock secrets unsealed. */
export async function rosterFor(deps: AppDeps, gatewayId: string, revision: number): Promise<DoorRoster> {
  const rows = await deps.db
    .select()
    .from(doors)
    .where(and(eq(doors.gatewayId, gatewayId), isNull(doors.removedAt)))
    .orderBy(asc(doors.code));
  const groups = await groupCodesOf(deps.db, rows.map((d) => d.id));
  return DoorRoster.parse({
    revision,
    doors: rows.map((d) => ({
      doorId: d.id,
      code: d.code,
      name: d.name,
      groups: groups.get(d.id) ?? [],
      lock: { id: d.lockId, address: d.lockAddress, secret: deps.vault.decrypt(d.lockSecretSealed, 'lock_secret') },
      holdMs: d.holdMs,
    })),
  });
}

async function groupCodesOf(db: Database, doorIds: string[]): Promise<Map<string, number[]>> {
  if (doorIds.length === 0) return new Map();
  const rows = await db
    .select({ doorId: doorGroupMembers.doorId, code: doorGroups.code })
    .from(doorGroupMembers)
    .innerJoin(doorGroups, eq(doorGroups.id, doorGroupMembers.groupId))
    .where(inArray(doorGroupMembers.doorId, doorIds));
  const out = new Map<string, number[]>();
  for (const r of rows) out.set(r.doorId, [...(out.get(r.doorId) ?? []), r.code]);
  return out;
}

/**
 * Sends the gateway its door roster with the next revision, or (`resend`, when the gateway comes online)
 * the current one again: a QoS 1 command published before a gateway's first connection has no session
 * to wait in. The command table keeps the roster without the lock secrets; the gateway ignores a roster
 * not newer than the one it holds, so a late or repeated one is harmless.
 */
export async function syncGatewayDoors(deps: AppDeps, gatewayId: string, issuedBy: string | null, options: { resend?: boolean } = {}): Promise<{ revision: number; commandId: string } | null> {
  const [gateway] = await deps.db.select().from(gateways).where(eq(gateways.id, gatewayId));
  if (!gateway) throw new Problem('not-found', 'No such gateway');
  let row: typeof gatewayDoorRosters.$inferSelect | undefined;
  if (options.resend) {
    // The same revision again: a gateway that holds it ignores it; one that lost its store takes it.
    [row] = await deps.db.update(gatewayDoorRosters).set({ sentAt: deps.now() }).where(eq(gatewayDoorRosters.gatewayId, gatewayId)).returning();
    if (!row) return null;
  } else {
    [row] = await deps.db
      .insert(gatewayDoorRosters)
      .values({ gatewayId, revision: 1, sentAt: deps.now() })
      .onConflictDoUpdate({ target: gatewayDoorRosters.gatewayId, set: { revision: sql`${gatewayDoorRosters.revision} + 1`, sentAt: deps.now() } })
      .returning();
  }
  const roster = await rosterFor(deps, gatewayId, row!.revision);
  const redacted = { roster: { ...roster, doors: roster.doors.map((d) => ({ ...d, lock: { ...d.lock, secret: '(sealed)' } })) } };
  const command = await sendCommand(deps, gateway, 'doors.sync', { roster }, issuedBy, { storedParams: redacted });
  await deps.db.update(gatewayDoorRosters).set({ lastCommandId: command.id }).where(eq(gatewayDoorRosters.gatewayId, gatewayId));
  return { revision: row!.revision, commandId: command.id };
}

export async function loadDoor(db: Database, doorId: string): Promise<Door> {
  const [door] = await db.select().from(doors).where(and(eq(doors.id, doorId), isNull(doors.removedAt)));
  if (!door) throw new Problem('not-found', 'No such door');
  return door;
}

/** The groups a door belongs to, by code: what a key's scope is matched against. */
export async function doorGroupCodes(db: Database, doorId: string): Promise<number[]> {
  return (await groupCodesOf(db, [doorId])).get(doorId) ?? [];
}

/**
 * Which doors a member of a house opens, as a key scope: the community gates, and (with full access) the
 * entrances of the house's building. Null when that is nothing (no doors yet, or access `none`).
 */
export async function houseScope(db: Database, communityId: string, buildingId: string, access: DoorAccessLevel): Promise<DoorScope | null> {
  if (access === 'none') return null;
  const rows = await db
    .select({ code: doorGroups.code, kind: doorGroups.kind, buildingId: doorGroups.buildingId })
    .from(doorGroups)
    .where(eq(doorGroups.communityId, communityId));
  const groups = rows.filter((g) => g.kind === 'community-gates' || (access === 'all' && g.kind === 'building' && g.buildingId === buildingId)).map((g) => g.code);
  return groups.length ? { doors: [], groups } : null;
}

/** Every door of the community, for staff whose role opens doors: all groups plus the doors in none. */
export async function communityScope(db: Database, communityId: string): Promise<DoorScope | null> {
  const groups = await db.select({ code: doorGroups.code }).from(doorGroups).where(eq(doorGroups.communityId, communityId));
  const ungrouped = await db
    .select({ code: doors.code })
    .from(doors)
    .where(and(eq(doors.communityId, communityId), isNull(doors.removedAt), sql`not exists (select 1 from ${doorGroupMembers} where ${doorGroupMembers.doorId} = ${doors.id})`));
  const scope = { doors: ungrouped.map((d) => d.code), groups: groups.map((g) => g.code) };
  return scope.doors.length + scope.groups.length ? scope : null;
}

/** The API shape of a door, with the lock's availability as its gateway last reported it. */
export async function doorViews(db: Database, rows: Door[]) {
  const groupCodes = await groupCodesOf(db, rows.map((d) => d.id));
  const lockKeys = rows.filter((d) => d.gatewayId).map((d) => d.lockId);
  const devices = lockKeys.length
    ? await db.select().from(gatewayDevices).where(and(inArray(gatewayDevices.deviceId, lockKeys), eq(gatewayDevices.kind, 'lock')))
    : [];
  return rows.map((d) => {
    const device = devices.find((x) => x.gatewayId === d.gatewayId && x.deviceId === d.lockId);
    return {
      id: d.id,
      communityId: d.communityId,
      code: d.code,
      name: d.name,
      kind: d.kind,
      buildingId: d.buildingId,
      gatewayId: d.gatewayId,
      groups: groupCodes.get(d.id) ?? [],
      lock: {
        id: d.lockId,
        address: d.lockAddress,
        available: device?.available ?? null,
        unavailableReason: device && !device.available ? device.reason : null,
        battery: d.battery,
        doorOpen: d.doorOpen,
        tamper: (d.lockStatus as { tamper?: boolean } | null)?.tamper ?? null,
        jammed: (d.lockStatus as { jammed?: boolean } | null)?.jammed ?? null,
        statusAt: d.statusAt?.toISOString() ?? null,
      },
      holdMs: d.holdMs,
      createdAt: d.createdAt.toISOString(),
    };
  });
}
