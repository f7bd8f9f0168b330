import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { tempDataDir } from '../../test/helpers.js';
import { Outbox, OutboxFullError } from './outbox.js';
import { openGatewayStore } from './store.js';

const MB = 1024 * 1024;
const reading = (n: number) => ({ meterId: 'm-1', readAt: new Date(Date.UTC(2025, 0, 1, 0, n)).toISOString(), values: { energy_kwh: { value: `${n}.5`, unit: 'kWh' } } });
const health = () => ({ at: new Date().toISOString(), version: 't', uptimeSeconds: 1, rssBytes: 1, outbox: { depth: 0, bytes: 0, quotaBytes: MB, oldestSeq: null, alarm: false }, drivers: [] });

describe('Outbox', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  function open(dir: string, quotaBytes = 64 * MB, alarmRatio = 0.8) {
    const store = openGatewayStore(dir);
    cleanups.push(() => store.close());
    return { store, outbox: new Outbox(store, { quotaBytes, alarmRatio }, silentLogger) };
  }

  it('assigns increasing seqs across channels and never reuses one, even after deletes and a reopen', async () => {
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const first = open(dir);
    expect(first.outbox.append('readings', reading(1))).toBe(1);
    expect(first.outbox.append('telemetry', health())).toBe(2);
    expect(first.outbox.append('readings', reading(2))).toBe(3);
    first.outbox.remove('readings', [1, 3]);
    first.outbox.remove('telemetry', [2]);
    expect(first.outbox.stats()).toMatchObject({ depth: 0, oldestSeq: null });
    await first.store.close();
    cleanups.length = 1;

    const second = open(dir);
    expect(second.outbox.append('readings', reading(3))).toBe(4);
    expect(second.outbox.read('readings', 0, 10).map((r) => JSON.parse(r.json))).toEqual([{ seq: 4, ...reading(3) }]);
    expect(second.outbox.stats()).toMatchObject({ depth: 1, oldestSeq: 4 });
  });

  it('raises the alarm at alarmRatio, keeps only the newest telemetry above it, and refuses readings only when full', () => {
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const quota = 64 * 1024;
    const { outbox } = open(dir, quota, 0.5);
    for (let i = 0; i < 5; i++) outbox.append('telemetry', health());
    let n = 0;
    while (!outbox.stats().alarm) outbox.append('readings', reading(++n));
    const atAlarm = outbox.stats();
    expect(atAlarm.bytes).toBeGreaterThanOrEqual(quota * 0.5);
    outbox.append('telemetry', health());
    expect(outbox.stats().byChannel.telemetry.depth).toBe(1);
    expect(outbox.stats().telemetryEvicted).toBe(5);

    // Fill to the quota with readings: the last telemetry goes first, then readings are refused, counted.
    let refused: unknown = null;
    try {
      for (;;) outbox.append('readings', reading(++n));
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(OutboxFullError);
    const full = outbox.stats();
    expect(full.byChannel.telemetry.depth).toBe(0);
    expect(full.telemetryEvicted).toBe(6);
    expect(full.refused.readings).toBe(1);
    expect(full.bytes).toBeLessThanOrEqual(quota);
    // Every stored reading is still there, none dropped.
    expect(full.byChannel.readings.depth).toBe(n - 1);
    expect(() => outbox.append('telemetry', health())).toThrow(OutboxFullError);
    expect(outbox.stats().refused.telemetry).toBe(1);
  });
});
