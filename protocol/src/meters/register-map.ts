import { z } from 'zod';

/**
 * A meter model's register map, kept as a data file per model (protocol/meter-models/*.json): which
 * holding/input registers hold which quantity, how to decode them and how to scale them.
 *
 * Modbus Application Protocol V1.1b3, 4.2: registers are 16-bit big-endian. Multi-register values have
 * no standard word order, so each map says it: `big` (high word first, "ABCD") or `little` ("CDAB").
 */
export const REGISTER_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64'] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];
export const REGISTER_WIDTH: Record<RegisterType, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 };

export const RegisterPoint = z.strictObject({
  quantity: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
  /** Protocol address (0-based), not the 4xxxx reference number. */
  address: z.number().int().min(0).max(65535),
  table: z.enum(['holding', 'input']).default('holding'),
  type: z.enum(REGISTER_TYPES),
  wordOrder: z.enum(['big', 'little']).default('big'),
  /** value = raw x 10^scale, kept exact as a decimal string. */
  scale: z.number().int().min(-6).max(6).default(0),
  unit: z.string().min(1).max(16),
  /** Cumulative counters are billed from; they must never run backwards. */
  cumulative: z.boolean().default(false),
  /** Largest raw value before the counter wraps to 0, for rollover detection. */
  rolloverAt: z.string().regex(/^\d+$/).optional(),
});
export type RegisterPoint = z.infer<typeof RegisterPoint>;

export const MeterModel = z
  .strictObject({
    model: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/),
    vendor: z.string().max(60),
    kind: z.enum(['electricity', 'water', 'gas', 'heat']),
    points: z.array(RegisterPoint).min(1),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const [i, p] of m.points.entries()) {
      if (seen.has(p.quantity)) ctx.addIssue({ code: 'custom', path: ['points', i, 'quantity'], message: `quantity "${p.quantity}" appears twice` });
      seen.add(p.quantity);
      if (p.address + REGISTER_WIDTH[p.type] - 1 > 65535) ctx.addIssue({ code: 'custom', path: ['points', i, 'address'], message: 'runs past register 65535' });
    }
  });
export type MeterModel = z.infer<typeof MeterModel>;

/** At most 125 registers per Read Holding/Input Registers request (Modbus Application Protocol 6.3). */
export const MAX_REGISTERS_PER_READ = 125;

export type ReadBlock = { table: 'holding' | 'input'; start: number; count: number; points: RegisterPoint[] };

/**
 * Plans the fewest requests that read every point: points of one table are merged when the gap between
 * them is at most `maxGap` registers (reading a few unused registers is cheaper than another round trip
 * on a 9600-baud bus) and the block stays within 125 registers.
 *
 * @example
 * planReads(model.points) // [{ table: 'holding', start: 0, count: 30, points: [...] }]
 */
export function planReads(points: readonly RegisterPoint[], maxGap = 8): ReadBlock[] {
  const blocks: ReadBlock[] = [];
  for (const table of ['holding', 'input'] as const) {
    const sorted = points.filter((p) => p.table === table).sort((a, b) => a.address - b.address);
    let current: ReadBlock | null = null;
    for (const point of sorted) {
      const end = point.address + REGISTER_WIDTH[point.type];
      if (current && point.address - (current.start + current.count) <= maxGap && end - current.start <= MAX_REGISTERS_PER_READ) {
        current.count = Math.max(current.count, end - current.start);
        current.points.push(point);
      } else {
        current = { table, start: point.address, count: end - point.address, points: [point] };
        blocks.push(current);
      }
    }
  }
  return blocks;
}

/** Orders a point's registers high word first, whatever the device's word order. */
function wordsBigEndian(registers: readonly number[], point: RegisterPoint): number[] {
  const words = registers.slice(0, REGISTER_WIDTH[point.type]);
  return point.wordOrder === 'little' ? [...words].reverse() : words;
}

/** Decodes one point from the registers that start at its address, exactly, as a decimal string. */
export function decodePoint(registers: readonly number[], point: RegisterPoint): string {
  const width = REGISTER_WIDTH[point.type];
  if (registers.length < width) throw new Error(`${point.quantity}: need ${width} registers, got ${registers.length}`);
  const bytes = new DataView(new ArrayBuffer(width * 2));
  wordsBigEndian(registers, point).forEach((w, i) => {
    if (!Number.isInteger(w) || w < 0 || w > 0xffff) throw new Error(`${point.quantity}: register value ${w} is not 16-bit`);
    bytes.setUint16(i * 2, w);
  });
  switch (point.type) {
    case 'int16':
      return scaleInteger(BigInt(bytes.getInt16(0)), point.scale);
    case 'uint16':
      return scaleInteger(BigInt(bytes.getUint16(0)), point.scale);
    case 'int32':
      return scaleInteger(BigInt(bytes.getInt32(0)), point.scale);
    case 'uint32':
      return scaleInteger(BigInt(bytes.getUint32(0)), point.scale);
    case 'int64':
      return scaleInteger(bytes.getBigInt64(0), point.scale);
    case 'uint64':
      return scaleInteger(bytes.getBigUint64(0), point.scale);
    case 'float32':
      return scaleFloat(bytes.getFloat32(0), point.scale, 7);
    case 'float64':
      return scaleFloat(bytes.getFloat64(0), point.scale, 15);
  }
}

/** The inverse of decodePoint, for simulators: the registers that hold `value` (already in units). */
export function encodePoint(value: string, point: RegisterPoint): number[] {
  const width = REGISTER_WIDTH[point.type];
  const bytes = new DataView(new ArrayBuffer(width * 2));
  if (point.type === 'float32' || point.type === 'float64') {
    const n = Number(value) / 10 ** point.scale;
    if (point.type === 'float32') bytes.setFloat32(0, n);
    else bytes.setFloat64(0, n);
  } else {
    const raw = unscaleToInteger(value, point.scale);
    if (point.type === 'int16') bytes.setInt16(0, Number(raw));
    else if (point.type === 'uint16') bytes.setUint16(0, Number(BigInt.asUintN(16, raw)));
    else if (point.type === 'int32') bytes.setInt32(0, Number(BigInt.asIntN(32, raw)));
    else if (point.type === 'uint32') bytes.setUint32(0, Number(BigInt.asUintN(32, raw)));
    else if (point.type === 'int64') bytes.setBigInt64(0, BigInt.asIntN(64, raw));
    else bytes.setBigUint64(0, BigInt.asUintN(64, raw));
  }
  const words = Array.from({ length: width }, (_, i) => bytes.getUint16(i * 2));
  return point.wordOrder === 'little' ? words.reverse() : words;
}

/** raw x 10^scale as an exact decimal string: 1234567, -2 -> "12345.67". */
export function scaleInteger(raw: bigint, scale: number): string {
  if (scale >= 0) return (raw * 10n ** BigInt(scale)).toString();
  const negative = raw < 0n;
  const digits = (negative ? -raw : raw).toString().padStart(-scale + 1, '0');
  const cut = digits.length + scale;
  return `${negative ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

function unscaleToInteger(value: string, scale: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (!m) throw new Error(`"${value}" is not a decimal number`);
  const [, sign, whole, frac = ''] = m;
  if (scale >= 0) return BigInt(`${sign}${whole}`) / 10n ** BigInt(scale);
  const places = -scale;
  return BigInt(`${sign}${whole}${frac.padEnd(places, '0').slice(0, places)}`);
}

function scaleFloat(n: number, scale: number, significant: number): string {
  if (!Number.isFinite(n)) throw new Error(`register holds ${n}, not a number`);
  // Floats carry about 7 (float32) or 15 (float64) significant digits; print no more than that.
  const rounded = Number((n * 10 ** scale).toPrecision(significant));
  // toFixed switches to exponent notation from 1e21 ("3e+30"); trimming zeros off that text once turned
  // 3e30 into "3e+3". Such a register is not a reading.
  if (Math.abs(rounded) >= 1e21) throw new Error(`register holds ${rounded}, too large for a decimal reading`);
  // Only zeros after the decimal point are trimmed; "-0" (a tiny negative) reads as "0".
  const text = rounded.toFixed(6).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return text === '-0' ? '0' : text;
}
