import { and, count, eq, gt, min } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { Problem } from '../../http/problem.js';
import { throttleEvents } from './auth.schema.js';
import { transactionLock } from '../../db/advisory-lock.js';

export type ThrottleRule = {
  /** What is limited: 'staff-login', 'binding', ... */
  bucket: string;
  /** Whose attempts: a username, a resident id. Unknown usernames are limited exactly like known ones. */
  subject: string;
  maxFailures: number;
  windowSeconds: number;
  /** The sentence shown when locked; `{minutes}` is filled in. */
  lockedMessage: string;
};

export type AttemptOutcome<T> = { ok: true; value: T; resetFailures?: boolean } | { ok: false; value: T };

/**
 * Runs one attempt under a per-subject advisory lock, so concurrent attempts are counted one after the
 * other: reading the count, trying, and recording the failure happen in one transaction. Without the lock,
 * thirty parallel guesses would all see "four failures so far" and all be tried.
 *
 * `attempt` must use the transaction it is given for every query (PGlite has a single connection).
 */
export async function withThrottle<T>(deps: AppDeps, rules: ThrottleRule[], attempt: (tx: Database) => Promise<AttemptOutcome<T>>): Promise<AttemptOutcome<T>> {
  const now = deps.now();
  // Locks are always taken in the same order, so two attempts sharing some rules cannot deadlock.
  const ordered = [...rules].sort((a, b) => `${a.bucket}:${a.subject}`.localeCompare(`${b.bucket}:${b.subject}`));
  return deps.db.transaction(async (tx) => {
    for (const rule of ordered) await transactionLock(tx, `${rule.bucket}:${rule.subject}`);
    for (const rule of ordered) {
      const since = new Date(now.getTime() - rule.windowSeconds * 1000);
      const where = and(eq(throttleEvents.bucket, rule.bucket), eq(throttleEvents.subject, rule.subject), gt(throttleEvents.at, since));
      const [row] = await tx.select({ n: count(), oldest: min(throttleEvents.at) }).from(throttleEvents).where(where);
      if (row && row.n >= rule.maxFailures && row.oldest) {
        const retryAfter = Math.max(1, Math.ceil((new Date(row.oldest).getTime() + rule.windowSeconds * 1000 - now.getTime()) / 1000));
        throw new Problem('locked', rule.lockedMessage.replace('{minutes}', String(Math.ceil(retryAfter / 60))), { retryAfterSeconds: retryAfter }, { 'retry-after': String(retryAfter) });
      }
    }
    const outcome = await attempt(tx);
    for (const rule of ordered) {
      if (!outcome.ok) await tx.insert(throttleEvents).values({ bucket: rule.bucket, subject: rule.subject, at: now });
      else if (outcome.resetFailures) await tx.delete(throttleEvents).where(and(eq(throttleEvents.bucket, rule.bucket), eq(throttleEvents.subject, rule.subject)));
    }
    return outcome;
  });
}
