import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { topics, type GatewayConfig } from '@estate/protocol';
import { CommandJournal } from '../src/commands/journal.js';
import { ConfigStore } from '../src/config/config-store.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/log.js';
import { openGatewayStore } from '../src/outbox/store.js';
import { TestBroker } from './broker.js';
import { FAST_BACKOFF, FakeMeterDriver, tempDataDir, testConfig, waitFor } from './helpers.js';

type Result = { seq: number; commandId: string; status: string; error?: { code: string; message: string }; data?: Record<string, unknown> };

function command(name: string, params: unknown, patch: Record<string, unknown> = {}) {
  const now = Date.now();
  return { v: 1, commandId: randomUUID(), issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 60_000).toISOString(), name, params, ...patch };
}

describe('commands on down/commands (aedes)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(options: { applyTimeoutMs?: number; dir?: string; config?: GatewayConfig; broker?: TestBroker } = {}) {
    const broker = options.broker ?? (await TestBroker.start());
    if (!options.broker) cleanups.push(() => broker.down());
    let dir = options.dir;
    if (!dir) {
      const temp = tempDataDir();
      cleanups.push(temp.remove);
      dir = temp.dir;
    }
    const config = options.config ?? testConfig(broker.url);
    const driver = new FakeMeterDriver('fake-meters');
    const gateway: Gateway = await startGateway({ config, dataDir: dir, drivers: [driver.factory()], log: silentLogger, backoff: FAST_BACKOFF, applyTimeoutMs: options.applyTimeoutMs ?? 1500 });
    const stop = () => gateway.stop();
    cleanups.push(stop);
    await waitFor(() => gateway.isConnected(), 5000, 'connect');
    const send = (payload: unknown) => broker.publish(topics.downlink(config, 'commands'), typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload));
    const results = () => broker.items<Result>('results');
    const resultFor = async (commandId: string, timeoutMs = 8000) => {
      await waitFor(() => results().some((r) => r.commandId === commandId), timeoutMs, `result of ${commandId}`);
      return results().find((r) => r.commandId === commandId)!;
    };
    return { broker, config, dir, driver, gateway, send, results, resultFor };
  }

  it('answers ping ok, read-now through the driver, and expired commands expired', async () => {
    const { send, resultFor, broker } = await setup();
    const ping = command('ping', {});
    await send(ping);
    expect(await resultFor(ping.commandId)).toMatchObject({ status: 'ok' });

    const read = command('meter.read-now', { meterId: 'm-1' });
    await send(read);
    expect(await resultFor(read.commandId)).toMatchObject({ status: 'ok', data: { meterId: 'm-1', reading: { counter: 1 } } });
    await waitFor(() => broker.items('readings').length === 1, 5000, 'the reading');

    const unknown = command('meter.read-now', { meterId: 'nope' });
    await send(unknown);
    expect(await resultFor(unknown.commandId)).toMatchObject({ status: 'error', error: { code: 'read-failed', message: 'unknown meter nope' } });

    const stale = command('ping', {}, { expiresAt: new Date(Date.now() - 1000).toISOString() });
    await send(stale);
    expect(await resultFor(stale.commandId)).toMatchObject({ status: 'expired' });
  });

  it('runs and answers a command once when it is delivered twice, across a restart too', async () => {
    const first = await setup();
    const ping = command('ping', {});
    await first.send(ping);
    await first.send(ping);
    await first.resultFor(ping.commandId);
    await waitFor(() => first.gateway.commandCounters().duplicates === 1, 5000, 'the duplicate');
    await first.gateway.commandsIdle();
    expect(first.gateway.commandCounters()).toMatchObject({ received: 1, duplicates: 1 });
    await first.gateway.stop();

    const second = await setup({ dir: first.dir, config: first.config, broker: first.broker });
    await second.send(ping);
    const other = command('ping', {});
    await second.send(other);
    await second.resultFor(other.commandId);
    await waitFor(() => second.gateway.commandCounters().duplicates === 1, 5000, 'the duplicate after restart');
    expect(second.results().filter((r) => r.commandId === ping.commandId)).toHaveLength(1);
    expect(second.gateway.commandCounters()).toMatchObject({ duplicates: 1 });
  });

  it('counts and logs malformed payloads without crashing, answering rejected when the commandId is readable', async () => {
    const { send, resultFor, results, gateway } = await setup();
    await send('not json {');
    await send(Buffer.from([0xff, 0xfe, 0x00]));
    const future = command('ping', {}, { v: 2 });
    await send(future);
    const unknownName = command('door.open', { doorId: 'd1' });
    await send(unknownName);
    await send({ v: 1, name: 'ping' });
    expect(await resultFor(future.commandId)).toMatchObject({ status: 'rejected', error: { code: 'unsupported-version' } });
    expect(await resultFor(unknownName.commandId)).toMatchObject({ status: 'rejected', error: { code: 'invalid-schema' } });
    const ping = command('ping', {});
    await send(ping);
    expect(await resultFor(ping.commandId)).toMatchObject({ status: 'ok' });
    expect(gateway.commandCounters().rejected).toEqual({ 'malformed-json': 2, 'unsupported-version': 1, 'invalid-schema': 2 });
    expect(results()).toHaveLength(3);
  });

  it('rejects an invalid config.apply with every problem listed', async () => {
    const { send, resultFor, gateway, config } = await setup();
    const apply = command('config.apply', { config: { ...config, telemetrySeconds: 1, cloud: { ...config.cloud, mqttUrl: 'http://x' }, extra: true } });
    await send(apply);
    const result = await resultFor(apply.commandId);
    expect(result).toMatchObject({ status: 'rejected', error: { code: 'invalid-config' } });
    const problems = result.data!.problems as string[];
    expect(problems.some((p) => p.startsWith('cloud.mqttUrl:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('telemetrySeconds:'))).toBe(true);
    expect(problems.some((p) => p.includes('extra'))).toBe(true);
    expect(gateway.config()).toEqual(config);
  });

  it('applies a config that reaches the cloud, and rolls back one that cannot, reporting error', async () => {
    const { send, resultFor, gateway, config, dir } = await setup();
    const good = { ...config, telemetrySeconds: 120 };
    const apply = command('config.apply', { config: good });
    await send(apply);
    expect(await resultFor(apply.commandId)).toMatchObject({ status: 'ok' });
    expect(gateway.config().telemetrySeconds).toBe(120);

    const unreachable = { ...good, cloud: { ...good.cloud, mqttUrl: 'mqtt://127.0.0.1:1' } };
    const bad = command('config.apply', { config: unreachable });
    await send(bad);
    expect(await resultFor(bad.commandId, 10_000)).toMatchObject({ status: 'error', error: { code: 'rolled-back' } });
    expect(gateway.config()).toEqual(good);
    expect(gateway.isConnected()).toBe(true);
    const store = new ConfigStore(dir);
    expect(store.current()).toEqual(good);
    expect(store.previous()).toEqual(config);
  });

  it('applies a pushed config without a password, as the cloud sends it, keeping its own credential', async () => {
    const { send, resultFor, gateway, config } = await setup();
    const { password: _password, ...cloudWithoutPassword } = config.cloud;
    const apply = command('config.apply', { config: { ...config, telemetrySeconds: 90, cloud: cloudWithoutPassword } });
    await send(apply);
    expect(await resultFor(apply.commandId)).toMatchObject({ status: 'ok' });
    expect(gateway.config().telemetrySeconds).toBe(90);
    expect(gateway.config().cloud.password).toBe(config.cloud.password);
    expect(gateway.isConnected()).toBe(true);
  });

  it('rolls back a config.apply interrupted by a crash and answers it error once', async () => {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.down());
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const config = testConfig(broker.url);
    // The state a kill -9 in the middle of config.apply leaves: the command journaled, the new config pending.
    new ConfigStore(dir).resolveAtStart(config);
    const commandId = randomUUID();
    const store = openGatewayStore(dir);
    new CommandJournal(store).receive(commandId, 'config.apply');
    await store.close();
    new ConfigStore(dir).beginApply({ ...config, cloud: { ...config.cloud, mqttUrl: 'mqtt://127.0.0.1:1' } }, commandId);

    const { gateway, resultFor } = await setup({ dir, config, broker });
    expect(gateway.config()).toEqual(config);
    expect(await resultFor(commandId)).toMatchObject({ status: 'error', error: { code: 'interrupted' } });
  });
});
