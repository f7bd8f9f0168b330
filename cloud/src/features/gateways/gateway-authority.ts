import { createHash } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { GatewayAddress } from '@estate/protocol';
import type { Database } from '../../db/client.js';
import type { GatewayAuthority } from '../../mqtt/embedded-broker.js';
import { verifyPassword } from '../staff/passwords.js';
import { gateways } from './gateways.schema.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How long a successful argon2 verification is reused for reconnects with the same password. */
const VERIFIED_TTL_MS = 5 * 60_000;

/**
 * The broker's view of the gateway registry. Every connect reads the gateway row (so a revoked gateway
 * or a rotated credential is refused at once); only the argon2id verification itself is cached, keyed by
 * the stored hash and a SHA-256 of the password, so a reconnect storm after a broker restart does not
 * cost one 20 ms argon2 run per gateway.
 *
 * @example
 * const broker = await startEmbeddedBroker({ ..., authority: createGatewayAuthority(deps.db) });
 */
export function createGatewayAuthority(db: Database, now: () => number = Date.now): GatewayAuthority {
  const verified = new Map<string, number>();

  async function live(gatewayId: string) {
    if (!UUID.test(gatewayId)) return null;
    const [row] = await db
      .select({ gatewayId: gateways.id, communityId: gateways.communityId, credentialHash: gateways.credentialHash })
      .from(gateways)
      .where(and(eq(gateways.id, gatewayId), isNull(gateways.revokedAt)));
    return row ?? null;
  }

  return {
    async verify(username: string, password: string): Promise<GatewayAddress | null> {
      const row = await live(username);
      if (!row) return null;
      const key = `${row.credentialHash}\n${createHash('sha256').update(password).digest('base64')}`;
      const until = verified.get(key);
      if (until === undefined || until < now()) {
        verified.delete(key);
        if (!(await verifyPassword(row.credentialHash, password))) return null;
        if (verified.size > 10_000) verified.clear();
        verified.set(key, now() + VERIFIED_TTL_MS);
      }
      return { gatewayId: row.gatewayId, communityId: row.communityId };
    },
    async find(gatewayId: string): Promise<GatewayAddress | null> {
      const row = await live(gatewayId);
      return row ? { gatewayId: row.gatewayId, communityId: row.communityId } : null;
    },
  };
}
