import { createRoute, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { recordAudit, type AuditAction } from '../audit/audit-log.js';
import { MEMBER_ROLES } from '../people/people.schema.js';
import { roleCan } from '../rbac/permissions.js';
import { HOUSE_STATUSES, houses } from './estate.schema.js';
import { canonicalArea, FloorAreaM2 } from './estate-values.js';
import { houseView, housePeople, listHouses, loadHouse, scopedCommunity } from './estate.service.js';
import { Cursor, Limit } from '../../http/paging.js';
import { bearerSecurity, CommunityParams, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';

// AuditAction (audit-log.ts) does not list this act yet; the cast goes once it does.
const HOUSE_UPDATE: AuditAction = 'house.update';

const Status = z.enum(HOUSE_STATUSES);
const Area = z.string().openapi({ example: '89.50', description: 'm², decimal string with two decimals' });

const HouseFields = {
  id: z.uuid(),
  code: z.string().openapi({ example: '1-2-301', description: 'building-unit-room, as residents type it when binding' }),
  number: z.string(),
  floor: z.number().int(),
  floorAreaM2: Area,
  status: Status,
  buildingId: z.uuid(),
  buildingName: z.string(),
  unitId: z.uuid(),
  unitName: z.string(),
};

const HouseListItem = z
  .object({
    ...HouseFields,
    primaryOwnerName: z.string().nullable().optional().openapi({ description: 'Present only for callers with resident:read' }),
  })
  .openapi('HouseListItem');

const House = z
  .object({
    ...HouseFields,
    billingStartsOn: z.string().nullable().openapi({ description: 'Move-in for billing (PUT …/billing-window); null: billed from the first period' }),
    billingEndsOn: z.string().nullable().openapi({ description: 'Move-out for billing, exclusive; null: billed on' }),
    updatedAt: z.iso.datetime(),
  })
  .openapi('House');

const HouseDetail = House.extend({
  owners: z
    .array(z.object({ id: z.uuid(), name: z.string(), isPrimary: z.boolean(), idNumberMasked: z.string(), phoneMasked: z.string().nullable() }))
    .optional()
    .openapi({ description: 'Roster owners; present only for callers with resident:read' }),
  members: z
    .array(
      z.object({
        id: z.uuid(),
        residentId: z.uuid(),
        name: z.string().nullable(),
        role: z.enum(MEMBER_ROLES),
        isPrimary: z.boolean(),
        phoneMasked: z.string(),
        tenancyStart: z.string().nullable(),
        tenancyEnd: z.string().nullable(),
        since: z.iso.datetime(),
      }),
    )
    .optional()
    .openapi({ description: 'Residents living in the house now; present only for callers with resident:read' }),
}).openapi('HouseDetail');

const HouseParams = CommunityParams.extend({ houseId: z.uuid().openapi({ param: { name: 'houseId', in: 'path' } }) });

const HouseQuery = z.object({
  building: z.uuid().optional().openapi({ description: 'Building id' }),
  status: Status.optional(),
  q: z.string().trim().min(1).max(100).optional().openapi({ description: 'Part of the house code, or of the primary owner’s name (with resident:read)' }),
  limit: Limit,
  cursor: Cursor,
});

const HousePatch = z
  .strictObject({ status: Status.optional(), floorAreaM2: FloorAreaM2.optional() })
  .refine((b) => b.status !== undefined || b.floorAreaM2 !== undefined, 'send status, floorAreaM2 or both')
  .openapi('HousePatch');

/** Houses: the filtered list, one house with its people (masked), and changes to status and area. */
export const houseRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/houses',
      tags: ['Estate'],
      summary: 'Houses of a community, filtered and paginated',
      description: 'Sorted by building, unit, floor and room. primaryOwnerName is included only for callers with resident:read.',
      security: bearerSecurity,
      middleware: [staffOnly('community:read')] as const,
      request: { params: CommunityParams, query: HouseQuery },
      responses: {
        200: jsonResponse(z.object({ items: z.array(HouseListItem), nextCursor: z.string().nullable() }), 'One page of houses'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { building, status, q, limit, cursor } = c.req.valid('query');
      const { db } = c.get('deps');
      const { staff } = await scopedCommunity(c, 'community:read', communityId);
      const page = await listHouses(db, communityId, { buildingId: building, status, q }, { limit, cursor }, roleCan(staff.role, 'resident:read'));
      return c.json(page, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/houses/{houseId}',
      tags: ['Estate'],
      summary: 'One house; with resident:read also its roster owners and current residents, masked',
      description:
        'Callers without resident:read (technician, gate guard, finance) get the house without the owners and members fields: ' +
        'the house itself is theirs to see, the people in it are not.',
      security: bearerSecurity,
      middleware: [staffOnly('community:read')] as const,
      request: { params: HouseParams },
      responses: { 200: jsonResponse(HouseDetail, 'The house'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { communityId, houseId } = c.req.valid('param');
      const { db, vault } = c.get('deps');
      const { staff } = await scopedCommunity(c, 'community:read', communityId);
      const house = houseView(await loadHouse(db, communityId, houseId));
      if (!roleCan(staff.role, 'resident:read')) return c.json(house, 200);
      return c.json({ ...house, ...(await housePeople(db, vault, houseId)) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/communities/{communityId}/houses/{houseId}',
      tags: ['Estate'],
      summary: 'Change a house’s status or floor area',
      description: 'Requires house:write. floorAreaM2 is a decimal string with at most two decimals. Recorded in the audit log with before and after.',
      security: bearerSecurity,
      middleware: [staffOnly('house:write')] as const,
      request: { params: HouseParams, body: jsonBody(HousePatch) },
      responses: { 200: jsonResponse(House, 'The house as it is now'), ...problemResponses(400, 401, 403, 404, 413, 415) },
    }),
    async (c) => {
      const { communityId, houseId } = c.req.valid('param');
      const patch = c.req.valid('json');
      const deps = c.get('deps');
      await scopedCommunity(c, 'house:write', communityId);
      const updated = await deps.db.transaction(async (tx) => {
        const row = await loadHouse(tx, communityId, houseId, true);
        const before = { status: row.house.status, floorAreaM2: row.house.floorAreaM2 };
        const after = { status: patch.status ?? before.status, floorAreaM2: patch.floorAreaM2 ? canonicalArea(patch.floorAreaM2) : before.floorAreaM2 };
        // An unchanged PATCH writes nothing and records nothing, so a retried request leaves no trace twice.
        if (after.status === before.status && after.floorAreaM2 === before.floorAreaM2) return row;
        const [house] = await tx
          .update(houses)
          .set({ ...after, updatedAt: deps.now() })
          .where(and(eq(houses.id, houseId), eq(houses.communityId, communityId)))
          .returning();
        await recordAudit(c, { action: HOUSE_UPDATE, outcome: 'success', communityId, targetKind: 'house', targetId: houseId, details: { code: row.house.code, before, after } }, tx);
        return { ...row, house: house! };
      });
      return c.json(houseView(updated), 200);
    },
  );
