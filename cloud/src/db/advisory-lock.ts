import { sql } from 'drizzle-orm';
import type { Database } from './client.js';

/**
 * Takes a PostgreSQL advisory lock on a text key for the rest of the transaction `tx` (released at
 * commit or rollback). Shared holders exclude only an exclusive one. Keys are namespaced by their
 * callers, e.g. `sms-phone:<index>`, `meter-routing:<community>`.
 *
 * @example
 * await transactionLock(tx, `roster-import:${communityId}`);
 */
export async function transactionLock(tx: Database, key: string, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
  if (mode === 'shared') await tx.execute(sql`select pg_advisory_xact_lock_shared(hashtext(${key}))`);
  else await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${key}))`);
}
