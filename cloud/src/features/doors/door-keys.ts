import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { and, desc, eq, gt, isNull, max, or, sql } from 'drizzle-orm';
import { DoorKeySet, signingKeyId, signingKeyObject, topics } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import { transactionLock } from '../../db/advisory-lock.js';
import type { Database } from '../../db/client.js';
import { doorCredentials, doorSharedState, doorSigningKeys } from './doors.schema.js';

/** A signing key signs for this long before a new one takes over (the old one verifies until its keys expire). */
export const SIGNING_KEY_ROTATE_AFTER_MS = 90 * 24 * 3600 * 1000;

export type Signer = { keyId: string; privateKey: KeyObject };

/**
 * The community's active signing key, made on first use and rotated once it is older than
 * SIGNING_KEY_ROTATE_AFTER_MS. Returns whether the key set changed (the caller publishes it after commit).
 */
export async function activeSigner(deps: AppDeps, tx: Database, communityId: string): Promise<{ signer: Signer; keySetChanged: boolean }> {
  await transactionLock(tx, `door-signing-key:${communityId}`);
  const [active] = await tx
    .select()
    .from(doorSigningKeys)
    .where(and(eq(doorSigningKeys.communityId, communityId), isNull(doorSigningKeys.retiredAt)));
  if (active && deps.now().getTime() - active.createdAt.getTime() < SIGNING_KEY_ROTATE_AFTER_MS) {
    return { signer: unseal(deps, active), keySetChanged: false };
  }
  const created = await rotateIn(deps, tx, communityId);
  return { signer: created, keySetChanged: true };
}

/** Retires the active key (it keeps verifying what it signed) and makes a new one. */
export async function rotateIn(deps: AppDeps, tx: Database, communityId: string): Promise<Signer> {
  await transactionLock(tx, `door-signing-key:${communityId}`);
  const now = deps.now();
  const [active] = await tx
    .select()
    .from(doorSigningKeys)
    .where(and(eq(doorSigningKeys.communityId, communityId), isNull(doorSigningKeys.retiredAt)));
  if (active) {
    const [latest] = await tx
      .select({ until: max(doorCredentials.validUntil) })
      .from(doorCredentials)
      .where(and(eq(doorCredentials.keyId, active.keyId), isNull(doorCredentials.revokedAt)));
    const until = latest?.until && latest.until > now ? latest.until : now;
    await tx.update(doorSigningKeys).set({ retiredAt: now, notAfter: until }).where(eq(doorSigningKeys.keyId, active.keyId));
  }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const keyId = signingKeyId(raw);
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  await tx.insert(doorSigningKeys).values({ keyId, communityId, publicKey: raw.toString('base64url'), privateKeySealed: deps.vault.encrypt(pem, 'door_signing_key'), createdAt: now });
  return { keyId, privateKey };
}

function unseal(deps: AppDeps, row: typeof doorSigningKeys.$inferSelect): Signer {
  return { keyId: row.keyId, privateKey: createPrivateKey(deps.vault.decrypt(row.privateKeySealed, 'door_signing_key')) };
}

/** Keys that can still verify something: the active one and retired ones before their notAfter. */
export async function keysInForce(db: Database, communityId: string, now: Date) {
  return db
    .select()
    .from(doorSigningKeys)
    .where(and(eq(doorSigningKeys.communityId, communityId), or(isNull(doorSigningKeys.notAfter), gt(doorSigningKeys.notAfter, now))))
    .orderBy(desc(doorSigningKeys.createdAt));
}

/** The verifying keys of a community for the cloud's own check, as KeyObjects by key id. */
export async function verifyingKeys(db: Database, communityId: string, now: Date): Promise<Map<string, KeyObject>> {
  const rows = await keysInForce(db, communityId, now);
  return new Map(rows.map((r) => [r.keyId, signingKeyObject(Buffer.from(r.publicKey, 'base64url'))]));
}

/**
 * Publishes the key set as retained shared state, with the next version. Runs in its own transaction
 * holding the community's shared-state lock through the publish, so two publishes cannot land out of
 * order at the broker.
 */
export async function publishKeySet(deps: AppDeps, communityId: string): Promise<DoorKeySet> {
  return deps.db.transaction(async (tx) => {
    await transactionLock(tx, `door-shared:${communityId}`);
    const now = deps.now();
    const [state] = await tx
      .insert(doorSharedState)
      .values({ communityId, keySetVersion: 1, keySetPublishedAt: now })
      .onConflictDoUpdate({ target: doorSharedState.communityId, set: { keySetVersion: sql`${doorSharedState.keySetVersion} + 1`, keySetPublishedAt: now } })
      .returning();
    const rows = await keysInForce(tx, communityId, now);
    const message = DoorKeySet.parse({
      v: 1,
      communityId,
      version: state!.keySetVersion,
      issuedAt: now.toISOString(),
      keys: rows.map((r) => ({ keyId: r.keyId, alg: 'Ed25519', publicKey: r.publicKey, notAfter: r.notAfter?.toISOString() ?? null })),
    });
    await deps.mqtt.publish(topics.shared(communityId, 'door-keys'), JSON.stringify(message), { qos: 1, retain: true });
    return message;
  });
}
