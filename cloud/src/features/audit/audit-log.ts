import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import type { Database } from '../../db/client.js';
import { auditEvents } from './audit.schema.js';

export type AuditAction =
  | 'resident.login'
  | 'staff.login'
  | 'session.logout'
  | 'house.bind'
  | 'house.member_add'
  | 'house.member_remove'
  | 'community.create'
  | 'house.update'
  | 'staff.create'
  | 'staff.role_change'
  | 'roster.import'
  | 'roster.export'
  | 'audit.export'
  | 'meter.create'
  | 'meter.replace'
  | 'reading.manual'
  | 'reading.import'
  | 'gateway.provision'
  | 'gateway.rotate_credential'
  | 'gateway.revoke'
  | 'gateway.command'
  | 'door.create'
  | 'door.signing_key_rotate'
  | 'door.key_revoke'
  | 'door.staff_key'
  | 'door.member_access'
  | 'door.visitor_pass'
  | 'door.visitor_pass_revoke'
  | 'billing.fee_item_create'
  | 'billing.fee_item_archive'
  | 'billing.tariff_create'
  | 'billing.settings'
  | 'billing.run_start'
  | 'billing.run_post'
  | 'billing.run_discard'
  | 'billing.adjust'
  | 'billing.late_fee_waive'
  | 'billing.vacancy'
  | 'billing.window'
  | 'billing.prepay';

export type AuditEntry = {
  action: AuditAction;
  outcome: 'success' | 'failure' | 'denied';
  communityId?: string | null;
  targetKind?: string;
  targetId?: string;
  /** Masked values only: never a phone or ID number in clear. */
  details?: Record<string, unknown>;
  actor?: { kind: 'resident' | 'staff' | 'anonymous' | 'system'; id: string | null };
};

/**
 * Appends an audit event for the request's actor. Pass `db` to write inside the caller's transaction,
 * so the audit row exists exactly when the act it records does.
 *
 * @example
 * await recordAudit(c, { action: 'house.bind', outcome: 'success', communityId, targetKind: 'house', targetId });
 */
export async function recordAudit(c: Context<AppEnv>, entry: AuditEntry, db?: Database): Promise<void> {
  const principal = c.get('principal');
  const actor =
    entry.actor ??
    (principal
      ? { kind: principal.kind, id: principal.kind === 'resident' ? principal.residentId : principal.staffId }
      : { kind: 'anonymous' as const, id: null });
  await (db ?? c.get('deps').db).insert(auditEvents).values({
    at: c.get('deps').now(),
    actorKind: actor.kind,
    actorId: actor.id,
    action: entry.action,
    outcome: entry.outcome,
    communityId: entry.communityId ?? null,
    targetKind: entry.targetKind ?? null,
    targetId: entry.targetId ?? null,
    ip: clientIp(c),
    requestId: c.get('requestId'),
    details: entry.details ?? {},
  });
}

/**
 * The caller's address for rate limits and audit. With TRUST_PROXY_HOPS = n, the n-th address from the
 * right of X-Forwarded-For is the client as our own nearest proxy saw it (each proxy appends the address
 * it received from); anything further left was written by the client and is not trusted. With 0, the
 * header is ignored.
 */
export function clientIp(c: Context<AppEnv>): string {
  const hops = c.get('deps').config.TRUST_PROXY_HOPS;
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const socket = env?.incoming?.socket?.remoteAddress ?? 'unknown';
  if (hops === 0) return socket;
  const chain = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (chain.at(-hops) ?? chain[0] ?? socket).slice(0, 64);
}
