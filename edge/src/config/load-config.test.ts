import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDataDir } from '../../test/helpers.js';
import { ConfigStore } from './config-store.js';
import { GatewayConfigError, loadGatewayConfig, readEdgeEnvironment } from './load-config.js';

describe('loadGatewayConfig', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));
  function file(content: unknown): string {
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const path = join(dir, 'gateway.json');
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }
  const valid = () => ({ v: 1, gatewayId: randomUUID(), communityId: randomUUID(), cloud: { mqttUrl: 'mqtts://cloud.example:8883', username: 'gw', password: 'pw' } });

  it('lists every problem at once, path: message', async () => {
    const path = file({ v: 2, gatewayId: 'nope', cloud: { mqttUrl: 'http://x', username: '' }, modbus: { buses: [], meters: [{ id: 'm1', bus: 'rs485-1', unitId: 0, model: 'x' }] } });
    const error = await loadGatewayConfig(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayConfigError);
    const problems = (error as GatewayConfigError).problems;
    for (const prefix of ['v:', 'gatewayId:', 'communityId:', 'cloud.mqttUrl:', 'cloud.username:', 'cloud.password:', 'modbus.meters.0.unitId:', 'modbus.meters.0.model:']) {
      expect(problems.some((p) => p.startsWith(prefix)), prefix).toBe(true);
    }
    expect((error as Error).message).toContain(path);
  });

  it('names a file that is not JSON or missing', async () => {
    await expect(loadGatewayConfig(file('{ nope'))).rejects.toThrow(/not JSON/);
    await expect(loadGatewayConfig('/nonexistent/gateway.json')).rejects.toThrow(/ENOENT/);
  });

  it('applies environment overrides before validating, and validates them too', async () => {
    const env = await readEdgeEnvironment({ EDGE_MQTT_URL: 'mqtt://10.0.0.2:1883', EDGE_DATA_DIR: '/var/lib/edge', EDGE_MQTT_PASSWORD: 'local' });
    expect(env.dataDir).toBe('/var/lib/edge');
    const config = await loadGatewayConfig(file(valid()), env.overrides);
    expect(config.cloud).toMatchObject({ mqttUrl: 'mqtt://10.0.0.2:1883', password: 'local', username: 'gw' });
    await expect(loadGatewayConfig(file(valid()), { mqttUrl: 'ftp://x' })).rejects.toThrow(/cloud.mqttUrl/);
    await expect(readEdgeEnvironment({ EDGE_LOG_LEVEL: 'loud', EDGE_MQTT_CA_FILE: '/nonexistent.pem' })).rejects.toThrow(/EDGE_LOG_LEVEL[\s\S]*EDGE_MQTT_CA_FILE|EDGE_MQTT_CA_FILE[\s\S]*EDGE_LOG_LEVEL/);
  });

  it('keeps a pushed config across restarts until the operator edits the file', async () => {
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const boot = await loadGatewayConfig(file(valid()));
    const pushed = { ...boot, telemetrySeconds: 300 };
    const store = new ConfigStore(dir);
    expect(store.resolveAtStart(boot)).toMatchObject({ source: 'file', interruptedApply: null });
    store.beginApply(pushed, randomUUID());
    store.commitApply();
    expect(new ConfigStore(dir).resolveAtStart(boot)).toMatchObject({ source: 'command', config: pushed });
    const edited = { ...boot, telemetrySeconds: 30 };
    expect(new ConfigStore(dir).resolveAtStart(edited)).toMatchObject({ source: 'file', config: edited });
  });
});
