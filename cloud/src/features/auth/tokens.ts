import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { SubjectKind } from './auth.schema.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const ISSUER = 'estate-cloud';

export type AccessClaims = { sub: string; sid: string; knd: SubjectKind };

/** Short-lived bearer token (JWT, HS256, RFC 7519). It names its session, which is checked per request. */
export async function signAccessToken(secret: Uint8Array, claims: AccessClaims, now: Date): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ sid: claims.sid, knd: claims.knd })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .sign(secret);
}

export async function verifyAccessToken(secret: Uint8Array, token: string, now: Date): Promise<AccessClaims> {
  const { payload } = await jwtVerify(token, secret, { issuer: ISSUER, algorithms: ['HS256'], currentDate: now });
  if (typeof payload.sub !== 'string' || typeof payload['sid'] !== 'string' || (payload['knd'] !== 'resident' && payload['knd'] !== 'staff')) {
    throw new Error('token claims are incomplete');
  }
  return { sub: payload.sub, sid: payload['sid'], knd: payload['knd'] };
}

/** Opaque refresh token; only its SHA-256 is stored, so a database leak does not hand out sessions. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
