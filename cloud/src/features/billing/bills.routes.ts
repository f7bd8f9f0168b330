import { createRoute, z } from '@hono/zod-openapi';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, CommunityParams, invalid, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { communities } from '../estate/estate.schema.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { localDate } from './billing-periods.js';
import { AdjustmentCreate, AdjustmentView, ArrearsHouse, ArrearsHouseQuery, ArrearsReport, BillDetail, BillPage, BillParams, StaffBillListQuery, WaiverCreate, WaiverView } from './billing.api.js';
import { billAdjustments, billLines, bills, lateFeeWaivers } from './billing.schema.js';
import { arrears, arrearsHouses, billDetail, listBills, loadBill, money, summarize } from './bill-views.js';

/** Today in the bill's community (a route given only a bill id has not loaded the community). */
async function communityToday(c: Context<AppEnv>, communityId: string): Promise<string> {
  const deps = c.get('deps');
  const [community] = await deps.db.select({ timeZone: communities.timeZone }).from(communities).where(eq(communities.id, communityId));
  return localDate(deps.now(), community?.timeZone ?? 'Asia/Shanghai');
}

async function scopedBill(c: Context<AppEnv>, permission: 'billing:read' | 'billing:adjust', billId: string) {
  const bill = await loadBill(c.get('deps').db, billId);
  if (!bill) throw new Problem('not-found', 'No such bill');
  const staff = requireStaff(c, permission, bill.communityId);
  return { bill, staff };
}

const ArrearsHousePage = z.object({ items: z.array(ArrearsHouse), total: z.number().int() });

/** Staff side of bills: lists, detail, adjustments and credit notes, late-fee waivers, arrears. */
export const billRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/bills',
      tags: ['Billing'],
      summary: 'Bills of a community, newest period first',
      description: 'Filter by house, run, period (2026-11, 2026-Q4, 2026), status (draft, open, overdue, paid) and fee type.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityParams, query: StaffBillListQuery },
      responses: { 200: jsonResponse(BillPage, 'One page of bills'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const { community } = await scopedCommunity(c, 'billing:read', communityId);
      const where: SQL[] = [eq(bills.communityId, communityId)];
      if (q.house) where.push(eq(bills.houseId, q.house));
      if (q.run) where.push(eq(bills.runId, q.run));
      return c.json(await listBills(c.get('deps').db, where, q, localDate(c.get('deps').now(), community.timeZone)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/bills/{billId}',
      tags: ['Billing'],
      summary: 'A bill with its lines, their provenance, adjustments and late fees',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: BillParams },
      responses: { 200: jsonResponse(BillDetail, 'The bill'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const { bill } = await scopedBill(c, 'billing:read', c.req.valid('param').billId);
      return c.json(await billDetail(c.get('deps').db, bill, await communityToday(c, bill.communityId)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/bills/{billId}/adjustments',
      tags: ['Billing'],
      summary: 'Correct a posted bill with an adjustment or a credit note',
      description:
        'A posted bill never changes; a correction is a new signed line, audited with its reason. A credit note is negative and at most what the bill still owes; ' +
        'no correction may leave the bill owing less than nothing (refunds go through payments). Drafts are corrected by discarding and re-running.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:adjust')] as const,
      request: { params: BillParams, body: jsonBody(AdjustmentCreate) },
      responses: { 201: jsonResponse(AdjustmentView, 'The adjustment'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { bill, staff } = await scopedBill(c, 'billing:adjust', c.req.valid('param').billId);
      const deps = c.get('deps');
      if (bill.status !== 'posted') throw new Problem('conflict', 'The bill is a draft; discard the run and run it again instead');
      if (body.kind === 'credit-note' && body.amountFen > 0) invalid('amountFen', 'a credit note is negative: it reduces what the owner owes');
      const today = await communityToday(c, bill.communityId);
      const row = await deps.db.transaction(async (tx) => {
        const [current] = await tx.select().from(bills).where(eq(bills.id, bill.id)).for('update');
        if (body.lineId !== undefined) {
          const [line] = await tx.select({ id: billLines.id, amountFen: billLines.amountFen, description: billLines.description }).from(billLines).where(and(eq(billLines.id, body.lineId), eq(billLines.billId, bill.id)));
          if (!line) invalid('lineId', 'is not a line of this bill');
          // A line's correction stays within that line: crediting one line more than it charged would
          // leave the others owing (and accruing late fees) while the bill looks settled.
          const [sum] = await tx.select({ adjusted: sql<string>`coalesce(sum(${billAdjustments.amountFen}), 0)::text` }).from(billAdjustments).where(eq(billAdjustments.lineId, line.id));
          const lineOwes = line.amountFen + Number(sum?.adjusted ?? 0);
          if (lineOwes + body.amountFen < 0) invalid('amountFen', `the line "${line.description}" owes ${money(lineOwes).display}; credit the bill as a whole, or at most that much on this line`);
        }
        const [fresh] = await summarize(tx, [{ ...current!, houseCode: bill.houseCode }], today);
        const outstanding = fresh!.summary.outstanding.fen;
        if (outstanding + body.amountFen < 0) {
          invalid('amountFen', `the bill owes ${money(outstanding).display}; a correction of ${money(body.amountFen).display} would leave it below zero (refund through payments)`);
        }
        const [created] = await tx
          .insert(billAdjustments)
          .values({ billId: bill.id, lineId: body.lineId ?? null, kind: body.kind, amountFen: body.amountFen, reason: body.reason, createdBy: staff.staffId })
          .returning();
        await recordAudit(c, { action: 'billing.adjust', outcome: 'success', communityId: bill.communityId, targetKind: 'bill', targetId: bill.id, details: { kind: body.kind, amountFen: body.amountFen, lineId: body.lineId ?? null, reason: body.reason } }, tx);
        return created!;
      });
      return c.json({ id: row.id, kind: row.kind, lineId: row.lineId, amount: money(row.amountFen), reason: row.reason, createdAt: row.createdAt.toISOString() }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/bills/{billId}/late-fee-waivers',
      tags: ['Billing'],
      summary: 'Waive late fees on a bill, with a reason',
      description: 'At most what has accrued and is not yet waived; without amountFen, all of it. Fees that accrue later are due again. 409 when nothing is due.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:adjust')] as const,
      request: { params: BillParams, body: jsonBody(WaiverCreate) },
      responses: { 201: jsonResponse(WaiverView, 'The waiver'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { bill, staff } = await scopedBill(c, 'billing:adjust', c.req.valid('param').billId);
      const deps = c.get('deps');
      const today = await communityToday(c, bill.communityId);
      const row = await deps.db.transaction(async (tx) => {
        const [current] = await tx.select().from(bills).where(eq(bills.id, bill.id)).for('update');
        const [facts] = await summarize(tx, [{ ...current!, houseCode: bill.houseCode }], today);
        const due = facts!.lateFees.due.fen;
        if (due <= 0) throw new Problem('conflict', 'No late fee is due on this bill');
        const amount = body.amountFen ?? due;
        if (amount > due) invalid('amountFen', `at most ${money(due).display} is due in late fees`);
        const [created] = await tx.insert(lateFeeWaivers).values({ billId: bill.id, amountFen: amount, reason: body.reason, createdBy: staff.staffId }).returning();
        await recordAudit(c, { action: 'billing.late_fee_waive', outcome: 'success', communityId: bill.communityId, targetKind: 'bill', targetId: bill.id, details: { amountFen: amount, reason: body.reason } }, tx);
        return created!;
      });
      return c.json({ id: row.id, amount: money(row.amountFen), reason: row.reason, createdAt: row.createdAt.toISOString() }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/arrears',
      tags: ['Billing'],
      summary: 'Arrears by building: unpaid posted bills past their due date, with late fees to today',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(ArrearsReport, 'The report'), ...problemResponses(401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { community } = await scopedCommunity(c, 'billing:read', communityId);
      return c.json(await arrears(c.get('deps').db, communityId, localDate(c.get('deps').now(), community.timeZone)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/arrears/houses',
      tags: ['Billing'],
      summary: 'Houses in arrears, optionally of one building, by house code',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityParams, query: ArrearsHouseQuery },
      responses: { 200: jsonResponse(ArrearsHousePage, 'One page of houses'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const { community } = await scopedCommunity(c, 'billing:read', communityId);
      return c.json(await arrearsHouses(c.get('deps').db, communityId, localDate(c.get('deps').now(), community.timeZone), q), 200);
    },
  );
