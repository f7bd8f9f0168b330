import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { Cursor, decodeCursor, keysetPage, Limit } from '../../http/paging.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, CommunityParams, invalid, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { houses } from '../estate/estate.schema.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { addDays, checkTiles, localDate, maxDate, parseDate, parsePeriodLabel, periodContaining, periodLabel, type BillingCycle, type Period } from './billing-periods.js';
import { RunCreate, RunHold, RunParams, RunView } from './billing.api.js';
import { billRunHolds, billRuns, feeItems } from './billing.schema.js';
import { settingsOf } from './billing.jobs.js';
import { discardRun, postRun, startRun } from './bill-run.js';
import { money } from './bill-views.js';

type Run = typeof billRuns.$inferSelect;

export function runView(run: Run) {
  const period: Period = { start: run.periodStart, end: run.periodEnd };
  const { totalFen, byFeeItem, ...report } = run.report ?? { totalFen: 0, byFeeItem: [] };
  return {
    id: run.id,
    communityId: run.communityId,
    cycle: run.cycle,
    period: { ...period, label: periodLabel(run.cycle, period) },
    status: run.status,
    trigger: run.trigger,
    dueOn: run.dueOn,
    createdAt: run.createdAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    postedAt: run.postedAt?.toISOString() ?? null,
    report: run.report
      ? { ...(report as Omit<NonNullable<Run['report']>, 'totalFen' | 'byFeeItem'>), total: money(totalFen), byFeeItem: byFeeItem.map(({ totalFen: fen, ...r }) => ({ ...r, total: money(fen) })) }
      : null,
    failure: run.failure,
  };
}

async function scopedRun(c: Context<AppEnv>, permission: 'billing:read' | 'billing:run', runId: string) {
  const [run] = await c.get('deps').db.select().from(billRuns).where(eq(billRuns.id, runId));
  if (!run) throw new Problem('not-found', 'No such bill run');
  const staff = requireStaff(c, permission, run.communityId);
  return { run, staff };
}

/** "2026-11" or "2026-11-01..2026-12-01": a period of the cycle, or a 400 saying why it does not tile. */
function periodOf(cycle: BillingCycle, text: string): Period {
  try {
    const range = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(text);
    return range ? checkTiles(cycle, { start: range[1]!, end: range[2]! }) : parsePeriodLabel(cycle, text);
  } catch (error) {
    return invalid('period', (error as Error).message);
  }
}

const RunList = z.object({ items: z.array(RunView), nextCursor: z.string().nullable() });
const RunListQuery = z.object({ cursor: Cursor, limit: Limit });
const HoldPage = z.object({ items: z.array(RunHold), nextCursor: z.string().nullable() });

/** Bill runs: start (preview or post at once), follow, post, discard, and the houses each held back. */
export const billRunRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/bill-runs',
      tags: ['Billing'],
      summary: 'Start a bill run for a cycle and period',
      description:
        'Computes every house × fee item of the cycle in the background (202; follow GET /bill-runs/{id}). Time-based items bill the period; metered and shared ' +
        'items bill the consumption of the period before. Idempotent on (house, fee item, period): what was billed is skipped and counted as alreadyBilled. ' +
        'A period must tile the cycle (2026-11, 2026-Q4, 2026, or start..end on the cycle’s edges) and must have begun. 409 while another run of the same period is computing or waiting.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:run')] as const,
      request: { params: CommunityParams, body: jsonBody(RunCreate) },
      responses: { 202: jsonResponse(RunView, 'The run, computing'), ...problemResponses(400, 401, 403, 409, 413, 415) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      const { staff, community } = await scopedCommunity(c, 'billing:run', communityId);
      const period = periodOf(body.cycle, body.period);
      const today = localDate(deps.now(), community.timeZone);
      const current = periodContaining(body.cycle, today);
      if (period.start > current.start) invalid('period', `${periodLabel(body.cycle, period)} has not begun; the current ${body.cycle} period is ${periodLabel(body.cycle, current)} (bill ahead with a prepayment)`);
      const [item] = await deps.db
        .select({ id: feeItems.id })
        .from(feeItems)
        .where(and(eq(feeItems.communityId, communityId), eq(feeItems.cycle, body.cycle), sql`${feeItems.archivedAt} is null`))
        .limit(1);
      if (!item) invalid('cycle', `the community has no ${body.cycle} fee items to bill`);
      if (body.dueOn) {
        try {
          parseDate(body.dueOn);
        } catch (error) {
          invalid('dueOn', (error as Error).message);
        }
        if (body.dueOn < period.start) invalid('dueOn', `must not be before the period starts (${period.start})`);
      }
      // Owners get the due days from the day the bills are issued, even when a period is billed late.
      const dueDays = body.dueOn ? null : (await settingsOf(deps, communityId)).dueDays;
      const dueOn = body.dueOn ?? addDays(maxDate(period.start, today), dueDays!);
      const run = await startRun(deps, { communityId, cycle: body.cycle, period, dueOn, dueDays, trigger: 'manual', postWhenDone: body.post, createdBy: staff.staffId });
      await recordAudit(c, { action: 'billing.run_start', outcome: 'success', communityId, targetKind: 'bill_run', targetId: run.id, details: { cycle: body.cycle, period: periodLabel(body.cycle, period), post: body.post } });
      return c.json(runView(run), 202);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/bill-runs',
      tags: ['Billing'],
      summary: 'Bill runs of a community, newest first',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityParams, query: RunListQuery },
      responses: { 200: jsonResponse(RunList, 'One page of runs'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      await scopedCommunity(c, 'billing:read', communityId);
      const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.iso.datetime(), z.uuid()])) : null;
      const rows = await c
        .get('deps')
        .db.select()
        .from(billRuns)
        .where(and(eq(billRuns.communityId, communityId), after ? sql`(${billRuns.createdAt}, ${billRuns.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : undefined))
        .orderBy(desc(billRuns.createdAt), desc(billRuns.id))
        .limit(q.limit + 1);
      const page = keysetPage(rows, q.limit, (r) => [r.createdAt.toISOString(), r.id]);
      return c.json({ items: page.items.map(runView), nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/bill-runs/{runId}',
      tags: ['Billing'],
      summary: 'A bill run and its report: counts, totals per fee item, held lines',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: RunParams },
      responses: { 200: jsonResponse(RunView, 'The run'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const { run } = await scopedRun(c, 'billing:read', c.req.valid('param').runId);
      return c.json(runView(run), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/bill-runs/{runId}/holds',
      tags: ['Billing'],
      summary: 'What a run could not bill, house by house, with the reason',
      description: 'missing-reading, backwards-reading (held for review), no-meter, no-tariff, shared-meter (the common meter itself; houseId null), no-history (nothing to estimate from).',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: RunParams, query: RunListQuery },
      responses: { 200: jsonResponse(HoldPage, 'One page of held lines'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { run } = await scopedRun(c, 'billing:read', c.req.valid('param').runId);
      const q = c.req.valid('query');
      const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.number().int().nonnegative()]))[0] : 0;
      const rows = await c
        .get('deps')
        .db.select({ hold: billRunHolds, houseCode: houses.code, feeItemCode: feeItems.code })
        .from(billRunHolds)
        .innerJoin(feeItems, eq(feeItems.id, billRunHolds.feeItemId))
        .leftJoin(houses, eq(houses.id, billRunHolds.houseId))
        .where(and(eq(billRunHolds.runId, run.id), gt(billRunHolds.id, after)))
        .orderBy(asc(billRunHolds.id))
        .limit(q.limit + 1);
      const page = keysetPage(rows, q.limit, (r) => [r.hold.id]);
      return c.json(
        {
          items: page.items.map((r) => ({
            houseId: r.hold.houseId,
            houseCode: r.houseCode,
            feeItemId: r.hold.feeItemId,
            feeItemCode: r.feeItemCode,
            reason: r.hold.reason as z.infer<typeof RunHold>['reason'],
            detail: r.hold.detail,
          })),
          nextCursor: page.nextCursor,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/bill-runs/{runId}/post',
      tags: ['Billing'],
      summary: 'Post a previewed run: its bills reach owners and can no longer change',
      security: bearerSecurity,
      middleware: [staffOnly('billing:run')] as const,
      request: { params: RunParams },
      responses: { 200: jsonResponse(RunView, 'The posted run'), ...problemResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const { run, staff } = await scopedRun(c, 'billing:run', c.req.valid('param').runId);
      const posted = await postRun(c.get('deps'), run.id, staff.staffId);
      await recordAudit(c, { action: 'billing.run_post', outcome: 'success', communityId: run.communityId, targetKind: 'bill_run', targetId: run.id, details: { bills: posted.report?.bills ?? 0, totalFen: posted.report?.totalFen ?? 0 } });
      return c.json(runView(posted), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/bill-runs/{runId}/discard',
      tags: ['Billing'],
      summary: 'Discard a previewed run: its draft bills are deleted, the run stays on record',
      security: bearerSecurity,
      middleware: [staffOnly('billing:run')] as const,
      request: { params: RunParams },
      responses: { 200: jsonResponse(RunView, 'The discarded run'), ...problemResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const { run } = await scopedRun(c, 'billing:run', c.req.valid('param').runId);
      const discarded = await discardRun(c.get('deps'), run.id);
      await recordAudit(c, { action: 'billing.run_discard', outcome: 'success', communityId: run.communityId, targetKind: 'bill_run', targetId: run.id });
      return c.json(runView(discarded), 200);
    },
  );
