import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { PiiVault } from './crypto/pii.js';
import type { DatabaseHandle } from './db/client.js';
import { OutboxSmsSender } from './features/auth/outbox-sms.js';
import { createMetrics } from './http/metrics.js';
import type { JobQueue } from './jobs/job-queue.js';
import { registerJobs } from './jobs/register.js';
import { NoMqtt } from './mqtt/cloud-mqtt.js';

/**
 * Wires the services every route and job uses and registers the job handlers. main.ts and the test
 * harness both call this, so a test runs the same wiring the product does.
 *
 * @example
 * const deps = assembleDeps({ config, database, jobs, log });
 */
export function assembleDeps(parts: { config: Config; database: DatabaseHandle; jobs: JobQueue; log: Logger; now?: () => Date }): AppDeps {
  const deps: AppDeps = {
    config: parts.config,
    database: parts.database,
    db: parts.database.db,
    jobs: parts.jobs,
    log: parts.log,
    metrics: createMetrics(),
    vault: new PiiVault(parts.config.secrets),
    sms: undefined as never,
    mqtt: new NoMqtt(),
    now: parts.now ?? (() => new Date()),
  };
  deps.sms = new OutboxSmsSender(deps);
  registerJobs(deps);
  return deps;
}
