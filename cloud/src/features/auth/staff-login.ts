import { eq, sql } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { Problem } from '../../http/problem.js';
import { DUMMY_HASH, verifyPassword } from '../staff/passwords.js';
import { staffAccounts } from '../staff/staff.schema.js';

export const STAFF_MAX_FAILED_LOGINS = 5;
export const STAFF_LOCK_SECONDS = 15 * 60;

export type StaffLoginOutcome =
  | { ok: true; staff: typeof staffAccounts.$inferSelect }
  | { ok: false; staffId: string | null; problem: Problem };

/**
 * Username + password check. Unknown users cost the same argon2 verification as known ones, so timing
 * does not reveal which usernames exist; five failures lock the account for 15 minutes.
 */
export async function checkStaffPassword(deps: AppDeps, username: string, password: string): Promise<StaffLoginOutcome> {
  const now = deps.now();
  const [staff] = await deps.db.select().from(staffAccounts).where(eq(staffAccounts.username, username));
  if (!staff) {
    await verifyPassword(await DUMMY_HASH, password);
    return { ok: false, staffId: null, problem: new Problem('invalid-credentials', 'Wrong username or password') };
  }
  if (staff.lockedUntil && staff.lockedUntil > now) {
    const retryAfter = Math.ceil((staff.lockedUntil.getTime() - now.getTime()) / 1000);
    return {
      ok: false,
      staffId: staff.id,
      problem: new Problem('locked', `Too many failed logins; try again in ${Math.ceil(retryAfter / 60)} min`, { retryAfterSeconds: retryAfter }, { 'retry-after': String(retryAfter) }),
    };
  }
  const valid = await verifyPassword(staff.passwordHash, password);
  if (!valid || staff.disabled) {
    if (!valid) {
      const failures = staff.failedLogins + 1;
      const lock = failures >= STAFF_MAX_FAILED_LOGINS;
      await deps.db
        .update(staffAccounts)
        .set(lock ? { failedLogins: 0, lockedUntil: new Date(now.getTime() + STAFF_LOCK_SECONDS * 1000) } : { failedLogins: sql`${staffAccounts.failedLogins} + 1` })
        .where(eq(staffAccounts.id, staff.id));
    }
    return { ok: false, staffId: staff.id, problem: new Problem('invalid-credentials', 'Wrong username or password') };
  }
  if (staff.failedLogins > 0 || staff.lockedUntil) {
    await deps.db.update(staffAccounts).set({ failedLogins: 0, lockedUntil: null }).where(eq(staffAccounts.id, staff.id));
  }
  return { ok: true, staff };
}
