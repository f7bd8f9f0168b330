import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@estate/protocol';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/log.js';
import { TestBroker } from './broker.js';
import { FAST_BACKOFF, FakeMeterDriver, tempDataDir, testConfig, waitFor } from './helpers.js';

describe('driver isolation', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a driver that throws on start, from status() or with bad readings does not stop another driver', async () => {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.down());
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const config = testConfig(broker.url);
    const broken = new FakeMeterDriver('broken-bus', { throwOnStart: true });
    const moody = new FakeMeterDriver('moody', { throwInStatus: true });
    const good = new FakeMeterDriver('good');
    const gateway = await startGateway({ config, dataDir: dir, drivers: [broken.factory(), moody.factory(), good.factory()], log: silentLogger, backoff: FAST_BACKOFF });
    cleanups.push(() => gateway.stop());

    // A reading the protocol refuses is counted and logged; the driver's callback does not throw.
    expect(() => moody.context!.onReading({ meterId: 'bad id!', readAt: 'yesterday', values: {} })).not.toThrow();
    good.emit();
    good.emit();
    await waitFor(() => broker.items('readings').length === 2, 5000, 'the good driver readings');
    expect(gateway.readingCounters()).toEqual({ stored: 2, invalid: 1, refused: 0 });

    gateway.reportHealth();
    await waitFor(() => broker.items('telemetry').length === 1, 5000, 'telemetry');
    const [health] = broker.items<{ drivers: { name: string; status: string; lastError: string | null }[] }>('telemetry');
    expect(health!.drivers).toMatchObject([
      { name: 'broken-bus', status: 'failed', lastError: 'broken-bus cannot open its bus' },
      { name: 'moody', status: 'failed', lastError: 'status() threw: status exploded' },
      { name: 'good', status: 'running', devices: 1, unavailable: 0, lastError: null },
    ]);
  });

  it('publishes device availability retained and republishes it after a reconnect', async () => {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.down());
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const config = testConfig(broker.url);
    const driver = new FakeMeterDriver('meters');
    const gateway = await startGateway({ config, dataDir: dir, drivers: [driver.factory()], log: silentLogger, backoff: FAST_BACKOFF });
    cleanups.push(() => gateway.stop());
    await waitFor(() => gateway.isConnected(), 5000, 'connect');
    driver.context!.onAvailability({ deviceId: 'm-1', available: false, reason: 'timeout after 2 retries', since: new Date() });
    const topic = topics.deviceAvailability(config, 'm-1');
    await waitFor(() => broker.received.some((m) => m.topic === topic), 5000, 'availability');
    expect(broker.received.find((m) => m.topic === topic)).toMatchObject({ retain: true, payload: { v: 1, deviceId: 'm-1', kind: 'meter', available: false, reason: 'timeout after 2 retries' } });

    await broker.down();
    await waitFor(() => !gateway.isConnected(), 5000, 'disconnect');
    await broker.up();
    await waitFor(() => broker.received.filter((m) => m.topic === topic).length === 2, 5000, 'availability republished');
  });

  it('an error escaping a driver to the process marks that driver failed, and the others go on', async () => {
    const child = fileURLToPath(new URL('./escaped-error-child.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child], { timeout: 20_000 });
    const { health, readings } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { health: { name: string; status: string; lastError: string }[]; readings: number };
    expect(health[0]).toMatchObject({ name: 'timebomb', status: 'failed', lastError: 'late rejection' });
    expect(health[1]).toMatchObject({ name: 'steady', status: 'running' });
    expect(readings).toBeGreaterThan(2);
  });
});
