import { sql } from 'drizzle-orm';
import { bigint, boolean, check, date, index, integer, jsonb, numeric, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { communities, houses } from '../estate/estate.schema.js';
import { meters, METER_KINDS } from '../meters/meters.schema.js';
import type { RoundingMode } from './billing-math.js';
import type { BillingCycle } from './billing-periods.js';
import type { LateFeeRule } from './late-fees.js';
import type { Tier } from './tariffs.js';

/**
 * What a fee item charges for:
 *  - property: monthly price per m² of floor area (物业费)
 *  - fixed: monthly price per house
 *  - metered: the house's own meters of `meterKind`, through tiered or flat prices
 *  - shared: a common meter's consumption (公摊), split among houses by area or equally
 *  - parking-management: monthly price per parking space the house owns
 *  - parking-rent: monthly price per parking space the house rents
 *  - maintenance-fund: monthly price per m² (专项维修资金)
 */
export const FEE_KINDS = ['property', 'fixed', 'metered', 'shared', 'parking-management', 'parking-rent', 'maintenance-fund'] as const;
export type FeeKind = (typeof FEE_KINDS)[number];
/** What an owner filters bills by: metered lines are typed by what they measure. */
export const FEE_TYPES = ['property', 'fixed', ...METER_KINDS, 'shared', 'parking-management', 'parking-rent', 'maintenance-fund'] as const;
export type FeeType = (typeof FEE_TYPES)[number];
export const SHARE_METHODS = ['area', 'equal'] as const;
export const TIER_BASES = ['month', 'year'] as const;
/** A counter that went backwards, or a reading that is missing: hold the line for review, or estimate it. */
export const READING_POLICIES = ['hold', 'estimate'] as const;

export type PrepayOffer = { months: number; freeMonths: number };

export const feeItems = pgTable(
  'fee_items',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    code: text('code').notNull(),
    name: text('name').notNull(),
    kind: text('kind', { enum: FEE_KINDS }).notNull(),
    cycle: text('cycle').$type<BillingCycle>().notNull(),
    rounding: text('rounding').$type<RoundingMode>().notNull().default('half-up'),
    tiered: boolean('tiered').notNull().default(false),
    tierBasis: text('tier_basis', { enum: TIER_BASES }).notNull().default('month'),
    meterKind: text('meter_kind', { enum: METER_KINDS }),
    sharedMeterId: uuid('shared_meter_id').references(() => meters.id),
    shareMethod: text('share_method', { enum: SHARE_METHODS }),
    onBadReading: text('on_bad_reading', { enum: READING_POLICIES }).notNull().default('hold'),
    /** Share of the price taken off on vacant days, in hundredths of a percent (3000 = 30 % off). */
    vacancyDiscountBp: integer('vacancy_discount_bp').notNull().default(0),
    lateFee: jsonb('late_fee').$type<LateFeeRule>().notNull().default({ rule: 'none' }),
    prepayOffers: jsonb('prepay_offers').$type<PrepayOffer[]>().notNull().default([]),
    /** Null: every house of the community; otherwise only houses in these buildings. */
    buildingIds: jsonb('building_ids').$type<string[] | null>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('fee_items_community_code_uq').on(t.communityId, t.code),
    check('fee_items_cycle_known', sql`${t.cycle} in ('monthly', 'quarterly', 'yearly')`),
    check('fee_items_rounding_known', sql`${t.rounding} in ('half-up', 'half-even', 'down', 'up')`),
    check('fee_items_metered_has_kind', sql`(${t.kind} = 'metered') = (${t.meterKind} is not null)`),
    check('fee_items_shared_has_meter', sql`(${t.kind} = 'shared') = (${t.sharedMeterId} is not null and ${t.shareMethod} is not null)`),
    check('fee_items_vacancy_bp', sql`${t.vacancyDiscountBp} between 0 and 10000`),
  ],
);

export const tariffVersions = pgTable(
  'tariff_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    feeItemId: uuid('fee_item_id')
      .notNull()
      .references(() => feeItems.id),
    version: integer('version').notNull(),
    effectiveFrom: date('effective_from').notNull(),
    effectiveTo: date('effective_to'),
    /** Price units (10000 = ¥1) per unit per month for time-based items, per unit consumed for metered ones. */
    unitPrice: bigint('unit_price', { mode: 'number' }),
    tiers: jsonb('tiers').$type<Tier[]>(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('tariff_versions_item_version_uq').on(t.feeItemId, t.version),
    check('tariff_versions_price_xor_tiers', sql`(${t.unitPrice} is null) <> (${t.tiers} is null)`),
    check('tariff_versions_price_positive', sql`${t.unitPrice} is null or ${t.unitPrice} > 0`),
    check('tariff_versions_window', sql`${t.effectiveTo} is null or ${t.effectiveTo} > ${t.effectiveFrom}`),
  ],
);

/** A span a house stood empty; time-based items with a vacancy discount charge less on those days. */
export const houseVacancies = pgTable(
  'house_vacancies',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    houseId: uuid('house_id')
      .notNull()
      .references(() => houses.id),
    startsOn: date('starts_on').notNull(),
    endsOn: date('ends_on'),
    note: text('note').notNull().default(''),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('house_vacancies_house_idx').on(t.houseId), check('house_vacancies_window', sql`${t.endsOn} is null or ${t.endsOn} > ${t.startsOn}`)],
);

/** How a community bills: the day runs post, how long owners have to pay, whether finance reviews first. */
export const billingSettings = pgTable(
  'billing_settings',
  {
    communityId: uuid('community_id')
      .primaryKey()
      .references(() => communities.id),
    billDay: integer('bill_day').notNull().default(1),
    dueDays: integer('due_days').notNull().default(15),
    /** Scheduled runs post at once; false leaves them as previews for finance to post. */
    autoPost: boolean('auto_post').notNull().default(true),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('billing_settings_bill_day', sql`${t.billDay} between 1 and 28`), check('billing_settings_due_days', sql`${t.dueDays} between 0 and 120`)],
);

export const RUN_STATUSES = ['running', 'draft', 'posted', 'failed', 'discarded'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export type RunReport = {
  houses: number;
  billedHouses: number;
  bills: number;
  lines: number;
  totalFen: number;
  estimatedLines: number;
  alreadyBilled: number;
  notApplicable: number;
  held: number;
  byFeeItem: { feeItemId: string; code: string; name: string; lines: number; totalFen: number; held: number }[];
};

export const billRuns = pgTable(
  'bill_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    cycle: text('cycle').$type<BillingCycle>().notNull(),
    periodStart: date('period_start').notNull(),
    periodEnd: date('period_end').notNull(),
    status: text('status', { enum: RUN_STATUSES }).notNull().default('running'),
    trigger: text('trigger', { enum: ['manual', 'schedule', 'seed'] }).notNull(),
    /** Post as soon as computed (scheduled runs with auto-post) rather than wait as a preview. */
    postWhenDone: boolean('post_when_done').notNull().default(false),
    dueOn: date('due_on').notNull(),
    /** Set when dueOn was derived from the community's due days, not given: posting late moves it on. */
    dueDays: integer('due_days'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    postedAt: timestamp('posted_at', { withTimezone: true }),
    postedBy: uuid('posted_by'),
    report: jsonb('report').$type<RunReport>(),
    failure: text('failure'),
    /** The worker computing the run holds it until then, renewing it per chunk; a second worker waits it out. */
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
  },
  (t) => [
    // One live run per community, cycle and period: a second start while one computes or waits is refused.
    uniqueIndex('bill_runs_one_open_uq').on(t.communityId, t.cycle, t.periodStart).where(sql`${t.status} in ('running', 'draft')`),
    index('bill_runs_community_idx').on(t.communityId, t.createdAt),
    check('bill_runs_status_known', sql`${t.status} in ('running', 'draft', 'posted', 'failed', 'discarded')`),
  ],
);

/** A house a run could not bill for a fee item, and why: the work list for review. */
export const billRunHolds = pgTable(
  'bill_run_holds',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    runId: uuid('run_id')
      .notNull()
      .references(() => billRuns.id),
    houseId: uuid('house_id').references(() => houses.id),
    feeItemId: uuid('fee_item_id')
      .notNull()
      .references(() => feeItems.id),
    reason: text('reason').notNull(),
    detail: text('detail').notNull(),
  },
  (t) => [unique('bill_run_holds_uq').on(t.runId, t.feeItemId, t.houseId).nullsNotDistinct()],
);

export const BILL_STATUSES = ['draft', 'posted'] as const;

export const bills = pgTable(
  'bills',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Shown as the bill number (ZD00000042). */
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    houseId: uuid('house_id')
      .notNull()
      .references(() => houses.id),
    runId: uuid('run_id').references(() => billRuns.id),
    kind: text('kind', { enum: ['periodic', 'prepay'] }).notNull().default('periodic'),
    cycle: text('cycle').$type<BillingCycle>().notNull(),
    periodStart: date('period_start').notNull(),
    periodEnd: date('period_end').notNull(),
    status: text('status', { enum: BILL_STATUSES }).notNull(),
    totalFen: bigint('total_fen', { mode: 'number' }).notNull(),
    paidFen: bigint('paid_fen', { mode: 'number' }).notNull().default(0),
    dueOn: date('due_on').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('bills_seq_uq').on(t.seq),
    index('bills_house_period_idx').on(t.houseId, t.periodStart),
    index('bills_run_idx').on(t.runId),
    index('bills_community_status_idx').on(t.communityId, t.status, t.dueOn),
    // The bill lists: a community's (or a house's) bills, newest period first.
    index('bills_community_period_idx').on(t.communityId, t.periodStart.desc(), t.seq.desc()),
    check('bills_status_known', sql`${t.status} in ('draft', 'posted')`),
  ],
);

export type LineProvenance = Record<string, unknown> & { method: 'time' | 'metered' | 'shared' | 'prepay-discount' };

export const billLines = pgTable(
  'bill_lines',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    billId: uuid('bill_id')
      .notNull()
      .references(() => bills.id),
    houseId: uuid('house_id').notNull(),
    feeItemId: uuid('fee_item_id')
      .notNull()
      .references(() => feeItems.id),
    feeType: text('fee_type', { enum: FEE_TYPES }).notNull(),
    lineKind: text('line_kind', { enum: ['charge', 'discount'] }).notNull().default('charge'),
    description: text('description').notNull(),
    /** The service period: the bill's period for time-based items, the usage period (the one before) for metered ones. */
    periodStart: date('period_start').notNull(),
    periodEnd: date('period_end').notNull(),
    quantity: numeric('quantity', { precision: 20, scale: 6 }),
    unit: text('unit'),
    amountFen: bigint('amount_fen', { mode: 'number' }).notNull(),
    estimated: boolean('estimated').notNull().default(false),
    provenance: jsonb('provenance').$type<LineProvenance>().notNull(),
  },
  (t) => [
    // Exactly once per (house, fee item, period): a re-run, a retried job or a prepayment never charges twice.
    uniqueIndex('bill_lines_once_uq').on(t.houseId, t.feeItemId, t.periodStart).where(sql`${t.lineKind} = 'charge'`),
    index('bill_lines_bill_idx').on(t.billId),
    // What a fee item has billed up to: the guard on new tariff versions.
    index('bill_lines_item_period_idx').on(t.feeItemId, t.periodEnd),
  ],
);

/** Corrections to a posted bill: never an edit, always a new signed line, audited. */
export const billAdjustments = pgTable(
  'bill_adjustments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    billId: uuid('bill_id')
      .notNull()
      .references(() => bills.id),
    lineId: bigint('line_id', { mode: 'number' }).references(() => billLines.id),
    kind: text('kind', { enum: ['adjustment', 'credit-note'] }).notNull(),
    amountFen: bigint('amount_fen', { mode: 'number' }).notNull(),
    reason: text('reason').notNull(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('bill_adjustments_bill_idx').on(t.billId),
    check('bill_adjustments_nonzero', sql`${t.amountFen} <> 0`),
    check('bill_adjustments_credit_negative', sql`${t.kind} <> 'credit-note' or ${t.amountFen} < 0`),
  ],
);

export const lateFeeWaivers = pgTable(
  'late_fee_waivers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    billId: uuid('bill_id')
      .notNull()
      .references(() => bills.id),
    amountFen: bigint('amount_fen', { mode: 'number' }).notNull(),
    reason: text('reason').notNull(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('late_fee_waivers_bill_idx').on(t.billId), check('late_fee_waivers_positive', sql`${t.amountFen} > 0`)],
);
