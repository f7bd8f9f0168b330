import { eq } from 'drizzle-orm';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayConfig, topics } from '@estate/protocol';
import { createHarness, type Harness } from '../../../test/harness.js';
import { createCompany, createStaff } from '../../../test/actors.js';
import type { EmbeddedBroker } from '../../mqtt/embedded-broker.js';
import { eventually } from '../../mqtt/mqtt.test-helpers.js';
import { auditEvents } from '../audit/audit.schema.js';
import { gatewayCommands, gateways, ingestRejections } from './gateways.schema.js';
import { attachTestBroker, connectGateway, provision } from './gateways.test-helpers.js';

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms))]);
}

describe('gateway registry API', () => {
  let h: Harness;
  let broker: EmbeddedBroker;
  let A: string;
  let B: string;
  let admin: Record<string, string>;
  let techA: Record<string, string>;
  let finance: Record<string, string>;
  let service: Record<string, string>;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    h = await createHarness({ env: { MQTT_HOST: '127.0.0.1', MQTT_PORT: '0' } });
    ({ broker } = await attachTestBroker(h));
    const { company, communities } = await createCompany(h, ['A', 'B']);
    A = communities['A']!.id;
    B = communities['B']!.id;
    admin = (await createStaff(h, company.id, 'super_admin')).headers;
    techA = (await createStaff(h, company.id, 'technician', [A])).headers;
    finance = (await createStaff(h, company.id, 'finance', [A, B])).headers;
    service = (await createStaff(h, company.id, 'customer_service', [A])).headers;
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await h.deps.mqtt.close();
    await h.close();
  });

  const json = (headers: Record<string, string>) => ({ ...headers, 'content-type': 'application/json' });

  it('provisions a gateway: credential once, argon2id hash stored, a valid config bundle, audited', async () => {
    const p = await provision(h, A, techA, 'Gate house');
    expect(p.credential.username).toBe(p.gateway.id);
    expect(p.credential.password.length).toBeGreaterThanOrEqual(32);
    const config = GatewayConfig.parse(p.config);
    expect(config.cloud).toMatchObject({ mqttUrl: `mqtt://localhost:${broker.port}`, username: p.gateway.id, password: p.credential.password });
    expect(config.modbus).toEqual({ buses: [], meters: [] });
    const [row] = await h.deps.db.select().from(gateways).where(eq(gateways.id, p.gateway.id));
    expect(row!.credentialHash).toMatch(/^\$argon2id\$/);
    expect(JSON.stringify(row!.config)).not.toContain(p.credential.password);
    expect(row!.state).toBe('never_connected');
    const audit = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.targetId, p.gateway.id));
    expect(audit.map((a) => a.action)).toEqual(['gateway.provision']);
  });

  it('refuses a technician outside the community and finance staff (403)', async () => {
    const post = (headers: Record<string, string>, communityId: string) =>
      h.app.request(`/v1/communities/${communityId}/gateways`, { method: 'POST', headers: json(headers), body: JSON.stringify({ name: 'x' }) });
    expect((await post(techA, B)).status).toBe(403);
    expect((await post(finance, A)).status).toBe(403);
    expect((await post(service, A)).status).toBe(403);
    expect((await h.app.request(`/v1/communities/${A}/gateways`, { headers: service })).status).toBe(200);
    expect((await h.app.request(`/v1/communities/${A}/gateways`, { headers: finance })).status).toBe(403);
  });

  it('hides a gateway of a community outside the caller’s scope', async () => {
    const p = await provision(h, B, admin);
    expect((await h.app.request(`/v1/gateways/${p.gateway.id}`, { headers: techA })).status).toBe(403);
    const cmd = await h.app.request(`/v1/gateways/${p.gateway.id}/commands`, { method: 'POST', headers: json(techA), body: JSON.stringify({ name: 'ping' }) });
    expect(cmd.status).toBe(403);
  });

  it('tracks online / offline from the retained state and the last will, and rotates the credential', async () => {
    const p = await provision(h, A, admin);
    const client = await connectGateway(broker, p.address, p.credential.password);
    const view = await eventually(async () => {
      const body = (await (await h.app.request(`/v1/gateways/${p.gateway.id}`, { headers: techA })).json()) as { state: string; version: string; lastSeenAt: string };
      return body.state === 'online' && body;
    });
    expect(view).toMatchObject({ version: '1.2.3' });
    expect(view.lastSeenAt).not.toBeNull();

    client.stream.destroy(); // the gateway dies without DISCONNECT: the broker publishes its will
    await eventually(async () => (await h.deps.db.select().from(gateways).where(eq(gateways.id, p.gateway.id)))[0]!.state === 'offline');

    const rotated = await h.app.request(`/v1/gateways/${p.gateway.id}/credential`, { method: 'POST', headers: techA });
    expect(rotated.status).toBe(200);
    const { credential } = (await rotated.json()) as { credential: { password: string } };
    await expect(connectGateway(broker, p.address, p.credential.password)).rejects.toThrow(/Bad username or password/i);
    const again = await connectGateway(broker, p.address, credential.password);
    clients.push(again);
  });

  it('closes the live connection when the credential is rotated; the old password is refused, the new one works', async () => {
    const p = await provision(h, A, admin);
    const client = await connectGateway(broker, p.address, p.credential.password);
    client.on('error', () => {});
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const rotated = await h.app.request(`/v1/gateways/${p.gateway.id}/credential`, { method: 'POST', headers: techA });
    expect(rotated.status).toBe(200);
    await within(closed, 3000, 'the old connection to close');
    await expect(connectGateway(broker, p.address, p.credential.password)).rejects.toThrow(/Bad username or password/i);
    const { credential } = (await rotated.json()) as { credential: { password: string } };
    clients.push(await connectGateway(broker, p.address, credential.password));
  });

  it('revokes a gateway: its connection is closed, it cannot connect again, its last messages are refused; audited', async () => {
    const p = await provision(h, A, admin);
    const client = await connectGateway(broker, p.address, p.credential.password);
    client.on('error', () => {});
    // The dispatcher now knows the gateway (cached for 30 s): revoking must clear that.
    await eventually(async () => (await h.deps.db.select().from(gateways).where(eq(gateways.id, p.gateway.id)))[0]!.state === 'online');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect((await h.app.request(`/v1/gateways/${p.gateway.id}/revoke`, { method: 'POST', headers: service })).status).toBe(403);
    const res = await h.app.request(`/v1/gateways/${p.gateway.id}/revoke`, { method: 'POST', headers: techA });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: p.gateway.id, revoked: true, state: 'offline' });
    await within(closed, 3000, 'the connection to close');
    // The will its closed connection left is refused: the gateway is no longer known.
    await eventually(async () => (await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, p.gateway.id))).some((r) => r.reason === 'unknown-gateway'));
    await expect(connectGateway(broker, p.address, p.credential.password)).rejects.toThrow(/Bad username or password/i);
    expect((await h.app.request(`/v1/gateways/${p.gateway.id}/revoke`, { method: 'POST', headers: techA })).status).toBe(409);
    expect((await h.app.request(`/v1/gateways/${p.gateway.id}/credential`, { method: 'POST', headers: techA })).status).toBe(409);
    const audit = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.targetId, p.gateway.id));
    expect(audit.map((a) => a.action)).toEqual(['gateway.provision', 'gateway.revoke']);
  });

  it('records a result that arrives after the command expired, marked arrivedLate', async () => {
    const p = await provision(h, A, admin);
    const res = await h.app.request(`/v1/gateways/${p.gateway.id}/commands?wait=0`, { method: 'POST', headers: json(techA), body: JSON.stringify({ name: 'ping' }) });
    const sent = (await res.json()) as { id: string; issuedAt: string; expiresAt: string };
    expect(Date.parse(sent.expiresAt) - Date.parse(sent.issuedAt)).toBe(60_000);
    await h.deps.db.update(gatewayCommands).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(gatewayCommands.id, sent.id));
    const poll = async () => (await (await h.app.request(`/v1/gateways/${p.gateway.id}/commands/${sent.id}`, { headers: service })).json()) as { state: string; result: Record<string, unknown> | null };
    expect((await poll()).state).toBe('expired');

    const client = await connectGateway(broker, p.address, p.credential.password);
    clients.push(client);
    const result = { seq: 7, commandId: sent.id, status: 'ok', at: new Date().toISOString(), data: { pong: 'ping' } };
    await client.publishAsync(topics.uplink(p.address, 'results'), JSON.stringify({ v: 1, gatewayId: p.gateway.id, sentAt: new Date().toISOString(), items: [result] }), { qos: 1 });
    expect(await poll()).toMatchObject({ state: 'ok', result: { ...result, arrivedLate: true } });
    expect(await h.deps.db.select().from(ingestRejections).where(eq(ingestRejections.gatewayId, p.gateway.id))).toEqual([]);
  });

  it('refuses a revoked gateway', async () => {
    const p = await provision(h, A, admin);
    await h.deps.db.update(gateways).set({ revokedAt: new Date() }).where(eq(gateways.id, p.gateway.id));
    await expect(connectGateway(broker, p.address, p.credential.password)).rejects.toThrow(/Bad username or password/i);
  });

  it('runs a command round trip with a gateway that answers', async () => {
    const p = await provision(h, A, admin);
    const client = await connectGateway(broker, p.address, p.credential.password);
    clients.push(client);
    await client.subscribeAsync(topics.gatewaySubscriptions(p.address), { qos: 1 });
    let seq = 100;
    client.on('message', (_topic, payload) => {
      const command = JSON.parse(payload.toString()) as { commandId: string; name: string };
      const result = { seq: ++seq, commandId: command.commandId, status: 'ok', at: new Date().toISOString(), data: { pong: command.name } };
      const message = { v: 1, gatewayId: p.gateway.id, sentAt: new Date().toISOString(), items: [result] };
      void client.publishAsync(topics.uplink(p.address, 'results'), JSON.stringify(message), { qos: 1 });
      void client.publishAsync(topics.uplink(p.address, 'results'), JSON.stringify(message), { qos: 1 }); // delivered twice: no change
    });
    const res = await h.app.request(`/v1/gateways/${p.gateway.id}/commands`, { method: 'POST', headers: json(techA), body: JSON.stringify({ name: 'ping' }) });
    expect(res.status).toBe(200);
    const command = (await res.json()) as { id: string; state: string; result: { data: unknown } };
    expect(command).toMatchObject({ state: 'ok', result: { data: { pong: 'ping' } } });
    const polled = await h.app.request(`/v1/gateways/${p.gateway.id}/commands/${command.id}`, { headers: service });
    expect(await polled.json()).toMatchObject({ id: command.id, state: 'ok' });
  });

  it('answers 202 for a command the gateway has not answered yet', async () => {
    const p = await provision(h, A, admin);
    const res = await h.app.request(`/v1/gateways/${p.gateway.id}/commands?wait=0`, { method: 'POST', headers: json(techA), body: JSON.stringify({ name: 'meter.read-now', params: { meterId: 'm-1' } }) });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ state: 'pending', name: 'meter.read-now', params: { meterId: 'm-1' } });
  });

  it('validates a config with every problem listed, stores the next revision and pushes config.apply', async () => {
    const p = await provision(h, A, admin);
    const client = await connectGateway(broker, p.address, p.credential.password);
    clients.push(client);
    await client.subscribeAsync(topics.gatewaySubscriptions(p.address), { qos: 1 });
    const pushed = new Promise<{ name: string; params: { config: Record<string, unknown> } }>((resolve) => client.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))));

    const bad = await h.app.request(`/v1/gateways/${p.gateway.id}/config`, {
      method: 'PUT',
      headers: json(techA),
      body: JSON.stringify({ cloud: { password: 'x' }, telemetrySeconds: 1, modbus: { buses: [], meters: [{ id: 'm1', bus: 'nope', unitId: 1, model: 'unknown' }] } }),
    });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { errors: { path: string }[] };
    expect(problem.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['cloud.password', 'telemetrySeconds', 'modbus.meters.0.model']));

    const good = await h.app.request(`/v1/gateways/${p.gateway.id}/config`, {
      method: 'PUT',
      headers: json(techA),
      body: JSON.stringify({ telemetrySeconds: 30, modbus: { buses: [{ id: 'bus1', transport: 'tcp', host: '10.0.0.5' }], meters: [] } }),
    });
    expect(good.status).toBe(202);
    const applied = (await good.json()) as { command: { issuedAt: string; expiresAt: string } };
    expect(applied).toMatchObject({ configRevision: 2, command: { name: 'config.apply', state: 'pending' } });
    // Longer than the gateway's 30 s apply-and-check window, plus margin.
    expect(Date.parse(applied.command.expiresAt) - Date.parse(applied.command.issuedAt)).toBe(120_000);
    const command = await pushed;
    expect(command.name).toBe('config.apply');
    expect(command.params.config).toMatchObject({ telemetrySeconds: 30, gatewayId: p.gateway.id });
    expect(JSON.stringify(command.params.config)).not.toContain('password');
  });

  it('documents the routes in /openapi.json and reports the broker in /readyz', async () => {
    const doc = (await (await h.app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const path of ['/v1/communities/{communityId}/gateways', '/v1/gateways/{gatewayId}', '/v1/gateways/{gatewayId}/credential', '/v1/gateways/{gatewayId}/revoke', '/v1/gateways/{gatewayId}/commands', '/v1/gateways/{gatewayId}/commands/{commandId}', '/v1/gateways/{gatewayId}/config']) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    const ready = (await (await h.app.request('/readyz')).json()) as { checks: Record<string, { ok: boolean; kind: string }> };
    expect(ready.checks['broker']).toMatchObject({ ok: true, kind: 'embedded' });
  });
});
