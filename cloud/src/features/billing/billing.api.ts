import { z } from '@hono/zod-openapi';
import { METER_KINDS } from '../meters/meters.schema.js';
import { Cursor, Limit, Offset } from '../../http/paging.js';
import { humanText } from '../../http/route-kit.js';
import { ROUNDING_MODES } from './billing-math.js';
import { BILLING_CYCLES } from './billing-periods.js';
import { FEE_KINDS, FEE_TYPES, READING_POLICIES, SHARE_METHODS, TIER_BASES } from './billing.schema.js';
import { LateFeeRule } from './late-fees.js';

const Uuid = z.uuid();
const LocalDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD').openapi({ example: '2026-11-01' });
const Decimal = z.string().regex(/^\d{1,14}(\.\d{1,6})?$/, 'a decimal with at most 6 decimals');
const UnitPrice = z.number().int().openapi({ description: 'Integer price units: 10000 = ¥1, so 24500 = ¥2.45 (per m² per month, per kWh, …)', example: 24500 });

/** Every amount the API answers: integer fen, and the same as text for display. */
export const Money = z.object({ fen: z.number().int(), display: z.string().openapi({ example: '¥123.45' }) }).openapi('Money');

export const PeriodView = z.object({ start: LocalDate, end: LocalDate.openapi({ description: 'exclusive' }), label: z.string().openapi({ example: '2026-11' }) }).openapi('Period');

export const FeeItemParams = z.object({ feeItemId: Uuid.openapi({ param: { name: 'feeItemId', in: 'path' } }) });
export const RunParams = z.object({ runId: Uuid.openapi({ param: { name: 'runId', in: 'path' } }) });
export const BillParams = z.object({ billId: Uuid.openapi({ param: { name: 'billId', in: 'path' } }) });
export const MyHouseParams = z.object({ houseId: Uuid.openapi({ param: { name: 'houseId', in: 'path' } }) });
export const CommunityHouseParams = z.object({
  communityId: Uuid.openapi({ param: { name: 'communityId', in: 'path' } }),
  houseId: Uuid.openapi({ param: { name: 'houseId', in: 'path' } }),
});

export const TierInput = z.strictObject({
  upTo: Decimal.nullable().openapi({ description: 'Cumulative bound per month or year (the fee item’s tierBasis); null on the last tier', example: '180' }),
  unitPrice: UnitPrice,
});

export const TariffCreate = z
  .strictObject({
    effectiveFrom: LocalDate,
    effectiveTo: LocalDate.nullable().optional().openapi({ description: 'Exclusive; absent or null = until a later version starts' }),
    unitPrice: UnitPrice.optional(),
    tiers: z.array(TierInput).min(1).max(10).optional(),
  })
  .openapi('TariffCreate');

export const TariffView = z
  .object({
    id: Uuid,
    version: z.number().int(),
    effectiveFrom: LocalDate,
    effectiveTo: LocalDate.nullable(),
    unitPrice: z.number().int().nullable(),
    unitPriceDisplay: z.string().nullable().openapi({ example: '¥2.45' }),
    tiers: z.array(z.object({ upTo: z.string().nullable(), unitPrice: z.number().int(), unitPriceDisplay: z.string() })).nullable(),
    createdAt: z.string(),
  })
  .openapi('Tariff');

export const PrepayOffer = z.strictObject({ months: z.number().int().min(2).max(36), freeMonths: z.number().int().min(1).max(12) });

export const FeeItemCreate = z
  .strictObject({
    code: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and "-" (1-40)').openapi({ example: 'property' }),
    name: humanText(60).openapi({ example: '物业费' }),
    kind: z.enum(FEE_KINDS),
    cycle: z.enum(BILLING_CYCLES),
    rounding: z.enum(ROUNDING_MODES).default('half-up').openapi({ description: 'How the exact amount of a line becomes whole fen' }),
    tiered: z.boolean().default(false).openapi({ description: 'Metered and shared items only: the tariff has tiers (阶梯)' }),
    tierBasis: z.enum(TIER_BASES).default('month').openapi({ description: 'Tier bounds per month (scaled to the period) or per calendar year (cumulative)' }),
    meterKind: z.enum(METER_KINDS).optional().openapi({ description: 'kind=metered: which of the house’s meters' }),
    sharedMeterId: Uuid.optional().openapi({ description: 'kind=shared: the common meter whose consumption is split' }),
    shareMethod: z.enum(SHARE_METHODS).optional().openapi({ description: 'kind=shared: split by floor area or equally' }),
    onBadReading: z.enum(READING_POLICIES).default('hold').openapi({ description: 'Missing reading or counter gone backwards: hold the line for review, or bill an estimate marked as such' }),
    vacancyDiscountBp: z.number().int().min(0).max(10_000).default(0).openapi({ description: 'Off the price on vacant days, hundredths of a percent: 3000 = 30 % off' }),
    lateFee: LateFeeRule.default({ rule: 'none' }),
    prepayOffers: z.array(PrepayOffer).max(5).default([]).openapi({ description: 'e.g. { months: 12, freeMonths: 1 }: prepay 12 months, get 1 more free' }),
    buildingIds: z.array(Uuid).min(1).max(500).nullable().default(null).openapi({ description: 'Only houses in these buildings; null = the whole community' }),
    tariff: TariffCreate.openapi({ description: 'The first tariff version' }),
  })
  .openapi('FeeItemCreate');

export const FeeItemView = z
  .object({
    id: Uuid,
    communityId: Uuid,
    code: z.string(),
    name: z.string(),
    kind: z.enum(FEE_KINDS),
    cycle: z.enum(BILLING_CYCLES),
    rounding: z.enum(ROUNDING_MODES),
    tiered: z.boolean(),
    tierBasis: z.enum(TIER_BASES),
    meterKind: z.enum(METER_KINDS).nullable(),
    sharedMeterId: Uuid.nullable(),
    shareMethod: z.enum(SHARE_METHODS).nullable(),
    onBadReading: z.enum(READING_POLICIES),
    vacancyDiscountBp: z.number().int(),
    lateFee: LateFeeRule,
    prepayOffers: z.array(PrepayOffer),
    buildingIds: z.array(Uuid).nullable(),
    tariffs: z.array(TariffView),
    archived: z.boolean(),
  })
  .openapi('FeeItem');

export const RunCreate = z
  .strictObject({
    cycle: z.enum(BILLING_CYCLES),
    period: z.string().openapi({ description: 'The period billed: 2026-11 (monthly), 2026-Q4 (quarterly), 2026 (yearly)', example: '2026-11' }),
    dueOn: LocalDate.optional().openapi({ description: 'Default: the community’s due days after the period starts, or after today when the period is billed late' }),
    post: z.boolean().default(false).openapi({ description: 'false: a preview finance posts or discards; true: post when computed' }),
  })
  .openapi('BillRunCreate');

export const RunReportView = z
  .object({
    houses: z.number().int(),
    billedHouses: z.number().int(),
    bills: z.number().int(),
    lines: z.number().int(),
    total: Money,
    estimatedLines: z.number().int(),
    alreadyBilled: z.number().int().openapi({ description: 'Lines skipped because (house, fee item, period) was billed before: a re-run changes nothing' }),
    notApplicable: z.number().int().openapi({ description: 'House and fee item pairs with nothing to bill (no parking space, moved out before the period)' }),
    held: z.number().int().openapi({ description: 'Lines held for review; GET …/holds lists each with its reason' }),
    byFeeItem: z.array(z.object({ feeItemId: Uuid, code: z.string(), name: z.string(), lines: z.number().int(), total: Money, held: z.number().int() })),
  })
  .openapi('BillRunReport');

export const RunView = z
  .object({
    id: Uuid,
    communityId: Uuid,
    cycle: z.enum(BILLING_CYCLES),
    period: PeriodView,
    status: z.enum(['running', 'draft', 'posted', 'failed', 'discarded']),
    trigger: z.enum(['manual', 'schedule', 'seed']),
    dueOn: LocalDate,
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    postedAt: z.string().nullable(),
    report: RunReportView.nullable(),
    failure: z.string().nullable(),
  })
  .openapi('BillRun');

export const RunHold = z
  .object({
    houseId: Uuid.nullable(),
    houseCode: z.string().nullable(),
    feeItemId: Uuid,
    feeItemCode: z.string(),
    reason: z.enum(['missing-reading', 'backwards-reading', 'implausible-reading', 'no-meter', 'no-tariff', 'shared-meter', 'no-history', 'earlier-period-held']),
    detail: z.string(),
  })
  .openapi('BillRunHold');

export const BILL_VIEW_STATUSES = ['draft', 'open', 'overdue', 'paid'] as const;

export const BillSummary = z
  .object({
    id: Uuid,
    number: z.string().openapi({ example: 'ZD00000042' }),
    houseId: Uuid,
    houseCode: z.string(),
    kind: z.enum(['periodic', 'prepay']),
    cycle: z.enum(BILLING_CYCLES),
    period: PeriodView,
    status: z.enum(BILL_VIEW_STATUSES).openapi({ description: 'open: not yet due; overdue: past due and not settled; paid: nothing outstanding' }),
    total: Money,
    adjustments: Money,
    paid: Money,
    outstanding: Money.openapi({ description: 'total + adjustments − paid' }),
    lateFee: Money.openapi({ description: 'Late fees accrued to today, less waivers' }),
    dueOn: LocalDate,
    issuedAt: z.string().nullable(),
    feeTypes: z.array(z.enum(FEE_TYPES)),
  })
  .openapi('BillSummary');

export const BillLineView = z
  .object({
    id: z.number().int(),
    feeItemId: Uuid,
    feeItemCode: z.string(),
    feeType: z.enum(FEE_TYPES),
    kind: z.enum(['charge', 'discount']),
    description: z.string(),
    period: z.object({ start: LocalDate, end: LocalDate }),
    quantity: z.string().nullable(),
    unit: z.string().nullable(),
    amount: Money,
    estimated: z.boolean(),
    provenance: z.record(z.string(), z.unknown()).openapi({ description: 'How the amount was computed: readings, tiers, tariff versions, days, shares (docs/billing.md)' }),
  })
  .openapi('BillLine');

export const AdjustmentView = z
  .object({ id: Uuid, kind: z.enum(['adjustment', 'credit-note']), lineId: z.number().int().nullable(), amount: Money, reason: z.string(), createdAt: z.string() })
  .openapi('BillAdjustment');

export const WaiverView = z.object({ id: Uuid, amount: Money, reason: z.string(), createdAt: z.string() }).openapi('LateFeeWaiver');

export const LateFeeLine = z
  .object({
    lineId: z.number().int(),
    feeItemCode: z.string(),
    principal: Money,
    daysOverdue: z.number().int(),
    rule: z.string(),
    terms: LateFeeRule.openapi({ description: 'The rule with its rate, grace days and cap, so the amount can be checked by hand' }),
    accrued: Money,
  })
  .openapi('LateFeeAccrual');

export const BillDetail = BillSummary.extend({
  lines: z.array(BillLineView),
  adjustmentList: z.array(AdjustmentView),
  lateFees: z.object({ accrued: Money, waived: Money, due: Money, byLine: z.array(LateFeeLine), waivers: z.array(WaiverView) }),
}).openapi('BillDetail');

export const BillListQuery = z.object({
  period: z.string().max(10).optional().openapi({ description: 'Bills whose period starts in it: 2026-11, 2026-Q4 or 2026' }),
  status: z.enum(BILL_VIEW_STATUSES).optional(),
  feeType: z.enum(FEE_TYPES).optional(),
  cursor: Cursor,
  limit: Limit,
});

export const StaffBillListQuery = BillListQuery.extend({ house: Uuid.optional(), run: Uuid.optional() });

export const BillPage = z.object({ items: z.array(BillSummary), nextCursor: z.string().nullable() }).openapi('BillPage');

export const BillingOverview = z
  .object({
    houseId: Uuid,
    houseCode: z.string(),
    outstanding: Money,
    lateFee: Money,
    totalDue: Money.openapi({ description: 'outstanding + late fees: what paying everything today costs' }),
    overdueBills: z.number().int(),
    nextDueOn: LocalDate.nullable().openapi({ description: 'The earliest due date of an unpaid bill' }),
    latestBill: BillSummary.nullable(),
    prepayOffers: z
      .array(z.object({ feeItemId: Uuid, name: z.string(), offers: z.array(PrepayOffer) }))
      .openapi({ description: 'Fee items this house may pay ahead, with their free-month offers' }),
  })
  .openapi('BillingOverview');

export const AdjustmentCreate = z
  .strictObject({
    kind: z.enum(['adjustment', 'credit-note']).openapi({ description: 'adjustment: a signed correction; credit-note: a credit (negative), at most what is outstanding' }),
    amountFen: z.number().int().refine((n) => n !== 0, 'must not be zero').openapi({ description: 'Signed fen: negative reduces what the owner owes' }),
    lineId: z.number().int().optional().openapi({ description: 'The line corrected, when it is one line' }),
    reason: humanText(500),
  })
  .openapi('BillAdjustmentCreate');

export const WaiverCreate = z
  .strictObject({
    amountFen: z.number().int().min(1).optional().openapi({ description: 'Absent: everything accrued and not yet waived' }),
    reason: humanText(500),
  })
  .openapi('LateFeeWaiverCreate');

export const ArrearsReport = z
  .object({
    asOf: LocalDate,
    outstanding: Money,
    lateFee: Money,
    houses: z.number().int(),
    bills: z.number().int(),
    buildings: z.array(z.object({ buildingId: Uuid, buildingName: z.string(), houses: z.number().int(), bills: z.number().int(), outstanding: Money, lateFee: Money, oldestDueOn: LocalDate })),
  })
  .openapi('ArrearsReport');

export const ArrearsHouseQuery = z.object({ building: Uuid.optional(), offset: Offset, limit: Limit });
export const ArrearsHouse = z
  .object({ houseId: Uuid, houseCode: z.string(), bills: z.number().int(), outstanding: Money, lateFee: Money, oldestDueOn: LocalDate })
  .openapi('ArrearsHouse');

export const VacancyCreate = z
  .strictObject({ startsOn: LocalDate, endsOn: LocalDate.nullable().optional(), note: z.string().max(200).default('') })
  .openapi('VacancyCreate');
export const VacancyParams = CommunityHouseParams.extend({ vacancyId: Uuid.openapi({ param: { name: 'vacancyId', in: 'path' } }) });
export const VacancyEnd = z
  .strictObject({ endsOn: LocalDate.nullable().openapi({ description: 'Exclusive: the first day lived in again; null reopens it' }) })
  .openapi('VacancyEnd');
export const VacancyView = z.object({ id: Uuid, houseId: Uuid, startsOn: LocalDate, endsOn: LocalDate.nullable(), note: z.string(), createdAt: z.string() }).openapi('Vacancy');

export const HouseBillingWindow = z
  .strictObject({ billingStartsOn: LocalDate.nullable(), billingEndsOn: LocalDate.nullable() })
  .openapi('HouseBillingWindow', { description: 'Move-in and move-out for billing; time-based fees are prorated to the days between' });

export const BillingSettingsView = z
  .object({ billDay: z.number().int().min(1).max(28), dueDays: z.number().int().min(0).max(120), autoPost: z.boolean() })
  .openapi('BillingSettings');
export const BillingSettingsUpdate = z.strictObject({
  billDay: z.number().int().min(1).max(28).optional(),
  dueDays: z.number().int().min(0).max(120).optional(),
  autoPost: z.boolean().optional(),
});

export const PrepayRequest = z.strictObject({ feeItemId: Uuid, months: z.number().int().min(1).max(36) }).openapi('PrepayRequest');
export const PrepayQuote = z
  .object({
    feeItemId: Uuid,
    months: z.number().int(),
    freeMonths: z.number().int(),
    periods: z.array(z.object({ start: LocalDate, end: LocalDate, amount: Money, free: z.boolean() })),
    charge: Money,
    discount: Money,
    total: Money,
  })
  .openapi('PrepayQuote');
