import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq, inArray, lt } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { redactDigits } from '../../crypto/pii.js';
import type { Database } from '../../db/client.js';
import { Problem, type ProblemType } from '../../http/problem.js';
import { auditEvents } from '../audit/audit.schema.js';
import { readRosterFile } from './roster-file.js';
import { importRoster } from './roster-import.js';
import { forgetProgress, progressReporter } from './roster-progress.js';
import { validateRoster } from './roster-validate.js';
import { rosterImports, type RosterImportSummary, type RosterRowError } from './roster.schema.js';

export const ROSTER_IMPORT_JOB = 'roster.import';

/** The queue message: ids only. The file itself waits in DATA_DIR/uploads, where every runner reads it. */
export type RosterImportJob = {
  importId: string;
  requestId?: string;
  ip?: string;
  /** Who the audit event names; the staff member who uploaded unless the seed runs it. */
  actor?: { kind: 'staff' | 'system'; id: string | null };
};

/** How a finished import ended; `problem` says which problem+json a synchronous caller should answer. */
export type RosterImportOutcome = { status: 'succeeded' | 'failed'; problem?: ProblemType; detail?: string };

/** Where an upload waits for its job. Uploads hold ID numbers in clear, so the job deletes it. */
export function uploadPath(dataDir: string, importId: string): string {
  return path.resolve(dataDir, 'uploads', importId);
}

export async function storeUpload(dataDir: string, importId: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.resolve(dataDir, 'uploads'), { recursive: true, mode: 0o700 });
  await writeFile(uploadPath(dataDir, importId), bytes, { mode: 0o600 });
}

/** Registers the `roster.import` handler (called by jobs/register.ts on API nodes and workers). */
export function registerRosterJobs(deps: AppDeps): void {
  deps.jobs.register<RosterImportJob>(ROSTER_IMPORT_JOB, (data, job) => runRosterImport(deps, data, job));
}

/**
 * Runs one roster import end to end: read, validate, compare, write, record. File and row problems
 * are outcomes, stored on the roster_imports row (status failed, every bad row in `errors`), not
 * exceptions; only an unexpected failure (database gone) throws, after marking the row failed.
 * Running it again for a finished import does nothing, since queues deliver at least once.
 *
 * @example
 * await runRosterImport(deps, { importId });
 */
export async function runRosterImport(
  deps: AppDeps,
  data: RosterImportJob,
  job?: { reportProgress(fraction: number): Promise<void> },
): Promise<RosterImportOutcome> {
  const { importId } = data;
  const [row] = await deps.db.select().from(rosterImports).where(eq(rosterImports.id, importId));
  if (!row) throw new Error(`roster import ${importId} does not exist`);
  if (row.status === 'succeeded' || row.status === 'failed') return { status: row.status };
  const log = deps.log.child({ importId, communityId: row.communityId });
  const file = uploadPath(deps.config.DATA_DIR, importId);
  const fail = async (problem: ProblemType, text: string, rowErrors: RosterRowError[], db: Database = deps.db): Promise<RosterImportOutcome> => {
    // Stored, returned and audited: whatever a message quotes from the file loses its long digit runs.
    const detail = redactDigits(text);
    const errors = rowErrors.map((e) => ({ ...e, reason: redactDigits(e.reason), ...(e.column === undefined ? {} : { column: redactDigits(e.column) }) }));
    await db
      .update(rosterImports)
      .set({ status: 'failed', failure: detail, errors, finishedAt: deps.now() })
      .where(eq(rosterImports.id, importId));
    await audit(deps, db, row, data, 'failure', { failure: detail, errorCount: errors.length });
    log.info({ problem, errorCount: errors.length }, 'roster import refused');
    return { status: 'failed', problem, detail };
  };

  try {
    await deps.db.update(rosterImports).set({ status: 'running' }).where(eq(rosterImports.id, importId));
    const bytes = await readFile(file).catch(() => null);
    if (!bytes) return await fail('unreadable-file', 'The uploaded file is no longer on the server; upload it again', []);

    let plan;
    try {
      plan = validateRoster(await readRosterFile(bytes, row.fileName));
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      return await fail(error.kind, error.detail ?? error.message, (error.extensions['errors'] as RosterRowError[] | undefined) ?? []);
    }
    await deps.db.update(rosterImports).set({ totalRows: plan.rows }).where(eq(rosterImports.id, importId));
    if (plan.errors.length > 0) return await fail('roster-invalid', invalidRowsDetail(plan.errors), plan.errors);

    const markSucceeded = async (db: Database, summary: RosterImportSummary) => {
      await db
        .update(rosterImports)
        .set({ status: 'succeeded', summary, processedRows: plan.rows, finishedAt: deps.now() })
        .where(eq(rosterImports.id, importId));
      await audit(deps, db, row, data, 'success', { summary });
    };
    const result = await importRoster(deps, {
      communityId: row.communityId,
      plan,
      dryRun: row.dryRun,
      onProgress: progressReporter(deps, importId, job),
      // Real import: the row says "succeeded" in the very transaction that wrote the houses.
      ...(row.dryRun ? {} : { onCommit: markSucceeded }),
    });
    if (result.errors.length > 0) return await fail('roster-invalid', invalidRowsDetail(result.errors), result.errors);
    if (row.dryRun) await markSucceeded(deps.db, result.summary);
    log.info({ dryRun: row.dryRun, summary: result.summary }, 'roster import finished');
    return { status: 'succeeded' };
  } catch (error) {
    log.error({ err: error }, 'roster import crashed');
    // The cause goes to the log only: a database message can quote row values back.
    await fail('internal', `The import stopped on a server error; nothing was written. Quote import ${importId} when reporting it.`, []).catch(() => {});
    throw error;
  } finally {
    forgetProgress(importId);
    await rm(file, { force: true });
  }
}

export const INTERRUPTED_IMPORT = 'interrupted by a restart; upload the file again';
/** An upload older than this has no job left that will read it (imports take seconds to minutes). */
export const STALE_UPLOAD_MS = 60 * 60 * 1000;

/**
 * Cleans up after a process that died mid-import (kill -9, OOM, power), called once by main.ts at
 * start, before requests are served. With the in-process runner the jobs died with the process: their
 * imports, still queued or running, are marked failed (and audited) and their uploads deleted, since
 * they hold ID numbers in clear. With BullMQ the queue still owns such jobs (a stalled one is retried),
 * so they are left alone. Either way, an upload older than an hour whose import is not queued or
 * running is deleted.
 *
 * @example
 * await migrate(db); await recoverRosterImports(deps); serve(app);
 */
export async function recoverRosterImports(deps: AppDeps): Promise<{ interrupted: string[]; removedUploads: number }> {
  const now = deps.now();
  const dir = path.resolve(deps.config.DATA_DIR, 'uploads');
  const interrupted: string[] = [];
  if (deps.jobs.kind === 'in-process') {
    // Only imports created before this start: whatever this process enqueues from now on is its own.
    const rows = await deps.db
      .update(rosterImports)
      .set({ status: 'failed', failure: INTERRUPTED_IMPORT, finishedAt: now })
      .where(and(inArray(rosterImports.status, ['queued', 'running']), lt(rosterImports.createdAt, now)))
      .returning();
    for (const row of rows) {
      interrupted.push(row.id);
      await audit(deps, deps.db, row, { importId: row.id, actor: { kind: 'system', id: null } }, 'failure', { failure: INTERRUPTED_IMPORT, errorCount: 0 });
      await rm(uploadPath(deps.config.DATA_DIR, row.id), { force: true });
    }
    if (rows.length) deps.log.warn({ importIds: interrupted }, 'roster imports interrupted by a restart marked failed');
  }

  let removedUploads = interrupted.length;
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale: string[] = [];
  for (const name of names) {
    const info = await stat(path.join(dir, name)).catch(() => null);
    if (info?.isFile() && now.getTime() - info.mtime.getTime() > STALE_UPLOAD_MS) stale.push(name);
  }
  if (stale.length) {
    const ids = stale.filter((n) => /^[0-9a-f-]{36}$/i.test(n));
    const pending = ids.length
      ? await deps.db
          .select({ id: rosterImports.id })
          .from(rosterImports)
          .where(and(inArray(rosterImports.id, ids), inArray(rosterImports.status, ['queued', 'running'])))
      : [];
    const keep = new Set(pending.map((r) => r.id));
    for (const name of stale.filter((n) => !keep.has(n))) {
      await rm(path.join(dir, name), { force: true });
      removedUploads++;
    }
  }
  return { interrupted, removedUploads };
}

function invalidRowsDetail(errors: RosterRowError[]): string {
  const rows = new Set(errors.map((e) => e.row)).size;
  return `${rows} row${rows === 1 ? '' : 's'} of the file ${rows === 1 ? 'has' : 'have'} errors (${errors.length} in all); nothing was imported. Fix them and upload again.`;
}

async function audit(
  deps: AppDeps,
  db: Database,
  row: typeof rosterImports.$inferSelect,
  data: RosterImportJob,
  outcome: 'success' | 'failure',
  details: Record<string, unknown>,
): Promise<void> {
  const actor = data.actor ?? { kind: 'staff' as const, id: row.createdBy };
  await db.insert(auditEvents).values({
    at: deps.now(),
    actorKind: actor.kind,
    actorId: actor.id,
    action: 'roster.import',
    outcome,
    communityId: row.communityId,
    targetKind: 'roster_import',
    targetId: row.id,
    ip: data.ip ?? null,
    requestId: data.requestId ?? null,
    details: { dryRun: row.dryRun, fileName: row.fileName, fileSha256: row.fileSha256, ...details },
  });
}
