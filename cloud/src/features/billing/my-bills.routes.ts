import { createRoute } from '@hono/zod-openapi';
import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { requireResident } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, invalid, isUniqueViolation, jsonBody, jsonResponse, signedIn } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { requireMembership } from '../people/membership.js';
import { addDays, localDate, nextPeriod, periodContaining, type Period } from './billing-periods.js';
import { settingsOf } from './billing.jobs.js';
import { BillDetail, BillingOverview, BillListQuery, BillPage, BillParams, MyHouseParams, PrepayQuote, PrepayRequest } from './billing.api.js';
import { billLines, bills } from './billing.schema.js';
import { billDetail, listBills, loadBill, money, outstandingSql, summarize } from './bill-views.js';
import { inScope, timeLine, type LineDraft } from './house-lines.js';
import { houseFacts, housesById, loadFeeItems } from './run-inputs.js';

/**
 * The bills a member may see: all of the house's posted bills, or for a tenant those whose period
 * reaches into the tenancy (what earlier occupants owed is theirs, not the tenant's to read).
 */
function visibleBills(houseId: string, member: { role: string; tenancyStart: string | null }): SQL[] {
  const where = [eq(bills.houseId, houseId), eq(bills.status, 'posted')];
  if (member.role === 'tenant' && member.tenancyStart) where.push(gt(bills.periodEnd, member.tenancyStart));
  return where;
}

/**
 * Prices `months` of a monthly time-based item ahead, from the first period not yet billed, plus the
 * free months of the matching offer ("prepay 12, get 1 free"); the free months carry a discount line
 * of their whole amount, so the bill shows what was given.
 */
async function prepayPlan(deps: AppDeps, houseId: string, communityId: string, timeZone: string, feeItemId: string, months: number) {
  const item = (await loadFeeItems(deps.db, communityId)).find((i) => i.id === feeItemId);
  if (!item) invalid('feeItemId', 'is not a fee item of this house’s community');
  if (item.prepayOffers.length === 0) invalid('feeItemId', `${item.name} cannot be prepaid`);
  const offer = item.prepayOffers.filter((o) => o.months <= months).sort((a, b) => b.months - a.months)[0];
  const freeMonths = offer ? offer.freeMonths * Math.floor(months / offer.months) : 0;
  const [house] = await houseFacts(deps.db, await housesById(deps.db, [houseId]), { vacancies: item.vacancyDiscountBp > 0, spaces: true });
  if (!inScope(item, house!)) invalid('feeItemId', `${item.name} does not apply to this house’s building`);
  const billed = new Set(
    (await deps.db.select({ start: billLines.periodStart }).from(billLines).where(and(eq(billLines.houseId, houseId), eq(billLines.feeItemId, item.id), eq(billLines.lineKind, 'charge')))).map((r) => r.start),
  );
  let period: Period = periodContaining('monthly', localDate(deps.now(), timeZone));
  while (billed.has(period.start)) period = nextPeriod('monthly', period);
  const lines: { period: Period; line: LineDraft; free: boolean }[] = [];
  for (let i = 0; i < months + freeMonths; i++) {
    const outcome = timeLine(item, house!, period);
    if ('hold' in outcome) throw new Problem('conflict', `${item.name} cannot be priced for ${period.start}: ${outcome.detail}`);
    if ('notApplicable' in outcome) throw new Problem('conflict', `${item.name} does not apply to this house for ${period.start}: ${outcome.notApplicable}`);
    lines.push({ period, line: outcome.line, free: i >= months });
    period = nextPeriod('monthly', period);
  }
  const charge = lines.reduce((s, l) => s + l.line.amountFen, 0);
  const discount = -lines.filter((l) => l.free).reduce((s, l) => s + l.line.amountFen, 0);
  return { item, months, freeMonths, lines, charge, discount };
}

function quoteView(plan: Awaited<ReturnType<typeof prepayPlan>>) {
  return {
    feeItemId: plan.item.id,
    months: plan.months,
    freeMonths: plan.freeMonths,
    periods: plan.lines.map((l) => ({ start: l.period.start, end: l.period.end, amount: money(l.line.amountFen), free: l.free })),
    charge: money(plan.charge),
    discount: money(plan.discount),
    total: money(plan.charge + plan.discount),
  };
}

/** An owner's (or family member's, or tenant's) view of the house's bills. */
export const myBillRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/houses/{houseId}/billing',
      tags: ['Billing'],
      summary: 'What the house owes: outstanding, late fees, the next due date, the latest bill',
      description: 'For live members of the house only; any other house answers 404.',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { params: MyHouseParams },
      responses: { 200: jsonResponse(BillingOverview, 'The overview'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const { houseId } = c.req.valid('param');
      const deps = c.get('deps');
      const { house, community, member } = await requireMembership(deps, requireResident(c).residentId, houseId);
      const today = localDate(deps.now(), community.timeZone);
      const unpaid = await deps.db
        .select()
        .from(bills)
        .where(and(...visibleBills(houseId, member), sql`${outstandingSql} > 0`))
        .orderBy(asc(bills.dueOn));
      const facts = await summarize(deps.db, unpaid.map((b) => ({ ...b, houseCode: house.code })), today);
      const outstanding = facts.reduce((s, f) => s + f.summary.outstanding.fen, 0);
      const lateFee = facts.reduce((s, f) => s + f.summary.lateFee.fen, 0);
      const latest = await listBills(deps.db, visibleBills(houseId, member), { limit: 1 }, today);
      const [where] = await housesById(deps.db, [houseId]);
      const offers = (await loadFeeItems(deps.db, community.id)).filter((i) => i.prepayOffers.length > 0 && inScope(i, { buildingId: where!.building_id }));
      return c.json(
        {
          houseId,
          houseCode: house.code,
          outstanding: money(outstanding),
          lateFee: money(lateFee),
          totalDue: money(outstanding + lateFee),
          overdueBills: facts.filter((f) => f.summary.status === 'overdue').length,
          nextDueOn: facts[0]?.summary.dueOn ?? null,
          latestBill: latest.items[0] ?? null,
          prepayOffers: offers.map((i) => ({ feeItemId: i.id, name: i.name, offers: i.prepayOffers })),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/houses/{houseId}/bills',
      tags: ['Billing'],
      summary: 'The house’s posted bills, newest first, by period, status and fee type',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { params: MyHouseParams, query: BillListQuery.extend({ status: BillListQuery.shape.status.unwrap().exclude(['draft']).optional() }) },
      responses: { 200: jsonResponse(BillPage, 'One page of bills'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { houseId } = c.req.valid('param');
      const deps = c.get('deps');
      const { community, member } = await requireMembership(deps, requireResident(c).residentId, houseId);
      const today = localDate(deps.now(), community.timeZone);
      return c.json(await listBills(deps.db, visibleBills(houseId, member), c.req.valid('query'), today), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/bills/{billId}',
      tags: ['Billing'],
      summary: 'One bill with every line and how it was computed',
      description: 'Each line’s provenance names the readings (start, end, consumption), the tiers and tariff versions applied, the days prorated, or the house’s share of a common meter.',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { params: BillParams },
      responses: { 200: jsonResponse(BillDetail, 'The bill'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const bill = await loadBill(deps.db, c.req.valid('param').billId);
      // A draft, or another house's bill, is answered as if it did not exist.
      if (!bill || bill.status !== 'posted') throw new Problem('not-found', 'No such bill');
      const { community, member } = await requireMembership(deps, requireResident(c).residentId, bill.houseId).catch(() => {
        throw new Problem('not-found', 'No such bill');
      });
      if (member.role === 'tenant' && member.tenancyStart && bill.periodEnd <= member.tenancyStart) throw new Problem('not-found', 'No such bill');
      return c.json(await billDetail(deps.db, bill, localDate(deps.now(), community.timeZone)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/houses/{houseId}/prepayments/quote',
      tags: ['Billing'],
      summary: 'Price paying a monthly fee ahead, with the free months of its offer',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { params: MyHouseParams, body: jsonBody(PrepayRequest) },
      responses: { 200: jsonResponse(PrepayQuote, 'The quote'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const { houseId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      const { community } = await requireMembership(deps, requireResident(c).residentId, houseId);
      return c.json(quoteView(await prepayPlan(deps, houseId, community.id, community.timeZone, body.feeItemId, body.months)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/houses/{houseId}/prepayments',
      tags: ['Billing'],
      summary: 'Bill months ahead as one prepayment bill (free months as discount lines)',
      description: 'The months it covers are billed once: later bill runs skip them. 409 if a run billed one of them meanwhile; ask for a new quote.',
      security: bearerSecurity,
      middleware: [signedIn] as const,
      request: { params: MyHouseParams, body: jsonBody(PrepayRequest) },
      responses: { 201: jsonResponse(BillDetail, 'The prepayment bill'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const { houseId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      const { house, community } = await requireMembership(deps, requireResident(c).residentId, houseId);
      const plan = await prepayPlan(deps, houseId, community.id, community.timeZone, body.feeItemId, body.months);
      const today = localDate(deps.now(), community.timeZone);
      try {
        const bill = await deps.db.transaction(async (tx) => {
          const [created] = await tx
            .insert(bills)
            .values({
              communityId: community.id,
              houseId,
              runId: null,
              kind: 'prepay',
              cycle: 'monthly',
              periodStart: plan.lines[0]!.period.start,
              periodEnd: plan.lines.at(-1)!.period.end,
              status: 'draft',
              totalFen: plan.charge + plan.discount,
              // A prepayment covers months that have not begun: it falls due like any bill issued today.
              dueOn: addDays(today, (await settingsOf(deps, community.id)).dueDays),
            })
            .returning();
          const rows = plan.lines.flatMap((l) => {
            const charge = { billId: created!.id, houseId, feeItemId: plan.item.id, feeType: l.line.feeType, description: l.line.description, periodStart: l.period.start, periodEnd: l.period.end, quantity: l.line.quantity, unit: l.line.unit, amountFen: l.line.amountFen, estimated: false, provenance: l.line.provenance };
            if (!l.free) return [charge];
            const discount = { ...charge, lineKind: 'discount' as const, description: `${l.line.description} 预缴赠送`, quantity: null, amountFen: -l.line.amountFen, provenance: { method: 'prepay-discount' as const, offer: { months: plan.months, freeMonths: plan.freeMonths }, period: l.period } };
            return [charge, discount];
          });
          await tx.insert(billLines).values(rows);
          // Posted at once: lines are written to a draft first, since a posted bill takes no new lines.
          const [posted] = await tx.update(bills).set({ status: 'posted', issuedAt: deps.now() }).where(eq(bills.id, created!.id)).returning();
          await recordAudit(c, { action: 'billing.prepay', outcome: 'success', communityId: community.id, targetKind: 'bill', targetId: created!.id, details: { feeItemId: plan.item.id, months: plan.months, freeMonths: plan.freeMonths, totalFen: plan.charge + plan.discount } }, tx);
          return posted!;
        });
        return c.json(await billDetail(deps.db, { ...bill, houseCode: house.code }, today), 201);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Problem('conflict', 'One of these months was billed meanwhile; ask for a new quote');
        throw error;
      }
    },
  );
