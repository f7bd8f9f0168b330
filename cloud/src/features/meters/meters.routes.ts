import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { decodeCursor, keysetPage } from '../../http/paging.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, CommunityParams, invalid, isUniqueViolation, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { houses } from '../estate/estate.schema.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { gateways } from '../gateways/gateways.schema.js';
import type { Permission } from '../rbac/permissions.js';
import { billingPoint, meterFacts } from './meter-facts.js';
import { ManualReading, Meter, MeterCreate, MeterParams, MeterQuery, MeterReplace, Reading, ReadingQuery } from './meters.api.js';
import { meterReadings, meters } from './meters.schema.js';
import { handReading, handReadingProblem, latestReading, listReadings, loadMeter, lockMeter, meterView, readingView, replaceMeter } from './meters.service.js';
import { storeReadings } from './reading-store.js';

/** The meter, after checking the caller may act on its community with `permission`. */
async function scopedMeter(c: Context<AppEnv>, permission: Permission, meterId: string) {
  const meter = await loadMeter(c.get('deps').db, meterId);
  const staff = requireStaff(c, permission, meter.communityId);
  return { meter, staff };
}

const optionalDate = (s: string | undefined) => (s === undefined ? undefined : new Date(s));

/** Meters: register, list, replace; per-meter readings, the latest one, and hand-entered readings. */
export const meterListRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/meters',
      tags: ['Meters'],
      summary: 'Meters of a community, by house and kind',
      description: 'Sorted by serial number. Replaced meters are left out unless includeRemoved=true.',
      security: bearerSecurity,
      middleware: [staffOnly('meter:read')] as const,
      request: { params: CommunityParams, query: MeterQuery },
      responses: { 200: jsonResponse(z.object({ items: z.array(Meter), nextCursor: z.string().nullable() }), 'One page of meters'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'meter:read', communityId);
      const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string()]))[0] : undefined;
      const rows = await db
        .select()
        .from(meters)
        .where(
          and(
            eq(meters.communityId, communityId),
            q.house ? eq(meters.houseId, q.house) : undefined,
            q.shared === 'true' ? isNull(meters.houseId) : undefined,
            q.kind ? eq(meters.kind, q.kind) : undefined,
            q.includeRemoved === 'true' ? undefined : isNull(meters.removedAt),
            after !== undefined ? gt(meters.serialNo, after) : undefined,
          ),
        )
        .orderBy(asc(meters.serialNo))
        .limit(q.limit + 1);
      const page = keysetPage(rows, q.limit, (m) => [m.serialNo]);
      return c.json({ items: page.items.map(meterView), nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/meters',
      tags: ['Meters'],
      summary: 'Register a meter',
      description:
        'A house meter (houseId) or a shared-area one (shared: true). The billing quantity is the model\'s first cumulative point. ' +
        'With gatewayId and deviceId the gateway\'s readings reach it; without, it is read by hand. 409 when the serial number or the gateway device id is taken.',
      security: bearerSecurity,
      middleware: [staffOnly('meter:write')] as const,
      request: { params: CommunityParams, body: jsonBody(MeterCreate) },
      responses: { 201: jsonResponse(Meter, 'The meter'), ...problemResponses(400, 401, 403, 409, 413, 415) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      await scopedCommunity(c, 'meter:write', communityId);
      if (body.houseId) {
        const [house] = await deps.db.select({ id: houses.id }).from(houses).where(and(eq(houses.id, body.houseId), eq(houses.communityId, communityId)));
        if (!house) invalid('houseId', 'is not a house of this community');
      }
      if (body.gatewayId) {
        const [gateway] = await deps.db.select().from(gateways).where(and(eq(gateways.id, body.gatewayId), eq(gateways.communityId, communityId)));
        if (!gateway || gateway.revokedAt) invalid('gatewayId', 'is not a live gateway of this community');
      }
      const point = billingPoint(body.model)!;
      try {
        const row = await deps.db.transaction(async (tx) => {
          const [created] = await tx
            .insert(meters)
            .values({
              communityId,
              houseId: body.houseId ?? null,
              kind: body.kind,
              model: body.model,
              serialNo: body.serialNo,
              billingQuantity: point.quantity,
              unit: point.unit,
              gatewayId: body.gatewayId ?? null,
              deviceId: body.deviceId ?? null,
              busId: body.busId ?? null,
              modbusUnitId: body.modbusUnitId ?? null,
              pollSeconds: body.pollSeconds,
              installedAt: optionalDate(body.installedAt) ?? deps.now(),
            })
            .returning();
          await recordAudit(c, { action: 'meter.create', outcome: 'success', communityId, targetKind: 'meter', targetId: created!.id, details: { serialNo: body.serialNo, model: body.model } }, tx);
          return created!;
        });
        return c.json(meterView(row), 201);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Problem('conflict', 'A meter with this serial number, or on this gateway device id, already exists in the community');
        throw error;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/meters/{meterId}/replace',
      tags: ['Meters'],
      summary: 'Replace a meter: close the old one, install the new one in its place',
      description:
        'The old meter keeps its readings (with finalReading, if given, at `at`); the new one takes the same house, gateway device id, model and schedule and starts at newInitialReading. ' +
        'Gateway readings dated after `at` belong to the new meter, and its first reading is not compared with the old counter.',
      security: bearerSecurity,
      middleware: [staffOnly('meter:write')] as const,
      request: { params: MeterParams, body: jsonBody(MeterReplace) },
      responses: {
        200: jsonResponse(z.object({ old: Meter, new: Meter, movedReadings: z.number().int() }), 'Both meters as they are now'),
        ...problemResponses(400, 401, 403, 404, 409, 413, 415),
      },
    }),
    async (c) => {
      const { meterId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { meter, staff } = await scopedMeter(c, 'meter:write', meterId);
      const deps = c.get('deps');
      try {
        const result = await deps.db.transaction(async (tx) => {
          const out = await replaceMeter(tx, meterId, { ...body, at: new Date(body.at) }, staff.staffId, deps.now().getTime());
          await recordAudit(
            c,
            { action: 'meter.replace', outcome: 'success', communityId: meter.communityId, targetKind: 'meter', targetId: meterId, details: { newMeterId: out.fresh.id, newSerialNo: body.newSerialNo, at: body.at } },
            tx,
          );
          return out;
        });
        return c.json({ old: meterView(result.old), new: meterView(result.fresh), movedReadings: result.movedReadings }, 200);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Problem('conflict', 'The new serial number is already used in this community');
        throw error;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/meters/{meterId}/readings',
      tags: ['Meters'],
      summary: 'Readings of one meter, oldest first',
      security: bearerSecurity,
      middleware: [staffOnly('meter:read')] as const,
      request: { params: MeterParams, query: ReadingQuery },
      responses: { 200: jsonResponse(z.object({ items: z.array(Reading), nextCursor: z.string().nullable() }), 'One page of readings'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { meterId } = c.req.valid('param');
      const q = c.req.valid('query');
      await scopedMeter(c, 'meter:read', meterId);
      return c.json(await listReadings(c.get('deps').db, meterId, { from: optionalDate(q.from), to: optionalDate(q.to) }, q), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/meters/{meterId}/latest',
      tags: ['Meters'],
      summary: 'The latest reading of a meter (by read time)',
      security: bearerSecurity,
      middleware: [staffOnly('meter:read')] as const,
      request: { params: MeterParams },
      responses: { 200: jsonResponse(Reading, 'The latest reading'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const { meterId } = c.req.valid('param');
      await scopedMeter(c, 'meter:read', meterId);
      const row = await latestReading(c.get('deps').db, meterId);
      if (!row) throw new Problem('not-found', 'The meter has no readings yet');
      return c.json(readingView(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/meters/{meterId}/readings',
      tags: ['Meters'],
      summary: 'Enter a reading by hand',
      description: 'Stored with source "manual" and the staff member, and judged like any reading (backwards, rollover, spike, gap). 409 when the meter already has a reading at that time.',
      security: bearerSecurity,
      middleware: [staffOnly('meter:write')] as const,
      request: { params: MeterParams, body: jsonBody(ManualReading) },
      responses: { 201: jsonResponse(Reading, 'The stored reading with its anomaly flags'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const { meterId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { meter, staff } = await scopedMeter(c, 'meter:write', meterId);
      const deps = c.get('deps');
      const atMs = Date.parse(body.readAt);
      const problem = handReadingProblem(meter, atMs, deps.now().getTime());
      if (problem) invalid('readAt', problem);
      const stored = await deps.db.transaction(async (tx) => {
        await lockMeter(tx, meterId);
        const { inserted } = await storeReadings(tx, [handReading(meterFacts(meter), { atMs, value: body.value }, 'manual', staff.staffId)], deps.now());
        if (inserted.length === 0) throw new Problem('conflict', `The meter already has a reading at ${new Date(atMs).toISOString()}`);
        await recordAudit(
          c,
          { action: 'reading.manual', outcome: 'success', communityId: meter.communityId, targetKind: 'meter', targetId: meterId, details: { readAt: body.readAt, value: body.value, note: body.note ?? null } },
          tx,
        );
        return inserted[0]!;
      });
      const row = await latestAt(deps.db, meterId, stored.atMs);
      return c.json(readingView(row), 201);
    },
  );

/** The stored row of a reading just written, as the API shows it. */
async function latestAt(db: AppEnv['Variables']['deps']['db'], meterId: string, atMs: number) {
  const [row] = await db.select().from(meterReadings).where(and(eq(meterReadings.meterId, meterId), eq(meterReadings.readAt, new Date(atMs))));
  return row!;
}
