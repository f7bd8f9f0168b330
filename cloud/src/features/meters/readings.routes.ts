import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq, lt } from 'drizzle-orm';
import { requireResident } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { Cursor, decodeCursor, keysetPage, Limit } from '../../http/paging.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, CommunityParams, invalid, jsonResponse, signedIn, staffOnly } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { houses } from '../estate/estate.schema.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { gateways, ingestRejections } from '../gateways/gateways.schema.js';
import { requireMembership } from '../people/membership.js';
import { readRosterFile } from '../roster/roster-file.js';
import { HouseParams, HouseReadingQuery, HouseReadings, ImportResult, ImportRowError, MyHouseParams, Rejection } from './meters.api.js';
import { houseReadings } from './meters.service.js';
import { importReadings, parseReadTime } from './reading-import.js';

const DEFAULT_SPAN_MS = 31 * 86_400_000;
const MAX_SPAN_MS = 400 * 86_400_000;

function houseRange(q: z.infer<typeof HouseReadingQuery>, nowMs: number) {
  const to = q.to ? Date.parse(q.to) : nowMs;
  const from = q.from ? Date.parse(q.from) : to - DEFAULT_SPAN_MS;
  if (from >= to) invalid('from', 'must be before to');
  if (to - from > MAX_SPAN_MS) invalid('from', 'the range may span at most 400 days');
  return { from: new Date(from), to: new Date(to), kind: q.kind };
}

const houseReadingsResponses = { 200: jsonResponse(HouseReadings, 'Every meter the house has had, with its readings in the range') };

const importProblem = z
  .object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string().optional(), errors: z.array(ImportRowError).optional() })
  .openapi('ReadingImportProblem');

/** House readings for staff and residents, the CSV import of hand readings, and ingest rejections. */
export const readingRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/houses/{houseId}/readings',
      tags: ['Meters'],
      summary: 'Readings of every meter of a house, replaced meters included',
      security: bearerSecurity,
      middleware: [staffOnly('meter:read')] as const,
      request: { params: HouseParams, query: HouseReadingQuery },
      responses: { ...houseReadingsResponses, ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { communityId, houseId } = c.req.valid('param');
      const deps = c.get('deps');
      await scopedCommunity(c, 'meter:read', communityId);
      const [house] = await deps.db.select({ id: houses.id }).from(houses).where(and(eq(houses.id, houseId), eq(houses.communityId, communityId)));
      if (!house) throw new Problem('not-found', 'No such house in this community');
      const range = houseRange(c.req.valid('query'), deps.now().getTime());
      const list = await houseReadings(deps.db, houseId, range);
      return c.json({ houseId, from: range.from.toISOString(), to: range.to.toISOString(), meters: list }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/houses/{houseId}/readings',
      tags: ['Meters'],
      summary: 'A resident\'s own house: readings of its meters',
      description:
        'Only for a live member of the house; any other house answers 404, as if it did not exist. A tenant sees readings from the start of the tenancy on (`from` is moved there and answered as such); owners and family see the whole history.',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { params: MyHouseParams, query: HouseReadingQuery },
      responses: { ...houseReadingsResponses, ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { houseId } = c.req.valid('param');
      const resident = requireResident(c);
      const deps = c.get('deps');
      const { member, community } = await requireMembership(deps, resident.residentId, houseId);
      const range = houseRange(c.req.valid('query'), deps.now().getTime());
      if (member.role === 'tenant' && member.tenancyStart) {
        // The house's readings before the tenancy belong to earlier occupants. The tenancy starts at
        // midnight of its first day in the community's time zone.
        const startMs = parseReadTime(`${member.tenancyStart} 00:00`, community.timeZone)!;
        if (range.from.getTime() < startMs) range.from = new Date(Math.min(startMs, range.to.getTime()));
      }
      const list = await houseReadings(deps.db, houseId, range);
      return c.json({ houseId, from: range.from.toISOString(), to: range.to.toISOString(), meters: list }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/meter-readings/import',
      tags: ['Meters'],
      summary: 'Import hand-read meter readings (CSV or XLSX)',
      description:
        'Columns serialNo (表号), readAt (抄表时间: ISO 8601 with offset, or "2025-03-01 08:00" in the community\'s time zone), value (读数). ' +
        'All or nothing: with any bad row nothing is written and every bad row is listed in `errors`.',
      security: bearerSecurity,
      middleware: [staffOnly('meter:write')] as const,
      request: {
        params: CommunityParams,
        body: {
          required: true,
          content: { 'multipart/form-data': { schema: z.object({ file: z.custom<File>((v) => v instanceof File).openapi({ type: 'string', format: 'binary' }) }) } },
        },
      },
      responses: {
        200: jsonResponse(ImportResult, 'Imported'),
        400: { description: 'Bad rows (every one in `errors`); nothing written', content: { 'application/problem+json': { schema: importProblem } } },
        ...problemResponses(401, 403, 413, 415, 422),
      },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const deps = c.get('deps');
      const { staff, community } = await scopedCommunity(c, 'meter:write', communityId);
      const form = await c.req.parseBody();
      const file = form['file'];
      if (!(file instanceof File)) invalid('file', 'send the readings file in the multipart field "file"');
      const table = await readRosterFile(new Uint8Array(await file.arrayBuffer()), file.name);
      const summary = await importReadings(deps, { communityId, timeZone: community.timeZone, table, staffId: staff.staffId });
      await recordAudit(c, { action: 'reading.import', outcome: 'success', communityId, targetKind: 'community', targetId: communityId, details: { fileName: file.name.slice(0, 200), ...summary } });
      return c.json(summary, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/ingest-rejections',
      tags: ['Meters'],
      summary: 'What the community\'s gateways sent that could not be stored, and why (newest first)',
      security: bearerSecurity,
      middleware: [staffOnly('meter:read')] as const,
      request: {
        params: CommunityParams,
        query: z.object({ reason: z.string().max(64).optional(), gatewayId: z.uuid().optional(), limit: Limit, cursor: Cursor }),
      },
      responses: { 200: jsonResponse(z.object({ items: z.array(Rejection), nextCursor: z.string().nullable() }), 'One page of rejections'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'meter:read', communityId);
      const before = q.cursor ? decodeCursor(q.cursor, z.tuple([z.number().int()]))[0] : undefined;
      const rows = await db
        .select({ r: ingestRejections })
        .from(ingestRejections)
        .innerJoin(gateways, eq(gateways.id, ingestRejections.gatewayId))
        .where(
          and(
            eq(gateways.communityId, communityId),
            q.reason ? eq(ingestRejections.reason, q.reason) : undefined,
            q.gatewayId ? eq(ingestRejections.gatewayId, q.gatewayId) : undefined,
            before !== undefined ? lt(ingestRejections.id, before) : undefined,
          ),
        )
        .orderBy(desc(ingestRejections.id))
        .limit(q.limit + 1);
      const page = keysetPage(
        rows.map(({ r }) => ({ ...r, receivedAt: r.receivedAt.toISOString() })),
        q.limit,
        (r) => [r.id],
      );
      return c.json(page, 200);
    },
  );
