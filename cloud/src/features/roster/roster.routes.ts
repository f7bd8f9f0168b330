import { createHash, randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { Problem } from '../../http/problem.js';
import { createRouter } from '../../http/router.js';
import { clientIp, recordAudit } from '../audit/audit-log.js';
import { communities } from '../estate/estate.schema.js';
import { exportRosterCsv } from './roster-export.js';
import { detectFormat } from './roster-file.js';
import { liveProgress } from './roster-progress.js';
import { ROSTER_IMPORT_JOB, storeUpload, type RosterImportJob, type RosterImportOutcome } from './roster.jobs.js';
import { IMPORT_STATUSES, rosterImports } from './roster.schema.js';

const RowError = z
  .object({ row: z.number().int().describe('Row number as the spreadsheet shows it; the header is row 1'), column: z.string().optional(), reason: z.string() })
  .openapi('RosterRowError');
const Counts = z.object({ created: z.number().int(), updated: z.number().int(), unchanged: z.number().int() });
const Summary = z
  .object({
    rows: z.number().int(),
    buildings: z.object({ created: z.number().int(), existing: z.number().int() }),
    units: z.object({ created: z.number().int(), existing: z.number().int() }),
    houses: Counts,
    owners: Counts,
  })
  .openapi('RosterImportSummary');
const RosterImport = z
  .object({
    id: z.uuid(),
    communityId: z.uuid(),
    fileName: z.string(),
    format: z.enum(['csv', 'xlsx']),
    dryRun: z.boolean(),
    status: z.enum(IMPORT_STATUSES).describe('failed: the file or some rows are invalid (see errors) and nothing was written'),
    totalRows: z.number().int(),
    processedRows: z.number().int(),
    errors: z.array(RowError).describe('Every bad row, not just the first'),
    summary: Summary.nullable().describe('What the import changed (dry run: would change)'),
    failure: z.string().nullable(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('RosterImport');
const Problem422 = z
  .object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string().optional(), importId: z.uuid().optional(), errors: z.array(RowError).optional() })
  .openapi('RosterProblem');
const CommunityParam = z.object({ communityId: z.uuid().openapi({ param: { name: 'communityId', in: 'path' } }) });
const problemContent = { 'application/problem+json': { schema: Problem422 } };

const DEFAULT_WAIT_MS = 3000;
const MAX_WAIT_MS = 30_000;

/**
 * How long the upload request waits for the job before answering 202, from the Prefer header
 * (RFC 7240): `respond-async` answers at once, `wait=N` waits up to N seconds.
 */
function waitBudgetMs(prefer: string | undefined): number {
  if (!prefer) return DEFAULT_WAIT_MS;
  if (/\brespond-async\b/i.test(prefer)) return 0;
  const wait = /\bwait=(\d+)/i.exec(prefer);
  return wait ? Math.min(Number(wait[1]) * 1000, MAX_WAIT_MS) : DEFAULT_WAIT_MS;
}

function toResource(row: typeof rosterImports.$inferSelect): z.infer<typeof RosterImport> {
  const live = row.status === 'running' ? liveProgress(row.id) : undefined;
  return {
    id: row.id,
    communityId: row.communityId,
    fileName: row.fileName,
    format: row.format === 'xlsx' ? 'xlsx' : 'csv',
    dryRun: row.dryRun,
    status: row.status,
    totalRows: Math.max(row.totalRows, live?.totalRows ?? 0),
    processedRows: Math.max(row.processedRows, live?.processedRows ?? 0),
    errors: row.errors,
    summary: row.summary ?? null,
    failure: row.failure,
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

const location = (communityId: string, importId: string) => `/v1/communities/${communityId}/roster-imports/${importId}`;

async function readUpload(c: Context<AppEnv>): Promise<File> {
  if (!/^multipart\/form-data/i.test(c.req.header('content-type') ?? '')) {
    throw new Problem('unsupported-media-type', 'Send the roster as multipart/form-data with the file in the field "file"');
  }
  const form = await c.req.parseBody();
  const file = form['file'];
  if (!(file instanceof File)) {
    throw new Problem('validation-failed', 'The form field "file" must hold the roster file (CSV or XLSX)', { errors: [{ path: 'file', message: 'Required file', code: 'custom' }] });
  }
  return file;
}

const postImport = createRoute({
  method: 'post',
  path: '/communities/{communityId}/roster-imports',
  tags: ['Roster'],
  summary: 'Upload an owner roster (CSV or XLSX)',
  description:
    'Validates every row and, unless `dryRun=true`, imports houses and owners in one transaction (all or nothing). Re-importing the same file changes nothing. ' +
    'The request waits up to 3 s for the result (`Prefer: wait=N` up to 30, or `Prefer: respond-async` not at all); a longer import answers 202 and `GET Location` shows progress. ' +
    'Columns (Chinese or English headers): 楼栋/building, 单元/unit, 房号/room, 楼层/floor, 建筑面积/area_m2, 状态/status, 业主姓名/owner_name, 身份证号/id_number, 手机号/phone, 主业主/primary. One row per owner.',
  security: [{ bearer: [] }],
  request: {
    params: CommunityParam,
    query: z.object({ dryRun: z.enum(['true', 'false']).default('false').describe('true: only validate and count what would change') }),
    body: {
      required: false,
      content: {
        'multipart/form-data': {
          schema: z.object({ file: z.custom<File>((v) => v instanceof File, 'must be a file').openapi({ type: 'string', format: 'binary' }) }),
        },
      },
    },
  },
  responses: {
    200: { description: 'Finished within the wait: imported (or, dry run, validated)', content: { 'application/json': { schema: RosterImport } } },
    202: { description: 'Accepted; still running. Poll the Location header', content: { 'application/json': { schema: RosterImport } } },
    403: { description: 'Role lacks roster:import or not assigned to the community', content: problemContent },
    415: { description: 'Not multipart/form-data', content: problemContent },
    422: { description: 'roster-invalid (every bad row in `errors`) or unreadable-file (not UTF-8, formulas, merged cells, missing headers, …); nothing written', content: problemContent },
  },
});

const getImport = createRoute({
  method: 'get',
  path: '/communities/{communityId}/roster-imports/{importId}',
  tags: ['Roster'],
  summary: 'Status, progress, every bad row and the summary of a roster import',
  security: [{ bearer: [] }],
  request: { params: CommunityParam.extend({ importId: z.uuid().openapi({ param: { name: 'importId', in: 'path' } }) }) },
  responses: {
    200: { description: 'The import', content: { 'application/json': { schema: RosterImport } } },
    403: { description: 'Not allowed', content: problemContent },
    404: { description: 'No such import in this community', content: problemContent },
  },
});

const getExport = createRoute({
  method: 'get',
  path: '/communities/{communityId}/roster-export.csv',
  tags: ['Roster'],
  summary: 'Houses and owners as CSV, ID and phone numbers masked (audited)',
  security: [{ bearer: [] }],
  request: { params: CommunityParam },
  responses: {
    200: { description: 'UTF-8 CSV with BOM, one row per owner', content: { 'text/csv': { schema: z.string() } } },
    403: { description: 'Role lacks roster:export or not assigned to the community', content: problemContent },
  },
});

/** Roster import (upload, progress) and export, mounted under /v1. */
export const rosterRoutes = createRouter()
  .openapi(postImport, async (c) => {
    const { communityId } = c.req.valid('param');
    const dryRun = c.req.valid('query').dryRun === 'true';
    const staff = requireStaff(c, 'roster:import', communityId);
    const deps = c.get('deps');
    const file = await readUpload(c);
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (bytes.length === 0) throw new Problem('unreadable-file', 'The file is empty');
    const format = detectFormat(bytes, file.name);

    const importId = randomUUID();
    // The file goes to disk before the row exists, so a job never finds a row without its file.
    await storeUpload(deps.config.DATA_DIR, importId, bytes);
    const [row] = await deps.db
      .insert(rosterImports)
      .values({
        id: importId,
        communityId,
        fileName: file.name.slice(0, 200) || `roster.${format}`,
        fileSha256: createHash('sha256').update(bytes).digest('hex'),
        format,
        dryRun,
        createdBy: staff.staffId,
        createdAt: deps.now(),
      })
      .returning();
    const job: RosterImportJob = { importId, requestId: c.get('requestId'), ip: clientIp(c) };
    await deps.jobs.enqueue(ROSTER_IMPORT_JOB, job, { jobId: importId });

    const budget = waitBudgetMs(c.req.header('prefer'));
    let outcome: RosterImportOutcome | undefined;
    if (budget > 0) {
      let timer: NodeJS.Timeout | undefined;
      outcome = await Promise.race([
        deps.jobs.waitFor(importId, budget + 1000).then(
          (value) => value as RosterImportOutcome,
          () => ({ status: 'failed', problem: 'internal' }) as RosterImportOutcome,
        ),
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), budget))),
      ]);
      clearTimeout(timer);
    }
    const [current] = await deps.db.select().from(rosterImports).where(eq(rosterImports.id, importId));
    const resource = toResource(current ?? row!);
    c.header('location', location(communityId, importId));
    if (resource.status === 'failed') {
      // Without the job's own answer (it outlived the wait) the stored row still tells rows from file.
      const kind = outcome?.problem ?? (resource.errors.length ? 'roster-invalid' : 'unreadable-file');
      throw new Problem(kind, resource.failure ?? undefined, { importId, errors: resource.errors }, { location: location(communityId, importId) });
    }
    if (resource.status === 'succeeded') return c.json(resource, 200);
    c.header('retry-after', '1');
    return c.json(resource, 202);
  })
  .openapi(getImport, async (c) => {
    const { communityId, importId } = c.req.valid('param');
    requireStaff(c, 'roster:import', communityId);
    const [row] = await c
      .get('deps')
      .db.select()
      .from(rosterImports)
      .where(and(eq(rosterImports.id, importId), eq(rosterImports.communityId, communityId)));
    if (!row) throw new Problem('not-found', 'No roster import with this id in this community');
    return c.json(toResource(row), 200);
  })
  .openapi(getExport, async (c) => {
    const { communityId } = c.req.valid('param');
    requireStaff(c, 'roster:export', communityId);
    const deps = c.get('deps');
    const [community] = await deps.db.select({ code: communities.code }).from(communities).where(eq(communities.id, communityId));
    const result = await exportRosterCsv(deps, communityId);
    await recordAudit(c, {
      action: 'roster.export',
      outcome: 'success',
      communityId,
      targetKind: 'community',
      targetId: communityId,
      details: { houses: result.houses, owners: result.owners, masked: true },
    });
    const fileName = `roster-${(community?.code ?? 'community').replace(/[^A-Za-z0-9_-]/g, '_')}.csv`;
    return c.body(result.csv, 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${fileName}"`,
      'cache-control': 'no-store',
    });
  });
