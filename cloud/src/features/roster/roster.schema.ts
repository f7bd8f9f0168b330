import { sql } from 'drizzle-orm';
import { boolean, check, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { communities } from '../estate/estate.schema.js';

export const IMPORT_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

export type RosterRowError = { row: number; column?: string; reason: string };
export type RosterImportSummary = {
  rows: number;
  buildings: { created: number; existing: number };
  units: { created: number; existing: number };
  houses: { created: number; updated: number; unchanged: number };
  owners: { created: number; updated: number; unchanged: number };
};

/** One roster upload, dry run or real. Progress is written here so any API node can report it. */
export const rosterImports = pgTable(
  'roster_imports',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    fileName: text('file_name').notNull(),
    fileSha256: text('file_sha256').notNull(),
    format: text('format').notNull(),
    dryRun: boolean('dry_run').notNull(),
    status: text('status', { enum: IMPORT_STATUSES }).notNull().default('queued'),
    totalRows: integer('total_rows').notNull().default(0),
    processedRows: integer('processed_rows').notNull().default(0),
    errors: jsonb('errors').$type<RosterRowError[]>().notNull().default([]),
    summary: jsonb('summary').$type<RosterImportSummary>(),
    failure: text('failure'),
    createdBy: uuid('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [check('roster_imports_status_known', sql`${t.status} in ('queued', 'running', 'succeeded', 'failed')`)],
);
