import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../cloud/src/config.js';
import { openDatabase } from '../../cloud/src/db/client.js';

/**
 * A bench's own PostgreSQL schema (DATABASE_URL or the local `test` database) with a throwaway data
 * folder and per-run secrets; `close()` drops the schema and the folder.
 *
 * @example
 * const bench = await openBenchDatabase('bench_billing');
 * try { await migrate(bench.database.db, bench.schemaName); } finally { await bench.close(); }
 */
export async function openBenchDatabase(prefix: string) {
  const url = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schemaName = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'estate-bench-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString('base64'),
    PII_KEYS: `b1:${randomBytes(32).toString('base64')}`,
    BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
  });
  const database = await openDatabase({ url, dataDir, schemaName, maxConnections: 4 });
  return {
    url,
    schemaName,
    dataDir,
    config,
    database,
    close: async () => {
      await database.db.execute(sql.raw(`drop schema if exists "${schemaName}" cascade`)).catch(() => {});
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
