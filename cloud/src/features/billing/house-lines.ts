import { formatQuantity, parseQuantity, quantityRatio, Ratio, trimDecimal, type RoundingMode } from './billing-math.js';
import { daysBetween, maxDate, minDate, periodLabel, type BillingCycle, type Period } from './billing-periods.js';
import { meteredCharge, timeCharge } from './charges.js';
import type { FeeKind, FeeType, LineProvenance, PrepayOffer } from './billing.schema.js';
import type { TariffVersion } from './tariffs.js';
import type { LateFeeRule } from './late-fees.js';

/**
 * One house, one fee item, one period: the line it gets, the reason it is held, or nothing to bill.
 * Pure: the bill run loads the inputs in bulk (run-inputs.ts) and calls this per house and item, so
 * every rule here is testable with plain values.
 */

export type FeeItem = {
  id: string;
  code: string;
  name: string;
  kind: FeeKind;
  cycle: BillingCycle;
  rounding: RoundingMode;
  tiered: boolean;
  tierBasis: 'month' | 'year';
  meterKind: string | null;
  sharedMeterId: string | null;
  shareMethod: 'area' | 'equal' | null;
  onBadReading: 'hold' | 'estimate';
  vacancyDiscountBp: number;
  lateFee: LateFeeRule;
  prepayOffers: PrepayOffer[];
  buildingIds: string[] | null;
  versions: TariffVersion[];
};

export type HouseFacts = {
  id: string;
  code: string;
  buildingId: string;
  floorAreaM2: string;
  billingStartsOn: string | null;
  billingEndsOn: string | null;
  vacancies: Period[];
  /** Parking spaces the house owns and rents. */
  spaces: { owned: number; rented: number };
};

export type ReadingPoint = { id: number; readAt: string; value: string };
/** A house meter over the usage period, with the readings at its edges. */
export type MeterWindow = {
  meterId: string;
  serialNo: string;
  unit: string;
  /** The meter went in during the usage period: it starts from its first reading, not the edge. */
  installedInPeriod: boolean;
  start: ReadingPoint | null;
  firstInPeriod: ReadingPoint | null;
  end: ReadingPoint | null;
  /** A reading between the edges was flagged as going backwards. */
  wentBackwards: boolean;
};

export type MeteredHistory = {
  /** Consumption already billed this calendar year (yearly tier basis). */
  usedThisYear: bigint;
  /** Estimated lines billed since the start reading: what this actual reading must true up. */
  estimatedSince: { period: Period; quantity: bigint }[];
  /** Recent actual lines, newest first, for an estimate. */
  recentActual: { period: Period; quantity: bigint }[];
};

export type LineDraft = {
  feeItemId: string;
  feeType: FeeType;
  description: string;
  period: Period;
  quantity: string | null;
  unit: string | null;
  amountFen: number;
  estimated: boolean;
  provenance: LineProvenance;
};

export type HoldReason = 'missing-reading' | 'backwards-reading' | 'implausible-reading' | 'no-meter' | 'no-tariff' | 'shared-meter' | 'no-history' | 'earlier-period-held';

/** More than this in one period (10⁹ kWh or m³) is a misread counter, not a household's use. */
const IMPLAUSIBLE_MICRO = 1_000_000_000n * 1_000_000n;
export type LineOutcome = { line: LineDraft } | { hold: HoldReason; detail: string } | { notApplicable: string };

const AREA_UNIT = 'm²';

export function feeTypeOf(item: Pick<FeeItem, 'kind' | 'meterKind'>): FeeType {
  return item.kind === 'metered' ? (item.meterKind as FeeType) : item.kind;
}

/** Whether the item bills this house at all (its building scope). */
export function inScope(item: Pick<FeeItem, 'buildingIds'>, house: Pick<HouseFacts, 'buildingId'>): boolean {
  return item.buildingIds === null || item.buildingIds.includes(house.buildingId);
}

/** The part of `span` the house is billed for, between move-in and move-out; null when none. */
export function billableSpan(house: Pick<HouseFacts, 'billingStartsOn' | 'billingEndsOn'>, span: Period): Period | null {
  const start = house.billingStartsOn ? maxDate(span.start, house.billingStartsOn) : span.start;
  const end = house.billingEndsOn ? minDate(span.end, house.billingEndsOn) : span.end;
  return start < end ? { start, end } : null;
}

/**
 * A time-based line: property fee, fixed fee, parking fees, maintenance fund, for the bill's period.
 */
export function timeLine(item: FeeItem, house: HouseFacts, period: Period): LineOutcome {
  const billable = billableSpan(house, period);
  if (!billable) return { notApplicable: 'outside the house’s billing window' };
  let multiplier: Ratio;
  let quantity: string | null;
  let unit: string | null;
  let basis: string;
  switch (item.kind) {
    case 'property':
    case 'maintenance-fund':
      multiplier = quantityRatio(parseQuantity(house.floorAreaM2));
      quantity = house.floorAreaM2;
      unit = AREA_UNIT;
      basis = 'floor area';
      break;
    case 'parking-management':
    case 'parking-rent': {
      const count = item.kind === 'parking-management' ? house.spaces.owned : house.spaces.rented;
      if (count === 0) return { notApplicable: item.kind === 'parking-management' ? 'owns no parking space' : 'rents no parking space' };
      multiplier = Ratio.of(BigInt(count));
      quantity = String(count);
      unit = 'space';
      basis = item.kind === 'parking-management' ? 'parking spaces owned' : 'parking spaces rented';
      break;
    }
    default:
      multiplier = Ratio.of(1n);
      quantity = null;
      unit = null;
      basis = 'per house';
  }
  const vacancies = item.vacancyDiscountBp > 0 ? house.vacancies : [];
  const charge = timeCharge({
    billable,
    versions: item.versions,
    multiplier,
    vacancies,
    vacancyFactor: Ratio.of(BigInt(10_000 - item.vacancyDiscountBp), 10_000n),
    rounding: item.rounding,
  });
  if (!charge.ok) return { hold: 'no-tariff', detail: charge.detail };
  return {
    line: {
      feeItemId: item.id,
      feeType: feeTypeOf(item),
      description: `${item.name} ${periodLabel(item.cycle, period)}`,
      period,
      quantity,
      unit,
      amountFen: charge.amountFen,
      estimated: false,
      provenance: {
        method: 'time',
        basis,
        quantity,
        unit,
        billable,
        prorated: billable.start !== period.start || billable.end !== period.end,
        vacancyDiscountBp: item.vacancyDiscountBp,
        rounding: item.rounding,
        exactFen: charge.exactFen,
        segments: charge.segments,
        tariffVersionIds: charge.tariffVersionIds,
      },
    },
  };
}

type Consumption = { ok: true; consumption: bigint; meters: Record<string, unknown>[]; trueUp: bigint } | { ok: false; hold: HoldReason; detail: string };

/**
 * What the house's meters measured over the usage period: end − start per meter (a replaced meter and
 * its successor both count), less what estimates already billed for the same span.
 */
export function measuredConsumption(windows: readonly MeterWindow[], history: Pick<MeteredHistory, 'estimatedSince'>): Consumption {
  if (windows.length === 0) return { ok: false, hold: 'no-meter', detail: 'the house has no meter of this kind' };
  let total = 0n;
  const meters: Record<string, unknown>[] = [];
  for (const m of windows) {
    const start = m.installedInPeriod ? (m.start ?? m.firstInPeriod) : m.start;
    if (!start) return { ok: false, hold: 'missing-reading', detail: `meter ${m.serialNo} has no reading at the start of the period` };
    if (!m.end || m.end.id === start.id) {
      return { ok: false, hold: 'missing-reading', detail: `meter ${m.serialNo} has no reading after ${start.readAt} up to the end of the period` };
    }
    const used = parseQuantity(m.end.value) - parseQuantity(start.value);
    if (used < 0n || m.wentBackwards) {
      return {
        ok: false,
        hold: 'backwards-reading',
        detail: `meter ${m.serialNo} went backwards (${formatQuantity(parseQuantity(start.value))} at ${start.readAt} → ${formatQuantity(parseQuantity(m.end.value))} at ${m.end.readAt}${m.wentBackwards ? ', a reading in between is flagged backwards' : ''})`,
      };
    }
    if (used > IMPLAUSIBLE_MICRO) {
      return { ok: false, hold: 'implausible-reading', detail: `meter ${m.serialNo} would have measured ${formatQuantity(used)} in one period; check the readings` };
    }
    total += used;
    meters.push({
      meterId: m.meterId,
      serialNo: m.serialNo,
      start: { readingId: start.id, readAt: start.readAt, value: formatQuantity(parseQuantity(start.value)) },
      end: { readingId: m.end.id, readAt: m.end.readAt, value: formatQuantity(parseQuantity(m.end.value)) },
      consumption: formatQuantity(used),
    });
  }
  const trueUp = history.estimatedSince.reduce((sum, e) => sum + e.quantity, 0n);
  if (total - trueUp < 0n) {
    return {
      ok: false,
      hold: 'backwards-reading',
      detail: `the meters measured ${formatQuantity(total)} but estimates already billed ${formatQuantity(trueUp)} for the same span; review before billing`,
    };
  }
  return { ok: true, consumption: total - trueUp, meters, trueUp };
}

/** Average daily use of recent actual lines × the days of `usage`; null without history. */
export function estimateConsumption(recent: readonly { period: Period; quantity: bigint }[], usage: Period): { quantity: bigint; basis: Record<string, unknown> } | null {
  const used = recent.slice(0, 3);
  const days = used.reduce((sum, r) => sum + daysBetween(r.period.start, r.period.end), 0);
  if (used.length === 0 || days === 0) return null;
  const total = used.reduce((sum, r) => sum + r.quantity, 0n);
  const usageDays = daysBetween(usage.start, usage.end);
  const quantity = Ratio.of(total * BigInt(usageDays), BigInt(days)).round('half-up');
  return {
    quantity,
    basis: { from: used.map((r) => r.period), totalQuantity: formatQuantity(total), days, dailyAverage: Ratio.of(total, BigInt(days) * 1_000_000n).toDecimal(6), usageDays },
  };
}

/** A metered line for the usage period (the period before the bill's), from the house's own meters. */
export function meteredLine(item: FeeItem, house: HouseFacts, usage: Period, windows: readonly MeterWindow[], history: MeteredHistory, months: number): LineOutcome {
  if (!billableSpan(house, usage)) return { notApplicable: 'outside the house’s billing window' };
  const measured = measuredConsumption(windows, history);
  let consumption: bigint;
  let estimated = false;
  let source: Record<string, unknown>;
  if (measured.ok) {
    consumption = measured.consumption;
    source = { meters: measured.meters, ...(measured.trueUp > 0n ? { trueUp: { estimatedBefore: formatQuantity(measured.trueUp) } } : {}) };
  } else {
    if (measured.hold === 'no-meter' || item.onBadReading === 'hold') return { hold: measured.hold, detail: measured.detail };
    const estimate = estimateConsumption(history.recentActual, usage);
    if (!estimate) return { hold: 'no-history', detail: `${measured.detail}; no earlier actual consumption to estimate from` };
    consumption = estimate.quantity;
    estimated = true;
    source = { estimate: { because: measured.detail, ...estimate.basis } };
  }
  const charge = meteredCharge({
    usage,
    consumption,
    versions: item.versions,
    basis: item.tierBasis,
    months,
    usedBefore: item.tierBasis === 'year' ? history.usedThisYear : 0n,
    rounding: item.rounding,
  });
  if (!charge.ok) return { hold: 'no-tariff', detail: charge.detail };
  const unit = windows[0]?.unit ?? null;
  return {
    line: {
      feeItemId: item.id,
      feeType: feeTypeOf(item),
      description: `${item.name} ${periodLabel(item.cycle, usage)}${estimated ? ' (估)' : ''}`,
      period: usage,
      quantity: formatQuantity(consumption),
      unit,
      amountFen: charge.amountFen,
      estimated,
      provenance: {
        method: 'metered',
        ...source,
        consumption: formatQuantity(consumption),
        unit,
        tierBasis: item.tierBasis,
        ...(item.tierBasis === 'year' ? { usedThisYearBefore: formatQuantity(history.usedThisYear) } : {}),
        rounding: item.rounding,
        exactFen: charge.exactFen,
        parts: charge.parts,
        tiers: charge.tiers,
        tariffVersionIds: charge.tariffVersionIds,
      },
    },
  };
}

/** The common meter's bill for the usage period, computed once per run, then split over houses. */
export type SharedPool = {
  item: FeeItem;
  usage: Period;
  totalFen: number;
  consumption: bigint;
  unit: string;
  totalWeight: bigint;
  houses: number;
  /** houseId → its fen and weight. */
  shares: Map<string, { fen: number; weight: bigint }>;
  provenance: Record<string, unknown>;
};

export function sharedLine(pool: SharedPool, houseId: string): LineOutcome {
  const share = pool.shares.get(houseId);
  if (!share) return { notApplicable: 'not among the houses sharing this meter' };
  const item = pool.item;
  const quantity = trimDecimal(Ratio.of(pool.consumption * share.weight, pool.totalWeight * 1_000_000n).toDecimal(6));
  return {
    line: {
      feeItemId: item.id,
      feeType: 'shared',
      description: `${item.name} ${periodLabel(item.cycle, pool.usage)}`,
      period: pool.usage,
      quantity,
      unit: pool.unit,
      amountFen: share.fen,
      estimated: false,
      provenance: {
        method: 'shared',
        ...pool.provenance,
        shareMethod: item.shareMethod,
        weight: item.shareMethod === 'area' ? formatQuantity(share.weight) : '1',
        totalWeight: item.shareMethod === 'area' ? formatQuantity(pool.totalWeight) : String(pool.totalWeight),
        houses: pool.houses,
        totalFen: pool.totalFen,
        shareQuantity: quantity,
      },
    },
  };
}
