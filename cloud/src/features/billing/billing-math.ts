import { splitByLargestRemainder } from '@estate/protocol';
/**
 * Exact arithmetic for bills. Every amount is computed as an exact fraction of fen (bigint numerator and
 * denominator) and rounded once, at the end of a line, by the rule its fee item names. Floating point
 * never touches money: 0.1 + 0.2 is a float bug, 2.35 m² × 1.25 ¥/m² at 31/30 days is not.
 */

/** Unit prices are integers at this scale: 10000 price units = 1 yuan, so 1 unit = 0.01 fen. */
export const PRICE_SCALE = 10_000n;
const FEN_PER_YUAN = 100n;
/** Quantities (kWh, m³, m²) are exact decimals; inside the engine they are integers of 10⁻⁶. */
export const QUANTITY_SCALE = 1_000_000n;
const QUANTITY_DECIMALS = 6;

export const ROUNDING_MODES = ['half-up', 'half-even', 'down', 'up'] as const;
/**
 * half-up: 四舍五入, .5 away from zero (the usual rule on Chinese bills);
 * half-even: banker's rounding, .5 to the even fen;
 * down: 舍去, toward zero (never charge a fraction of a fen);
 * up: 进一, away from zero.
 */
export type RoundingMode = (typeof ROUNDING_MODES)[number];

/** An exact rational number; the denominator is always positive. */
export class Ratio {
  private constructor(
    readonly num: bigint,
    readonly den: bigint,
  ) {}

  static of(num: bigint, den = 1n): Ratio {
    if (den === 0n) throw new RangeError('division by zero');
    if (den < 0n) return Ratio.reduce(-num, -den);
    return Ratio.reduce(num, den);
  }

  static readonly ZERO = new Ratio(0n, 1n);

  private static reduce(num: bigint, den: bigint): Ratio {
    const g = gcd(num < 0n ? -num : num, den);
    return g > 1n ? new Ratio(num / g, den / g) : new Ratio(num, den);
  }

  add(o: Ratio): Ratio {
    return this.den === o.den ? Ratio.of(this.num + o.num, this.den) : Ratio.of(this.num * o.den + o.num * this.den, this.den * o.den);
  }

  sub(o: Ratio): Ratio {
    return this.add(Ratio.of(-o.num, o.den));
  }

  mul(o: Ratio): Ratio {
    return Ratio.of(this.num * o.num, this.den * o.den);
  }

  div(o: Ratio): Ratio {
    if (o.num === 0n) throw new RangeError('division by zero');
    return Ratio.of(this.num * o.den, this.den * o.num);
  }

  cmp(o: Ratio): number {
    const d = this.num * o.den - o.num * this.den;
    return d === 0n ? 0 : d < 0n ? -1 : 1;
  }

  min(o: Ratio): Ratio {
    return this.cmp(o) <= 0 ? this : o;
  }

  max(o: Ratio): Ratio {
    return this.cmp(o) >= 0 ? this : o;
  }

  isZero(): boolean {
    return this.num === 0n;
  }

  isNegative(): boolean {
    return this.num < 0n;
  }

  /** Rounds to an integer by `mode`. */
  round(mode: RoundingMode): bigint {
    const { num, den } = this;
    const neg = num < 0n;
    const a = neg ? -num : num;
    const q = a / den;
    const r = a % den;
    let up: boolean;
    if (r === 0n) up = false;
    else if (mode === 'down') up = false;
    else if (mode === 'up') up = true;
    else if (2n * r > den) up = true;
    else if (2n * r < den) up = false;
    else up = mode === 'half-up' ? true : q % 2n === 1n;
    const mag = up ? q + 1n : q;
    return neg ? -mag : mag;
  }

  /** Decimal text with at most `places` digits after the point, rounded half-up (for display only). */
  toDecimal(places: number): string {
    const scale = 10n ** BigInt(places);
    const scaled = Ratio.of(this.num * scale, this.den).round('half-up');
    return formatScaled(scaled, places);
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a || 1n;
}

/** Integer fen from an exact fen amount, by the named rule; throws past Number.MAX_SAFE_INTEGER. */
export function toFen(exactFen: Ratio, mode: RoundingMode): number {
  const fen = exactFen.round(mode);
  if (fen > BigInt(Number.MAX_SAFE_INTEGER) || fen < -BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`amount ${fen} fen is out of range`);
  return Number(fen);
}

/** A unit price (integer price units) as an exact fen amount per unit. */
export function priceInFen(unitPrice: number | bigint): Ratio {
  return Ratio.of(BigInt(unitPrice), PRICE_SCALE / FEN_PER_YUAN);
}

const DECIMAL = /^-?\d{1,14}(\.\d{1,6})?$/;

/** Parses a decimal quantity ("123.45") into integer 10⁻⁶ units; throws on anything else. */
export function parseQuantity(text: string): bigint {
  const s = text.trim();
  if (!DECIMAL.test(s)) throw new RangeError(`"${text}" is not a decimal quantity with at most 6 decimals`);
  const neg = s.startsWith('-');
  const [whole, frac = ''] = (neg ? s.slice(1) : s).split('.');
  const micro = BigInt(whole!) * QUANTITY_SCALE + BigInt(frac.padEnd(QUANTITY_DECIMALS, '0'));
  return neg ? -micro : micro;
}

/** Integer 10⁻⁶ units as a decimal string without trailing zeros ("12.5", "3"). */
export function formatQuantity(micro: bigint): string {
  return trimDecimal(formatScaled(micro, QUANTITY_DECIMALS));
}

/** A decimal's text without trailing fractional zeros: "12.500000" → "12.5", "3.000" → "3", "100" → "100". */
export function trimDecimal(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** A quantity in 10⁻⁶ units as an exact ratio of whole units. */
export function quantityRatio(micro: bigint): Ratio {
  return Ratio.of(micro, QUANTITY_SCALE);
}

function formatScaled(value: bigint, places: number): string {
  const neg = value < 0n;
  const abs = neg ? -value : value;
  if (places === 0) return `${neg ? '-' : ''}${abs}`;
  const scale = 10n ** BigInt(places);
  return `${neg ? '-' : ''}${abs / scale}.${(abs % scale).toString().padStart(places, '0')}`;
}

/** Price units as a yuan decimal: 24500 → "2.45", 4883 → "0.4883". */
export function formatUnitPrice(unitPrice: number): string {
  const text = formatScaled(BigInt(unitPrice), 4);
  return text.replace(/(\.\d\d\d*?)0+$/, '$1');
}

/**
 * Splits a rounded total over exact parts so the rounded parts add up to it (largest remainder on the
 * exact values): the tier rows of a line, the months of a quarter, always sum to the line.
 */
export function splitExact(totalFen: number, parts: readonly Ratio[]): number[] {
  if (parts.length === 0) return [];
  const den = parts.reduce((acc, p) => lcm(acc, p.den), 1n);
  let weights = parts.map((p) => (p.num * (den / p.den)));
  // A credit (every part zero or below) is split like the charge it mirrors: by the magnitudes, and
  // splitByLargestRemainder negates the parts of a negative total.
  if (weights.every((w) => w <= 0n)) weights = weights.map((w) => -w);
  if (weights.some((w) => w < 0n) || weights.every((w) => w === 0n)) {
    // Nothing to weigh by (all zero) or mixed signs: each part rounded on its own, the last takes the rest.
    const rounded = parts.map((p) => Number(p.round('half-up')));
    const rest = totalFen - rounded.slice(0, -1).reduce((a, b) => a + b, 0);
    return [...rounded.slice(0, -1), rest];
  }
  return splitByLargestRemainder(totalFen, weights);
}

function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b;
}
