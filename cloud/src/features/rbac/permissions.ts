import type { StaffRole } from '../staff/staff.schema.js';

/**
 * What each staff role may do. docs/permissions.md is generated from this table (npm run docs:permissions)
 * and a test checks the two agree.
 */
export const PERMISSIONS = {
  'community:read': 'See communities, buildings, units and houses',
  'house:write': 'Change houses (status, floor area)',
  'resident:read': 'See residents and house members (masked phone numbers)',
  'roster:import': 'Import the owner roster (CSV / XLSX)',
  'roster:export': 'Export the house and owner roster',
  'parking:read': 'See parking lots, spaces and vehicles',
  'finance:read': 'See finance reports (fee basis, later bills and payments)',
  'staff:manage': 'Create staff accounts and change roles and community scope',
  'audit:read': 'Read the audit log',
  'sms-outbox:read': 'Read the SMS outbox (development provider)',
  'gateway:read': 'See edge gateways, their devices, health and commands',
  'gateway:manage': 'Provision and revoke edge gateways, rotate their credentials, send commands and push config',
  'meter:read': 'See meters, their readings and ingest rejections',
  'meter:write': 'Register and replace meters, enter and import manual readings',
  'door:read': 'See doors, their locks (battery, availability) and the access records',
  'door:manage': 'Register doors and locks, send gateways their door rosters, rotate the key-signing key',
  'door:revoke': 'Revoke anyone’s door key (a lost phone reported to property service)',
  'door:key': 'Get a staff key that opens every door of the community for a shift',
  'billing:read': 'See fee items, tariffs, bill runs, bills and the arrears report',
  'billing:configure': 'Create fee items and tariff versions, set billing settings, house vacancies and billing windows',
  'billing:run': 'Start bill runs, post or discard their previews',
  'billing:adjust': 'Post adjustments and credit notes on posted bills, waive late fees',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const ROLE_PERMISSIONS: Record<StaffRole, readonly Permission[]> = {
  super_admin: Object.keys(PERMISSIONS) as Permission[],
  finance: ['community:read', 'finance:read', 'parking:read', 'meter:read', 'billing:read', 'billing:configure', 'billing:run', 'billing:adjust'],
  customer_service: ['community:read', 'billing:read', 'house:write', 'resident:read', 'roster:import', 'roster:export', 'parking:read', 'sms-outbox:read', 'meter:read', 'meter:write', 'gateway:read', 'door:read', 'door:revoke'],
  technician: ['community:read', 'meter:read', 'meter:write', 'gateway:read', 'gateway:manage', 'door:read', 'door:manage', 'door:key'],
  gate_guard: ['community:read', 'parking:read', 'door:read', 'door:key'],
};

export function roleCan(role: StaffRole, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}
