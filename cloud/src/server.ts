import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { openDatabase } from './db/client.js';
import { migrate } from './db/migrate.js';
import { assembleDeps } from './deps.js';
import { attachGatewayBroker } from './features/gateways/gateway-broker.js';
import { doorHandlers } from './features/doors/door-access.js';
import { republishDoorState } from './features/doors/door-credentials.js';
import { createReadingIngest } from './features/meters/reading-ingest.js';
import { startBillingSchedule } from './features/billing/billing.jobs.js';
import { recoverRosterImports } from './features/roster/roster.jobs.js';
import { seedDemo } from './features/seed/demo-seed.js';
import { BullJobQueue, InProcessJobQueue } from './jobs/job-queue.js';
import type { CloudMqtt } from './mqtt/cloud-mqtt.js';

export type RunningCloud = {
  deps: AppDeps;
  /** Where the HTTP API listens, e.g. http://localhost:3000. */
  baseUrl: string;
  mqtt: CloudMqtt;
  demo: Awaited<ReturnType<typeof seedDemo>> | null;
  startedInMs: number;
  stop(): Promise<void>;
};

/**
 * Starts the whole cloud: database (migrated), jobs, MQTT broker or client, reading ingest, HTTP API,
 * and the demo community when SEED_DEMO asks for it. main.ts runs it for `npm start -w cloud`; the demo
 * community runner and end-to-end tests start it in process.
 *
 * @example
 * const cloud = await startCloud(loadConfig(process.env), log);
 * await cloud.stop();
 */
export async function startCloud(config: Config, log: Logger): Promise<RunningCloud> {
  const started = performance.now();
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, schemaName: config.DATABASE_SCHEMA });
  const migration = await migrate(database.db, config.DATABASE_SCHEMA);
  log.info({ database: database.kind, applied: migration.applied }, 'database ready');
  const jobs = config.REDIS_URL ? new BullJobQueue(config.REDIS_URL, config.QUEUE_PREFIX, log) : new InProcessJobQueue(log);
  const deps = assembleDeps({ config, database, jobs, log });
  await recoverRosterImports(deps);
  await startBillingSchedule(deps);
  const app = createApp(deps);
  const readings = createReadingIngest(deps);
  const mqtt = await attachGatewayBroker(deps, { readings, doors: doorHandlers(deps) });
  // Retained door state may not have survived a broker restart (the embedded broker keeps it in memory).
  await republishDoorState(deps);

  // auto: a development machine gets the demo; a production installation never gets demo logins.
  const seed = config.SEED_DEMO === 'always' || (config.SEED_DEMO === 'auto' && config.NODE_ENV !== 'production');
  const demo = seed ? await seedDemo(deps) : null;

  const server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    deps,
    baseUrl: config.PUBLIC_URL ?? `http://localhost:${port}`,
    mqtt,
    demo,
    startedInMs: Math.round(performance.now() - started),
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // The broker first, so no message is half-handled when the ingest and the database go.
      await mqtt.close();
      await readings.close();
      await jobs.close();
      await database.close();
    },
  };
}

/** The start-up banner: where to look, and the demo logins. */
export function cloudBanner(cloud: RunningCloud): string[] {
  const { config } = cloud.deps;
  const base = cloud.baseUrl;
  const lines = [
    `Estate cloud is up in ${cloud.startedInMs} ms (${cloud.deps.database.kind}, ${cloud.deps.jobs.kind} jobs)`,
    `  API            ${base}/v1   (health ${base}/healthz, readiness ${base}/readyz, metrics ${base}/metrics)`,
    `  API reference  ${base}/docs   (OpenAPI document ${base}/openapi.json)`,
    `  MQTT broker    ${cloud.mqtt.url}${cloud.mqtt.tlsUrl ? ` and ${cloud.mqtt.tlsUrl}` : ''}   (${cloud.mqtt.kind === 'embedded' ? `embedded aedes, ${config.REDIS_URL ? 'Redis' : 'in-memory'} persistence` : 'external'})`,
    `  Admin console  ${base}/console`,
    `  Resident H5    ${base}/h5`,
  ];
  const demo = cloud.demo;
  if (demo) {
    lines.push('', `Demo community (${demo.seeded ? 'seeded now' : 'already seeded'}), staff logins for the console:`);
    for (const login of demo.logins) lines.push(`  ${login.role.padEnd(17)} ${login.username.padEnd(10)} ${login.password}`);
    lines.push(
      '',
      'Residents log in at /h5 with a phone number; in development the SMS code is shown on the page and in the log.',
      `  Try an owner's phone from the roster, e.g. ${demo.residentPhones.slice(0, 3).join(', ')}`,
    );
  }
  if (config.secretsSource !== 'environment') lines.push('', `Development secrets: ${config.secretsSource} (set JWT_SECRET, PII_KEYS, BLIND_INDEX_KEY in production)`);
  return lines;
}
