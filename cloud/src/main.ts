import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase } from './db/client.js';
import { assembleDeps } from './deps.js';
import { migrate } from './db/migrate.js';
import { seedDemo } from './features/seed/demo-seed.js';
import { createLogger } from './http/logger.js';
import { BullJobQueue, InProcessJobQueue } from './jobs/job-queue.js';

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * `npm start`: the whole cloud on embedded defaults (PGlite in DATA_DIR, in-process jobs) or on
 * PostgreSQL / Redis when DATABASE_URL / REDIS_URL are set. Migrations run at start; a demo community is
 * seeded into an empty database.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.LOG_LEVEL, undefined, { pretty: config.NODE_ENV === 'development' && process.stdout.isTTY === true });
  const started = performance.now();
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, schemaName: config.DATABASE_SCHEMA });
  const migration = await migrate(database.db, config.DATABASE_SCHEMA);
  log.info({ database: database.kind, applied: migration.applied }, 'database ready');
  const jobs = config.REDIS_URL ? new BullJobQueue(config.REDIS_URL, config.QUEUE_PREFIX, log) : new InProcessJobQueue(log);
  const deps = assembleDeps({ config, database, jobs, log });
  const app = createApp(deps);

  const demo = config.SEED_DEMO === 'never' ? null : await seedDemo(deps);

  const server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info) => {
    const base = config.PUBLIC_URL ?? `http://localhost:${info.port}`;
    const lines = [
      '',
      `Estate cloud is up in ${Math.round(performance.now() - started)} ms (${database.kind}, ${jobs.kind} jobs)`,
      `  API            ${base}/v1   (health ${base}/healthz, readiness ${base}/readyz, metrics ${base}/metrics)`,
      `  API reference  ${base}/docs   (OpenAPI document ${base}/openapi.json)`,
      `  Admin console  ${base}/console`,
      `  Resident H5    ${base}/h5`,
    ];
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
    console.log(lines.join('\n') + '\n');
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    log.fatal({ err: error }, error.code === 'EADDRINUSE' ? `port ${config.PORT} is in use; set PORT to another one` : 'server failed');
    process.exit(1);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close();
    await jobs.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await main();
