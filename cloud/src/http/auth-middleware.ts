import { and, eq } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import type { AppEnv, Principal, ResidentPrincipal, StaffPrincipal } from '../context.js';
import { findLiveSession } from '../features/auth/session-service.js';
import { verifyAccessToken } from '../features/auth/tokens.js';
import { roleCan, type Permission } from '../features/rbac/permissions.js';
import { communities } from '../features/estate/estate.schema.js';
import { staffAccounts, staffCommunities } from '../features/staff/staff.schema.js';
import { Problem } from './problem.js';

/**
 * Reads the bearer token, if any, and puts the principal on the context. Role and community scope are
 * loaded per request, so a role change or a revoked session acts on the very next call.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization');
  if (!header) return next();
  const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header);
  if (!match) throw new Problem('invalid-token', 'The Authorization header must be "Bearer <access token>"');
  const deps = c.get('deps');
  let claims;
  try {
    claims = await verifyAccessToken(deps.config.secrets.jwtSecret, match[1]!, deps.now());
  } catch {
    throw new Problem('invalid-token', 'The access token is invalid or has expired; refresh it or log in again');
  }
  const session = await findLiveSession(deps, claims.sid);
  if (!session || session.subjectId !== claims.sub || session.subjectKind !== claims.knd) {
    throw new Problem('invalid-token', 'The session has ended; log in again');
  }
  let principal: Principal;
  if (claims.knd === 'resident') {
    principal = { kind: 'resident', residentId: claims.sub, sessionId: claims.sid };
  } else {
    const [staff] = await deps.db.select().from(staffAccounts).where(eq(staffAccounts.id, claims.sub));
    if (!staff || staff.disabled) throw new Problem('invalid-token', 'The staff account is disabled');
    const scope =
      staff.role === 'super_admin'
        ? await deps.db.select({ communityId: communities.id }).from(communities).where(eq(communities.companyId, staff.companyId))
        : // Joined to communities of the staff member's own company: a stray scope row never reaches across companies.
          await deps.db
            .select({ communityId: staffCommunities.communityId })
            .from(staffCommunities)
            .innerJoin(communities, eq(communities.id, staffCommunities.communityId))
            .where(and(eq(staffCommunities.staffId, staff.id), eq(communities.companyId, staff.companyId)));
    principal = {
      kind: 'staff',
      staffId: staff.id,
      sessionId: claims.sid,
      companyId: staff.companyId,
      role: staff.role,
      communityIds: new Set(scope.map((s) => s.communityId)),
    };
  }
  c.set('principal', principal);
  c.set('log', c.get('log').child({ actor: `${principal.kind}:${claims.sub}` }));
  return next();
});

export function requirePrincipal(c: { get(key: 'principal'): Principal | undefined }): Principal {
  const principal = c.get('principal');
  if (!principal) throw new Problem('unauthenticated', 'Send "Authorization: Bearer <access token>"; get one from a login endpoint');
  return principal;
}

export function requireResident(c: { get(key: 'principal'): Principal | undefined }): ResidentPrincipal {
  const principal = requirePrincipal(c);
  if (principal.kind !== 'resident') throw new Problem('forbidden', 'This endpoint is for residents');
  return principal;
}

/**
 * The staff principal, after checking the role grants `permission` and, when given, that the staff
 * member works in `communityId`.
 *
 * @example
 * const staff = requireStaff(c, 'finance:read', communityId);
 */
export function requireStaff(c: { get(key: 'principal'): Principal | undefined }, permission: Permission, communityId?: string): StaffPrincipal {
  const principal = requirePrincipal(c);
  if (principal.kind !== 'staff') throw new Problem('forbidden', 'This endpoint is for property staff');
  if (!roleCan(principal.role, permission)) throw new Problem('forbidden', `The ${principal.role} role does not have the "${permission}" permission`);
  if (communityId !== undefined && !principal.communityIds.has(communityId)) {
    throw new Problem('forbidden', 'You are not assigned to this community');
  }
  return principal;
}
