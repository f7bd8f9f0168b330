import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '@estate/protocol';
import { connectExternalBroker, type ExternalClient } from './external-client.js';
import { connectClient, deferred, eventually } from './mqtt.test-helpers.js';
import { mqttMetrics } from './mqtt-metrics.js';

// Against the independent Mosquitto on 127.0.0.1:1883 (anonymous access). The cloud subscribes to every
// community, so it also hears other test runs: each test uses its own community id and looks only at that.
const MOSQUITTO = process.env['TEST_MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';
const log = pino({ level: 'silent' });

describe('external broker client (Mosquitto)', () => {
  const metrics = mqttMetrics(new Registry());
  const open: (ExternalClient | MqttClient)[] = [];
  const sessions = new Set<string>();
  afterAll(async () => {
    for (const c of open) {
      if ('client' in c) await c.close();
      else c.end(true);
    }
    // Leave no persistent sessions behind in the shared Mosquitto ([MQTT-3.1.2-6]: clean session discards them).
    for (const clientId of sessions) (await connectClient(MOSQUITTO, { clientId, clean: true })).end();
  });

  function cloud(clientId: string) {
    sessions.add(clientId);
    return connectExternalBroker({ url: MOSQUITTO, clientId, log, metrics, retry: { firstDelayMs: 10, maxDelayMs: 50 }, mqtt: { reconnectPeriod: 0 } }).then((c) => {
      open.push(c);
      return c;
    });
  }

  async function fakeGateway() {
    const client = await connectClient(MOSQUITTO, { clientId: `gw-${randomUUID()}` });
    open.push(client);
    return client;
  }

  it('receives gateway messages on the cloud subscriptions and publishes downlink commands', async () => {
    const gw = { communityId: randomUUID(), gatewayId: randomUUID() };
    const c = await cloud(`test-cloud-${randomUUID()}`);
    await c.subscribed;
    const seen: string[] = [];
    c.onMessage(async (topic, payload) => {
      if (topic.includes(gw.communityId)) seen.push(`${topic} ${payload.toString()}`);
    });
    const gateway = await fakeGateway();
    await gateway.subscribeAsync(topics.gatewaySubscriptions(gw), { qos: 1 });
    const command = new Promise<string>((resolve) => gateway.once('message', (_t, p) => resolve(p.toString())));
    await gateway.publishAsync(topics.uplink(gw, 'telemetry'), 'one', { qos: 1 });
    await gateway.publishAsync(topics.deviceAvailability(gw, 'm1'), 'two', { qos: 1 });
    await eventually(() => seen.length === 2);
    expect(seen).toEqual([`${topics.uplink(gw, 'telemetry')} one`, `${topics.deviceAvailability(gw, 'm1')} two`]);
    await c.publish(topics.downlink(gw, 'commands'), 'ping', { qos: 1 });
    expect(await command).toBe('ping');
    await c.ping();
  });

  it('retries a failing handler and handles the message once it succeeds', async () => {
    const gw = { communityId: randomUUID(), gatewayId: randomUUID() };
    const c = await cloud(`test-cloud-${randomUUID()}`);
    await c.subscribed;
    let calls = 0;
    const done = deferred();
    c.onMessage(async (topic) => {
      if (!topic.includes(gw.communityId)) return;
      calls += 1;
      if (calls <= 2) throw new Error('database down');
      done.resolve();
    });
    const gateway = await fakeGateway();
    await gateway.publishAsync(topics.uplink(gw, 'readings'), 'r', { qos: 1 });
    await done.promise;
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(3);
  });

  it('does not acknowledge a message whose handler never finished: the next session gets it again', async () => {
    const gw = { communityId: randomUUID(), gatewayId: randomUUID() };
    const clientId = `test-cloud-${randomUUID()}`;
    const first = await cloud(clientId);
    await first.subscribed;
    const started = deferred();
    first.onMessage(async (topic) => {
      if (!topic.includes(gw.communityId)) return;
      started.resolve();
      return new Promise<void>(() => {}); // the database never answers
    });
    const gateway = await fakeGateway();
    await gateway.publishAsync(topics.uplink(gw, 'readings'), 'batch-1', { qos: 1 });
    await started.promise;
    await first.close(); // no PUBACK was sent for batch-1

    const second = await cloud(clientId); // same client id, clean: false: the session survives ([MQTT-3.1.2-4])
    const got = deferred<string>();
    second.onMessage(async (topic, payload) => {
      if (topic.includes(gw.communityId)) got.resolve(payload.toString());
    });
    expect(await got.promise).toBe('batch-1');
  });
});
