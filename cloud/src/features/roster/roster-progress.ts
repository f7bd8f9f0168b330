import { eq } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { rosterImports } from './roster.schema.js';

type Progress = { processedRows: number; totalRows: number };

/** Progress of imports running in this process, for the PGlite case below. */
const live = new Map<string, Progress>();

/** Progress of an import running in this process, if any; GET overlays it on the stored row. */
export function liveProgress(importId: string): Progress | undefined {
  return live.get(importId);
}

export function forgetProgress(importId: string): void {
  live.delete(importId);
}

const MIN_INTERVAL_MS = 250;

/**
 * Where an import's progress goes while its one transaction runs.
 *
 * The writes happen inside a single transaction (all or nothing), so progress written *in* it would
 * be invisible until the commit. On PostgreSQL the pool has other connections: progress is written
 * to the roster_imports row through `deps.db` outside the transaction, autocommitted, so any API node
 * sees it at once (the transaction never touches that row until its last statement, so there is no
 * lock wait). PGlite has exactly one connection and the transaction holds it; a write outside would
 * wait for the commit, i.e. forever. But PGlite is embedded: the job and every request run in this
 * process, so progress goes to an in-process map that the GET route overlays on the row. In both
 * cases BullMQ also gets `reportProgress`, for queue dashboards.
 */
export function progressReporter(
  deps: Pick<AppDeps, 'db' | 'database'>,
  importId: string,
  job?: { reportProgress(fraction: number): Promise<void> },
): (processedRows: number, totalRows: number) => Promise<void> {
  let lastWrite = 0;
  return async (processedRows, totalRows) => {
    live.set(importId, { processedRows, totalRows });
    const now = Date.now();
    const finished = processedRows >= totalRows;
    if (!finished && now - lastWrite < MIN_INTERVAL_MS) return;
    lastWrite = now;
    await job?.reportProgress(totalRows === 0 ? 1 : processedRows / totalRows);
    if (deps.database.kind === 'postgres') {
      await deps.db.update(rosterImports).set({ processedRows, totalRows }).where(eq(rosterImports.id, importId));
    }
  };
}
