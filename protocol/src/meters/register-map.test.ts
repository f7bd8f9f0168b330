import { describe, expect, it } from 'vitest';
import { METER_MODELS } from './models.js';
import { decodePoint, encodePoint, MAX_REGISTERS_PER_READ, MeterModel, planReads, REGISTER_TYPES, REGISTER_WIDTH, RegisterPoint, scaleInteger, type RegisterType } from './register-map.js';

const point = (type: RegisterType, extra: Partial<RegisterPoint> = {}): RegisterPoint => RegisterPoint.parse({ quantity: 'q', address: 0, type, unit: 'u', ...extra });

// Values each type can hold exactly at scale 0, including both ends of its range.
const INTEGER_CASES: Record<Exclude<RegisterType, 'float32' | 'float64'>, string[]> = {
  int16: ['0', '1', '-1', '32767', '-32768', '1234'],
  uint16: ['0', '1', '65535', '40000'],
  int32: ['0', '-1', '2147483647', '-2147483648', '70000'],
  uint32: ['0', '4294967295', '99999999', '65536'],
  int64: ['0', '-1', '9223372036854775807', '-9223372036854775808', '4294967296'],
  uint64: ['0', '18446744073709551615', '4294967296'],
};

describe('decodePoint / encodePoint', () => {
  for (const [type, values] of Object.entries(INTEGER_CASES) as [keyof typeof INTEGER_CASES, string[]][]) {
    for (const wordOrder of ['big', 'little'] as const) {
      it(`round-trips ${type} (${wordOrder} word order) at its limits`, () => {
        for (const value of values) {
          const p = point(type, { wordOrder });
          const registers = encodePoint(value, p);
          expect(registers).toHaveLength(REGISTER_WIDTH[type]);
          expect(decodePoint(registers, p)).toBe(value);
        }
      });
    }
  }

  it('round-trips every integer type at every scale from -6 to 6', () => {
    for (const type of REGISTER_TYPES.filter((t) => !t.startsWith('float'))) {
      for (let scale = -6; scale <= 6; scale++) {
        const p = point(type, { scale, wordOrder: 'little' });
        const raw = 12345n;
        const value = scaleInteger(raw, scale);
        expect(decodePoint(encodePoint(value, p), p), `${type} scale ${scale}`).toBe(value);
      }
    }
  });

  it('puts the high word first for big and last for little word order (ABCD / CDAB)', () => {
    expect(encodePoint('305419896', point('uint32'))).toEqual([0x1234, 0x5678]);
    expect(encodePoint('305419896', point('uint32', { wordOrder: 'little' }))).toEqual([0x5678, 0x1234]);
    expect(decodePoint([0x5678, 0x1234], point('uint32', { wordOrder: 'little' }))).toBe('305419896');
    expect(encodePoint('1', point('float32'))).toEqual([0x3f80, 0x0000]);
    expect(encodePoint('1', point('float64', { wordOrder: 'little' }))).toEqual([0, 0, 0, 0x3ff0]);
  });

  it('applies the scale exactly, with no float rounding, for signed values too', () => {
    expect(decodePoint([0, 12345], point('uint32', { scale: -2 }))).toBe('123.45');
    expect(decodePoint([5], point('uint16', { scale: -3 }))).toBe('0.005');
    expect(decodePoint([0xfffb], point('int16', { scale: -2 }))).toBe('-0.05');
    expect(decodePoint([12], point('uint16', { scale: 2 }))).toBe('1200');
    expect(encodePoint('123.45', point('uint32', { scale: -2, wordOrder: 'little' }))).toEqual([12345, 0]);
    expect(encodePoint('999999.99', point('uint32', { scale: -2 }))).toEqual([0x05f5, 0xe0ff]);
  });

  it('round-trips float32 to 7 and float64 to 15 significant digits, at any scale and word order', () => {
    for (const wordOrder of ['big', 'little'] as const) {
      for (const [value, scale] of [['230.1', 0], ['0.98', 0], ['12345.6', 0], ['-3.25', 0], ['50.01', -1], ['1.5', 3]] as const) {
        const p = point('float32', { wordOrder, scale });
        expect(decodePoint(encodePoint(value, p), p)).toBe(value);
      }
      for (const value of ['123456789.123456', '-0.000001', '98765.4321']) {
        const p = point('float64', { wordOrder });
        expect(decodePoint(encodePoint(value, p), p)).toBe(value);
      }
    }
  });

  it('prints floats as plain decimals: no exponent, no "-0" (fixed in register-map.ts)', () => {
    const f32 = point('float32');
    expect(decodePoint(encodePoint('-0.0000001', f32), f32)).toBe('0');
    expect(decodePoint(encodePoint('100', f32), f32)).toBe('100');
    expect(decodePoint(encodePoint('1000000', f32), f32)).toBe('1000000');
    expect(decodePoint(encodePoint('0.5', f32), f32)).toBe('0.5');
    // Was "3e+3": the zero-trimming ate the exponent's digit.
    expect(() => decodePoint(encodePoint('3e30', f32), f32)).toThrow(/too large for a decimal reading/);
  });

  it('refuses too few registers, non-16-bit words and non-finite floats', () => {
    expect(() => decodePoint([1], point('uint32'))).toThrow(/need 2 registers, got 1/);
    expect(() => decodePoint([70000], point('uint16'))).toThrow(/not 16-bit/);
    expect(() => decodePoint([0x7fc0, 0], point('float32'))).toThrow(/not a number/);
    expect(() => encodePoint('12,5', point('uint16'))).toThrow(/not a decimal number/);
  });

  it('decodes every shipped model from the registers its own encoding produces', () => {
    for (const model of METER_MODELS.values()) {
      for (const p of model.points) {
        const value = p.type.startsWith('float') ? '231.5' : scaleInteger(4321n, p.scale);
        expect(decodePoint(encodePoint(value, p), p), `${model.model}.${p.quantity}`).toBe(value);
      }
    }
  });
});

describe('planReads', () => {
  const at = (address: number, type: RegisterType = 'uint16', table: 'holding' | 'input' = 'holding') => point(type, { quantity: `q${address}_${table}`, address, table });

  it('merges points whose gap is at most 8 registers and splits beyond', () => {
    const blocks = planReads([at(0, 'uint32'), at(10), at(30)]);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0, 11], [30, 1]]);
    // gap of exactly 8 (registers 2..9) merges; 9 does not.
    expect(planReads([at(0, 'uint32'), at(10)]).length).toBe(1);
    expect(planReads([at(0, 'uint32'), at(11)]).length).toBe(2);
    expect(planReads([at(0), at(5)], 0).length).toBe(2);
  });

  it('never plans a request over 125 registers (Application Protocol 6.3)', () => {
    const points = Array.from({ length: 100 }, (_, i) => at(i * 4, 'float64'));
    const blocks = planReads(points);
    expect(blocks.every((b) => b.count <= 125)).toBe(true);
    expect(blocks.map((b) => b.count)).toEqual([124, 124, 124, 28]);
    expect(blocks.flatMap((b) => b.points)).toHaveLength(100);
    // A point is never cut across two requests.
    for (const b of blocks) for (const p of b.points) expect(p.address + REGISTER_WIDTH[p.type]).toBeLessThanOrEqual(b.start + b.count);
    expect(planReads([at(0), at(124)]).map((b) => b.count)).toEqual([1, 1]);
    expect(planReads([at(0), at(124)], 200).map((b) => b.count)).toEqual([125]);
    expect(planReads([at(0), at(124, 'uint32')], 200).map((b) => b.count)).toEqual([1, 2]);
  });

  it('keeps holding and input registers in separate requests, sorted by address', () => {
    const blocks = planReads([at(4, 'uint16', 'input'), at(2), at(0, 'uint16', 'input'), at(0)]);
    expect(blocks.map((b) => [b.table, b.start, b.count])).toEqual([
      ['holding', 0, 3],
      ['input', 0, 5],
    ]);
  });

  it('plans the shipped models into the requests the meters document', () => {
    const plan = (name: string) => planReads(METER_MODELS.get(name)!.points).map((b) => [b.start, b.count]);
    expect(plan('DTSY-TOU')).toEqual([[0, 14]]);
    expect(plan('LXSY-RS485')).toEqual([[0, 4]]);
    expect(plan('DDSU666')).toEqual([[8192, 16], [16384, 2]]);
    expect(MAX_REGISTERS_PER_READ).toBe(125);
  });

  it('refuses a model whose point runs past register 65535 or names a quantity twice', () => {
    const base = { model: 'X', vendor: 'v', kind: 'water' as const };
    expect(MeterModel.safeParse({ ...base, points: [{ quantity: 'a', address: 65535, type: 'uint32', unit: 'm3' }] }).success).toBe(false);
    expect(MeterModel.safeParse({ ...base, points: [{ quantity: 'a', address: 0, type: 'uint16', unit: 'm3' }, { quantity: 'a', address: 1, type: 'uint16', unit: 'm3' }] }).success).toBe(false);
  });
});
