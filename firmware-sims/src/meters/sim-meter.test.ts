import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { consumptionBetween, hourlyRate, localHour } from './consumption.js';
import { crc16, takeRtuFrames, takeTcpFrames, tcpFrame, withCrc } from './modbus-wire.js';
import { SimulatedMeter } from './sim-meter.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
// Midnight in Asia/Shanghai.
const LOCAL_MIDNIGHT = Date.UTC(2025, 2, 9, 16);

describe('consumption profiles', () => {
  it('gives a household 8-15 kWh and 0.3-0.6 m3 a day, every day, for many seeds', () => {
    for (let seed = 1; seed <= 50; seed++) {
      for (let day = 0; day < 7; day++) {
        const from = LOCAL_MIDNIGHT + day * DAY;
        const kwh = consumptionBetween('electricity', seed, from, from + DAY).total;
        const m3 = consumptionBetween('water', seed, from, from + DAY).total;
        expect(kwh, `seed ${seed} day ${day}`).toBeGreaterThan(6.5);
        expect(kwh).toBeLessThan(17);
        expect(m3).toBeGreaterThan(0.24);
        expect(m3).toBeLessThan(0.7);
      }
    }
  });

  it('uses more in the evening than at night, and water mostly morning and evening', () => {
    let evening = 0;
    let night = 0;
    let waterPeaks = 0;
    let waterTotal = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const base = localHour(LOCAL_MIDNIGHT).hourIndex;
      for (let h = 0; h < 24; h++) {
        const rate = hourlyRate('electricity', seed, base + h);
        if (h >= 18 && h < 22) evening += rate;
        if (h >= 1 && h < 5) night += rate;
        const water = hourlyRate('water', seed, base + h);
        waterTotal += water;
        if ((h >= 6 && h < 9) || (h >= 18 && h < 22)) waterPeaks += water;
      }
    }
    expect(evening).toBeGreaterThan(5 * night);
    expect(waterPeaks / waterTotal).toBeGreaterThan(0.6);
  });

  it('is deterministic per seed and additive over time', () => {
    const a = consumptionBetween('electricity', 7, LOCAL_MIDNIGHT, LOCAL_MIDNIGHT + 30 * HOUR);
    const b1 = consumptionBetween('electricity', 7, LOCAL_MIDNIGHT, LOCAL_MIDNIGHT + 13.5 * HOUR);
    const b2 = consumptionBetween('electricity', 7, LOCAL_MIDNIGHT + 13.5 * HOUR, LOCAL_MIDNIGHT + 30 * HOUR);
    expect(b1.total + b2.total).toBeCloseTo(a.total, 9);
    expect(consumptionBetween('electricity', 8, LOCAL_MIDNIGHT, LOCAL_MIDNIGHT + DAY).total).not.toBeCloseTo(a.total, 3);
  });
});

describe('SimulatedMeter', () => {
  it('counts up with its clock and answers reads from its register map', () => {
    const clock = new ManualClock(LOCAL_MIDNIGHT);
    const meter = new SimulatedMeter({ unitId: 3, model: 'DTSY-TOU', startReading: 1000 }, clock);
    expect(meter.values()['energy_import']).toBe('1000.00');
    clock.advance(DAY);
    const total = Number(meter.values()['energy_import']);
    expect(total - 1000).toBeGreaterThan(6.5);
    expect(total - 1000).toBeLessThan(17);
    const peak = Number(meter.values()['energy_peak']) - 600;
    const valley = Number(meter.values()['energy_valley']) - 400;
    expect(peak + valley).toBeCloseTo(total - 1000, 1);
    expect(meter.read('holding', 0, 14)).toMatchObject({ ok: true });
    expect(meter.read('holding', 0, 200)).toEqual({ ok: false, exception: 0x03 });
    expect(meter.read('holding', 100, 2)).toEqual({ ok: false, exception: 0x02 });
    expect(meter.read('input', 0, 2)).toEqual({ ok: false, exception: 0x02 });
  });

  it('rolls back, is replaced with a new serial, and wraps at rolloverAt', () => {
    const clock = new ManualClock(LOCAL_MIDNIGHT);
    const meter = new SimulatedMeter({ unitId: 1, model: 'LXSY-RS485', startReading: 500 }, clock);
    meter.setFault({ kind: 'rollback', by: 2 });
    expect(meter.values()['volume']).toBe('498.000');
    const serial = meter.serial;
    meter.setFault({ kind: 'replace', startReading: 0.1 });
    expect(meter.values()['volume']).toBe('0.100');
    expect(meter.serial).not.toBe(serial);
    meter.setFault({ kind: 'rollover', lead: 0.002 });
    expect(meter.values()['volume']).toBe('99999.997');
    clock.advance(12 * HOUR);
    expect(Number(meter.values()['volume'])).toBeLessThan(1);
    const float = new SimulatedMeter({ unitId: 2, model: 'DDSU666' }, clock);
    expect(() => float.setFault({ kind: 'rollover' })).toThrow(/no counter with rolloverAt/);
  });
});

describe('Modbus wire framing', () => {
  it('computes CRC-16/MODBUS and sends it low byte first', () => {
    // Read Holding Registers, unit 1, start 0, quantity 10: the classic example frame 01 03 00 00 00 0A C5 CD.
    expect(withCrc(Buffer.from([1, 3, 0, 0, 0, 10])).toString('hex')).toBe('01030000000ac5cd');
    expect(crc16(Buffer.from('123456789'))).toBe(0x4b37);
  });

  it('finds RTU requests among noise and bad CRCs, and splits TCP streams by MBAP length', () => {
    const good = withCrc(Buffer.from([7, 4, 0, 2, 0, 3]));
    const bad = Buffer.from(good);
    bad[7] = bad[7]! ^ 0xff;
    const { frames } = takeRtuFrames(Buffer.concat([Buffer.from([0xff, 0x13]), bad, good]));
    expect(frames).toEqual([{ unitId: 7, pdu: Buffer.from([4, 0, 2, 0, 3]) }]);
    const tcp = Buffer.concat([tcpFrame(9, 2, Buffer.from([3, 0, 0, 0, 4])), tcpFrame(10, 3, Buffer.from([3, 0, 1, 0, 1]))]);
    const split = takeTcpFrames(tcp.subarray(0, 15));
    expect(split.frames.map((f) => [f.transactionId, f.unitId])).toEqual([[9, 2]]);
    expect(takeTcpFrames(Buffer.from('deadbeefdeadbeef', 'hex')).rest.length).toBe(0);
  });
});
