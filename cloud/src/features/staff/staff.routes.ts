import { createRoute, z } from '@hono/zod-openapi';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { StaffPrincipal } from '../../context.js';
import type { Database } from '../../db/client.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { Problem } from '../../http/problem.js';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { sessions } from '../auth/auth.schema.js';
import { Limit, Offset } from '../../http/paging.js';
import { bearerSecurity, humanText, invalid, isUniqueViolation, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.js';
import { STAFF_ROLES, staffAccounts, staffCommunities, type StaffRole } from './staff.schema.js';
import { companyCommunityIds, listStaff, staffView } from './staff.service.js';

const Role = z.enum(STAFF_ROLES);
const CommunityIds = z
  .array(z.uuid())
  .max(1000)
  .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a community')
  .openapi({ description: 'Communities the account works in; super admins are company-wide and take none' });

const StaffAccount = z
  .object({
    id: z.uuid(),
    username: z.string(),
    displayName: z.string(),
    role: Role,
    disabled: z.boolean(),
    createdAt: z.iso.datetime(),
    scope: z.enum(['company', 'communities']).openapi({ description: '"company": every community of the company (super admin)' }),
    communities: z.array(z.object({ id: z.uuid(), code: z.string(), name: z.string() })),
  })
  .openapi('StaffAccount');

const NewStaff = z
  .strictObject({
    username: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/, 'must be 3–64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    displayName: humanText(100),
    role: Role,
    communityIds: CommunityIds.default([]),
    // The upper bound keeps a megabyte "password" from costing an argon2 run on it.
    password: z.string().min(MIN_PASSWORD_LENGTH).max(256),
  })
  .openapi('NewStaff');

const StaffPatch = z
  .strictObject({ role: Role.optional(), communityIds: CommunityIds.optional(), disabled: z.boolean().optional() })
  .refine((b) => b.role !== undefined || b.communityIds !== undefined || b.disabled !== undefined, 'send role, communityIds, disabled or a combination')
  .openapi('StaffPatch');

/**
 * Super admins are company-wide and carry no scope rows; everyone else needs at least one community,
 * each of the caller's own company. Returns the ids to store.
 */
async function checkScope(db: Database, staff: StaffPrincipal, role: StaffRole, communityIds: string[]): Promise<string[]> {
  if (role === 'super_admin') {
    if (communityIds.length) invalid('communityIds', 'a super admin covers every community of the company; send none');
    return [];
  }
  if (communityIds.length === 0) invalid('communityIds', `a ${role} account needs at least one community`);
  const own = await companyCommunityIds(db, staff.companyId);
  const index = communityIds.findIndex((id) => !own.has(id));
  if (index >= 0) invalid(`communityIds.${index}`, 'is not a community of your company');
  return communityIds;
}

/** Staff accounts of the caller's company: list, create, change role, scope or disabled. */
export const staffRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/staff',
      tags: ['Staff'],
      summary: 'Staff accounts of the caller’s company, with role and community scope',
      security: bearerSecurity,
      middleware: [staffOnly('staff:manage')] as const,
      request: { query: z.object({ limit: Limit, offset: Offset }) },
      responses: {
        200: jsonResponse(z.object({ items: z.array(StaffAccount), total: z.number().int() }), 'One page of accounts, by username'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const staff = requireStaff(c, 'staff:manage');
      const { limit, offset } = c.req.valid('query');
      return c.json(await listStaff(c.get('deps').db, staff.companyId, limit, offset), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/staff',
      tags: ['Staff'],
      summary: 'Create a staff account',
      description: 'Requires staff:manage. Usernames are unique across the platform regardless of case (409 otherwise). The password is stored as an argon2id hash.',
      security: bearerSecurity,
      middleware: [staffOnly('staff:manage')] as const,
      request: { body: jsonBody(NewStaff) },
      responses: { 201: jsonResponse(StaffAccount, 'Created'), ...problemResponses(400, 401, 403, 409, 413, 415) },
    }),
    async (c) => {
      const staff = requireStaff(c, 'staff:manage');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      const communityIds = await checkScope(db, staff, body.role, body.communityIds);
      const conflict = new Problem('conflict', `The username "${body.username}" is taken`);
      const [taken] = await db.select({ id: staffAccounts.id }).from(staffAccounts).where(sql`lower(${staffAccounts.username}) = lower(${body.username})`);
      if (taken) throw conflict;
      const passwordHash = await hashPassword(body.password);
      try {
        const id = await db.transaction(async (tx) => {
          const [row] = await tx
            .insert(staffAccounts)
            .values({ companyId: staff.companyId, username: body.username, displayName: body.displayName, role: body.role, passwordHash })
            .returning({ id: staffAccounts.id });
          if (communityIds.length) await tx.insert(staffCommunities).values(communityIds.map((communityId) => ({ staffId: row!.id, communityId })));
          await recordAudit(
            c,
            { action: 'staff.create', outcome: 'success', targetKind: 'staff', targetId: row!.id, details: { username: body.username, role: body.role, communityIds } },
            tx,
          );
          return row!.id;
        });
        return c.json(await staffView(db, staff.companyId, id), 201);
      } catch (error) {
        // Two creations racing past the check above meet at the unique index instead.
        if (isUniqueViolation(error)) throw conflict;
        throw error;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/staff/{staffId}',
      tags: ['Staff'],
      summary: 'Change a staff account’s role, community scope or disabled flag',
      description:
        'Requires staff:manage. Recorded as staff.role_change with before and after. A super admin cannot demote or disable ' +
        'themself (409), so an administrator cannot lock themself out by accident. Disabling ends the account’s sessions.',
      security: bearerSecurity,
      middleware: [staffOnly('staff:manage')] as const,
      request: { params: z.object({ staffId: z.uuid().openapi({ param: { name: 'staffId', in: 'path' } }) }), body: jsonBody(StaffPatch) },
      responses: { 200: jsonResponse(StaffAccount, 'The account as it is now'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const staff = requireStaff(c, 'staff:manage');
      const { staffId } = c.req.valid('param');
      const patch = c.req.valid('json');
      const deps = c.get('deps');
      if (staffId === staff.staffId && staff.role === 'super_admin' && ((patch.role && patch.role !== 'super_admin') || patch.disabled)) {
        throw new Problem('conflict', 'You cannot demote or disable your own super admin account; ask another super admin');
      }
      await deps.db.transaction(async (tx) => {
        const [target] = await tx
          .select()
          .from(staffAccounts)
          .where(and(eq(staffAccounts.id, staffId), eq(staffAccounts.companyId, staff.companyId)))
          .for('update');
        // Another company's account is reported exactly like a missing one.
        if (!target) throw new Problem('not-found', 'Your company has no such staff account');
        const scopeRows = await tx.select({ id: staffCommunities.communityId }).from(staffCommunities).where(eq(staffCommunities.staffId, staffId));
        const before = { role: target.role, communityIds: scopeRows.map((r) => r.id).sort(), disabled: target.disabled };
        const role = patch.role ?? target.role;
        // Keep the current scope on a role change between scoped roles; demand one when leaving super admin.
        const wanted = patch.communityIds ?? (role === 'super_admin' ? [] : before.communityIds);
        const communityIds = (await checkScope(tx, staff, role, wanted)).slice().sort();
        const after = { role, communityIds, disabled: patch.disabled ?? target.disabled };
        if (JSON.stringify(after) === JSON.stringify(before)) return;
        await tx.update(staffAccounts).set({ role: after.role, disabled: after.disabled }).where(eq(staffAccounts.id, staffId));
        await tx.delete(staffCommunities).where(eq(staffCommunities.staffId, staffId));
        if (communityIds.length) await tx.insert(staffCommunities).values(communityIds.map((communityId) => ({ staffId, communityId })));
        if (after.disabled && !before.disabled) {
          await tx
            .update(sessions)
            .set({ revokedAt: deps.now(), revokeReason: 'account disabled' })
            .where(and(eq(sessions.subjectKind, 'staff'), eq(sessions.subjectId, staffId), isNull(sessions.revokedAt)));
        }
        await recordAudit(c, { action: 'staff.role_change', outcome: 'success', targetKind: 'staff', targetId: staffId, details: { username: target.username, before, after } }, tx);
      });
      return c.json(await staffView(deps.db, staff.companyId, staffId), 200);
    },
  );
