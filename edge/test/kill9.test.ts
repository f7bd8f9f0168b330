import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/log.js';
import { TestBroker } from './broker.js';
import { FAST_BACKOFF, tempDataDir, testConfig, waitFor } from './helpers.js';

const CHILD = fileURLToPath(new URL('./kill9-child.ts', import.meta.url));

describe('kill -9 mid-publish', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('loses nothing and never renumbers a record: a new process replays every stored reading in order', async () => {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.down());
    const { dir, remove } = tempDataDir();
    cleanups.push(remove);
    const config = testConfig(broker.url, { outbox: { quotaBytes: 64 * 1024 * 1024, alarmRatio: 0.8, batchSize: 5, replayMessagesPerSecond: 10 } });
    const fast = { ...config, outbox: { ...config.outbox, replayMessagesPerSecond: 1000 } };
    const configPath = join(dir, 'gateway.json');
    writeFileSync(configPath, JSON.stringify(config));

    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, configPath, join(dir, 'data')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    cleanups.push(() => child.kill('SIGKILL'));
    // Production (up to 500/s) outruns the paced publisher (10 messages/s of 5): the child dies with a backlog and messages in flight.
    await waitFor(() => broker.messages('readings').length >= 4, 20_000, 'the child to publish');
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const beforeRestart = broker.items('readings').length;

    const gateway = await startGateway({ config: fast, dataDir: join(dir, 'data'), log: silentLogger, backoff: FAST_BACKOFF });
    cleanups.push(() => gateway.stop());
    const stored = gateway.outbox.nextSeq() - 1;
    expect(stored).toBeGreaterThanOrEqual(beforeRestart);
    await waitFor(() => gateway.outboxStats().depth === 0, 20_000, 'replay to finish');

    const items = broker.items<{ seq: number; readAt: string }>('readings');
    const firstArrival = [...new Set(items.map((i) => i.seq))];
    // Every seq the outbox ever assigned arrived, in order, with no gap.
    expect(firstArrival).toEqual(Array.from({ length: stored }, (_, i) => i + 1));
    // Duplicates (re-sent after the kill) carry the same seq: per reading, exactly one seq.
    const seqsPerReading = new Map<string, Set<number>>();
    for (const item of items) seqsPerReading.set(item.readAt, (seqsPerReading.get(item.readAt) ?? new Set()).add(item.seq));
    expect(seqsPerReading.size).toBe(stored);
    expect([...seqsPerReading.values()].every((s) => s.size === 1)).toBe(true);
  });
});
