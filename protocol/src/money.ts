/**
 * Money is integer fen (1 yuan = 100 fen) everywhere: in the database, on the wire, in every computation
 * that edge and cloud must agree on. Floating-point yuan never appear; a value that is not a safe integer
 * fails loudly instead of being rounded into something plausible (DESIGN.md, Invariants: Money).
 */
export type Fen = number;

/**
 * Throws unless `n` is a safe integer, so a formula error surfaces here rather than as a wrong bill.
 * Negative amounts are allowed (refunds, credits).
 *
 * @example
 * assertFen(1234);        // ok
 * assertFen(12.5);        // throws RangeError
 */
export function assertFen(n: number, what = 'amount'): asserts n is Fen {
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`${what} must be a whole number of fen (a safe integer), got ${String(n)}`);
  }
}

/**
 * Splits `totalFen` in proportion to `weights` by the largest-remainder method (Hamilton): every part gets
 * the floor of its exact quota, and the fen left over go one each to the parts with the largest remainders,
 * ties to the lowest index. The parts always add up to exactly `totalFen`, and each differs from its exact
 * quota by less than one fen.
 *
 * Weights are computed exactly: bigint weights as they are, number weights by their shortest decimal form
 * (89.37 m² is 8937/100, not the nearest binary double), so equal areas always get equal remainders.
 * A negative total is split as its absolute value and negated, so a refund mirrors its charge.
 *
 * @throws RangeError when the total is not a safe integer, a weight is negative or not finite, or the
 *   weights sum to zero (there is nothing to split by).
 *
 * @example
 * splitByLargestRemainder(100, [1, 1, 1]);          // [34, 33, 33]
 * splitByLargestRemainder(10_000, [89.37, 120.5]);  // [4258, 5742]
 */
export function splitByLargestRemainder(totalFen: number, weights: readonly number[] | readonly bigint[]): number[] {
  assertFen(totalFen, 'total');
  const exact = toExactWeights(weights);
  const weightSum = exact.reduce((sum, w) => sum + w, 0n);
  if (weightSum === 0n) throw new RangeError('weights must not all be zero (and there must be at least one)');

  const sign = totalFen < 0 ? -1 : 1;
  const total = BigInt(Math.abs(totalFen));
  const parts: bigint[] = [];
  const remainders: bigint[] = [];
  let allotted = 0n;
  for (const w of exact) {
    const scaled = total * w;
    const part = scaled / weightSum;
    parts.push(part);
    remainders.push(scaled % weightSum);
    allotted += part;
  }

  // Fewer than weights.length fen are left over, by construction of the floors.
  const leftover = Number(total - allotted);
  const order = remainders
    .map((remainder, index) => ({ remainder, index }))
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (let k = 0; k < leftover; k++) parts[order[k]!.index]! += 1n;

  // 0 * -1 would be -0; keep zero parts plain.
  return parts.map((part) => (part === 0n ? 0 : sign * Number(part)));
}

/**
 * Formats fen as yuan with two decimals and no grouping: 1234 → "¥12.34", -5 → "-¥0.05".
 *
 * @example
 * formatYuan(123456); // "¥1234.56"
 */
export function formatYuan(fen: Fen): string {
  assertFen(fen);
  const abs = Math.abs(fen);
  const yuan = Math.floor(abs / 100);
  const cents = String(abs % 100).padStart(2, '0');
  return `${fen < 0 ? '-' : ''}¥${yuan}.${cents}`;
}

/** Scales every weight to a bigint over one common power of ten, exactly. */
function toExactWeights(weights: readonly number[] | readonly bigint[]): bigint[] {
  const decimals: { digits: bigint; scale: number }[] = [];
  for (const [index, weight] of weights.entries()) {
    if (typeof weight === 'bigint') {
      if (weight < 0n) throw new RangeError(`weight ${index} is negative (${weight})`);
      decimals.push({ digits: weight, scale: 0 });
    } else {
      if (!Number.isFinite(weight) || weight < 0) throw new RangeError(`weight ${index} must be a finite number >= 0, got ${String(weight)}`);
      decimals.push(toDecimal(weight));
    }
  }
  const scale = Math.max(0, ...decimals.map((d) => d.scale));
  return decimals.map((d) => d.digits * 10n ** BigInt(scale - d.scale));
}

/** 89.37 → { digits: 8937n, scale: 2 }; 1.5e+21 → { digits: 15n * 10n ** 20n, scale: 0 }. */
function toDecimal(n: number): { digits: bigint; scale: number } {
  // String(n) is the shortest decimal that round-trips to n (ECMA-262, Number::toString).
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(n));
  if (!match) throw new RangeError(`cannot read ${String(n)} as a decimal weight`);
  const [, int = '', frac = '', exp = '0'] = match;
  const shift = Number(exp) - frac.length;
  const digits = BigInt(int + frac);
  return shift >= 0 ? { digits: digits * 10n ** BigInt(shift), scale: 0 } : { digits, scale: -shift };
}

const YUAN_TEXT = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?$/;

/**
 * Parses yuan as payment providers write it ("0.01", "12.3", "100"; "-12.30" with `allowNegative`) into
 * exact fen with string and integer arithmetic only. Refuses anything else rather than guessing: more
 * than two decimals, exponents, spaces, leading zeros, a bare or trailing point, the empty string,
 * non-strings and values beyond a safe integer.
 *
 * @example
 * parseYuanText('12.3');                            // 1230
 * parseYuanText('-0.05', { allowNegative: true });  // -5
 * @throws TypeError for a non-string, RangeError for a string that is not such an amount.
 */
export function parseYuanText(text: unknown, options: { allowNegative?: boolean } = {}): Fen {
  if (typeof text !== 'string') throw new TypeError(`a yuan amount must be a string, got ${typeof text}`);
  const match = YUAN_TEXT.exec(text);
  if (!match || (match[1] === '-' && !options.allowNegative)) {
    throw new RangeError(`not a ${options.allowNegative ? '' : 'non-negative '}yuan amount with at most two decimals: ${JSON.stringify(text)}`);
  }
  const [, minus = '', whole = '0', cents = ''] = match;
  const fen = BigInt(whole) * 100n + BigInt(cents.padEnd(2, '0'));
  if (fen > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`yuan amount too large: ${text}`);
  const n = Number(fen);
  // '-0.00' is zero, not -0.
  return minus && n !== 0 ? -n : n;
}

/**
 * Fen as providers' yuan text: two decimals, no currency sign, no grouping (1230 → "12.30", -5 → "-0.05").
 *
 * @example
 * yuanText(1230); // "12.30"
 */
export function yuanText(fen: Fen): string {
  return formatYuan(fen).replace('¥', '');
}
