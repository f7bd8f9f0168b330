import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { maskPhone, normalizePhone } from '../../crypto/pii.js';
import { requirePrincipal } from '../../http/auth-middleware.js';
import { Problem } from '../../http/problem.js';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { bearerSecurity, jsonBody } from '../../http/route-kit.js';
import { clientIp, recordAudit } from '../audit/audit-log.js';
import { residents } from '../people/people.schema.js';
import { PERMISSIONS, ROLE_PERMISSIONS, roleCan } from '../rbac/permissions.js';
import { STAFF_ROLES, staffAccounts } from '../staff/staff.schema.js';
import { smsOutbox } from './auth.schema.js';
import { revokeSession, rotateRefreshToken, startSession } from './session-service.js';
import { sendLoginCode, verifyLoginCode } from './sms-login.js';
import { checkStaffPassword } from './staff-login.js';

const Phone = z
  .string()
  .max(20)
  .transform((s, ctx) => normalizePhone(s) ?? (ctx.addIssue({ code: 'custom', message: 'must be a mainland mobile number, 11 digits starting 13–19' }), z.NEVER))
  .openapi({ example: '13812341234', type: 'string' });

const TokenPair = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().openapi({ description: 'Access token lifetime in seconds' }),
});
const ResidentView = z.object({ id: z.uuid(), phoneMasked: z.string().openapi({ example: '138****1234' }), name: z.string().nullable() });
const StaffView = z.object({ id: z.uuid(), username: z.string(), displayName: z.string(), role: z.enum(STAFF_ROLES) });


function pair(tokens: { accessToken: string; refreshToken: string; expiresIn: number }) {
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, tokenType: 'Bearer' as const, expiresIn: tokens.expiresIn };
}

function client(c: Context<AppEnv>) {
  return { ip: clientIp(c), userAgent: c.req.header('user-agent') };
}

export const authRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/sms-codes',
      tags: ['Identity'],
      summary: 'Send a login code by SMS',
      description: 'Codes live 5 minutes and allow 5 attempts. Sending is limited per phone (1/min, 5/h, 10/day) and per address (20/h).',
      request: { body: jsonBody(z.strictObject({ phone: Phone })) },
      responses: {
        202: { description: 'Sent', content: { 'application/json': { schema: z.object({ expiresInSeconds: z.number(), resendAfterSeconds: z.number() }) } } },
        ...problemResponses(400, 429, 502),
      },
    }),
    async (c) => {
      const { phone } = c.req.valid('json');
      return c.json(await sendLoginCode(c.get('deps'), phone, clientIp(c)), 202);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/resident-login',
      tags: ['Identity'],
      summary: 'Log in as a resident with phone + SMS code',
      request: { body: jsonBody(z.strictObject({ phone: Phone, code: z.string().regex(/^\d{6}$/, 'must be the 6 digits from the SMS') })) },
      responses: {
        200: { description: 'Logged in', content: { 'application/json': { schema: TokenPair.extend({ resident: ResidentView }) } } },
        ...problemResponses(400),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const { phone, code } = c.req.valid('json');
      let resident;
      try {
        resident = await verifyLoginCode(deps, phone, code);
      } catch (error) {
        deps.metrics.loginAttempts.inc({ kind: 'resident', outcome: 'failure' });
        await recordAudit(c, { action: 'resident.login', outcome: 'failure', details: { phone: maskPhone(phone) } });
        throw error;
      }
      const tokens = await startSession(deps, { kind: 'resident', id: resident.id }, client(c));
      deps.metrics.loginAttempts.inc({ kind: 'resident', outcome: 'success' });
      await recordAudit(c, { action: 'resident.login', outcome: 'success', actor: { kind: 'resident', id: resident.id }, details: { sessionId: tokens.sessionId } });
      return c.json({ ...pair(tokens), resident: { id: resident.id, phoneMasked: maskPhone(phone), name: resident.name } }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/staff-login',
      tags: ['Identity'],
      summary: 'Log in as property staff with username + password',
      description: 'Five wrong passwords lock the account for 15 minutes (423).',
      request: { body: jsonBody(z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) })) },
      responses: {
        200: { description: 'Logged in', content: { 'application/json': { schema: TokenPair.extend({ staff: StaffView }) } } },
        ...problemResponses(400, 401, 423),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const { username, password } = c.req.valid('json');
      const outcome = await checkStaffPassword(deps, username, password);
      if (!outcome.ok) {
        deps.metrics.loginAttempts.inc({ kind: 'staff', outcome: 'failure' });
        await recordAudit(c, {
          action: 'staff.login',
          outcome: 'failure',
          actor: { kind: outcome.staffId ? 'staff' : 'anonymous', id: outcome.staffId },
          details: { username: username.slice(0, 64), reason: outcome.problem.kind },
        });
        throw outcome.problem;
      }
      const { staff } = outcome;
      const tokens = await startSession(deps, { kind: 'staff', id: staff.id }, client(c));
      deps.metrics.loginAttempts.inc({ kind: 'staff', outcome: 'success' });
      await recordAudit(c, { action: 'staff.login', outcome: 'success', actor: { kind: 'staff', id: staff.id }, details: { sessionId: tokens.sessionId } });
      return c.json({ ...pair(tokens), staff: { id: staff.id, username: staff.username, displayName: staff.displayName, role: staff.role } }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/refresh',
      tags: ['Identity'],
      summary: 'Trade a refresh token for a new token pair',
      description: 'Refresh tokens rotate: each works once. Presenting a spent one revokes the whole session.',
      request: { body: jsonBody(z.strictObject({ refreshToken: z.string().min(1).max(200) })) },
      responses: { 200: { description: 'New pair', content: { 'application/json': { schema: TokenPair } } }, ...problemResponses(400, 401) },
    }),
    async (c) => c.json(pair(await rotateRefreshToken(c.get('deps'), c.req.valid('json').refreshToken)), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout',
      tags: ['Identity'],
      summary: 'End the current session',
      description: 'Revokes the session: its access token and refresh token stop working at once.',
      security: bearerSecurity,
      responses: { 204: { description: 'Logged out' }, ...problemResponses(401) },
    }),
    async (c) => {
      const principal = requirePrincipal(c);
      await revokeSession(c.get('deps'), principal.sessionId, 'logout');
      await recordAudit(c, { action: 'session.logout', outcome: 'success', details: { sessionId: principal.sessionId } });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me',
      tags: ['Identity'],
      summary: 'Who am I',
      security: bearerSecurity,
      responses: {
        200: {
          description: 'The caller',
          content: {
            'application/json': {
              schema: z.discriminatedUnion('kind', [
                ResidentView.extend({ kind: z.literal('resident') }),
                StaffView.extend({
                  kind: z.literal('staff'),
                  communityIds: z.array(z.uuid()),
                  permissions: z.array(z.enum(Object.keys(PERMISSIONS) as [keyof typeof PERMISSIONS])),
                }),
              ]),
            },
          },
        },
        ...problemResponses(401),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const principal = requirePrincipal(c);
      if (principal.kind === 'resident') {
        const [resident] = await deps.db.select().from(residents).where(eq(residents.id, principal.residentId));
        if (!resident) throw new Problem('invalid-token', 'The account no longer exists');
        return c.json({ kind: 'resident' as const, id: resident.id, phoneMasked: maskPhone(deps.vault.decrypt(resident.phoneEnc, 'phone')), name: resident.name }, 200);
      }
      const [staff] = await deps.db.select().from(staffAccounts).where(eq(staffAccounts.id, principal.staffId));
      return c.json(
        {
          kind: 'staff' as const,
          id: staff!.id,
          username: staff!.username,
          displayName: staff!.displayName,
          role: staff!.role,
          communityIds: [...principal.communityIds],
          permissions: [...ROLE_PERMISSIONS[staff!.role]],
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/dev/sms-outbox',
      tags: ['Identity'],
      summary: 'Messages kept by the development SMS outbox',
      description:
        'Development and test only (403 in production). Staff with sms-outbox:read see every message; anyone may read the messages of one phone (`phone=`), so the demo can log in without a real phone.',
      request: { query: z.object({ phone: Phone.optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }) },
      responses: {
        200: {
          description: 'Newest first',
          content: {
            'application/json': {
              schema: z.object({ items: z.array(z.object({ id: z.uuid(), phoneMasked: z.string(), body: z.string(), provider: z.string(), createdAt: z.string() })) }),
            },
          },
        },
        ...problemResponses(401, 403),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const { phone, limit } = c.req.valid('query');
      const principal = c.get('principal');
      // The outbox holds every login code of the platform, across companies: it is a development tool and
      // closed in production, whoever asks.
      if (deps.config.NODE_ENV === 'production') throw new Problem('forbidden', 'The SMS outbox is not readable in production');
      const staffMayRead = principal?.kind === 'staff' && roleCan(principal.role, 'sms-outbox:read');
      const openDemo = deps.sms.provider === 'outbox' && phone !== undefined;
      if (!staffMayRead && !openDemo) {
        if (!principal) throw new Problem('unauthenticated', 'Log in as staff with sms-outbox:read, or (development only) pass phone=');
        throw new Problem('forbidden', 'Reading the SMS outbox needs the sms-outbox:read permission');
      }
      // The outbox stores phones encrypted; the blind index is not kept there, so filter by the masked
      // form first and confirm by decrypting.
      const rows = await deps.db
        .select()
        .from(smsOutbox)
        .where(phone ? and(eq(smsOutbox.phoneMasked, maskPhone(phone))) : undefined)
        .orderBy(desc(smsOutbox.createdAt))
        .limit(limit);
      const items = rows
        .filter((r) => !phone || deps.vault.decrypt(r.phoneEnc, 'phone') === phone)
        .map((r) => ({ id: r.id, phoneMasked: r.phoneMasked, body: r.body, provider: r.provider, createdAt: r.createdAt.toISOString() }));
      return c.json({ items }, 200);
    },
  );
