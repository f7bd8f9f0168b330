import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { PiiVault } from './crypto/pii.js';
import type { DatabaseHandle } from './db/client.js';
import { AliyunSmsSender } from './features/auth/aliyun-sms.js';
import { OutboxSmsSender } from './features/auth/outbox-sms.js';
import type { SmsSender } from './features/auth/sms-sender.js';
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
  deps.sms = chooseSmsSender(deps);
  registerJobs(deps);
  return deps;
}

/** SMS_PROVIDER decides; loadConfig has already insisted on the Aliyun settings when it says 'aliyun'. */
function chooseSmsSender(deps: AppDeps): SmsSender {
  const config = deps.config;
  switch (config.SMS_PROVIDER) {
    case 'outbox':
      return new OutboxSmsSender(deps);
    case 'aliyun':
      return new AliyunSmsSender(deps, {
        accessKeyId: config.ALIYUN_SMS_ACCESS_KEY_ID!,
        accessKeySecret: config.ALIYUN_SMS_ACCESS_KEY_SECRET!,
        signName: config.ALIYUN_SMS_SIGN_NAME!,
        templateCode: config.ALIYUN_SMS_TEMPLATE_CODE!,
        endpoint: config.ALIYUN_SMS_ENDPOINT,
      });
  }
}
