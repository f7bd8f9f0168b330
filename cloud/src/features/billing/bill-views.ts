import { formatYuan } from '@estate/protocol';
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { decodeCursor, keysetPage } from '../../http/paging.js';
import { invalid } from '../../http/route-kit.js';
import { z } from '@hono/zod-openapi';
import { buildings, houses } from '../estate/estate.schema.js';
import { addMonths, BILLING_CYCLES, monthsPerCycle, parsePeriodLabel, periodLabel, type BillingCycle, type Period } from './billing-periods.js';
import { billAdjustments, billLines, bills, feeItems, lateFeeWaivers, type FeeType } from './billing.schema.js';
import { formatUnitPrice, trimDecimal, type RoundingMode } from './billing-math.js';
import { uuidArray } from './run-inputs.js';
import { accrueLateFee, type LateFeeRule } from './late-fees.js';
import type { BILL_VIEW_STATUSES } from './billing.api.js';

/**
 * Bills as owners and staff see them: amounts as fen plus display text, what is outstanding after
 * adjustments and payments, and late fees accrued to today (less waivers). One place computes these,
 * so the owner's phone, the console and the arrears report never disagree.
 */

export const money = (fen: number) => ({ fen, display: formatYuan(fen) });
export const unitPriceText = (units: number) => `¥${formatUnitPrice(units)}`;

type BillRow = typeof bills.$inferSelect & { houseCode: string };
type BillViewStatus = (typeof BILL_VIEW_STATUSES)[number];

/** SQL: what a bill still owes in principal (total + adjustments − paid). */
export const outstandingSql = sql<number>`(${bills.totalFen} + coalesce((select sum(a.amount_fen) from bill_adjustments a where a.bill_id = ${bills.id}), 0) - ${bills.paidFen})`;

type LineForFees = { id: number; billId: string; feeItemId: string; amountFen: number; periodStart: string; code: string; lateFee: LateFeeRule; rounding: RoundingMode };

/**
 * Late fees per charge line: the line's principal (its amount and its own adjustments, less what settles
 * the bill as a whole, taken from the first lines first: payments, bill-level credits and discount
 * lines such as a prepayment's free month) times the fee item's rule, from the due date.
 */
function lateFeesOf(bill: BillRow, lines: readonly LineForFees[], adjustments: readonly { lineId: number | null; amountFen: number }[], today: string) {
  const discounts = lines.filter((l) => l.amountFen < 0).reduce((s, l) => s - l.amountFen, 0);
  // Bill-level credits settle lines like payments do; a bill-level charge is principal of its own, with
  // no fee item and so no late-fee rule, and never eats into what was paid for the lines.
  const credits = adjustments.filter((a) => a.lineId === null && a.amountFen < 0).reduce((s, a) => s - a.amountFen, 0);
  let unallocated = bill.paidFen + discounts + credits;
  const byLine = [];
  // A flat fee is charged once per fee item of a bill, not once per month a prepayment covers.
  const flatCharged = new Set<string>();
  for (const line of lines.filter((l) => l.amountFen >= 0)) {
    let principal = line.amountFen + adjustments.filter((a) => a.lineId === line.id).reduce((s, a) => s + a.amountFen, 0);
    const take = Math.max(0, Math.min(principal, unallocated));
    principal -= take;
    unallocated -= take;
    // Nobody is late paying for a month that has not begun (a prepayment's later months).
    const accrues = bill.status === 'posted' && line.periodStart <= today && !(line.lateFee.rule === 'flat' && flatCharged.has(line.feeItemId));
    const accrual = accrues ? accrueLateFee(line.lateFee, principal, bill.dueOn, today, line.rounding) : { fen: 0, daysOverdue: 0, rule: line.lateFee.rule };
    if (accrual.fen > 0 && line.lateFee.rule === 'flat') flatCharged.add(line.feeItemId);
    byLine.push({ lineId: line.id, feeItemCode: line.code, principal: money(principal), daysOverdue: accrual.daysOverdue, rule: accrual.rule, terms: line.lateFee, accrued: money(accrual.fen) });
  }
  return byLine;
}

/** Summaries (and the facts detail views need) for a page of bills. */
export async function summarize(db: Database, rows: readonly BillRow[], today: string) {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const lines = await db
    .select({
      id: billLines.id,
      billId: billLines.billId,
      feeItemId: billLines.feeItemId,
      amountFen: billLines.amountFen,
      periodStart: billLines.periodStart,
      feeType: billLines.feeType,
      code: feeItems.code,
      lateFee: feeItems.lateFee,
      rounding: feeItems.rounding,
    })
    .from(billLines)
    .innerJoin(feeItems, eq(feeItems.id, billLines.feeItemId))
    .where(inArray(billLines.billId, ids))
    .orderBy(asc(billLines.id));
  const adjustments = await db.select().from(billAdjustments).where(inArray(billAdjustments.billId, ids)).orderBy(asc(billAdjustments.createdAt));
  const waivers = await db.select().from(lateFeeWaivers).where(inArray(lateFeeWaivers.billId, ids)).orderBy(asc(lateFeeWaivers.createdAt));
  return rows.map((bill) => {
    const myLines = lines.filter((l) => l.billId === bill.id) as (LineForFees & { feeType: FeeType })[];
    const myAdjustments = adjustments.filter((a) => a.billId === bill.id);
    const myWaivers = waivers.filter((w) => w.billId === bill.id);
    const adjusted = myAdjustments.reduce((s, a) => s + a.amountFen, 0);
    const outstanding = bill.totalFen + adjusted - bill.paidFen;
    const byLine = lateFeesOf(bill, myLines, myAdjustments, today);
    const accrued = byLine.reduce((s, l) => s + l.accrued.fen, 0);
    const waived = myWaivers.reduce((s, w) => s + w.amountFen, 0);
    const lateDue = Math.max(0, accrued - waived);
    // On the principal, as the list filters and the overview count it: a bill whose principal is settled
    // accrues nothing more.
    const status: BillViewStatus = bill.status === 'draft' ? 'draft' : outstanding <= 0 ? 'paid' : today > bill.dueOn ? 'overdue' : 'open';
    const period: Period = { start: bill.periodStart, end: bill.periodEnd };
    return {
      summary: {
        id: bill.id,
        number: billNumber(bill.seq),
        houseId: bill.houseId,
        houseCode: bill.houseCode,
        kind: bill.kind,
        cycle: bill.cycle,
        period: { ...period, label: spanLabel(bill.cycle, period) },
        status,
        total: money(bill.totalFen),
        adjustments: money(adjusted),
        paid: money(bill.paidFen),
        outstanding: money(outstanding),
        lateFee: money(lateDue),
        dueOn: bill.dueOn,
        issuedAt: bill.issuedAt?.toISOString() ?? null,
        feeTypes: [...new Set(myLines.map((l) => l.feeType))],
      },
      lateFees: { accrued: money(accrued), waived: money(waived), due: money(lateDue), byLine, waivers: myWaivers.map((w) => ({ id: w.id, amount: money(w.amountFen), reason: w.reason, createdAt: w.createdAt.toISOString() })) },
      adjustmentList: myAdjustments.map((a) => ({ id: a.id, kind: a.kind, lineId: a.lineId, amount: money(a.amountFen), reason: a.reason, createdAt: a.createdAt.toISOString() })),
    };
  });
}

/** "2026-11" for one period; "2026-12 – 2027-12" for a prepayment spanning many. */
export function spanLabel(cycle: BillingCycle, period: Period): string {
  const first = periodLabel(cycle, period);
  const last = periodLabel(cycle, { start: addMonths(period.end, -monthsPerCycle(cycle)), end: period.end });
  return first === last ? first : `${first} – ${last}`;
}

export function billNumber(seq: number): string {
  return `ZD${String(seq).padStart(8, '0')}`;
}

export async function billDetail(db: Database, bill: BillRow, today: string) {
  const [facts] = await summarize(db, [bill], today);
  const lines = await db
    .select({ line: billLines, code: feeItems.code })
    .from(billLines)
    .innerJoin(feeItems, eq(feeItems.id, billLines.feeItemId))
    .where(eq(billLines.billId, bill.id))
    .orderBy(asc(billLines.id));
  return {
    ...facts!.summary,
    lines: lines.map(({ line, code }) => ({
      id: line.id,
      feeItemId: line.feeItemId,
      feeItemCode: code,
      feeType: line.feeType,
      kind: line.lineKind,
      description: line.description,
      period: { start: line.periodStart, end: line.periodEnd },
      quantity: line.quantity === null ? null : trimDecimal(line.quantity),
      unit: line.unit,
      amount: money(line.amountFen),
      estimated: line.estimated,
      provenance: line.provenance,
    })),
    adjustmentList: facts!.adjustmentList,
    lateFees: facts!.lateFees,
  };
}

export async function loadBill(db: Database, billId: string): Promise<BillRow | null> {
  const [row] = await db
    .select({ bill: bills, houseCode: houses.code })
    .from(bills)
    .innerJoin(houses, eq(houses.id, bills.houseId))
    .where(eq(bills.id, billId));
  return row ? { ...row.bill, houseCode: row.houseCode } : null;
}

/** A period filter ("2026-11", "2026-Q4", "2026") as the span it names, whatever the cycle. */
export function periodFilter(label: string): Period {
  for (const cycle of BILLING_CYCLES) {
    try {
      return parsePeriodLabel(cycle as BillingCycle, label);
    } catch {
      // try the next form
    }
  }
  return invalid('period', `"${label}" is not a period; write 2026-11, 2026-Q4 or 2026`);
}

/**
 * A page of bills, newest period first. `status` is computed like the summaries' (open, overdue, paid
 * on the principal; draft), so a filter and the label it shows agree.
 */
export async function listBills(
  db: Database,
  where: SQL[],
  q: { period?: string | undefined; status?: BillViewStatus | undefined; feeType?: FeeType | undefined; cursor?: string | undefined; limit: number },
  today: string,
) {
  const filters: (SQL | undefined)[] = [...where];
  if (q.period) {
    const span = periodFilter(q.period);
    filters.push(sql`${bills.periodStart} >= ${span.start} and ${bills.periodStart} < ${span.end}`);
  }
  if (q.status === 'draft') filters.push(eq(bills.status, 'draft'));
  if (q.status === 'paid') filters.push(and(eq(bills.status, 'posted'), sql`${outstandingSql} <= 0`));
  if (q.status === 'open') filters.push(and(eq(bills.status, 'posted'), sql`${outstandingSql} > 0`, sql`${bills.dueOn} >= ${today}`));
  if (q.status === 'overdue') filters.push(and(eq(bills.status, 'posted'), sql`${outstandingSql} > 0`, sql`${bills.dueOn} < ${today}`));
  if (q.feeType) filters.push(sql`exists (select 1 from bill_lines l where l.bill_id = ${bills.id} and l.fee_type = ${q.feeType})`);
  if (q.cursor) {
    const [start, seq] = decodeCursor(q.cursor, z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}$/), z.number().int().nonnegative()]));
    filters.push(sql`(${bills.periodStart}, ${bills.seq}) < (${start}, ${seq})`);
  }
  const rows = await db
    .select({ bill: bills, houseCode: houses.code })
    .from(bills)
    .innerJoin(houses, eq(houses.id, bills.houseId))
    .where(and(...filters))
    .orderBy(desc(bills.periodStart), desc(bills.seq))
    .limit(q.limit + 1);
  const page = keysetPage(
    rows.map((r) => ({ ...r.bill, houseCode: r.houseCode })),
    q.limit,
    (b) => [b.periodStart, b.seq],
  );
  const summaries = await summarize(db, page.items, today);
  return { items: summaries.map((s) => s.summary), nextCursor: page.nextCursor };
}

/** SQL: a posted bill of the community past its due date with principal still owed. */
function overdueSql(communityId: string, today: string) {
  return sql`b.community_id = ${communityId} and b.status = 'posted' and b.due_on < ${today}::date
             and (b.total_fen + coalesce((select sum(a.amount_fen) from bill_adjustments a where a.bill_id = b.id), 0) - b.paid_fen) > 0`;
}

type Arrear = { bills: number; outstanding: number; lateFee: number; oldestDueOn: string };

/** Summaries of overdue bills, `where` narrowing them, in batches of 200, folded by `keyOf`. */
async function foldOverdue<K extends string>(db: Database, communityId: string, today: string, where: SQL, keyOf: (row: { buildingId: string; houseId: string }) => K) {
  const rows = rowsOf<{ id: string; building_id: string }>(
    await db.execute(sql`select b.id::text, u.building_id::text from bills b join houses h on h.id = b.house_id join units u on u.id = h.unit_id
                         where ${overdueSql(communityId, today)} and ${where}`),
  );
  const folded = new Map<K, Arrear & { houses: Set<string> }>();
  for (let i = 0; i < rows.length; i += 200) {
    const batch = rows.slice(i, i + 200);
    const loaded = await db
      .select({ bill: bills, houseCode: houses.code })
      .from(bills)
      .innerJoin(houses, eq(houses.id, bills.houseId))
      .where(inArray(bills.id, batch.map((r) => r.id)));
    for (const { summary } of await summarize(db, loaded.map((r) => ({ ...r.bill, houseCode: r.houseCode })), today)) {
      const key = keyOf({ buildingId: batch.find((b) => b.id === summary.id)!.building_id, houseId: summary.houseId });
      const entry = folded.get(key) ?? { houses: new Set<string>(), bills: 0, outstanding: 0, lateFee: 0, oldestDueOn: summary.dueOn };
      entry.houses.add(summary.houseId);
      entry.bills++;
      entry.outstanding += summary.outstanding.fen;
      entry.lateFee += summary.lateFee.fen;
      if (summary.dueOn < entry.oldestDueOn) entry.oldestDueOn = summary.dueOn;
      folded.set(key, entry);
    }
  }
  return { folded, bills: rows.length };
}

/** Unpaid posted bills past due, per building, with late fees to today: the arrears report. */
export async function arrears(db: Database, communityId: string, today: string) {
  const { folded, bills: count } = await foldOverdue(db, communityId, today, sql`true`, (r) => r.buildingId);
  const names = new Map((await db.select({ id: buildings.id, name: buildings.name }).from(buildings).where(eq(buildings.communityId, communityId))).map((b) => [b.id, b.name]));
  const rows = [...folded].map(([buildingId, a]) => ({ buildingId, buildingName: names.get(buildingId) ?? '', ...a })).sort((a, b) => a.buildingName.localeCompare(b.buildingName, 'zh-CN', { numeric: true }));
  return {
    asOf: today,
    outstanding: money(rows.reduce((s, b) => s + b.outstanding, 0)),
    lateFee: money(rows.reduce((s, b) => s + b.lateFee, 0)),
    houses: rows.reduce((s, b) => s + b.houses.size, 0),
    bills: count,
    buildings: rows.map((b) => ({ buildingId: b.buildingId, buildingName: b.buildingName, houses: b.houses.size, bills: b.bills, outstanding: money(b.outstanding), lateFee: money(b.lateFee), oldestDueOn: b.oldestDueOn })),
  };
}

/**
 * One page of the houses in arrears (of a building, or all), by house code: the page is chosen in SQL,
 * and only its houses' overdue bills are summarised for their late fees.
 */
export async function arrearsHouses(db: Database, communityId: string, today: string, q: { building?: string | undefined; offset: number; limit: number }) {
  const inBuilding = q.building ? sql`u.building_id = ${q.building}::uuid` : sql`true`;
  const candidates = sql`h.community_id = ${communityId} and ${inBuilding} and exists (select 1 from bills b where b.house_id = h.id and ${overdueSql(communityId, today)})`;
  const total = Number(rowsOf<{ n: string }>(await db.execute(sql`select count(*)::text as n from houses h join units u on u.id = h.unit_id where ${candidates}`))[0]!.n);
  const page = rowsOf<{ id: string; code: string }>(
    await db.execute(sql`select h.id::text, h.code from houses h join units u on u.id = h.unit_id where ${candidates} order by h.code offset ${q.offset} limit ${q.limit}`),
  );
  if (page.length === 0) return { items: [], total };
  const { folded } = await foldOverdue(db, communityId, today, sql`b.house_id = any(${uuidArray(page.map((p) => p.id))})`, (r) => r.houseId);
  return {
    items: page.map((house) => {
      const a = folded.get(house.id)!;
      return { houseId: house.id, houseCode: house.code, bills: a.bills, outstanding: money(a.outstanding), lateFee: money(a.lateFee), oldestDueOn: a.oldestDueOn };
    }),
    total,
  };
}
