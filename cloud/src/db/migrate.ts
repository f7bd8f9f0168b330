import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { transactionLock } from './advisory-lock.js';

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

type Journal = { entries: { idx: number; tag: string; when: number }[] };

export type MigrationResult = { applied: string[]; alreadyApplied: number };

/**
 * Applies the SQL migrations drizzle-kit generated (cloud/drizzle), in journal order, each in its own
 * transaction, recording name and hash in `<schema>.schema_migrations`.
 *
 * drizzle's own migrator is not used because drizzle-kit qualifies references with "public"; here they
 * are retargeted to the schema we run in, so every test file can own a schema of its own. An advisory
 * lock keeps two API nodes starting together from applying the same migration twice.
 */
export async function migrate(db: Database, schemaName = 'public'): Promise<MigrationResult> {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as Journal;
  const q = `"${schemaName}"`;
  await db.execute(sql.raw(`create schema if not exists ${q}`));
  await db.execute(
    sql.raw(`create table if not exists ${q}.schema_migrations (name text primary key, hash text not null, applied_at timestamptz not null default now())`),
  );
  const applied: string[] = [];
  let alreadyApplied = 0;
  for (const entry of [...journal.entries].sort((a, b) => a.idx - b.idx)) {
    const text = readFileSync(path.join(MIGRATIONS_DIR, `${entry.tag}.sql`), 'utf8');
    const hash = createHash('sha256').update(text).digest('hex');
    const done = await db.transaction(async (tx) => {
      await transactionLock(tx, `estate-migrate:${schemaName}`);
      const rows = await tx.execute<{ hash: string }>(sql.raw(`select hash from ${q}.schema_migrations where name = '${entry.tag}'`));
      const existing = rowsOf<{ hash: string }>(rows)[0];
      if (existing) {
        if (existing.hash !== hash) throw new Error(`migration ${entry.tag} was changed after it was applied; write a new migration instead`);
        return true;
      }
      for (const statement of text.split('--> statement-breakpoint')) {
        const body = statement.replaceAll('"public".', `${q}.`).trim();
        if (body) await tx.execute(sql.raw(body));
      }
      await tx.execute(sql.raw(`insert into ${q}.schema_migrations (name, hash) values ('${entry.tag}', '${hash}')`));
      return false;
    });
    if (done) alreadyApplied++;
    else applied.push(entry.tag);
  }
  return { applied, alreadyApplied };
}

/** postgres.js returns the rows array itself; PGlite returns `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
