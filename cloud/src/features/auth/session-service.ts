import { and, eq, gt, isNull } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { Problem } from '../../http/problem.js';
import { refreshTokens, sessions, type SubjectKind } from './auth.schema.js';
import { ACCESS_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS, hashToken, newRefreshToken, signAccessToken } from './tokens.js';

export type TokenPair = { accessToken: string; refreshToken: string; tokenType: 'Bearer'; expiresIn: number; sessionId: string };

export async function startSession(
  deps: AppDeps,
  subject: { kind: SubjectKind; id: string },
  client: { ip: string; userAgent: string | undefined },
): Promise<TokenPair> {
  const now = deps.now();
  const refresh = newRefreshToken();
  const sessionId = await deps.db.transaction(async (tx) => {
    const [session] = await tx
      .insert(sessions)
      .values({
        subjectKind: subject.kind,
        subjectId: subject.id,
        createdAt: now,
        expiresAt: new Date(now.getTime() + REFRESH_TOKEN_TTL_SECONDS * 1000),
        ip: client.ip,
        userAgent: client.userAgent?.slice(0, 300) ?? null,
      })
      .returning({ id: sessions.id });
    await tx.insert(refreshTokens).values({ tokenHash: refresh.hash, sessionId: session!.id, createdAt: now });
    return session!.id;
  });
  return {
    accessToken: await signAccessToken(deps.config.secrets.jwtSecret, { sub: subject.id, sid: sessionId, knd: subject.kind }, now),
    refreshToken: refresh.token,
    tokenType: 'Bearer',
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    sessionId,
  };
}

/**
 * Trades a refresh token for a new pair. Each token works once; presenting a spent one revokes the
 * whole session, because only a thief or a replay would still hold it (RFC 9700, 4.14.2).
 */
export async function rotateRefreshToken(deps: AppDeps, token: string): Promise<TokenPair> {
  const now = deps.now();
  const hash = hashToken(token);
  const outcome = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select({ usedAt: refreshTokens.usedAt, session: sessions })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.tokenHash, hash))
      .for('update');
    if (!row) return { kind: 'unknown' as const };
    if (row.session.revokedAt || row.session.expiresAt <= now) return { kind: 'ended' as const };
    if (row.usedAt) {
      await tx.update(sessions).set({ revokedAt: now, revokeReason: 'refresh token reused' }).where(eq(sessions.id, row.session.id));
      return { kind: 'reused' as const, session: row.session };
    }
    await tx.update(refreshTokens).set({ usedAt: now }).where(eq(refreshTokens.tokenHash, hash));
    const next = newRefreshToken();
    await tx.insert(refreshTokens).values({ tokenHash: next.hash, sessionId: row.session.id, createdAt: now });
    return { kind: 'rotated' as const, session: row.session, refreshToken: next.token };
  });
  if (outcome.kind === 'unknown' || outcome.kind === 'ended') throw new Problem('invalid-token', 'The refresh token is unknown, expired or its session has ended');
  if (outcome.kind === 'reused') {
    deps.log.warn({ sessionId: outcome.session.id }, 'refresh token reuse detected; session revoked');
    throw new Problem('invalid-token', 'This refresh token was already used; the session has been revoked for safety. Log in again.');
  }
  const { session } = outcome;
  return {
    accessToken: await signAccessToken(deps.config.secrets.jwtSecret, { sub: session.subjectId, sid: session.id, knd: session.subjectKind }, now),
    refreshToken: outcome.refreshToken,
    tokenType: 'Bearer',
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    sessionId: session.id,
  };
}

export async function revokeSession(deps: AppDeps, sessionId: string, reason: string): Promise<void> {
  await deps.db
    .update(sessions)
    .set({ revokedAt: deps.now(), revokeReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/** The live session an access token names, or null when it was revoked or has expired. */
export async function findLiveSession(deps: AppDeps, sessionId: string) {
  const [row] = await deps.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt), gt(sessions.expiresAt, deps.now())));
  return row ?? null;
}
