import { ECDH, randomUUID } from 'node:crypto';
import { and, eq, gt, inArray, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import { DoorRevocations, MAX_REVOCATIONS, decodeVirtualKey, deviceKeyObject, signVirtualKey, topics, type DoorScope, type HolderKind } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import { transactionLock } from '../../db/advisory-lock.js';
import type { Database } from '../../db/client.js';
import { Problem } from '../../http/problem.js';
import { activeSigner, publishKeySet } from './door-keys.js';
import { doorCredentials, doorSharedState } from './doors.schema.js';

/** No key lives longer than this: the phone renews it, and the revocation list stays short. */
export const MAX_KEY_MS = 31 * 24 * 3600 * 1000;
export const RESIDENT_KEY_MS = 30 * 24 * 3600 * 1000;
export const STAFF_KEY_MS = 12 * 3600 * 1000;

export const REVOKE_REASONS = ['member-removed', 'key-revoked', 'phone-lost', 'pass-revoked', 'used-up', 'access-changed', 'replaced'] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

export type Credential = typeof doorCredentials.$inferSelect;

/**
 * A device public key as the phone sends it: base64url of the compressed (33 bytes) or uncompressed
 * (65 bytes, what WebCrypto's `exportKey('raw')` gives) P-256 point. Returns the compressed form, or a
 * 400 naming what is wrong; a point that is not on the curve is refused.
 */
export function parseDevicePublicKey(text: string): Uint8Array {
  const bytes = /^[A-Za-z0-9_-]{40,100}$/.test(text) ? Buffer.from(text, 'base64url') : Buffer.alloc(0);
  let compressed: Buffer;
  const notOnCurve = () => new Problem('validation-failed', 'devicePublicKey is not a point on the P-256 curve', { errors: [{ path: 'devicePublicKey', message: 'not on the curve' }] });
  if (bytes.byteLength === 65 && bytes[0] === 4) {
    try {
      compressed = ECDH.convertKey(bytes, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    } catch {
      throw notOnCurve();
    }
  } else if (bytes.byteLength === 33 && (bytes[0] === 2 || bytes[0] === 3)) compressed = bytes;
  else throw new Problem('validation-failed', 'devicePublicKey must be a P-256 public key, base64url: 65 bytes uncompressed (WebCrypto raw export) or 33 bytes compressed', { errors: [{ path: 'devicePublicKey', message: 'not a P-256 public key' }] });
  try {
    deviceKeyObject(compressed);
  } catch {
    throw notOnCurve();
  }
  return compressed;
}

export type IssueInput = {
  communityId: string;
  holderKind: HolderKind;
  holderId: string;
  houseId?: string | null;
  devicePublicKey: Uint8Array;
  scope: DoorScope;
  validFrom: Date;
  validUntil: Date;
  useLimit?: number;
};

/**
 * Signs and stores one virtual key. Call inside a transaction; publish the key set afterwards when
 * `keySetChanged` (the community's first key, or a rotation).
 */
export async function issueCredential(deps: AppDeps, tx: Database, input: IssueInput): Promise<{ credential: Credential; keySetChanged: boolean }> {
  if (input.validUntil.getTime() - input.validFrom.getTime() > MAX_KEY_MS) throw new Problem('validation-failed', 'a key may be valid for at most 31 days');
  const { signer, keySetChanged } = await activeSigner(deps, tx, input.communityId);
  const id = randomUUID();
  const bytes = signVirtualKey(
    {
      credentialId: id,
      communityId: input.communityId,
      holderId: input.holderId,
      holderKind: input.holderKind,
      validFrom: input.validFrom,
      validUntil: input.validUntil,
      useLimit: input.useLimit ?? 0,
      devicePublicKey: input.devicePublicKey,
      scope: input.scope,
    },
    signer,
  );
  // The stored times are the key's own (whole seconds), so the cloud and the gateway agree to the second.
  const key = decodeVirtualKey(bytes);
  const [credential] = await tx
    .insert(doorCredentials)
    .values({
      id,
      communityId: input.communityId,
      holderKind: input.holderKind,
      holderId: input.holderId,
      houseId: input.houseId ?? null,
      devicePublicKey: Buffer.from(input.devicePublicKey).toString('base64url'),
      keyId: signer.keyId,
      scope: input.scope,
      validFrom: key.validFrom,
      validUntil: key.validUntil,
      useLimit: input.useLimit ?? 0,
      credential: Buffer.from(bytes).toString('base64url'),
      issuedAt: deps.now(),
    })
    .returning();
  return { credential: credential!, keySetChanged };
}

/**
 * Revokes every live key matching `where` and returns the communities whose revocation lists changed;
 * the caller publishes them after its transaction commits (publishRevocations).
 */
export async function revokeCredentials(deps: AppDeps, tx: Database, where: SQL | undefined, reason: RevokeReason): Promise<{ communities: string[]; revoked: number }> {
  const rows = await tx
    .update(doorCredentials)
    .set({ revokedAt: deps.now(), revokeReason: reason })
    .where(and(where, isNull(doorCredentials.revokedAt), gt(doorCredentials.validUntil, deps.now())))
    .returning({ id: doorCredentials.id, communityId: doorCredentials.communityId });
  return { communities: [...new Set(rows.map((r) => r.communityId))], revoked: rows.length };
}

/**
 * Publishes the community's revocation list (every revoked key that has not expired yet) as retained
 * shared state with the next version, holding the community's shared-state lock through the publish so
 * versions reach the broker in order. A broker that does not take it leaves the list unpublished: the
 * version is not spent and `republishDoorState` sends it again.
 */
export async function publishRevocations(deps: AppDeps, communityId: string): Promise<DoorRevocations> {
  return deps.db.transaction(async (tx) => {
    await transactionLock(tx, `door-shared:${communityId}`);
    const now = deps.now();
    const [state] = await tx
      .insert(doorSharedState)
      .values({ communityId, revocationsVersion: 1, revocationsPublishedAt: now })
      .onConflictDoUpdate({ target: doorSharedState.communityId, set: { revocationsVersion: sql`${doorSharedState.revocationsVersion} + 1`, revocationsPublishedAt: now } })
      .returning();
    const rows = await tx
      .select({ id: doorCredentials.id, until: doorCredentials.validUntil })
      .from(doorCredentials)
      .where(and(eq(doorCredentials.communityId, communityId), isNotNull(doorCredentials.revokedAt), gt(doorCredentials.validUntil, now)))
      .orderBy(doorCredentials.validUntil)
      .limit(MAX_REVOCATIONS + 1);
    if (rows.length > MAX_REVOCATIONS) {
      // Cannot happen with 31-day keys short of mass revocation; if it does, say so loudly rather than drop entries.
      deps.log.error({ communityId, revoked: rows.length }, 'revocation list exceeds what one retained message carries; rotate the signing key to invalidate old keys');
      throw new Problem('conflict', `More than ${MAX_REVOCATIONS} revoked keys are still valid in this community: rotate its signing key`);
    }
    const message = DoorRevocations.parse({
      v: 1,
      communityId,
      version: state!.revocationsVersion,
      issuedAt: now.toISOString(),
      entries: rows.map((r) => ({ id: r.id, until: Math.floor(r.until.getTime() / 1000) })),
    });
    await deps.mqtt.publish(topics.shared(communityId, 'door-revocations'), JSON.stringify(message), { qos: 1, retain: true });
    return message;
  });
}

/** Publishes after a change, logging (not failing the request) when the broker is away: the state is in the database. */
export async function publishAfterCommit(deps: AppDeps, change: { keySet?: string[]; revocations?: string[] }): Promise<void> {
  for (const communityId of new Set(change.keySet ?? [])) {
    await publishKeySet(deps, communityId).catch((error: unknown) => deps.log.error({ communityId, err: error }, 'door key set not published; it will be at the next republish'));
  }
  for (const communityId of new Set(change.revocations ?? [])) {
    await publishRevocations(deps, communityId).catch((error: unknown) => deps.log.error({ communityId, err: error }, 'door revocations not published; they will be at the next republish'));
  }
}

/**
 * Publishes every community's key set and revocation list again: at start (an embedded broker without
 * persistence has lost its retained messages) and after a publish failed.
 */
export async function republishDoorState(deps: AppDeps): Promise<number> {
  const rows = await deps.db.select({ communityId: doorSharedState.communityId }).from(doorSharedState);
  await publishAfterCommit(deps, { keySet: rows.map((r) => r.communityId), revocations: rows.map((r) => r.communityId) });
  return rows.length;
}

/** Live keys of a holder. */
export async function liveCredentials(db: Database, holderKind: HolderKind, holderIds: string[], now: Date): Promise<Credential[]> {
  if (holderIds.length === 0) return [];
  return db
    .select()
    .from(doorCredentials)
    .where(and(eq(doorCredentials.holderKind, holderKind), inArray(doorCredentials.holderId, holderIds), isNull(doorCredentials.revokedAt), gt(doorCredentials.validUntil, now)));
}

/** Revokes within its own transaction and publishes: for callers outside the doors feature (member removal). */
export async function revokeAndPublish(deps: AppDeps, where: SQL, reason: RevokeReason): Promise<number> {
  const result = await deps.db.transaction((tx) => revokeCredentials(deps, tx, where, reason));
  await publishAfterCommit(deps, { revocations: result.communities });
  return result.revoked;
}
