import { describe, expect, it } from 'vitest';
import { consumptionBetween, detectAnomalies, fromMicro, rolloverModulusMicro, toMicro, type MeterRules, type TimelinePoint } from './reading-anomalies.js';

const rules: MeterRules = { unit: 'kWh', pollSeconds: 900, polled: true, rolloverModulusMicro: rolloverModulusMicro('99999999', -2) };
const Q = 900_000;
const at = (i: number, value: string): TimelinePoint => ({ atMs: i * Q, micro: toMicro(value) });

describe('reading anomaly rules', () => {
  it('keeps decimals exact', () => {
    expect(toMicro('100.500000')).toBe(100_500000n);
    expect(fromMicro(toMicro('0.1') + toMicro('0.2'))).toBe('0.3');
    expect(() => toMicro('1.1234567')).toThrow();
  });

  it('reads the wrap point from the register map: raw 99999999 at scale -2 wraps at 1000000.00 kWh', () => {
    expect(rules.rolloverModulusMicro).toBe(toMicro('1000000'));
  });

  it('flags a decrease as backwards: 100.00 -> 99.50', () => {
    expect(detectAnomalies([at(0, '100.00')], at(1, '99.50'), rules)).toEqual(['backwards']);
  });

  it('flags a wrap as rollover and counts the consumption across it: 999999.90 -> 0.05 is 0.15', () => {
    expect(detectAnomalies([at(0, '999999.90')], at(1, '0.05'), rules)).toEqual(['rollover']);
    expect(consumptionBetween(toMicro('999999.90'), toMicro('0.05'), rules.rolloverModulusMicro)).toEqual({ kind: 'rollover', micro: 150000n });
    // Far from the top of the range a decrease is not a wrap.
    expect(detectAnomalies([at(0, '500000.00')], at(1, '0.05'), rules)).toEqual(['backwards']);
  });

  it('flags a spike: > 10x the median rate of the last 8 intervals and above 2 kWh/h', () => {
    const history = ['100.00', '100.25', '100.50', '100.75', '101.00'].map((v, i) => at(i, v)); // 1 kWh/h
    expect(detectAnomalies(history, at(5, '103.60'), rules)).toEqual(['spike']); // 2.6 kWh in 15 min = 10.4 kWh/h
    expect(detectAnomalies(history, at(5, '103.40'), rules)).toEqual([]); // 9.6 kWh/h: under 10x
    // A nearly idle flat (0.04 kWh/h) switching on a 1 kW heater: 25x but under the 2 kWh/h floor.
    const idle = ['5.00', '5.01', '5.02', '5.03'].map((v, i) => at(i, v));
    expect(detectAnomalies(idle, at(4, '5.28'), rules)).toEqual([]);
  });

  it('needs three earlier intervals before it calls anything a spike', () => {
    expect(detectAnomalies([at(0, '1'), at(1, '1.25')], at(2, '50'), rules)).toEqual([]);
  });

  it('flags a gap longer than 3 poll periods, only for gateway-polled meters', () => {
    expect(detectAnomalies([at(0, '100')], at(3, '100.5'), rules)).toEqual([]);
    expect(detectAnomalies([at(0, '100')], { atMs: 3 * Q + 1, micro: toMicro('100.5') }, rules)).toEqual(['gap']);
    expect(detectAnomalies([at(0, '100')], at(40, '110'), { ...rules, polled: false })).toEqual([]);
  });

  it('measures no gap from a hand-read reading: the gateway’s first poll after a meter round missed nothing', () => {
    const handRead = { ...at(0, '100'), polled: false };
    expect(detectAnomalies([handRead], at(40 * 96, '400'), rules)).toEqual([]);
    expect(detectAnomalies([handRead, at(40 * 96, '400')], at(40 * 96 + 4, '400.5'), rules)).toEqual(['gap']);
  });

  it('judges the first reading of a meter against nothing', () => {
    expect(detectAnomalies([], at(0, '3.5'), rules)).toEqual([]);
  });
});
