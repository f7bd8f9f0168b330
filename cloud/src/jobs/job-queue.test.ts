import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/harness.js';
import { BullJobQueue, InProcessJobQueue, type JobQueue } from './job-queue.js';

const log = pino({ level: 'silent' });
const open: JobQueue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) {
    if (q instanceof BullJobQueue) await q.obliterate();
    await q.close();
  }
});

const makers: [string, () => JobQueue][] = [
  ['in-process', () => new InProcessJobQueue(log)],
  ['bullmq on Redis', () => new BullJobQueue(TEST_REDIS_URL, `test-${randomUUID()}`, log)],
];

describe.each(makers)('%s job queue', (_name, make) => {
  it('runs a registered job and hands back its result', async () => {
    const q = make();
    open.push(q);
    q.register<{ a: number; b: number }>('add', async ({ a, b }) => a + b);
    const id = await q.enqueue('add', { a: 2, b: 40 });
    expect(await q.waitFor(id, 10_000)).toBe(42);
    await q.ping();
  });

  it('reports a failing job as a failure, with its reason', async () => {
    const q = make();
    open.push(q);
    q.register('explode', async () => {
      throw new Error('meter bus is dead');
    });
    const id = await q.enqueue('explode', {});
    await expect(q.waitFor(id, 10_000)).rejects.toThrow(/meter bus is dead/);
  });

  it('runs a job once per job id, however often it is enqueued', async () => {
    const q = make();
    open.push(q);
    let runs = 0;
    q.register('count', async () => ++runs);
    const id = `import-${randomUUID()}`;
    await q.enqueue('count', {}, { jobId: id });
    await q.enqueue('count', {}, { jobId: id });
    await q.waitFor(id, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(runs).toBe(1);
  });

  it('retries up to the given attempts', async () => {
    const q = make();
    open.push(q);
    let tries = 0;
    q.register('flaky', async () => {
      if (++tries < 2) throw new Error('transient');
      return tries;
    });
    const id = await q.enqueue('flaky', {}, { attempts: 3 });
    expect(await q.waitFor(id, 15_000)).toBe(2);
  });
});

it('BullMQ keeps queues apart by prefix', async () => {
  const a = new BullJobQueue(TEST_REDIS_URL, `test-${randomUUID()}`, log);
  const b = new BullJobQueue(TEST_REDIS_URL, `test-${randomUUID()}`, log, false);
  open.push(a, b);
  a.register('who', async () => 'a');
  const id = await b.enqueue('who', {});
  // b has no worker and a listens on another prefix: the job stays waiting.
  await expect(b.waitFor(id, 1500)).rejects.toThrow();
});
