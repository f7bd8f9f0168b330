import { splitByLargestRemainder } from '@estate/protocol';
import { formatQuantity, priceInFen, quantityRatio, Ratio, splitExact, toFen, trimDecimal, type RoundingMode } from './billing-math.js';
import { daysBetween, monthsOf, type Period } from './billing-periods.js';
import { fillTiers, versionsOver, type TariffVersion } from './tariffs.js';

/**
 * The two ways a line's amount is computed, as pure functions of their inputs so a test (or an owner
 * reading the provenance) can redo them by hand:
 *  - time-based items (property fee by area, fixed fees, parking fees per space, the maintenance fund)
 *    charge a monthly price × a quantity, per day of each calendar month the house was billable, at the
 *    tariff version in force that day, with the vacancy discount on vacant days;
 *  - metered items charge a consumption through the tariff's tiers.
 * Each rounds once, at the end, by the fee item's rule, and splits the rounded amount back over its rows
 * so they add up to the line.
 */

export type NoTariff = { ok: false; reason: 'no-tariff'; detail: string };

export type TimeSegment = {
  from: string;
  to: string;
  days: number;
  daysInMonth: number;
  unitPrice: number;
  tariffVersion: number;
  vacant: boolean;
  amountFen: number;
};

export type TimeCharge = { ok: true; amountFen: number; exactFen: string; segments: TimeSegment[]; tariffVersionIds: string[] };

/**
 * @param multiplier what the monthly unit price is multiplied by: the floor area, the number of spaces, 1
 * @param billable the part of the period the house is billed for (move-in / move-out cut it short)
 * @param vacancies spans in which the house stood empty
 * @param vacancyFactor the share of the price charged on vacant days (1 = no discount)
 */
export function timeCharge(input: {
  billable: Period;
  versions: readonly TariffVersion[];
  multiplier: Ratio;
  vacancies: readonly Period[];
  vacancyFactor: Ratio;
  rounding: RoundingMode;
}): TimeCharge | NoTariff {
  const { pieces, gaps } = versionsOver(input.versions, input.billable);
  if (gaps.length) return noTariff(gaps);
  const raw: (Omit<TimeSegment, 'amountFen'> & { exact: Ratio })[] = [];
  for (const month of monthsOf(input.billable)) {
    const cuts = new Set([month.start, month.end]);
    for (const piece of pieces) for (const edge of [piece.start, piece.end]) if (edge > month.start && edge < month.end) cuts.add(edge);
    for (const v of input.vacancies) for (const edge of [v.start, v.end]) if (edge > month.start && edge < month.end) cuts.add(edge);
    const edges = [...cuts].sort();
    for (let i = 0; i + 1 < edges.length; i++) {
      const from = edges[i]!;
      const to = edges[i + 1]!;
      const version = pieces.find((p) => p.start <= from && from < p.end)!.version;
      const vacant = input.vacancies.some((v) => v.start <= from && from < v.end);
      const days = daysBetween(from, to);
      const exact = priceInFen(version.unitPrice!)
        .mul(input.multiplier)
        .mul(Ratio.of(BigInt(days), BigInt(month.days)))
        .mul(vacant ? input.vacancyFactor : Ratio.of(1n));
      raw.push({ from, to, days, daysInMonth: month.days, unitPrice: version.unitPrice!, tariffVersion: version.version, vacant, exact });
    }
  }
  const exactFen = raw.reduce((sum, s) => sum.add(s.exact), Ratio.ZERO);
  const amountFen = toFen(exactFen, input.rounding);
  const shares = splitExact(amountFen, raw.map((s) => s.exact));
  return {
    ok: true,
    amountFen,
    exactFen: exactFen.toDecimal(4),
    segments: raw.map(({ exact: _exact, ...s }, i) => ({ ...s, amountFen: shares[i]! })),
    tariffVersionIds: [...new Set(pieces.map((p) => p.version.id))],
  };
}

export type UsagePart = { from: string; to: string; days: number; tariffVersion: number; quantity: string };
export type TierRow = { tariffVersion: number; tier: number; quantity: string; unitPrice: number; amountFen: number };
export type MeteredCharge = { ok: true; amountFen: number; exactFen: string; parts: UsagePart[]; tiers: TierRow[]; tariffVersionIds: string[] };

/**
 * Prices a consumption (10⁻⁶ units) used over `usage`. When the tariff changed inside the span, the
 * consumption is split between the versions by days (largest remainder, so nothing is lost), as
 * utilities do without a reading on the day of the change.
 *
 * Tier bounds are per month or per year (`basis`). Monthly bounds scale with the span (a quarter gets
 * three months of each tier) and, across a price change, with each version's days. Yearly bounds are
 * cumulative: `usedBefore` is what the house already consumed this year, so a bill late in the year
 * starts in a higher tier.
 */
export function meteredCharge(input: {
  usage: Period;
  consumption: bigint;
  versions: readonly TariffVersion[];
  basis: 'month' | 'year';
  months: number;
  usedBefore: bigint;
  rounding: RoundingMode;
}): MeteredCharge | NoTariff {
  const { pieces, gaps } = versionsOver(input.versions, input.usage);
  if (gaps.length) return noTariff(gaps);
  const totalDays = daysBetween(input.usage.start, input.usage.end);
  const dayWeights = pieces.map((p) => BigInt(daysBetween(p.start, p.end)));
  const quantities = splitByLargestRemainder(Number(input.consumption), dayWeights).map(BigInt);

  const rows: (Omit<TierRow, 'amountFen'> & { exact: Ratio })[] = [];
  let position = quantityRatio(input.usedBefore);
  pieces.forEach((piece, i) => {
    const days = Number(dayWeights[i]);
    const version = piece.version;
    // Monthly bounds shrink to the share of the span this version priced; yearly ones stay whole.
    const scale = input.basis === 'month' ? Ratio.of(BigInt(input.months * days), BigInt(totalDays)) : Ratio.of(1n);
    const tiers = (version.tiers ?? [{ upTo: null, unitPrice: version.unitPrice! }]).map((t) => ({
      limit: t.upTo === null ? null : quantityFromText(t.upTo).mul(scale),
      unitPrice: t.unitPrice,
      fenPerUnit: priceInFen(t.unitPrice),
    }));
    const start = input.basis === 'month' ? Ratio.ZERO : position;
    const quantity = quantityRatio(quantities[i]!);
    for (const fill of fillTiers(tiers, start, quantity)) {
      rows.push({ tariffVersion: version.version, tier: fill.tier, quantity: trimDecimal(fill.quantity.toDecimal(6)), unitPrice: fill.unitPrice, exact: fill.exactFen });
    }
    position = position.add(quantity);
  });
  const exactFen = rows.reduce((sum, r) => sum.add(r.exact), Ratio.ZERO);
  const amountFen = toFen(exactFen, input.rounding);
  const shares = splitExact(amountFen, rows.map((r) => r.exact));
  return {
    ok: true,
    amountFen,
    exactFen: exactFen.toDecimal(4),
    parts: pieces.map((p, i) => ({ from: p.start, to: p.end, days: Number(dayWeights[i]), tariffVersion: p.version.version, quantity: formatQuantity(quantities[i]!) })),
    tiers: rows.map(({ exact: _exact, ...r }, i) => ({ ...r, amountFen: shares[i]! })),
    tariffVersionIds: [...new Set(pieces.map((p) => p.version.id))],
  };
}

function quantityFromText(text: string): Ratio {
  const [whole, frac = ''] = text.split('.');
  return Ratio.of(BigInt(whole! + frac), 10n ** BigInt(frac.length));
}

function noTariff(gaps: Period[]): NoTariff {
  return { ok: false, reason: 'no-tariff', detail: `no tariff version covers ${gaps.map((g) => `${g.start} .. ${g.end}`).join(', ')}` };
}
