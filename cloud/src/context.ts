import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { PiiVault } from './crypto/pii.js';
import type { Database, DatabaseHandle } from './db/client.js';
import type { SmsSender } from './features/auth/sms-sender.js';
import type { Metrics } from './http/metrics.js';
import type { JobQueue } from './jobs/job-queue.js';
import type { CloudMqtt } from './mqtt/cloud-mqtt.js';
import type { StaffRole } from './features/staff/staff.schema.js';

/** Everything a route or job needs, built once at start (main.ts) or per test. */
export type AppDeps = {
  config: Config;
  database: DatabaseHandle;
  db: Database;
  jobs: JobQueue;
  log: Logger;
  metrics: Metrics;
  vault: PiiVault;
  sms: SmsSender;
  /** The MQTT broker (embedded aedes or an external client); `NoMqtt` until main.ts or a test attaches one. */
  mqtt: CloudMqtt;
  /** Injectable clock so expiry and lockout can be tested without sleeping. */
  now: () => Date;
};

export type ResidentPrincipal = { kind: 'resident'; residentId: string; sessionId: string };
export type StaffPrincipal = {
  kind: 'staff';
  staffId: string;
  sessionId: string;
  companyId: string;
  role: StaffRole;
  /** Communities this staff member may act in; super admins get every community of their company. */
  communityIds: ReadonlySet<string>;
};
export type Principal = ResidentPrincipal | StaffPrincipal;

export type AppEnv = {
  Variables: {
    deps: AppDeps;
    requestId: string;
    log: Logger;
    principal?: Principal;
  };
};
