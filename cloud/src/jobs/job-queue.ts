import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';

export type JobHandler<T> = (data: T, job: { id: string; reportProgress(fraction: number): Promise<void> }) => Promise<unknown>;

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'unknown';

/**
 * Background work behind one interface: BullMQ on Redis when REDIS_URL is set (workers scale out),
 * an in-process runner otherwise (the embedded demo needs no services). Handlers are the same code.
 */
export interface JobQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Registers the handler for a job name; call before enqueueing that name. */
  register<T>(name: string, handler: JobHandler<T>): void;
  /** Enqueues a job; `jobId` makes enqueueing idempotent. Resolves to the job id. */
  enqueue<T>(name: string, data: T, options?: { jobId?: string; attempts?: number }): Promise<string>;
  /**
   * Runs `name` every `everyMs` from now on (a BullMQ job scheduler, or a timer in process). Calling it
   * again for the same name replaces the schedule, so every API node may declare it at start.
   */
  repeat(name: string, everyMs: number): Promise<void>;
  /** Resolves when the job ends, with its result or its error. For tests and synchronous callers. */
  waitFor(jobId: string, timeoutMs?: number): Promise<unknown>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class InProcessJobQueue implements JobQueue {
  readonly kind = 'in-process' as const;
  private readonly handlers = new Map<string, JobHandler<unknown>>();
  private readonly outcomes = new Map<string, { ok: boolean; value: unknown }>();
  private readonly running = new Set<Promise<void>>();
  private readonly events = new EventEmitter();
  private readonly seen = new Set<string>();
  private closed = false;
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly log: Logger) {}

  async repeat(name: string, everyMs: number): Promise<void> {
    if (!this.handlers.has(name)) throw new Error(`no handler registered for job "${name}"`);
    clearInterval(this.timers.get(name));
    const timer = setInterval(() => {
      if (!this.closed) void this.enqueue(name, {}).catch((err: unknown) => this.log.error({ err, job: name }, 'scheduled job not enqueued'));
    }, everyMs);
    // A schedule never keeps the process alive on its own.
    timer.unref();
    this.timers.set(name, timer);
  }

  register<T>(name: string, handler: JobHandler<T>): void {
    this.handlers.set(name, handler as JobHandler<unknown>);
  }

  async enqueue<T>(name: string, data: T, options: { jobId?: string; attempts?: number } = {}): Promise<string> {
    if (this.closed) throw new Error('job queue is closed');
    const handler = this.handlers.get(name);
    if (!handler) throw new Error(`no handler registered for job "${name}"`);
    const id = options.jobId ?? randomUUID();
    if (this.seen.has(id)) return id;
    this.seen.add(id);
    const attempts = Math.max(1, options.attempts ?? 1);
    const run = (async () => {
      // setImmediate: like a real queue, the caller's request finishes before the job starts.
      await new Promise((r) => setImmediate(r));
      for (let attempt = 1; ; attempt++) {
        try {
          const value = await handler(data, { id, reportProgress: async () => {} });
          this.settle(id, { ok: true, value });
          return;
        } catch (error) {
          if (attempt >= attempts) {
            this.log.error({ err: error, job: name, jobId: id }, 'job failed');
            this.settle(id, { ok: false, value: error });
            return;
          }
        }
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return id;
  }

  private settle(id: string, outcome: { ok: boolean; value: unknown }): void {
    this.outcomes.set(id, outcome);
    this.events.emit(id, outcome);
  }

  waitFor(jobId: string, timeoutMs = 60_000): Promise<unknown> {
    const known = this.outcomes.get(jobId);
    const outcome = known
      ? Promise.resolve(known)
      : new Promise<{ ok: boolean; value: unknown }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`job ${jobId} did not finish in ${timeoutMs} ms`)), timeoutMs);
          this.events.once(jobId, (o: { ok: boolean; value: unknown }) => {
            clearTimeout(timer);
            resolve(o);
          });
        });
    return outcome.then((o) => (o.ok ? o.value : Promise.reject(o.value)));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearInterval(timer);
    await Promise.allSettled([...this.running]);
  }
}

export class BullJobQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly queueEvents: QueueEvents;
  private readonly connection: ConnectionOptions;

  /**
   * @param redisUrl redis:// URL
   * @param prefix key prefix; tests pass a unique one so they never see each other's jobs
   */
  constructor(
    redisUrl: string,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly runWorkers = true,
  ) {
    const url = new URL(redisUrl);
    this.connection = {
      host: url.hostname,
      port: Number(url.port || 6379),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
      // BullMQ requires null here: while ioredis reconnects, commands wait instead of failing after a
      // few retries. /readyz does not wait with them: it bounds its ping with its own timeout.
      maxRetriesPerRequest: null,
    };
    // One queue ("jobs") carries every job name, so one QueueEvents stream can report all of them.
    this.queueEvents = new QueueEvents('jobs', { connection: this.connection, prefix });
  }

  private queue(): Queue {
    let queue = this.queues.get('jobs');
    if (!queue) {
      queue = new Queue('jobs', { connection: this.connection, prefix: this.prefix });
      this.queues.set('jobs', queue);
    }
    return queue;
  }

  private readonly handlers = new Map<string, JobHandler<unknown>>();

  register<T>(name: string, handler: JobHandler<T>): void {
    this.handlers.set(name, handler as JobHandler<unknown>);
    if (this.runWorkers && this.workers.length === 0) {
      const worker = new Worker(
        'jobs',
        async (job) => {
          const h = this.handlers.get(job.name);
          if (!h) throw new Error(`no handler registered for job "${job.name}"`);
          return h(job.data, { id: job.id!, reportProgress: (f) => job.updateProgress(Math.round(f * 100)) });
        },
        { connection: this.connection, prefix: this.prefix, concurrency: 4 },
      );
      worker.on('failed', (job, err) => this.log.error({ err, job: job?.name, jobId: job?.id }, 'job failed'));
      this.workers.push(worker);
    }
  }

  async enqueue<T>(name: string, data: T, options: { jobId?: string; attempts?: number } = {}): Promise<string> {
    const job = await this.queue().add(name, data, {
      jobId: options.jobId,
      attempts: options.attempts ?? 1,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    return job.id!;
  }

  async repeat(name: string, everyMs: number): Promise<void> {
    await this.queue().upsertJobScheduler(`every:${name}`, { every: everyMs }, { name, data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
  }

  async waitFor(jobId: string, timeoutMs = 60_000): Promise<unknown> {
    const job = await this.queue().getJob(jobId);
    if (!job) throw new Error(`job ${jobId} is unknown`);
    await this.queueEvents.waitUntilReady();
    // QueueEvents reads a Redis stream from "now": a job that finishes while that read is still being
    // set up is never announced, and the wait would run to its timeout. A slow look at the job's own
    // state backs the event up; whichever answers first wins.
    let waiting = true;
    const byState = (async () => {
      while (waiting) {
        await new Promise((r) => setTimeout(r, 250));
        const current = waiting ? await this.queue().getJob(jobId) : undefined;
        const state = await current?.getState();
        if (state === 'completed') return current!.returnvalue as unknown;
        if (state === 'failed') throw new Error(current!.failedReason);
      }
      return undefined;
    })();
    try {
      return await Promise.race([job.waitUntilFinished(this.queueEvents, timeoutMs), byState]);
    } finally {
      waiting = false;
      // The loser settles on its own; its outcome is already reported by the winner.
      byState.catch(() => undefined);
    }
  }

  async ping(): Promise<void> {
    // A real round trip to Redis; /readyz bounds it with a timeout while ioredis reconnects.
    await this.queue().getJobCountByTypes('waiting');
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.queueEvents.close();
  }

  /** Test cleanup: removes every key under this queue's prefix. */
  async obliterate(): Promise<void> {
    await this.queue().obliterate({ force: true });
  }
}
