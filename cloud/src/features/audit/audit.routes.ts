import { createRoute, z } from '@hono/zod-openapi';
import { stringify } from 'csv-stringify/sync';
import { requireStaff } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { createRouter } from '../../http/router.js';
import { Cursor, Limit } from '../../http/paging.js';
import { bearerSecurity, invalid, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { recordAudit } from './audit-log.js';
import { auditPage, type AuditFilter, type AuditItem } from './audit-query.js';

const AuditEvent = z
  .object({
    id: z.number().int(),
    at: z.iso.datetime(),
    actorKind: z.string().openapi({ example: 'staff' }),
    actorId: z.uuid().nullable(),
    actorName: z.string().nullable().openapi({ description: 'Display name when the actor is a staff account' }),
    action: z.string().openapi({ example: 'staff.role_change' }),
    outcome: z.string().openapi({ example: 'success' }),
    communityId: z.uuid().nullable(),
    targetKind: z.string().nullable(),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('AuditEvent');

const Filter = {
  communityId: z.uuid().optional().openapi({ description: 'Only events of this community (must be in your scope)' }),
  action: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)*$/, 'must be an action name such as "staff.login"')
    .max(64)
    .optional(),
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Inclusive lower bound, ISO 8601 instant' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Exclusive upper bound, ISO 8601 instant' }),
};

function checkedFilter(query: AuditFilter): AuditFilter {
  if (query.from && query.to && new Date(query.from) > new Date(query.to)) invalid('to', 'must not be before from');
  return query;
}

const CSV_COLUMNS = ['id', 'at', 'actorKind', 'actorId', 'actorName', 'action', 'outcome', 'communityId', 'targetKind', 'targetId', 'ip', 'requestId', 'details'] as const;
const EXPORT_BATCH = 1000;

/**
 * A cell as text a spreadsheet will not execute. Names and details come from users, and a cell starting
 * with = + - @ (or a tab / carriage return) is read as a formula by Excel and LibreOffice
 * (OWASP, "CSV Injection"), so such cells get a leading apostrophe.
 */
function safeCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function csvRows(items: AuditItem[]): string[][] {
  return items.map((item) => CSV_COLUMNS.map((column) => safeCell(item[column])));
}

/** The audit log: a paginated list and a CSV export, both limited to the caller's company and scope. */
export const auditRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/audit-events',
      tags: ['Audit'],
      summary: 'Audit events, newest first',
      description:
        'Requires audit:read. Shows events of the communities in your scope and events whose actor or target is a staff account of your company.',
      security: bearerSecurity,
      middleware: [staffOnly('audit:read')] as const,
      request: { query: z.object({ ...Filter, limit: Limit, cursor: Cursor }) },
      responses: {
        200: jsonResponse(z.object({ items: z.array(AuditEvent), nextCursor: z.string().nullable() }), 'One page of events'),
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { limit, cursor, ...query } = c.req.valid('query');
      const staff = requireStaff(c, 'audit:read', query.communityId);
      return c.json(await auditPage(c.get('deps').db, staff, checkedFilter(query), { limit, cursor }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/audit-events/export.csv',
      tags: ['Audit'],
      summary: 'Audit events as CSV (UTF-8 with BOM, for Excel)',
      description: 'Same filters and visibility as the list, every matching event, newest first. The export itself is recorded as audit.export.',
      security: bearerSecurity,
      middleware: [staffOnly('audit:read')] as const,
      request: { query: z.object(Filter) },
      responses: {
        200: { description: 'CSV file', content: { 'text/csv': { schema: z.string() } } },
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const staff = requireStaff(c, 'audit:read', query.communityId);
      const filter = checkedFilter(query);
      const { db, now } = c.get('deps');
      const log = c.get('log');
      // Recorded before the first row leaves: an export the client abandons halfway still happened.
      await recordAudit(c, { action: 'audit.export', outcome: 'success', communityId: filter.communityId ?? null, details: { format: 'csv', filter } });
      const encoder = new TextEncoder();
      let cursor: string | undefined;
      let started = false;
      // Pulled batch by batch, so memory stays flat however long the log is and a slow client slows the queries.
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const page = await auditPage(db, staff, filter, { limit: EXPORT_BATCH, cursor });
            const text = stringify(csvRows(page.items), started ? {} : { header: true, columns: [...CSV_COLUMNS], bom: true });
            started = true;
            if (text) controller.enqueue(encoder.encode(text));
            if (page.nextCursor) cursor = page.nextCursor;
            else controller.close();
          } catch (error) {
            log.error({ err: error }, 'audit export failed midway');
            controller.error(error);
          }
        },
      });
      const day = now().toISOString().slice(0, 10);
      return c.body(body, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="audit-events-${day}.csv"` });
    },
  );
