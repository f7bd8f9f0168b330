import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, count, eq, inArray } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import type { Database } from '../../db/client.js';
import { requirePrincipal, requireStaff } from '../../http/auth-middleware.js';
import { Problem } from '../../http/problem.js';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { recordAudit, type AuditAction } from '../audit/audit-log.js';
import { houseMembers } from '../people/people.schema.js';
import { communities, houses } from './estate.schema.js';
import { assertDatabaseTimeZone, TimeZone } from './estate-values.js';
import { communityTotals, communityView, listBuildingsWithUnits, scopedCommunity } from './estate.service.js';
import { Limit, Offset } from '../../http/paging.js';
import { bearerSecurity, CommunityParams, humanText, isUniqueViolation, jsonBody, jsonResponse, signedIn, staffOnly } from '../../http/route-kit.js';
import { membershipIsLive } from '../people/membership.js';

// AuditAction (audit-log.ts) does not list this act yet; the cast goes once it does.
const COMMUNITY_CREATE: AuditAction = 'community.create';

const Community = z
  .object({ id: z.uuid(), code: z.string(), name: z.string(), timeZone: z.string(), address: z.string(), createdAt: z.iso.datetime() })
  .openapi('Community');

const CommunityDetail = Community.extend({
  totals: z.object({
    buildings: z.number().int(),
    units: z.number().int(),
    houses: z.number().int(),
    floorAreaM2: z.string().openapi({ example: '18240.50', description: 'Sum of house floor areas, m²' }),
  }),
}).openapi('CommunityDetail');

const Building = z
  .object({
    id: z.uuid(),
    name: z.string(),
    houses: z.number().int(),
    units: z.array(z.object({ id: z.uuid(), name: z.string(), houses: z.number().int() })),
  })
  .openapi('Building');

const PageQuery = z.object({ limit: Limit, offset: Offset });

const NewCommunity = z
  .strictObject({
    code: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1–32 letters, digits, "-" or "_"'),
    name: humanText(100),
    timeZone: TimeZone.optional(),
    address: humanText(300).optional(),
  })
  .openapi('NewCommunity');

/**
 * Communities whose houses the resident lives in now: membership not ended, and for tenants the
 * tenancy covers today in the community's own time zone.
 */
async function residentCommunityIds(db: Database, residentId: string, now: Date): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: communities.id })
    .from(houseMembers)
    .innerJoin(houses, eq(houses.id, houseMembers.houseId))
    .innerJoin(communities, eq(communities.id, houses.communityId))
    .where(
      and(eq(houseMembers.residentId, residentId), membershipIsLive(now)),
    );
  return rows.map((r) => r.id);
}

async function visibleCommunityIds(c: Context<AppEnv>): Promise<{ ids: string[]; companyId?: string }> {
  const principal = requirePrincipal(c);
  if (principal.kind === 'resident') return { ids: await residentCommunityIds(c.get('deps').db, principal.residentId, c.get('deps').now()) };
  const staff = requireStaff(c, 'community:read');
  return { ids: [...staff.communityIds], companyId: staff.companyId };
}

/** Communities: listing (staff and residents), creation, detail with totals, buildings with units. */
export const communityRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities',
      tags: ['Estate'],
      summary: 'Communities the caller may see',
      description: 'Staff: the communities in their scope within their own company. Residents: the communities of the houses they live in now.',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { query: PageQuery },
      responses: {
        200: jsonResponse(z.object({ items: z.array(Community), total: z.number().int() }), 'One page of communities, by code'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { limit, offset } = c.req.valid('query');
      const { db } = c.get('deps');
      const { ids, companyId } = await visibleCommunityIds(c);
      if (ids.length === 0) return c.json({ items: [], total: 0 }, 200);
      const where = and(inArray(communities.id, ids), companyId ? eq(communities.companyId, companyId) : undefined);
      const [rows, [total]] = await Promise.all([
        db.select().from(communities).where(where).orderBy(asc(communities.code), asc(communities.id)).limit(limit).offset(offset),
        db.select({ n: count() }).from(communities).where(where),
      ]);
      return c.json({ items: rows.map(communityView), total: total?.n ?? 0 }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities',
      tags: ['Estate'],
      summary: 'Create a community in the caller’s company',
      description: 'Requires staff:manage. The code is unique within the company; the time zone defaults to Asia/Shanghai.',
      security: bearerSecurity,
      middleware: [staffOnly('staff:manage')] as const,
      request: { body: jsonBody(NewCommunity) },
      responses: { 201: jsonResponse(Community, 'Created'), ...problemResponses(400, 401, 403, 409, 413, 415) },
    }),
    async (c) => {
      const staff = requireStaff(c, 'staff:manage');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      if (body.timeZone) await assertDatabaseTimeZone(db, body.timeZone);
      try {
        const created = await db.transaction(async (tx) => {
          const [row] = await tx
            .insert(communities)
            .values({ companyId: staff.companyId, code: body.code, name: body.name, timeZone: body.timeZone ?? 'Asia/Shanghai', address: body.address ?? '' })
            .returning();
          await recordAudit(c, { action: COMMUNITY_CREATE, outcome: 'success', communityId: row!.id, targetKind: 'community', targetId: row!.id, details: { code: row!.code, name: row!.name } }, tx);
          return row!;
        });
        return c.json(communityView(created), 201);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Problem('conflict', `Your company already has a community with code "${body.code}"`);
        throw error;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}',
      tags: ['Estate'],
      summary: 'A community with counts of buildings, units and houses and its total floor area',
      security: bearerSecurity,
      middleware: [staffOnly('community:read')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(CommunityDetail, 'The community'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { db } = c.get('deps');
      const { community } = await scopedCommunity(c, 'community:read', communityId);
      return c.json({ ...communityView(community), totals: await communityTotals(db, communityId) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/buildings',
      tags: ['Estate'],
      summary: 'Buildings of a community, each with its units and house counts',
      security: bearerSecurity,
      middleware: [staffOnly('community:read')] as const,
      request: { params: CommunityParams, query: PageQuery },
      responses: {
        200: jsonResponse(z.object({ items: z.array(Building), total: z.number().int() }), 'One page of buildings, by name'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { limit, offset } = c.req.valid('query');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'community:read', communityId);
      return c.json(await listBuildingsWithUnits(db, communityId, limit, offset), 200);
    },
  );
