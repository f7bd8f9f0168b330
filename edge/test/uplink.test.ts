import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@estate/protocol';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/log.js';
import { TestBroker } from './broker.js';
import { FAST_BACKOFF, FakeMeterDriver, tempDataDir, testConfig, waitFor } from './helpers.js';

describe('uplink through the durable outbox (aedes)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(outbox: { batchSize?: number; replayMessagesPerSecond?: number } = {}) {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.down());
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const config = testConfig(broker.url, { outbox: { quotaBytes: 16 * 1024 * 1024, alarmRatio: 0.8, batchSize: outbox.batchSize ?? 100, replayMessagesPerSecond: outbox.replayMessagesPerSecond ?? 1000 } });
    const driver = new FakeMeterDriver('fake-meters');
    const gateway: Gateway = await startGateway({ config, dataDir: dir, drivers: [driver.factory()], log: silentLogger, backoff: FAST_BACKOFF });
    cleanups.push(() => gateway.stop());
    return { broker, config, driver, gateway, dir };
  }

  it('announces itself online (retained), publishes readings in seq order and deletes them after PUBACK', async () => {
    const { broker, config, driver, gateway } = await setup({ batchSize: 3 });
    await waitFor(() => gateway.isConnected(), 5000, 'connect');
    const state = broker.received.find((m) => m.topic === topics.state(config));
    expect(state).toMatchObject({ retain: true, payload: { v: 1, state: 'online', bootId: gateway.bootId } });

    for (let i = 0; i < 10; i++) driver.emit();
    await waitFor(() => broker.items('readings').length === 10 && gateway.outboxStats().depth === 0, 5000, 'readings delivered');
    const messages = broker.messages('readings');
    expect(messages.every((m) => m.topic === topics.uplink(config, 'readings'))).toBe(true);
    expect(messages.every((m) => (m.payload as { items: unknown[] }).items.length <= 3)).toBe(true);
    expect(messages[0]!.payload).toMatchObject({ v: 1, gatewayId: config.gatewayId });
    expect(broker.items('readings').map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(gateway.outboxStats()).toMatchObject({ depth: 0, bytes: 0, oldestSeq: null });
  });

  it('keeps records while the broker is down and delivers every one, in order, after it returns', async () => {
    const { broker, driver, gateway } = await setup({ batchSize: 7 });
    await waitFor(() => gateway.isConnected(), 5000, 'connect');
    for (let i = 0; i < 20; i++) driver.emit();
    await waitFor(() => broker.items('readings').length === 20, 5000, 'first readings');

    await broker.down();
    await waitFor(() => !gateway.isConnected(), 5000, 'disconnect noticed');
    for (let i = 0; i < 50; i++) {
      driver.emit();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(gateway.outboxStats().depth).toBe(50);
    expect(gateway.outboxStats().oldestSeq).toBe(21);
    await new Promise((r) => setTimeout(r, 500));
    await broker.up();

    await waitFor(() => gateway.outboxStats().depth === 0, 10_000, 'outbox drained');
    const seqs = broker.items('readings').map((r) => r.seq);
    const firstArrival = seqs.filter((s, i) => seqs.indexOf(s) === i);
    expect(firstArrival).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    const values = broker.items<{ seq: number; values: { energy_kwh: { value: string } } }>('readings').map((r) => [r.seq, r.values.energy_kwh.value]);
    // Same record, same seq: a re-sent record is never renumbered.
    for (const [seq, value] of values) expect(value).toBe(`${seq}.00`);
  });

  it('replays a backlog no faster than replayMessagesPerSecond', async () => {
    const { broker, driver, gateway } = await setup({ batchSize: 2, replayMessagesPerSecond: 10 });
    await waitFor(() => gateway.isConnected(), 5000, 'connect');
    await broker.down();
    await waitFor(() => !gateway.isConnected(), 5000, 'disconnect noticed');
    for (let i = 0; i < 30; i++) driver.emit();
    await broker.up();
    await waitFor(() => gateway.outboxStats().depth === 0, 10_000, 'outbox drained');
    const messages = broker.messages('readings');
    expect(messages).toHaveLength(15);
    const times = messages.map((m) => m.at);
    // 15 messages at 10/s: the first goes at once, then one every 100 ms.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(14 * 100 - 30);
    for (let i = 0; i + 10 < times.length; i++) expect(times[i + 10]! - times[i]!).toBeGreaterThanOrEqual(1000 - 30);
  });

  it('reports health on the telemetry channel with the outbox and every driver', async () => {
    const { broker, gateway } = await setup();
    await waitFor(() => gateway.isConnected(), 5000, 'connect');
    gateway.reportHealth();
    await waitFor(() => broker.items('telemetry').length === 1, 5000, 'telemetry');
    expect(broker.items('telemetry')[0]).toMatchObject({ seq: 1, drivers: [{ name: 'fake-meters', status: 'running', devices: 1 }], outbox: { alarm: false, quotaBytes: 16 * 1024 * 1024 } });
  });
});
