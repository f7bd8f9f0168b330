import { parseQuantity, type Ratio } from './billing-math.js';
import { maxDate, minDate, parseDate, type Period } from './billing-periods.js';

/**
 * A tariff version: the price of a fee item from `effectiveFrom` until `effectiveTo` (exclusive; null =
 * open-ended). A flat price is `unitPrice`; a tiered (阶梯) price is `tiers`, each up to a cumulative
 * quantity per month or per year (the fee item's tier basis), the last one unbounded.
 * Prices are integer price units (10000 = ¥1, see billing-math.ts).
 */
export type Tier = { upTo: string | null; unitPrice: number };
export type TariffVersion = {
  id: string;
  version: number;
  effectiveFrom: string;
  effectiveTo: string | null;
  unitPrice: number | null;
  tiers: Tier[] | null;
};

export type TariffIssue = { path: string; message: string };

/** Highest unit price accepted: ¥100000 per unit is already far beyond any residential tariff. */
export const MAX_UNIT_PRICE = 1_000_000_000;

/**
 * Everything wrong with a proposed version, as path + message pairs (empty when it is fine): a price
 * that is not positive, tiers out of order or missing their open last tier, a window that ends before it
 * starts, or one that overlaps a version the fee item already has.
 */
export function tariffIssues(
  proposed: Omit<TariffVersion, 'id' | 'version'>,
  options: { tiered: boolean; existing: readonly TariffVersion[] },
): TariffIssue[] {
  const issues: TariffIssue[] = [];
  const checkPrice = (path: string, price: number | null) => {
    if (price === null || !Number.isSafeInteger(price)) issues.push({ path, message: 'must be a whole number of price units (10000 = ¥1)' });
    else if (price <= 0) issues.push({ path, message: `must be greater than zero, got ${price}` });
    else if (price > MAX_UNIT_PRICE) issues.push({ path, message: `must be at most ${MAX_UNIT_PRICE} (¥100000 per unit)` });
  };
  for (const [path, date] of [['effectiveFrom', proposed.effectiveFrom], ['effectiveTo', proposed.effectiveTo]] as const) {
    if (date === null) continue;
    try {
      parseDate(date);
    } catch (error) {
      issues.push({ path, message: (error as Error).message });
    }
  }
  if (proposed.effectiveTo !== null && proposed.effectiveTo <= proposed.effectiveFrom) {
    issues.push({ path: 'effectiveTo', message: `must be after effectiveFrom (${proposed.effectiveFrom})` });
  }

  if (options.tiered) {
    if (proposed.unitPrice !== null) issues.push({ path: 'unitPrice', message: 'a tiered fee item takes tiers, not a unit price' });
    const tiers = proposed.tiers ?? [];
    if (tiers.length === 0) issues.push({ path: 'tiers', message: 'a tiered fee item needs at least one tier' });
    let previous = 0n;
    tiers.forEach((tier, i) => {
      checkPrice(`tiers.${i}.unitPrice`, tier.unitPrice);
      const last = i === tiers.length - 1;
      if (tier.upTo === null) {
        if (!last) issues.push({ path: `tiers.${i}.upTo`, message: 'only the last tier may be open-ended' });
        return;
      }
      if (last) {
        issues.push({ path: `tiers.${i}.upTo`, message: 'the last tier must be open-ended (upTo: null), or consumption above it has no price' });
      }
      let bound: bigint;
      try {
        bound = parseQuantity(tier.upTo);
      } catch (error) {
        issues.push({ path: `tiers.${i}.upTo`, message: (error as Error).message });
        return;
      }
      if (bound <= previous) {
        issues.push({
          path: `tiers.${i}.upTo`,
          message: i === 0 ? `must be greater than zero, got ${tier.upTo}` : `thresholds must rise: ${tier.upTo} is not above the previous tier's ${tiers[i - 1]!.upTo}`,
        });
      }
      previous = bound > previous ? bound : previous;
    });
  } else {
    if (proposed.tiers !== null) issues.push({ path: 'tiers', message: 'this fee item is not tiered; give unitPrice instead' });
    checkPrice('unitPrice', proposed.unitPrice);
  }

  for (const other of options.existing) {
    const overlap = overlaps(proposed, other);
    if (overlap) {
      issues.push({
        path: 'effectiveFrom',
        message: `overlaps version ${other.version} (${other.effectiveFrom} .. ${other.effectiveTo ?? 'open-ended'}) on ${overlap.start} .. ${overlap.end}; end that version first or start this one later`,
      });
    }
  }
  return issues;
}

const FAR_FUTURE = '9999-12-31';

function overlaps(a: { effectiveFrom: string; effectiveTo: string | null }, b: { effectiveFrom: string; effectiveTo: string | null }): Period | null {
  const start = maxDate(a.effectiveFrom, b.effectiveFrom);
  const end = minDate(a.effectiveTo ?? FAR_FUTURE, b.effectiveTo ?? FAR_FUTURE);
  return start < end ? { start, end: end === FAR_FUTURE ? 'open-ended' : end } : null;
}

/**
 * The versions in force over `span`, cut at their edges, and the gaps no version covers. Versions never
 * overlap (tariffIssues refuses it), so the pieces tile the covered days.
 */
export function versionsOver(versions: readonly TariffVersion[], span: Period): { pieces: (Period & { version: TariffVersion })[]; gaps: Period[] } {
  const pieces: (Period & { version: TariffVersion })[] = [];
  for (const version of [...versions].sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? -1 : 1))) {
    const start = maxDate(version.effectiveFrom, span.start);
    const end = minDate(version.effectiveTo ?? FAR_FUTURE, span.end);
    if (start < end) pieces.push({ start, end, version });
  }
  const gaps: Period[] = [];
  let cursor = span.start;
  for (const piece of pieces) {
    if (piece.start > cursor) gaps.push({ start: cursor, end: piece.start });
    cursor = piece.end;
  }
  if (cursor < span.end) gaps.push({ start: cursor, end: span.end });
  return { pieces, gaps };
}

/** One tier's share of a consumption: how much fell in it, at what price, the exact fen. */
export type TierFill = { tier: number; quantity: Ratio; unitPrice: number; exactFen: Ratio };

/**
 * Pours `quantity` into tiers whose cumulative bounds are `limits` (null = unbounded), starting at
 * `position` (what this period's basis had already used: 0 for a monthly basis, the year to date for a
 * yearly one). Returns only the tiers that received something.
 */
export function fillTiers(
  tiers: readonly { limit: Ratio | null; unitPrice: number; fenPerUnit: Ratio }[],
  position: Ratio,
  quantity: Ratio,
): TierFill[] {
  const fills: TierFill[] = [];
  let at = position;
  let left = quantity;
  for (let i = 0; i < tiers.length && !left.isZero() && !left.isNegative(); i++) {
    const tier = tiers[i]!;
    if (tier.limit !== null && at.cmp(tier.limit) >= 0) continue;
    const room = tier.limit === null ? left : tier.limit.sub(at).min(left);
    fills.push({ tier: i + 1, quantity: room, unitPrice: tier.unitPrice, exactFen: room.mul(tier.fenPerUnit) });
    at = at.add(room);
    left = left.sub(room);
  }
  return fills;
}
