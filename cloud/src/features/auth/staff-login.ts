import { eq, sql } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { Problem } from '../../http/problem.js';
import { DUMMY_HASH, verifyPassword } from '../staff/passwords.js';
import { staffAccounts } from '../staff/staff.schema.js';
import { withThrottle } from './throttle.js';

export const STAFF_MAX_FAILED_LOGINS = 5;
export const STAFF_LOCK_SECONDS = 15 * 60;

export type StaffLoginOutcome = { ok: true; staff: typeof staffAccounts.$inferSelect } | { ok: false; staffId: string | null; problem: Problem };

/**
 * Username + password check. Failures are counted per username whether or not the account exists, and
 * unknown users cost the same argon2 verification, so neither the answer nor its timing tells which
 * usernames exist. Five failures within 15 minutes lock that username for the rest of the window; a
 * success clears the count.
 */
export async function checkStaffPassword(deps: AppDeps, username: string, password: string): Promise<StaffLoginOutcome> {
  const subject = username.toLowerCase();
  try {
    const outcome = await withThrottle(
      deps,
      [
        {
          bucket: 'staff-login',
          subject,
          maxFailures: STAFF_MAX_FAILED_LOGINS,
          windowSeconds: STAFF_LOCK_SECONDS,
          lockedMessage: 'Too many failed logins for this username; try again in {minutes} min',
        },
      ],
      async (tx) => {
        const [staff] = await tx.select().from(staffAccounts).where(eq(sql`lower(${staffAccounts.username})`, subject));
        const valid = await verifyPassword(staff?.passwordHash ?? (await DUMMY_HASH), password);
        if (!staff || !valid || staff.disabled) return { ok: false as const, value: staff ?? null };
        return { ok: true as const, value: staff, resetFailures: true };
      },
    );
    if (outcome.ok && outcome.value) return { ok: true, staff: outcome.value };
    return { ok: false, staffId: outcome.value?.id ?? null, problem: new Problem('invalid-credentials', 'Wrong username or password') };
  } catch (error) {
    if (error instanceof Problem) return { ok: false, staffId: null, problem: error };
    throw error;
  }
}
