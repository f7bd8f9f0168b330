import { randomUUID } from 'node:crypto';
import { Aedes } from 'aedes';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES, topics, type GatewayAddress } from '@estate/protocol';
import { PACKET_LIMITS, startEmbeddedBroker, type EmbeddedBroker, type GatewayAuthority } from './embedded-broker.js';
import { PacketSizeReader } from './packet-size-guard.js';
import { connectClient, deferred, eventually, grantedCodes, pubacks } from './mqtt.test-helpers.js';
import { mqttMetrics } from './mqtt-metrics.js';
import { connect as connectSocket, createServer, type AddressInfo } from 'node:net';

const A: GatewayAddress = { communityId: randomUUID(), gatewayId: randomUUID() };
const B: GatewayAddress = { communityId: randomUUID(), gatewayId: randomUUID() };
const PASSWORDS = new Map([
  [A.gatewayId, 'secret-a'],
  [B.gatewayId, 'secret-b'],
]);
const authority: GatewayAuthority = {
  async verify(username, password) {
    if (PASSWORDS.get(username) !== password) return null;
    return username === A.gatewayId ? A : B;
  },
  async find(gatewayId) {
    return gatewayId === A.gatewayId ? A : gatewayId === B.gatewayId ? B : null;
  },
};

describe('embedded broker', () => {
  const registry = new Registry();
  const metrics = mqttMetrics(registry);
  let broker: EmbeddedBroker;
  let url: string;
  const clients: MqttClient[] = [];
  let handler: (topic: string, payload: Buffer) => Promise<void> = async () => {};

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, authority, log: pino({ level: 'silent' }), metrics, retry: { firstDelayMs: 10, maxDelayMs: 50 } });
    broker.onMessage((topic, payload) => handler(topic, payload));
    url = broker.url;
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await broker.close();
  });

  async function gateway(gw: GatewayAddress, password = PASSWORDS.get(gw.gatewayId)!) {
    const client = await connectClient(url, { clientId: gw.gatewayId, username: gw.gatewayId, password });
    clients.push(client);
    return client;
  }

  it('refuses a wrong password, an unknown gateway and a client id that is not the gateway id', async () => {
    await expect(connectClient(url, { clientId: A.gatewayId, username: A.gatewayId, password: 'wrong' })).rejects.toThrow(/Bad username or password/i);
    await expect(connectClient(url, { clientId: 'x', username: randomUUID(), password: 'secret-a' })).rejects.toThrow(/Bad username or password/i);
    await expect(connectClient(url, { clientId: B.gatewayId, username: A.gatewayId, password: 'secret-a' })).rejects.toThrow(/Identifier rejected/i);
    expect((await metrics.authFailures.get()).values.reduce((n, v) => n + v.value, 0)).toBe(3);
  });

  it('refuses a publish into another community: dropped, counted, and the connection closed ([MQTT-3.3.5-2])', async () => {
    const seen: string[] = [];
    handler = async (topic) => void seen.push(topic);
    const client = await gateway(A);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(topics.uplink(B, 'readings'), '{}', { qos: 1 });
    await closed;
    expect(seen).toEqual([]);
    expect((await metrics.aclDenied.get()).values.find((v) => v.labels.action === 'publish')?.value).toBe(1);
  });

  it('refuses subscriptions to another gateway’s downlink and to # with SUBACK 0x80, grants its own', async () => {
    const client = await gateway(A);
    const granted = await grantedCodes(client, [topics.downlink(B, 'commands'), '#', `estate/v1/${A.communityId}/#`, ...topics.gatewaySubscriptions(A)]);
    expect(granted).toEqual([128, 128, 128, 1, 1]);
    expect((await metrics.aclDenied.get()).values.find((v) => v.labels.action === 'subscribe')?.value).toBe(3);
  });

  it('sends the PUBACK only after the handler resolves', async () => {
    const release = deferred();
    const started = deferred<string>();
    handler = async (topic) => {
      started.resolve(topic);
      await release.promise;
    };
    const client = await gateway(A);
    const acked = pubacks(client);
    const published = client.publishAsync(topics.uplink(A, 'readings'), '{"x":1}', { qos: 1 });
    expect(await started.promise).toBe(topics.uplink(A, 'readings'));
    await new Promise((r) => setTimeout(r, 150));
    expect(acked.size).toBe(0);
    release.resolve();
    await published;
    expect(acked.size).toBe(1);
  });

  it('retries a failing handler with backoff and acknowledges once it succeeds, calling it until then', async () => {
    let calls = 0;
    handler = async () => {
      calls += 1;
      if (calls <= 3) throw new Error('database down');
    };
    const client = await gateway(A);
    const acked = pubacks(client);
    await client.publishAsync(topics.uplink(A, 'telemetry'), '{}', { qos: 1 });
    expect(calls).toBe(4);
    expect(acked.size).toBe(1);
    expect((await metrics.retries.get()).values[0]?.value).toBe(3);
  });

  it('refuses a connection whose last will is on another gateway’s topic (CONNACK 0x05), accepts its own', async () => {
    const forged = JSON.stringify({ v: 1, gatewayId: B.gatewayId, sentAt: new Date().toISOString(), items: [] });
    await expect(
      connectClient(url, { clientId: A.gatewayId, username: A.gatewayId, password: 'secret-a', will: { topic: topics.uplink(B, 'readings'), payload: Buffer.from(forged), qos: 1, retain: false } }),
    ).rejects.toThrow(/Not authorized/i);
    await expect(
      connectClient(url, { clientId: A.gatewayId, username: A.gatewayId, password: 'secret-a', will: { topic: `estate/v1/${A.communityId}/shared/revocations`, payload: Buffer.from('x'), qos: 1, retain: true } }),
    ).rejects.toThrow(/Not authorized/i);
    expect((await metrics.authFailures.get()).values.find((v) => v.labels.reason === 'will-topic')?.value).toBe(2);
    const own = await connectClient(url, { clientId: A.gatewayId, username: A.gatewayId, password: 'secret-a', will: { topic: topics.state(A), payload: Buffer.from('{}'), qos: 1, retain: true } });
    await own.endAsync(); // DISCONNECT: no will
  });

  it('publishes a will with no live client only for the gateway that left it', async () => {
    const seen: string[] = [];
    handler = async (topic) => void seen.push(topic);
    const authorize = (packet: Record<string, unknown>) =>
      new Promise<Error | null>((resolve) =>
        broker.aedes.authorizePublish(null, { cmd: 'publish', payload: Buffer.from('{}'), qos: 1, retain: false, dup: false, ...packet } as never, (error) => resolve(error ?? null)),
      );
    // A will A's connection left on B's topics (stored before this check existed), found by the next broker.
    expect(await authorize({ topic: topics.uplink(B, 'readings'), clientId: A.gatewayId, brokerId: 'dead' })).toBeInstanceOf(Error);
    expect(await authorize({ topic: topics.state(B), clientId: A.gatewayId, brokerId: 'dead' })).toBeInstanceOf(Error);
    expect(await authorize({ topic: topics.state(B) })).toBeInstanceOf(Error);
    expect(seen).toEqual([]);
    expect(await authorize({ topic: topics.state(B), clientId: B.gatewayId, brokerId: 'dead' })).toBeNull();
    expect(seen).toEqual([topics.state(B)]);
  });

  it('closes a raw connection whose first packet declares 150 MB, before buffering it', async () => {
    const socket = connectSocket(broker.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const before = process.memoryUsage().arrayBuffers;
    // CONNECT (0x10) with Remaining Length 150 MB as a variable-length integer (MQTT 3.1.1 2.2.3).
    let length = 150 * 1024 * 1024;
    const header = [0x10];
    do {
      header.push((length % 128) | (length >= 128 ? 0x80 : 0));
      length = Math.floor(length / 128);
    } while (length > 0);
    socket.write(Buffer.from(header));
    // Keep sending body bytes, as an attacker would; without the guard the broker buffers every one.
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    while (!isClosed && sent < 64 * chunk.length) {
      sent += chunk.length;
      if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
    }
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the socket was not closed')), 3000))]);
    expect(isClosed).toBe(true);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(48 * 1024 * 1024);
    expect((await metrics.oversizedPackets.get()).values.find((v) => v.labels.phase === 'connect')?.value).toBe(1);
  });

  it('closes an authenticated connection publishing more than the payload limit; 200 KiB still passes', async () => {
    const seen: number[] = [];
    handler = async (_topic, payload) => void seen.push(payload.byteLength);
    const client = await gateway(A);
    await client.publishAsync(topics.uplink(A, 'readings'), Buffer.alloc(200 * 1024, 0x20), { qos: 1 });
    expect(seen).toEqual([200 * 1024]);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(topics.uplink(A, 'readings'), Buffer.alloc(MAX_PAYLOAD_BYTES + 16 * 1024, 0x20), { qos: 1 });
    await closed;
    expect(seen).toEqual([200 * 1024]);
    expect((await metrics.oversizedPackets.get()).values.find((v) => v.labels.phase === 'connected')?.value).toBe(1);
  });

  it('publishes as the cloud to a subscribed gateway', async () => {
    const client = await gateway(B);
    await client.subscribeAsync(topics.gatewaySubscriptions(B), { qos: 1 });
    const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
    await broker.publish(topics.downlink(B, 'commands'), 'hello', { qos: 1 });
    expect(await got).toBe('hello');
    await broker.ping();
  });
});

describe('packet size reader', () => {
  it('follows fixed headers across chunk boundaries and flags the first oversized or malformed one', () => {
    const limits = { firstPacketBytes: 100, packetBytes: 1000 };
    const feedBytewise = (reader: PacketSizeReader, bytes: number[]) => {
      for (const b of bytes) {
        const hit = reader.feed(Buffer.from([b]));
        if (hit) return hit;
      }
      return null;
    };
    // CONNECT of 3 bytes, PINGREQ (length 0), PUBLISH of 200 (0xC8 0x01), then PUBLISH of 1001 (0xE9 0x07).
    const ok = [0x10, 3, 1, 2, 3, 0xc0, 0, 0x30, 0xc8, 0x01, ...new Array<number>(200).fill(0)];
    expect(feedBytewise(new PacketSizeReader(limits), ok)).toBeNull();
    const reader = new PacketSizeReader(limits);
    expect(reader.feed(Buffer.from(ok))).toBeNull();
    expect(reader.feed(Buffer.from([0x30, 0xe9, 0x07]))).toEqual({ declaredBytes: 1001, limitBytes: 1000, firstPacket: false });
    expect(new PacketSizeReader(limits).feed(Buffer.from([0x10, 0x65]))).toEqual({ declaredBytes: 101, limitBytes: 100, firstPacket: true });
    expect(new PacketSizeReader({ firstPacketBytes: 2 ** 30, packetBytes: 2 ** 30 }).feed(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80]))).not.toBeNull();
    expect(PACKET_LIMITS.packetBytes).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  });
});

// Why the handler runs in authorizePublish: aedes 1.x writes the PUBACK before it delivers to
// subscribers, so a subscriber's deliver callback cannot hold the PUBACK back. If a later aedes changes
// this, this test says so and the design can move back to an internal subscription.
describe('aedes (characterisation)', () => {
  it('acknowledges a QoS 1 publish before an internal subscriber has finished with it', async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const release = deferred();
    const delivered = deferred();
    await new Promise<void>((resolve) =>
      aedes.subscribe('t/#', (_packet, done) => {
        delivered.resolve();
        void release.promise.then(done);
      }, resolve),
    );
    const client = await connectClient(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, { clientId: 'c' });
    const acked = pubacks(client);
    client.publish('t/1', 'x', { qos: 1 });
    await delivered.promise;
    await eventually(() => acked.size === 1, 2000);
    release.resolve();
    client.end(true);
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    server.close();
  });
});

describe('embedded broker with Redis persistence', () => {
  const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const keyPrefix = `test-mqtt-${randomUUID()}:`;
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('keeps retained messages across a broker restart', async () => {
    const options = { host: '127.0.0.1', port: 0, authority, log: pino({ level: 'silent' }), metrics: mqttMetrics(new Registry()), redis: { url: REDIS_URL, keyPrefix } };
    const first = await startEmbeddedBroker(options);
    await first.publish(topics.shared(A.communityId, 'revocations'), 'revoked: k1', { qos: 1, retain: true });
    await first.close();

    const second = await startEmbeddedBroker(options);
    second.onMessage(async () => {});
    const client = await connectClient(second.url, { clientId: A.gatewayId, username: A.gatewayId, password: 'secret-a' });
    const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
    await client.subscribeAsync(topics.gatewaySubscriptions(A), { qos: 1 });
    expect(await got).toBe('revoked: k1');
    client.end(true);
    await second.close();
  });

  it('does not publish a will a dead broker kept for one gateway on another gateway’s topic', async () => {
    const options = { host: '127.0.0.1', port: 0, authority, log: pino({ level: 'silent' }), metrics: mqttMetrics(new Registry()), redis: { url: REDIS_URL, keyPrefix }, heartbeatIntervalMs: 50 };
    const first = await startEmbeddedBroker(options);
    const persistence = (first.aedes as unknown as { persistence: { putWill(client: { id: string }, packet: object): Promise<void> } }).persistence;
    const will = (topic: string) => ({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify({ v: 1, state: 'offline', version: 'x', bootId: randomUUID() })), qos: 1, retain: false });
    // As if A had connected with a forged will before the check at CONNECT, and B with its own.
    await persistence.putWill({ id: A.gatewayId }, will(topics.state(B)));
    await persistence.putWill({ id: B.gatewayId }, will(topics.state(B)));
    await first.close();

    const second = await startEmbeddedBroker(options);
    const seen: string[] = [];
    second.onMessage(async (topic) => void seen.push(topic));
    await eventually(() => seen.length === 1, 3000);
    await new Promise((r) => setTimeout(r, 500)); // a few more sweeps
    expect(seen).toEqual([topics.state(B)]);
    const redis = new Redis(REDIS_URL, { keyPrefix });
    expect(await redis.llen('will')).toBe(0);
    await redis.quit();
    await second.close();
  });
});
