import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { communities } from '../estate/estate.schema.js';
import { addDays, localDate, parseDate, periodContaining, type BillingCycle } from './billing-periods.js';
import { billingSettings, billRuns, feeItems } from './billing.schema.js';
import { BILL_RUN_JOB, computeRun, startRun } from './bill-run.js';

export const BILLING_TICK_JOB = 'billing.tick';
/** How often the schedule looks for communities whose bill day has come. */
export const BILLING_TICK_MS = 60 * 60 * 1000;

/** How long the schedule waits before trying a failed run of a period again. */
export const FAILED_RETRY_MS = 6 * 60 * 60 * 1000;

export const DEFAULT_SETTINGS = { billDay: 1, dueDays: 15, autoPost: true } as const;

export function registerBillingJobs(deps: AppDeps): void {
  deps.jobs.register<{ runId: string }>(BILL_RUN_JOB, async ({ runId }) => {
    const run = await computeRun(deps, runId);
    return { status: run.status };
  });
  deps.jobs.register<Record<string, never>>(BILLING_TICK_JOB, async () => billingTick(deps));
}

/**
 * The repeatable schedule: every hour, each community whose bill day (in its own time zone) has come
 * gets one run per cycle for the current period, unless one exists. Idempotent, so any number of API
 * nodes may tick: the database's one-open-run index lets one start and the others find it.
 */
export async function billingTick(deps: AppDeps): Promise<{ started: string[] }> {
  const rows = await deps.db
    .selectDistinct({ community: communities, cycle: feeItems.cycle, settings: billingSettings })
    .from(feeItems)
    .innerJoin(communities, eq(communities.id, feeItems.communityId))
    .leftJoin(billingSettings, eq(billingSettings.communityId, communities.id))
    .where(isNull(feeItems.archivedAt));
  const started: string[] = [];
  for (const { community, cycle, settings } of rows) {
    const { billDay, dueDays, autoPost } = settings ?? DEFAULT_SETTINGS;
    const today = localDate(deps.now(), community.timeZone);
    const period = periodContaining(cycle as BillingCycle, today);
    // The bill day is a day of the period's first month; a quarter is billed early in its first month.
    const firstMonth = parseDate(period.start);
    const billOn = `${period.start.slice(0, 8)}${String(Math.min(billDay, 28)).padStart(2, '0')}`;
    if (today < billOn || parseDate(today).m !== firstMonth.m) continue;
    const existing = await deps.db
      .select({ id: billRuns.id })
      .from(billRuns)
      .where(
        and(
          eq(billRuns.communityId, community.id),
          eq(billRuns.cycle, cycle),
          eq(billRuns.periodStart, period.start),
          // A failed run is tried again, but not before FAILED_RETRY_MS: a failure that repeats is not
          // worth a run an hour.
          or(inArray(billRuns.status, ['running', 'draft', 'posted', 'discarded']), and(eq(billRuns.status, 'failed'), gt(billRuns.finishedAt, new Date(deps.now().getTime() - FAILED_RETRY_MS)))),
        ),
      )
      .limit(1);
    if (existing.length) continue;
    try {
      const run = await startRun(deps, {
        communityId: community.id,
        cycle: cycle as BillingCycle,
        period,
        dueOn: addDays(today, dueDays),
        dueDays,
        trigger: 'schedule',
        postWhenDone: autoPost,
        createdBy: null,
      });
      started.push(run.id);
    } catch (error) {
      // Another node started it between the check and the insert: that is the one run.
      deps.log.info({ err: error, communityId: community.id, cycle }, 'scheduled bill run not started');
    }
  }
  return { started };
}

/**
 * At start: runs left "running" by a process that died. With the in-process runner their jobs died
 * with it and this process is the only worker, so their claims are void and they are queued again;
 * with BullMQ the queue still owns their jobs (a stalled job is retried) and another node may be
 * computing them, so they are left to it. A run resumes where it stopped: what it wrote is skipped by
 * the unique key, so nothing is billed twice or lost.
 */
export async function resumeBillRuns(deps: AppDeps): Promise<string[]> {
  if (deps.jobs.kind !== 'in-process') return [];
  const rows = await deps.db.update(billRuns).set({ claimedUntil: null }).where(eq(billRuns.status, 'running')).returning({ id: billRuns.id });
  for (const row of rows) await deps.jobs.enqueue(BILL_RUN_JOB, { runId: row.id }, { jobId: `${row.id}:resume` });
  if (rows.length) deps.log.warn({ runIds: rows.map((r) => r.id) }, 'bill runs interrupted by a restart resumed');
  return rows.map((r) => r.id);
}

/**
 * Declares the hourly schedule (idempotent), resumes interrupted runs and ticks once now: a process
 * restarted more often than hourly (the in-process runner keeps no schedule across restarts) still bills.
 */
export async function startBillingSchedule(deps: AppDeps): Promise<void> {
  await resumeBillRuns(deps);
  await deps.jobs.repeat(BILLING_TICK_JOB, BILLING_TICK_MS);
  await deps.jobs.enqueue(BILLING_TICK_JOB, {});
}

/** The community's billing settings, or the defaults when it has none stored. */
export async function settingsOf(deps: Pick<AppDeps, 'db'>, communityId: string) {
  const [row] = await deps.db.select().from(billingSettings).where(eq(billingSettings.communityId, communityId));
  return row ? { billDay: row.billDay, dueDays: row.dueDays, autoPost: row.autoPost } : { ...DEFAULT_SETTINGS };
}
