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
  | 'audit.export';

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
 * The caller's address for rate limits and audit. X-Forwarded-For is trusted only as far as the one
 * proxy in front of us appends it (its last entry); the socket address is used otherwise.
 */
export function clientIp(c: Context<AppEnv>): string {
  const forwarded = c.req.header('x-forwarded-for');
  if (forwarded) return forwarded.split(',').at(-1)!.trim().slice(0, 64);
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
