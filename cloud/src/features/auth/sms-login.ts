import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { and, count, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { maskPhone } from '../../crypto/pii.js';
import { Problem } from '../../http/problem.js';
import { residents } from '../people/people.schema.js';
import { smsCodes } from './auth.schema.js';
import { transactionLock } from '../../db/advisory-lock.js';

export const SMS_CODE_TTL_SECONDS = 5 * 60;
export const SMS_CODE_MAX_ATTEMPTS = 5;
/**
 * Sending limits. Each SMS costs money and a flood can be used to harass a number, so sending is
 * limited per phone and per client address; the tightest window that is full decides the wait.
 */
export const SMS_SEND_LIMITS = {
  perPhone: [
    { windowSeconds: 60, max: 1 },
    { windowSeconds: 3600, max: 5 },
    { windowSeconds: 24 * 3600, max: 10 },
  ],
  perAddress: [{ windowSeconds: 3600, max: 20 }],
} as const;

function codeHash(deps: AppDeps, phoneIndex: string, code: string): string {
  return createHmac('sha256', deps.config.secrets.jwtSecret).update(`sms:${phoneIndex}:${code}`).digest('base64url');
}

async function enforceSendLimits(db: Database, phoneIndex: string, ip: string, now: Date): Promise<void> {
  const checks = [
    ...SMS_SEND_LIMITS.perPhone.map((limit) => ({ limit, where: eq(smsCodes.phoneIndex, phoneIndex), who: 'this phone number' })),
    ...SMS_SEND_LIMITS.perAddress.map((limit) => ({ limit, where: eq(smsCodes.ip, ip), who: 'your network address' })),
  ];
  for (const { limit, where, who } of checks) {
    const since = new Date(now.getTime() - limit.windowSeconds * 1000);
    const [row] = await db
      .select({ n: count(), oldest: sql<string>`min(${smsCodes.createdAt})` })
      .from(smsCodes)
      .where(and(where, gt(smsCodes.createdAt, since)));
    if (row && row.n >= limit.max) {
      const oldest = new Date(row.oldest);
      const retryAfter = Math.max(1, Math.ceil((oldest.getTime() + limit.windowSeconds * 1000 - now.getTime()) / 1000));
      throw new Problem(
        'rate-limited',
        `At most ${limit.max} code(s) per ${limit.windowSeconds / 60} minutes for ${who}; try again in ${retryAfter} s`,
        { retryAfterSeconds: retryAfter },
        { 'retry-after': String(retryAfter) },
      );
    }
  }
}

/** Sends a 6-digit login code to a normalised phone number. */
export async function sendLoginCode(deps: AppDeps, phone: string, ip: string): Promise<{ expiresInSeconds: number; resendAfterSeconds: number }> {
  const now = deps.now();
  const phoneIndex = deps.vault.blindIndex(phone, 'phone');
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  // Check and insert under per-phone and per-address locks: ten parallel requests must not all pass a
  // check that each made before any of them was counted. Locks are taken in a fixed order.
  const row = await deps.db.transaction(async (tx) => {
    await transactionLock(tx, `sms-phone:${phoneIndex}`);
    await transactionLock(tx, `sms-ip:${ip}`);
    await enforceSendLimits(tx, phoneIndex, ip, now);
    const [inserted] = await tx
      .insert(smsCodes)
      .values({
        phoneIndex,
        purpose: 'login',
        codeHash: codeHash(deps, phoneIndex, code),
        ip,
        createdAt: now,
        expiresAt: new Date(now.getTime() + SMS_CODE_TTL_SECONDS * 1000),
      })
      .returning({ id: smsCodes.id });
    return inserted;
  });
  try {
    await deps.sms.send({ phone, template: 'login_code', params: { code } });
    deps.metrics.smsSent.inc({ outcome: 'sent' });
  } catch (error) {
    // The code was never delivered: spend it so it cannot be guessed, and keep the row for the limits.
    await deps.db.update(smsCodes).set({ consumedAt: now }).where(eq(smsCodes.id, row!.id));
    deps.metrics.smsSent.inc({ outcome: 'failed' });
    deps.log.error({ err: error, to: maskPhone(phone) }, 'SMS provider refused the login code');
    throw new Problem('sms-delivery-failed', 'The code could not be sent; try again in a minute');
  }
  return { expiresInSeconds: SMS_CODE_TTL_SECONDS, resendAfterSeconds: SMS_SEND_LIMITS.perPhone[0].windowSeconds };
}

/**
 * Checks a login code against the newest unspent one for the phone. Each wrong guess counts; after
 * SMS_CODE_MAX_ATTEMPTS the code is dead, so six digits cannot be brute-forced. Returns the resident,
 * created on first login.
 */
export async function verifyLoginCode(deps: AppDeps, phone: string, code: string) {
  const now = deps.now();
  const phoneIndex = deps.vault.blindIndex(phone, 'phone');
  const [latest] = await deps.db
    .select()
    .from(smsCodes)
    .where(and(eq(smsCodes.phoneIndex, phoneIndex), eq(smsCodes.purpose, 'login'), isNull(smsCodes.consumedAt)))
    .orderBy(desc(smsCodes.createdAt))
    .limit(1);
  if (!latest || latest.expiresAt <= now) throw new Problem('sms-code-invalid', 'No valid code for this number; request a new one');
  // Spend one attempt before comparing, atomically: parallel guesses each need their own attempt, and
  // the sixth finds none left however fast it arrives.
  const [counted] = await deps.db
    .update(smsCodes)
    .set({ attempts: sql`${smsCodes.attempts} + 1` })
    .where(and(eq(smsCodes.id, latest.id), lt(smsCodes.attempts, SMS_CODE_MAX_ATTEMPTS), isNull(smsCodes.consumedAt)))
    .returning({ attempts: smsCodes.attempts });
  if (!counted) throw new Problem('sms-code-invalid', 'Too many wrong attempts; request a new code');
  const expected = Buffer.from(latest.codeHash);
  const given = Buffer.from(codeHash(deps, phoneIndex, code));
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    const left = SMS_CODE_MAX_ATTEMPTS - counted.attempts;
    throw new Problem('sms-code-invalid', left > 0 ? `The code is wrong; ${left} attempt(s) left` : 'Too many wrong attempts; request a new code', {
      attemptsLeft: left,
    });
  }
  // Conditional update: two concurrent logins with the same code cannot both succeed.
  const spent = await deps.db
    .update(smsCodes)
    .set({ consumedAt: now })
    .where(and(eq(smsCodes.id, latest.id), isNull(smsCodes.consumedAt)))
    .returning({ id: smsCodes.id });
  if (spent.length === 0) throw new Problem('sms-code-invalid', 'This code was already used; request a new one');
  const [resident] = await deps.db
    .insert(residents)
    .values({ phoneEnc: deps.vault.encrypt(phone, 'phone'), phoneIndex, createdAt: now, lastLoginAt: now })
    .onConflictDoUpdate({ target: residents.phoneIndex, set: { lastLoginAt: now } })
    .returning();
  return resident!;
}
