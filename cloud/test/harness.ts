import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { Writable } from 'node:stream';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/http/logger.js';
import { assembleDeps } from '../src/deps.js';
import { BullJobQueue, InProcessJobQueue, type JobQueue } from '../src/jobs/job-queue.js';

export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export type Harness = {
  deps: ReturnType<typeof assembleDeps>;
  app: ReturnType<typeof createApp>;
  /** Moves the injectable clock; lockouts and expiries are tested without sleeping. */
  advance(ms: number): void;
  close(): Promise<void>;
};

export type HarnessOptions = {
  /** 'postgres' (default): a fresh schema on the real PostgreSQL, dropped on close. 'pglite': in memory. */
  database?: 'postgres' | 'pglite';
  /** 'bullmq': real Redis with a unique prefix, obliterated on close. Default: in-process. */
  jobs?: 'bullmq' | 'in-process';
  env?: Record<string, string>;
  /** Receives the app's log lines (info and up) through the product's own logger, redaction included. */
  logTo?: Writable;
};

/**
 * A whole cloud app on its own schema and queue prefix, so test files run in parallel and leave nothing.
 *
 * @example
 * const h = await createHarness();
 * afterAll(() => h.close());
 * const res = await h.app.request('/healthz');
 */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const schemaName = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'estate-test-'));
  const useBull = options.jobs === 'bullmq';
  const config: Config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // Tests stand in for the one reverse proxy that appends X-Forwarded-For in production.
    TRUST_PROXY_HOPS: '1',
    JWT_SECRET: randomBytes(32).toString('base64'),
    PII_KEYS: `t1:${randomBytes(32).toString('base64')}`,
    BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
    ...(useBull ? { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${schemaName}` } : {}),
    ...options.env,
  });
  const log = options.logTo ? createLogger('info', options.logTo) : pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const database = await openDatabase({
    url: options.database === 'pglite' ? undefined : TEST_DATABASE_URL,
    dataDir,
    schemaName,
    inMemory: true,
    maxConnections: 4,
  });
  await migrate(database.db, schemaName);
  const jobs: JobQueue = useBull ? new BullJobQueue(TEST_REDIS_URL, config.QUEUE_PREFIX, log) : new InProcessJobQueue(log);
  let offsetMs = 0;
  const deps = assembleDeps({ config, database, jobs, log, now: () => new Date(Date.now() + offsetMs) });
  const app = createApp(deps);
  return {
    deps,
    app,
    advance: (ms) => {
      offsetMs += ms;
    },
    close: async () => {
      if (jobs instanceof BullJobQueue) await jobs.obliterate().catch(() => {});
      await jobs.close();
      if (database.kind === 'postgres') await database.db.execute(sql.raw(`drop schema if exists "${schemaName}" cascade`));
      await database.close();
    },
  };
}
