import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, count, eq, gt, like, sql, type SQL } from 'drizzle-orm';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { parkingLots, parkingSpaces, vehicles } from '../parking/parking.schema.js';
import { residents } from '../people/people.schema.js';
import { roleCan } from '../rbac/permissions.js';
import { houses } from './estate.schema.js';
import { normalizePlate } from './estate-values.js';
import { scopedCommunity } from './estate.service.js';
import { Cursor, decodeCursor, keysetPage, Limit, Offset } from '../../http/paging.js';
import { bearerSecurity, CommunityParams, containsPattern, jsonResponse, staffOnly } from '../../http/route-kit.js';

const ParkingLot = z
  .object({
    id: z.uuid(),
    name: z.string(),
    capacity: z.number().int(),
    spaces: z.object({ owned: z.number().int(), rented: z.number().int(), public: z.number().int(), total: z.number().int() }),
  })
  .openapi('ParkingLot');

const Vehicle = z
  .object({
    id: z.uuid(),
    plate: z.string().openapi({ example: '沪A12345' }),
    houseId: z.uuid().nullable(),
    houseCode: z.string().nullable(),
    ownerName: z.string().nullable().optional().openapi({ description: 'Present only for callers with resident:read' }),
    createdAt: z.iso.datetime(),
  })
  .openapi('Vehicle');

const VehicleQuery = z.object({
  plate: z
    .string()
    .max(32)
    .transform(normalizePlate)
    .refine((p) => p.length > 0, 'must contain at least one letter or digit')
    .optional()
    .openapi({ type: 'string', description: 'Part of a plate; case, spaces, dots and middle dots are ignored', example: '沪A·123' }),
  limit: Limit,
  cursor: Cursor,
});

const PlateKey = z.tuple([z.string()]);

/** Parking lots with space counts, and the vehicles registered in a community. */
export const parkingRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/parking-lots',
      tags: ['Parking'],
      summary: 'Parking lots of a community with their spaces counted by kind',
      security: bearerSecurity,
      middleware: [staffOnly('parking:read')] as const,
      request: { params: CommunityParams, query: z.object({ limit: Limit, offset: Offset }) },
      responses: {
        200: jsonResponse(z.object({ items: z.array(ParkingLot), total: z.number().int() }), 'One page of lots, by name'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { limit, offset } = c.req.valid('query');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'parking:read', communityId);
      const kindCount = (kind: string) => sql<number>`(count(${parkingSpaces.id}) filter (where ${parkingSpaces.kind} = ${kind}))::int`;
      const [rows, [total]] = await Promise.all([
        db
          .select({
            id: parkingLots.id,
            name: parkingLots.name,
            capacity: parkingLots.capacity,
            owned: kindCount('owned'),
            rented: kindCount('rented'),
            public: kindCount('public'),
            total: sql<number>`count(${parkingSpaces.id})::int`,
          })
          .from(parkingLots)
          .leftJoin(parkingSpaces, eq(parkingSpaces.lotId, parkingLots.id))
          .where(eq(parkingLots.communityId, communityId))
          .groupBy(parkingLots.id)
          .orderBy(asc(parkingLots.name))
          .limit(limit)
          .offset(offset),
        db.select({ n: count() }).from(parkingLots).where(eq(parkingLots.communityId, communityId)),
      ]);
      const items = rows.map((r) => ({
        id: r.id,
        name: r.name,
        capacity: r.capacity,
        spaces: { owned: Number(r.owned), rented: Number(r.rented), public: Number(r.public), total: Number(r.total) },
      }));
      return c.json({ items, total: total?.n ?? 0 }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/vehicles',
      tags: ['Parking'],
      summary: 'Vehicles registered in a community, optionally matching part of a plate',
      description: 'Sorted by plate. ownerName is included only for callers with resident:read.',
      security: bearerSecurity,
      middleware: [staffOnly('parking:read')] as const,
      request: { params: CommunityParams, query: VehicleQuery },
      responses: {
        200: jsonResponse(z.object({ items: z.array(Vehicle), nextCursor: z.string().nullable() }), 'One page of vehicles'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { plate, limit, cursor } = c.req.valid('query');
      const { db } = c.get('deps');
      const { staff } = await scopedCommunity(c, 'parking:read', communityId);
      const conditions: SQL[] = [eq(vehicles.communityId, communityId)];
      // Stored plates are already normalised (upper case), so a plain LIKE matches what the guard typed.
      if (plate) conditions.push(like(vehicles.plate, containsPattern(plate)));
      if (cursor) conditions.push(gt(vehicles.plate, decodeCursor(cursor, PlateKey)[0]));
      const rows = await db
        .select({ id: vehicles.id, plate: vehicles.plate, houseId: vehicles.houseId, houseCode: houses.code, ownerName: residents.name, createdAt: vehicles.createdAt })
        .from(vehicles)
        .leftJoin(houses, eq(houses.id, vehicles.houseId))
        .leftJoin(residents, eq(residents.id, vehicles.ownerResidentId))
        .where(and(...conditions))
        .orderBy(asc(vehicles.plate))
        .limit(limit + 1);
      const page = keysetPage(rows, limit, (r) => [r.plate]);
      const withOwners = roleCan(staff.role, 'resident:read');
      const items = page.items.map(({ ownerName, createdAt, ...v }) => ({ ...v, createdAt: createdAt.toISOString(), ...(withOwners ? { ownerName } : {}) }));
      return c.json({ items, nextCursor: page.nextCursor }, 200);
    },
  );
