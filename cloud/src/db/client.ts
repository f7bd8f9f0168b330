import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** The shared drizzle surface of postgres.js and PGlite; a transaction is one too. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export type DatabaseHandle = {
  db: Database;
  kind: 'postgres' | 'pglite';
  schemaName: string;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  /** postgres:// URL; without one, PGlite keeps the database in `dataDir`. */
  url?: string | undefined;
  dataDir: string;
  /** Schema every query runs in; tests use one per file so they run in parallel. */
  schemaName?: string;
  /** PGlite only: keep the database in memory (tests of the embedded mode). */
  inMemory?: boolean;
  maxConnections?: number;
};

/**
 * Opens PostgreSQL through postgres.js when a URL is given, else embedded PGlite. Both run the same
 * migrations and the same queries.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const schemaName = options.schemaName ?? 'public';
  if (options.url) {
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      connection: { search_path: schemaName, application_name: 'estate-cloud' },
    });
    if (schemaName !== 'public') await client.unsafe(`create schema if not exists "${schemaName}"`);
    const db = drizzlePostgres(client, { schema }) as unknown as Database;
    return {
      db,
      kind: 'postgres',
      schemaName,
      ping: async () => void (await client`select 1`),
      close: () => client.end({ timeout: 5 }),
    };
  }
  let dir: string | undefined;
  if (!options.inMemory) {
    dir = path.resolve(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
  }
  const client = await PGlite.create(dir ? { dataDir: dir } : {});
  if (schemaName !== 'public') await client.exec(`create schema if not exists "${schemaName}"; set search_path to "${schemaName}"`);
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    schemaName,
    ping: async () => void (await db.execute(sql`select 1`)),
    close: () => client.close(),
  };
}
