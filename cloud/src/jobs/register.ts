import type { AppDeps } from '../context.js';
import { registerBillingJobs } from '../features/billing/billing.jobs.js';
import { registerRosterJobs } from '../features/roster/roster.jobs.js';

/** Every job handler, registered once per process (API node or worker). */
export function registerJobs(deps: AppDeps): void {
  registerRosterJobs(deps);
  registerBillingJobs(deps);
}
