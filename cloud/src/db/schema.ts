// Every table, by feature. drizzle-kit reads this file to generate migrations.
export * from '../features/estate/estate.schema.js';
export * from '../features/parking/parking.schema.js';
export * from '../features/people/people.schema.js';
export * from '../features/staff/staff.schema.js';
export * from '../features/auth/auth.schema.js';
export * from '../features/audit/audit.schema.js';
export * from '../features/roster/roster.schema.js';
export * from '../features/gateways/gateways.schema.js';
export * from '../features/meters/meters.schema.js';
export * from '../features/doors/doors.schema.js';
export * from '../features/billing/billing.schema.js';
