import { randomUUID, type KeyObject } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { checkOpenToken, decodeOpenToken, type AccessRecord, type DenialReason, type GatewayAddress, type LockEvent } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { Problem } from '../../http/problem.js';
import { sendCommand, waitForResult } from '../gateways/gateway-commands.js';
import { gateways } from '../gateways/gateways.schema.js';
import { publishAfterCommit, revokeCredentials } from './door-credentials.js';
import { verifyingKeys } from './door-keys.js';
import { doorGroupCodes, loadDoor, syncGatewayDoors } from './door-registry.js';
import { doorAccessEvents, doorCredentials, doors, lockEvents } from './doors.schema.js';


type Settle = {
  attemptId: string;
  outcome: 'opened' | 'denied' | 'failed' | 'unknown';
  reason: string | null;
  detail: string | null;
  decidedAt: Date | null;
};

/**
 * Counts a use of a limited key when its attempt was settled as opened just now, in the same statement
 * as the settle (`settled` is that statement's CTE), so a use is counted once and only with its settle.
 * An unlimited key's row is never touched by an open.
 */
const countUse = sql`counted as (
    update ${doorCredentials} c set uses = c.uses + 1 from settled
     where c.id = settled.credential_id and settled.outcome = 'opened' and c.use_limit > 0
     returning c.id, c.community_id, c.uses, c.use_limit)
  select (select count(*) from settled)::int as settled, counted.id, counted.community_id, counted.uses, counted.use_limit
    from (select 1) one left join counted on true`;

type SettleRow = { settled: number; id: string | null; community_id: string | null; uses: number | null; use_limit: number | null };

/** After a settle: a limited key whose uses are now spent is revoked, so every gateway learns it. */
async function afterSettle(deps: AppDeps, row: SettleRow | undefined): Promise<string | null> {
  if (!row?.id || row.use_limit === null || row.uses === null || row.uses < row.use_limit) return null;
  const { communities } = await deps.db.transaction((tx) => revokeCredentials(deps, tx, eq(doorCredentials.id, row.id!), 'used-up'));
  return communities[0] ?? null;
}

/**
 * Settles an online attempt that is still open (`pending`, or `unknown` after a 504) from its command's
 * result. The gateway's access record for the same attempt (applyAccessRecords) does the same; whichever
 * comes first settles it and counts the use, the other changes nothing, as often as QoS 1 delivers them.
 * One statement.
 */
async function settleAttempt(deps: AppDeps, s: Settle): Promise<string | null> {
  const open = s.outcome === 'unknown' ? sql`('pending')` : sql`('pending', 'unknown')`;
  const result = await deps.db.execute(sql`
    with settled as (
      update ${doorAccessEvents}
         set outcome = ${s.outcome}, reason = ${s.reason}, detail = ${s.detail?.slice(0, 300) ?? null},
             decided_at = ${s.decidedAt?.toISOString() ?? null}::timestamptz, decided_by = 'gateway'
       where attempt_id = ${s.attemptId} and outcome in ${open}
       returning credential_id, outcome),
    ${countUse}`);
  return afterSettle(deps, rowsOf<SettleRow>(result)[0]);
}

/**
 * Access records from a gateway (`up/access`): a QR attempt is new and inserted as the gateway decided
 * it; an online attempt's row exists (pending, or unknown after a 504) and is settled. One statement per
 * record, idempotent on the attempt id, no transaction held across records: a repeat changes nothing,
 * and a batch never holds one attempt's row while it waits for another's. A record for a door outside
 * the gateway's community is skipped and logged.
 */
export async function applyAccessRecords(deps: AppDeps, gw: GatewayAddress, items: AccessRecord[]): Promise<void> {
  const changed: string[] = [];
  const doorIds = [...new Set(items.map((i) => i.doorId))];
  const known = new Set((await deps.db.select({ id: doors.id }).from(doors).where(and(inArray(doors.id, doorIds), eq(doors.communityId, gw.communityId)))).map((d) => d.id));
  for (const item of items) {
    if (!known.has(item.doorId)) {
      deps.log.warn({ gatewayId: gw.gatewayId, doorId: item.doorId, attemptId: item.attemptId }, 'access record for a door outside the gateway’s community skipped');
      continue;
    }
    const result = await deps.db.execute(sql`
      with settled as (
        insert into ${doorAccessEvents} (attempt_id, community_id, door_id, method, outcome, reason, detail, credential_id, holder_kind, holder_id,
                                         gateway_id, reader_id, decided_by, requested_at, decided_at, received_at, gateway_seq)
        values (${item.attemptId}, ${gw.communityId}, ${item.doorId}, ${item.method}, ${item.outcome}, ${item.reason}, ${item.detail}, ${item.credentialId},
                ${item.holderKind}, ${item.holderId}, ${gw.gatewayId}, ${item.readerId}, 'gateway', ${item.at}::timestamptz, ${item.at}::timestamptz,
                ${deps.now().toISOString()}::timestamptz, ${item.seq})
        on conflict (attempt_id) do update
           set outcome = excluded.outcome, reason = excluded.reason, detail = excluded.detail, decided_at = excluded.decided_at,
               decided_by = 'gateway', gateway_seq = excluded.gateway_seq, reader_id = coalesce(excluded.reader_id, ${doorAccessEvents}.reader_id)
         where ${doorAccessEvents}.outcome in ('pending', 'unknown')
        returning credential_id, outcome),
      ${countUse}`);
    const usedUp = await afterSettle(deps, rowsOf<SettleRow>(result)[0]);
    if (usedUp) changed.push(usedUp);
  }
  await publishAfterCommit(deps, { revocations: changed });
}

/**
 * Lock events (`up/locks`): notifications are kept once per (gateway, seq), and each door's battery and
 * sensor follow the newest status. One insert for the batch and one update per door (its newest event),
 * without a transaction around them: batches of several gateways and an open's own writes then never
 * hold each other's rows, and a repeat changes nothing.
 */
export async function applyLockEvents(deps: AppDeps, gw: GatewayAddress, items: LockEvent[]): Promise<void> {
  const doorIds = [...new Set(items.map((i) => i.doorId))];
  const known = new Set((await deps.db.select({ id: doors.id }).from(doors).where(and(inArray(doors.id, doorIds), eq(doors.gatewayId, gw.gatewayId)))).map((d) => d.id));
  const notifications = items.filter((i) => i.kind !== 'status');
  if (notifications.length) {
    await deps.db
      .insert(lockEvents)
      .values(notifications.map((i) => ({ gatewayId: gw.gatewayId, seq: i.seq, doorId: known.has(i.doorId) ? i.doorId : null, lockId: i.lockId, kind: i.kind, at: new Date(i.at), battery: i.status.battery, status: i.status })))
      .onConflictDoNothing();
  }
  const newest = new Map<string, LockEvent>();
  for (const i of items) if (known.has(i.doorId) && (!newest.has(i.doorId) || newest.get(i.doorId)!.at <= i.at)) newest.set(i.doorId, i);
  for (const [doorId, i] of [...newest].sort(([a], [b]) => a.localeCompare(b))) {
    const at = new Date(i.at);
    await deps.db
      .update(doors)
      .set({ battery: i.status.battery, doorOpen: i.status.doorOpen, lockStatus: i.status, statusAt: at })
      .where(and(eq(doors.id, doorId), sql`(${doors.statusAt} is null or ${doors.statusAt} <= ${at.toISOString()}::timestamptz)`));
  }
}

export type OpenResult = { attemptId: string; outcome: 'opened'; doorId: string; lock: unknown };

/**
 * An online open: the cloud checks the token (so most refusals never reach the door), sends `door.open`,
 * the gateway checks again and drives the lock, and the answer comes back within OPEN_WAIT_MS. Every
 * attempt is recorded, refused ones too. The wait is DOOR_OPEN_WAIT_MS. Throws a Problem for anything but an opened door:
 * `door-denied` (403, with `reason`), `door-failed` (502: the lock or the gateway could not open),
 * `door-unreachable` (503: the gateway is offline), `door-state-unknown` (504: no answer in time; the
 * door may have opened).
 */
export async function openDoorOnline(deps: AppDeps, doorId: string, token: string): Promise<OpenResult> {
  let { door, groups, keys } = await openContext(deps, doorId);
  const now = deps.now();
  let decoded: ReturnType<typeof decodeOpenToken> | null = null;
  try {
    decoded = decodeOpenToken(token);
  } catch {
    decoded = null;
  }
  // A key id the cached key set lacks may be a key made since (a rotation in another process): look again.
  if (decoded && !keys.has(decoded.credential.keyId)) ({ door, groups, keys } = await openContext(deps, doorId, { fresh: true }));
  const credentialId = decoded?.credential.credentialId ?? null;
  const [credential] = credentialId ? await deps.db.select().from(doorCredentials).where(eq(doorCredentials.id, credentialId)) : [];
  const check = checkOpenToken(token, {
    now,
    communityId: door.communityId,
    method: 'online',
    door: { code: door.code, groups },
    signingKey: (keyId) => keys.get(keyId),
    // A key the cloud never issued (its database lost it) is treated as revoked.
    // A key revoked because its uses are spent says so (use-limit-reached), as the gateway would.
    isRevoked: () => !credential || (credential.revokedAt !== null && credential.revokeReason !== 'used-up'),
    usesSoFar: () => credential?.uses ?? 0,
    // Replay is the gateway's to judge: it is the one place every use of a token passes.
    seen: () => false,
  });
  const key = check.token?.credential ?? null;
  const base = {
    communityId: door.communityId,
    doorId: door.id,
    method: 'online' as const,
    credentialId: key?.credentialId ?? null,
    holderKind: key?.holderKind ?? null,
    holderId: key?.holderId ?? null,
    gatewayId: door.gatewayId,
    requestedAt: now,
    receivedAt: now,
  };
  if (!check.ok) {
    const attemptId = randomUUID();
    await deps.db.insert(doorAccessEvents).values({ ...base, attemptId, outcome: 'denied', reason: check.reason, detail: check.detail.slice(0, 300), decidedBy: 'cloud', decidedAt: now });
    throw denied(check.reason, check.detail, attemptId);
  }
  // Fresh every time: whether the gateway is online decides between sending and pointing to the QR code.
  const [gateway] = door.gatewayId ? await deps.db.select().from(gateways).where(eq(gateways.id, door.gatewayId)) : [];
  if (!gateway || gateway.revokedAt || gateway.state !== 'online') {
    const attemptId = randomUUID();
    const detail = 'The door’s gateway is offline. Show the QR code to the door’s reader instead: it opens without the cloud.';
    await deps.db.insert(doorAccessEvents).values({ ...base, attemptId, outcome: 'failed', reason: 'gateway-offline', detail, decidedBy: 'cloud', decidedAt: now });
    throw new Problem('door-unreachable', detail, { reason: 'gateway-offline', attemptId });
  }
  // The command row and the pending attempt share one id, so the result and the access record meet.
  const command = await sendCommand(deps, gateway, 'door.open', { doorId: door.id, token }, null, { storedParams: { doorId: door.id, credentialId } });
  await deps.db.insert(doorAccessEvents).values({ ...base, attemptId: command.id, outcome: 'pending', decidedBy: 'gateway' }).onConflictDoNothing();
  const waitMs = deps.config.DOOR_OPEN_WAIT_MS;
  const done = await waitForResult(deps, command, waitMs);
  const result = (done.result ?? {}) as { error?: { code?: string; message?: string }; data?: { status?: unknown } };
  if (done.state === 'ok') {
    await settle(deps, { attemptId: command.id, outcome: 'opened', reason: null, detail: null, decidedAt: done.completedAt });
    return { attemptId: command.id, outcome: 'opened', doorId: door.id, lock: result.data?.status ?? null };
  }
  if (done.state === 'rejected') {
    const reason = result.error?.code ?? 'denied';
    await settle(deps, { attemptId: command.id, outcome: 'denied', reason, detail: result.error?.message ?? null, decidedAt: done.completedAt });
    throw denied(reason, result.error?.message ?? 'the gateway refused the key', command.id);
  }
  if (done.state === 'error' || (done.state === 'expired' && done.result)) {
    const reason = result.error?.code ?? 'failed';
    await settle(deps, { attemptId: command.id, outcome: 'failed', reason, detail: result.error?.message ?? null, decidedAt: done.completedAt });
    throw new Problem('door-failed', `The door did not open: ${result.error?.message ?? reason}`, { reason, attemptId: command.id });
  }
  await settle(deps, { attemptId: command.id, outcome: 'unknown', reason: 'no-answer', detail: `no answer from the gateway within ${waitMs / 1000} s`, decidedAt: null });
  throw new Problem('door-state-unknown', `The gateway did not answer within ${waitMs / 1000} s. The door may or may not have opened; the record will show it once the gateway reports.`, { attemptId: command.id });
}

/** How long the door, its groups and its community's verifying keys are reused by online opens. */
const OPEN_CONTEXT_MS = 2000;
type OpenContext = { door: Awaited<ReturnType<typeof loadDoor>>; groups: number[]; keys: Map<string, KeyObject>; until: number };
const openContexts = new WeakMap<AppDeps, Map<string, OpenContext>>();

/**
 * What an online open needs of the registry, cached for OPEN_CONTEXT_MS per process: a door, its groups
 * and the signing keys change rarely, and an open is on someone's way through the door. Revocation and
 * the gateway's state are never cached. `forgetOpenContexts` drops the cache at once where this process
 * changed them (a rotation, a new door); another process sees the change within OPEN_CONTEXT_MS.
 */
async function openContext(deps: AppDeps, doorId: string, options: { fresh?: boolean } = {}): Promise<OpenContext> {
  let cache = openContexts.get(deps);
  if (!cache) openContexts.set(deps, (cache = new Map()));
  const hit = cache.get(doorId);
  if (hit && hit.until > Date.now() && !options.fresh) return hit;
  const door = await loadDoor(deps.db, doorId);
  const [groups, keys] = await Promise.all([doorGroupCodes(deps.db, door.id), verifyingKeys(deps.db, door.communityId, deps.now())]);
  const context = { door, groups, keys, until: Date.now() + OPEN_CONTEXT_MS };
  if (cache.size > 10_000) cache.clear();
  cache.set(doorId, context);
  return context;
}

export function forgetOpenContexts(deps: AppDeps): void {
  openContexts.get(deps)?.clear();
}

async function settle(deps: AppDeps, s: Settle): Promise<void> {
  const usedUp = await settleAttempt(deps, s);
  if (usedUp) await publishAfterCommit(deps, { revocations: [usedUp] });
}

function denied(reason: DenialReason | string, detail: string, attemptId: string): Problem {
  return new Problem('door-denied', `The key does not open this door: ${detail}`, { reason, attemptId });
}

/** Re-reads an attempt (for a client that got `door-state-unknown`). */
export async function loadAttempt(db: Database, attemptId: string) {
  const [row] = await db.select().from(doorAccessEvents).where(eq(doorAccessEvents.attemptId, attemptId));
  return row ?? null;
}

/** The dispatcher's handlers for the door channels. */
export function doorHandlers(deps: AppDeps) {
  return {
    access: (gw: GatewayAddress, items: AccessRecord[]) => applyAccessRecords(deps, gw, items),
    locks: (gw: GatewayAddress, items: LockEvent[]) => applyLockEvents(deps, gw, items),
    online: async (gw: GatewayAddress) => {
      await syncGatewayDoors(deps, gw.gatewayId, null, { resend: true });
    },
  };
}
