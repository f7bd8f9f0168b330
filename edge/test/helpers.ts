import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfig, type GatewayConfigInput } from '@estate/protocol';
import type { DriverContext, DriverFactory, HostedDriver } from '../src/drivers/host.js';

export function testConfig(mqttUrl: string, patch: Partial<GatewayConfigInput> = {}): GatewayConfig {
  return GatewayConfig.parse({
    v: 1,
    gatewayId: randomUUID(),
    communityId: randomUUID(),
    cloud: { mqttUrl, username: 'gw', password: 'secret', keepaliveSeconds: 5 },
    telemetrySeconds: 3600,
    ...patch,
  } satisfies GatewayConfigInput);
}

export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'edge-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const FAST_BACKOFF = { baseMs: 50, maxMs: 400 };

/** A meter driver the test drives by hand: `emit()` produces the next reading of meter `meterId`. */
export class FakeMeterDriver implements HostedDriver {
  readonly name: string;
  counter = 0;
  context: DriverContext | null = null;
  running = false;

  constructor(
    name: string,
    private readonly behaviour: { throwOnStart?: boolean; throwInStatus?: boolean; throwLater?: boolean } = {},
  ) {
    this.name = name;
  }

  factory(): DriverFactory {
    return {
      name: this.name,
      deviceKind: 'meter',
      create: (context) => {
        this.context = context;
        return this;
      },
    };
  }

  async start(): Promise<void> {
    if (this.behaviour.throwOnStart) throw new Error(`${this.name} cannot open its bus`);
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
  }

  status() {
    if (this.behaviour.throwInStatus) throw new Error('status exploded');
    return { status: this.running ? ('running' as const) : ('stopped' as const), devices: 1, unavailable: 0, lastError: null };
  }

  emit(meterId = 'm-1'): void {
    this.counter += 1;
    this.context!.onReading({ meterId, readAt: new Date(Date.UTC(2025, 0, 1) + this.counter * 1000), values: { energy_kwh: { value: `${this.counter}.00`, unit: 'kWh' } } });
  }

  async readNow(meterId: string): Promise<unknown> {
    if (meterId !== 'm-1') throw new Error(`unknown meter ${meterId}`);
    this.emit(meterId);
    return { meterId, counter: this.counter };
  }
}
