import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES, topics, type GatewayAddress } from '@estate/protocol';
import { createHarness, type Harness } from '../../../test/harness.js';
import { createCompany, createStaff } from '../../../test/actors.js';
import type { EmbeddedBroker } from '../../mqtt/embedded-broker.js';
import { deferred, eventually, grantedCodes, pubacks } from '../../mqtt/mqtt.test-helpers.js';
import { createGatewayDispatcher } from './gateway-dispatcher.js';
import { gatewayDevices, gateways, ingestRejections } from './gateways.schema.js';
import { attachTestBroker, connectGateway, provision, type FakeReadings } from './gateways.test-helpers.js';

describe('gateway messages through the embedded broker', () => {
  let h: Harness;
  let broker: EmbeddedBroker;
  let readings: FakeReadings;
  let gwA: GatewayAddress;
  let gwB: GatewayAddress;
  let clientA: MqttClient;
  let clientB: MqttClient;
  let admin: Record<string, string>;
  let communityA: string;

  beforeAll(async () => {
    h = await createHarness({ env: { MQTT_HOST: '127.0.0.1', MQTT_PORT: '0' } });
    ({ broker, readings } = await attachTestBroker(h));
    const { company, communities } = await createCompany(h, ['A', 'B']);
    admin = (await createStaff(h, company.id, 'super_admin')).headers;
    communityA = communities['A']!.id;
    const a = await provision(h, communities['A']!.id, admin);
    const b = await provision(h, communities['B']!.id, admin);
    gwA = a.address;
    gwB = b.address;
    clientA = await connectGateway(broker, gwA, a.credential.password);
    clientB = await connectGateway(broker, gwB, b.credential.password, { will: false });
  });
  afterAll(async () => {
    clientA.end(true);
    clientB.end(true);
    await h.deps.mqtt.close();
    await h.close();
  });

  const now = () => new Date().toISOString();
  const batch = (gw: GatewayAddress, items: unknown[]) => JSON.stringify({ v: 1, gatewayId: gw.gatewayId, sentAt: now(), items });
  const rejectedCount = async (reason: string) =>
    (await h.deps.metrics.registry.getSingleMetric('mqtt_messages_rejected_total')!.get()).values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
  const rejections = (gw: GatewayAddress) => h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, gw.gatewayId));

  it('hands readings to the ingest with the gateway’s address', async () => {
    const reading = { seq: 1, meterId: 'm-1', readAt: now(), values: { energy_import: { value: '12.5', unit: 'kWh' } } };
    await clientA.publishAsync(topics.uplink(gwA, 'readings'), batch(gwA, [reading]), { qos: 1 });
    expect(readings.calls).toHaveLength(1);
    expect(readings.calls[0]).toMatchObject({ gateway: gwA, message: { items: [reading] } });
  });

  it('stores telemetry as last health, version and last seen; the newest sequence wins', async () => {
    const health = (seq: number, version: string) => ({
      seq, at: now(), version, uptimeSeconds: 10, rssBytes: 1000,
      outbox: { depth: seq, bytes: 10, quotaBytes: 1 << 20, oldestSeq: null, alarm: false },
      drivers: [{ name: 'modbus', status: 'running', devices: 2, unavailable: 0, lastError: null }],
    });
    await clientA.publishAsync(topics.uplink(gwA, 'telemetry'), batch(gwA, [health(5, '2.0.0'), health(7, '2.0.1')]), { qos: 1 });
    await clientA.publishAsync(topics.uplink(gwA, 'telemetry'), batch(gwA, [health(6, '1.9.9')]), { qos: 1 }); // older, replayed
    const [row] = await h.deps.db.select().from(gateways).where(eq(gateways.id, gwA.gatewayId));
    expect(row!.lastHealth).toMatchObject({ seq: 7, outbox: { depth: 7 } });
    expect(row!.version).toBe('2.0.1');
    expect(row!.lastSeenAt).not.toBeNull();
  });

  it('upserts device availability, ignoring an older report', async () => {
    const avail = (available: boolean, since: string) => JSON.stringify({ v: 1, deviceId: 'lock-1', kind: 'lock', available, reason: available ? null : 'no BLE answer', since });
    await clientA.publishAsync(topics.deviceAvailability(gwA, 'lock-1'), avail(true, '2024-01-01T00:00:00Z'), { qos: 1, retain: true });
    await clientA.publishAsync(topics.deviceAvailability(gwA, 'lock-1'), avail(false, '2024-01-02T00:00:00Z'), { qos: 1, retain: true });
    await clientA.publishAsync(topics.deviceAvailability(gwA, 'lock-1'), avail(true, '2024-01-01T12:00:00Z'), { qos: 1, retain: true });
    const devices = await h.deps.db.select().from(gatewayDevices).where(eq(gatewayDevices.gatewayId, gwA.gatewayId));
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ deviceId: 'lock-1', kind: 'lock', available: false, reason: 'no BLE answer' });
  });

  it('rejects malformed, oversized, unknown-version, invalid, mismatched and wrong-topic messages: counted, kept, acknowledged, no crash', async () => {
    const acked = pubacks(clientA);
    const sends: [string, string | Buffer, string][] = [
      [topics.uplink(gwA, 'readings'), '{not json', 'malformed-json'],
      [topics.uplink(gwA, 'readings'), Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20), 'oversized'],
      [topics.uplink(gwA, 'telemetry'), JSON.stringify({ v: 2, gatewayId: gwA.gatewayId }), 'unsupported-version'],
      [topics.uplink(gwA, 'results'), JSON.stringify({ v: 1, gatewayId: gwA.gatewayId, items: [] }), 'invalid-schema'],
      [topics.uplink(gwA, 'telemetry'), batch(gwB, [{}]).replace('"items":[{}]', '"items":[]'), 'invalid-schema'],
      [topics.state(gwA), Buffer.from([0xff, 0xfe, 0x00]), 'malformed-json'],
      [`estate/v1/${gwA.communityId}/gw/${gwA.gatewayId}/up/firmware`, '{}', 'wrong-topic'],
    ];
    for (const [topic, payload] of sends) await clientA.publishAsync(topic, payload, { qos: 1 });
    const reading = { seq: 9, meterId: 'm-1', readAt: now(), values: { energy_import: { value: '1', unit: 'kWh' } } };
    await clientA.publishAsync(topics.uplink(gwA, 'readings'), batch(gwB, [reading]), { qos: 1 });
    expect(acked.size).toBe(sends.length + 1);
    expect(clientA.connected).toBe(true);

    const rows = await rejections(gwA);
    expect(rows.map((r) => r.reason).sort()).toEqual([...sends.map((s) => s[2]), 'gateway-mismatch'].sort());
    const oversized = rows.find((r) => r.reason === 'oversized')!;
    expect(oversized.payload.length).toBe(MAX_PAYLOAD_BYTES);
    expect(rows.find((r) => r.topic.endsWith('/state'))!.payload).toMatch(/^base64:/);
    expect(await rejectedCount('malformed-json')).toBe(2);
    expect(await rejectedCount('gateway-mismatch')).toBe(1);
    expect(readings.calls.every((c) => c.message.gatewayId === gwA.gatewayId)).toBe(true);
  });

  it('keeps a refused batch whole, so its readings can be recovered', async () => {
    // A gateway upgraded to v:2 before the cloud: ~100 KiB of readings the cloud cannot take yet.
    const items = Array.from({ length: 500 }, (_, i) => ({ seq: 1000 + i, meterId: `m-${i}`, readAt: now(), values: { energy_import: { value: `${i}.5`, unit: 'kWh' }, note: 'x'.repeat(100) } }));
    const text = JSON.stringify({ v: 2, gatewayId: gwA.gatewayId, sentAt: now(), items });
    expect(text.length).toBeGreaterThan(64 * 1024);
    await clientA.publishAsync(topics.uplink(gwA, 'readings'), text, { qos: 1 });
    const row = (await rejections(gwA)).find((r) => r.reason === 'unsupported-version' && r.topic.endsWith('/up/readings'))!;
    expect(row.payload).toBe(text);
    expect((JSON.parse(row.payload) as { items: unknown[] }).items).toHaveLength(500);
  });

  it('orders online, offline and telemetry by arrival: an old will handled after the new online does not win', async () => {
    const p = await provision(h, communityA, admin);
    const gw = p.address;
    const dispatcher = createGatewayDispatcher(h.deps, { readings });
    const bootId = randomUUID();
    const state = (s: 'online' | 'offline') => Buffer.from(JSON.stringify({ v: 1, state: s, version: '1.2.3', bootId }));
    const telemetry = (seq: number) =>
      Buffer.from(batch(gw, [{ seq, at: now(), version: '1.2.3', uptimeSeconds: 1, rssBytes: 1, outbox: { depth: 0, bytes: 0, quotaBytes: 1, oldestSeq: null, alarm: false }, drivers: [] }]));
    const row = async () => (await h.deps.db.select().from(gateways).where(eq(gateways.id, gw.gatewayId)))[0]!;
    const t = Date.now() - 10_000;
    // The old connection's will arrived first (t), but its handling lost the race to the reconnect's online (t + 10).
    await dispatcher.handle(topics.state(gw), state('online'), { receivedAtMs: t + 10 });
    await dispatcher.handle(topics.state(gw), state('offline'), { receivedAtMs: t });
    expect((await row()).state).toBe('online');
    // A will that arrived after everything else is applied.
    await dispatcher.handle(topics.state(gw), state('offline'), { receivedAtMs: t + 20 });
    expect((await row()).state).toBe('offline');
    // Telemetry received before that will but handled after it (a retry) changes nothing...
    await dispatcher.handle(topics.uplink(gw, 'telemetry'), telemetry(1), { receivedAtMs: t + 15 });
    expect((await row()).state).toBe('offline');
    // ...telemetry received later says the gateway is back.
    await dispatcher.handle(topics.uplink(gw, 'telemetry'), telemetry(2), { receivedAtMs: t + 30 });
    const after = await row();
    expect(after.state).toBe('online');
    expect(after.lastSeenAt!.getTime()).toBe(t + 30);
  });

  it('refuses gateway A publishing or subscribing under community B, counts it, and keeps B untouched', async () => {
    const denied = async (action: string) =>
      (await h.deps.metrics.registry.getSingleMetric('mqtt_acl_denied_total')!.get()).values.find((v) => v.labels['action'] === action)?.value ?? 0;
    expect(await grantedCodes(clientA, [topics.downlink(gwB, 'commands'), '#', topics.shared(gwB.communityId, 'revocations')])).toEqual([128, 128, 128]);
    expect(await denied('subscribe')).toBe(3);

    const closed = new Promise<void>((resolve) => clientA.once('close', () => resolve()));
    clientA.publish(topics.state(gwB), JSON.stringify({ v: 1, state: 'offline', version: 'x', bootId: randomUUID() }), { qos: 1, retain: true });
    await closed;
    expect(await denied('publish')).toBe(1);
    const [b] = await h.deps.db.select().from(gateways).where(eq(gateways.id, gwB.gatewayId));
    expect(b!.state).toBe('online');
  });

  it('acknowledges a reading only after the ingest committed, and retries the ingest until it does', async () => {
    const release = deferred();
    let calls = 0;
    const original = readings.handle;
    readings.handle = async (gateway, message) => {
      calls += 1;
      if (calls <= 2) throw new Error('database down');
      await release.promise;
      return original.call(readings, gateway, message);
    };
    const acked = pubacks(clientB);
    const before = readings.calls.length;
    const reading = { seq: 1, meterId: 'w-1', readAt: now(), values: { volume: { value: '3.25', unit: 'm3' } } };
    const published = clientB.publishAsync(topics.uplink(gwB, 'readings'), batch(gwB, [reading]), { qos: 1 });
    await eventually(() => calls === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(acked.size).toBe(0);
    expect(readings.calls.length).toBe(before);
    release.resolve();
    await published;
    expect(acked.size).toBe(1);
    expect(readings.calls.length).toBe(before + 1);
    readings.handle = original;
  });
});
