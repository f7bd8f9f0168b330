import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { TOPIC_ROOT, topics } from '@estate/protocol';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/log.js';
import { FAST_BACKOFF, FakeMeterDriver, tempDataDir, testConfig, waitFor } from './helpers.js';

const MOSQUITTO_URL = process.env.MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883';

describe('against Mosquitto (an independent broker)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('announces online, delivers readings in order, and leaves a retained offline state on stop', async () => {
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    // Fresh community and gateway ids: this test's topics are its own.
    const config = testConfig(MOSQUITTO_URL, { outbox: { quotaBytes: 16 * 1024 * 1024, alarmRatio: 0.8, batchSize: 4, replayMessagesPerSecond: 500 } });
    const observer = await mqtt.connectAsync(MOSQUITTO_URL, { clientId: `observer-${config.communityId}` });
    cleanups.push(() => observer.endAsync());
    const seen: { topic: string; payload: Record<string, unknown>; retain: boolean }[] = [];
    observer.on('message', (topic, payload, packet) => {
      if (payload.length > 0) seen.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain });
    });
    await observer.subscribeAsync(`${TOPIC_ROOT}/${config.communityId}/#`, { qos: 1 });

    const driver = new FakeMeterDriver('meters');
    const gateway = await startGateway({ config, dataDir: dir, drivers: [driver.factory()], log: silentLogger, backoff: FAST_BACKOFF });
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : gateway.stop()));
    // Retained state would outlive the test on a shared broker: clear it.
    cleanups.push(() => observer.publishAsync(topics.state(config), '', { qos: 1, retain: true }));
    await waitFor(() => gateway.isConnected(), 10_000, 'connect to mosquitto');
    await waitFor(() => seen.some((m) => m.topic === topics.state(config) && m.payload.state === 'online'), 5000, 'online state');

    for (let i = 0; i < 10; i++) driver.emit();
    await waitFor(() => gateway.outboxStats().depth === 0 && seen.filter((m) => m.topic === topics.uplink(config, 'readings')).length === 3, 10_000, 'readings');
    const seqs = seen.filter((m) => m.topic === topics.uplink(config, 'readings')).flatMap((m) => (m.payload.items as { seq: number }[]).map((i) => i.seq));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    await gateway.stop();
    stopped = true;
    await waitFor(() => seen.some((m) => m.topic === topics.state(config) && m.payload.state === 'offline'), 5000, 'offline state');

    // A late subscriber gets the retained offline state.
    const late = await mqtt.connectAsync(MOSQUITTO_URL, { clientId: `late-${config.communityId}` });
    cleanups.push(() => late.endAsync());
    const retained = new Promise<Record<string, unknown>>((resolve) => late.on('message', (_t, payload) => resolve(JSON.parse(payload.toString()) as Record<string, unknown>)));
    await late.subscribeAsync(topics.state(config), { qos: 1 });
    expect(await retained).toMatchObject({ v: 1, state: 'offline', bootId: gateway.bootId });
  });
});
