import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, desc, eq, gte, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { DoorScope } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import { transactionLock } from '../../db/advisory-lock.js';
import type { Database } from '../../db/client.js';
import { requireResident, requireStaff } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { decodeCursor, keysetPage } from '../../http/paging.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, CommunityParams, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { clientIp, recordAudit } from '../audit/audit-log.js';
import { sessions } from '../auth/auth.schema.js';
import { units } from '../estate/estate.schema.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { loadScopedGateway } from '../gateways/gateways.service.js';
import { requireMembership, requirePrimaryOwner } from '../people/membership.js';
import { houseMembers } from '../people/people.schema.js';
import { denialLimiter } from './denial-limiter.js';
import { forgetOpenContexts, loadAttempt, openDoorOnline } from './door-access.js';
import { parseDevicePublicKey, publishAfterCommit, revokeCredentials, type Credential } from './door-credentials.js';
import { claimVisitorPass, createVisitorPass, residentKeys, revokeVisitorPass, staffKey } from './door-holders.js';
import { keysInForce, rotateIn } from './door-keys.js';
import { createDoor, doorViews, syncGatewayDoors } from './door-registry.js';
import {
  AccessEvent,
  AccessQuery,
  CredentialQuery,
  LockEventQuery,
  LockEventView,
  Door,
  DoorAccessUpdate,
  DoorCreate,
  DoorCreated,
  DoorParams,
  KeysRequest,
  OpenRequest,
  OpenResponse,
  PassClaim,
  PassCreate,
  PassCreated,
  RevokeAllRequest,
  RotateResult,
  StaffKeyRequest,
  VirtualKeyView,
  VisitorPass,
} from './doors.api.js';
import { doorAccessEvents, doorCredentials, doorGroupMembers, doorGroups, doors, lockEvents, visitorPasses } from './doors.schema.js';

const tags = ['Doors'];
const Uuid = z.uuid();
const HouseParams = z.object({ houseId: Uuid });

/** The doors a key opens now, by its scope (doors by code, or through their groups). */
async function keyViews(db: Database, credentials: Credential[]): Promise<z.infer<typeof VirtualKeyView>[]> {
  const communityIds = [...new Set(credentials.map((c) => c.communityId))];
  const rows = communityIds.length
    ? await db
        .select({ id: doors.id, code: doors.code, name: doors.name, communityId: doors.communityId, group: doorGroups.code })
        .from(doors)
        .leftJoin(doorGroupMembers, eq(doorGroupMembers.doorId, doors.id))
        .leftJoin(doorGroups, eq(doorGroups.id, doorGroupMembers.groupId))
        .where(and(inArray(doors.communityId, communityIds), isNull(doors.removedAt)))
        .orderBy(asc(doors.code))
    : [];
  return credentials.map((c) => {
    const scope = c.scope as DoorScope;
    const opened = new Map<string, { id: string; code: number; name: string }>();
    for (const r of rows) {
      if (r.communityId !== c.communityId) continue;
      if (scope.doors.includes(r.code) || (r.group !== null && scope.groups.includes(r.group))) opened.set(r.id, { id: r.id, code: r.code, name: r.name });
    }
    return {
      credentialId: c.id,
      credential: c.credential,
      communityId: c.communityId,
      holderKind: c.holderKind,
      houseId: c.houseId,
      keyId: c.keyId,
      validFrom: c.validFrom.toISOString(),
      validUntil: c.validUntil.toISOString(),
      useLimit: c.useLimit,
      uses: c.uses,
      revokedAt: c.revokedAt?.toISOString() ?? null,
      revokeReason: c.revokeReason,
      doors: [...opened.values()],
    };
  });
}

function passView(p: typeof visitorPasses.$inferSelect, used: number): z.infer<typeof VisitorPass> {
  return {
    id: p.id,
    houseId: p.houseId,
    visitorName: p.visitorName,
    validFrom: p.validFrom.toISOString(),
    validUntil: p.validUntil.toISOString(),
    uses: p.useLimit,
    used,
    claimed: p.credentialId !== null,
    revoked: p.revokedAt !== null,
    createdAt: p.createdAt.toISOString(),
  };
}

function passLink(deps: AppDeps, requestUrl: string, passId: string, secret: string): string {
  const base = deps.config.PUBLIC_URL ?? new URL(requestUrl).origin;
  return `${base}/h5/#/pass/${passId}.${secret}`;
}

/** Doors: the registry, virtual keys for residents, staff and visitors, opening online, and the access records. */
export const doorRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/doors',
      tags,
      summary: 'Doors of a community, with their locks’ battery and availability',
      security: bearerSecurity,
      middleware: [staffOnly('door:read')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(z.object({ items: z.array(Door) }), 'Every door, by code'), ...problemResponses(401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'door:read', communityId);
      const rows = await db.select().from(doors).where(and(eq(doors.communityId, communityId), isNull(doors.removedAt))).orderBy(asc(doors.code));
      return c.json({ items: await doorViews(db, rows) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/doors',
      tags,
      summary: 'Register a door and its lock on a gateway',
      description: 'Makes the lock’s secret (shown this once, to provision into the lock) and sends the gateway its new door roster (`doors.sync`).',
      security: bearerSecurity,
      middleware: [staffOnly('door:manage')] as const,
      request: { params: CommunityParams, body: jsonBody(DoorCreate) },
      responses: { 201: jsonResponse(DoorCreated, 'Registered'), ...problemResponses(400, 401, 403, 409, 415, 503) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      await scopedCommunity(c, 'door:manage', communityId);
      const { door, lockSecret } = await createDoor(deps, communityId, body);
      forgetOpenContexts(deps);
      await recordAudit(c, { action: 'door.create', outcome: 'success', communityId, targetKind: 'door', targetId: door.id, details: { code: door.code, lockId: door.lockId, gatewayId: door.gatewayId } });
      const [view] = await doorViews(deps.db, [door]);
      return c.json({ door: view!, lockSecret }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/gateways/{gatewayId}/doors/sync',
      tags,
      summary: 'Send a gateway its door roster again',
      security: bearerSecurity,
      middleware: [staffOnly('door:manage')] as const,
      request: { params: z.object({ gatewayId: Uuid }) },
      responses: { 202: jsonResponse(z.object({ revision: z.number().int(), commandId: Uuid }), 'Sent'), ...problemResponses(401, 403, 404, 503) },
    }),
    async (c) => {
      const { gatewayId } = c.req.valid('param');
      const { gateway, staff } = await loadScopedGateway(c, gatewayId, 'door:manage');
      const result = (await syncGatewayDoors(c.get('deps'), gateway.id, staff.staffId))!;
      return c.json(result, 202);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/door-signing-keys/rotate',
      tags,
      summary: 'Rotate the community’s key-signing key',
      description: 'New keys are signed with a new Ed25519 key; the old one stays in the published key set until everything it signed has expired. Gateways receive the key set as retained state.',
      security: bearerSecurity,
      middleware: [staffOnly('door:manage')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(RotateResult, 'Rotated'), ...problemResponses(401, 403, 503) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const deps = c.get('deps');
      await scopedCommunity(c, 'door:manage', communityId);
      const signer = await deps.db.transaction((tx) => rotateIn(deps, tx, communityId));
      forgetOpenContexts(deps);
      await publishAfterCommit(deps, { keySet: [communityId] });
      await recordAudit(c, { action: 'door.signing_key_rotate', outcome: 'success', communityId, targetKind: 'community', targetId: communityId, details: { keyId: signer.keyId } });
      const keys = await keysInForce(deps.db, communityId, deps.now());
      return c.json({ keyId: signer.keyId, keys: keys.map((k) => ({ keyId: k.keyId, createdAt: k.createdAt.toISOString(), retiredAt: k.retiredAt?.toISOString() ?? null, notAfter: k.notAfter?.toISOString() ?? null })) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/door-access',
      tags,
      summary: 'Access records: every attempt to open a door, newest first',
      description: 'Opened, denied (with the reason) or failed, online or by QR at the door, with the key and its holder. Attempts made while a gateway was offline appear once it reconnects.',
      security: bearerSecurity,
      middleware: [staffOnly('door:read')] as const,
      request: { params: CommunityParams, query: AccessQuery },
      responses: { 200: jsonResponse(z.object({ items: z.array(AccessEvent), nextCursor: z.string().nullable() }), 'One page'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'door:read', communityId);
      const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string(), z.string()])) : null;
      const e = doorAccessEvents;
      const rows = await db
        .select({ event: e, doorName: doors.name })
        .from(e)
        .leftJoin(doors, eq(doors.id, e.doorId))
        .where(
          and(
            eq(e.communityId, communityId),
            q.door ? eq(e.doorId, q.door) : undefined,
            q.outcome ? eq(e.outcome, q.outcome) : undefined,
            q.method ? eq(e.method, q.method) : undefined,
            q.holderKind ? eq(e.holderKind, q.holderKind) : undefined,
            q.reason ? eq(e.reason, q.reason) : undefined,
            q.from ? gte(e.requestedAt, new Date(q.from)) : undefined,
            q.to ? lt(e.requestedAt, new Date(q.to)) : undefined,
            after ? or(lt(e.requestedAt, new Date(after[0])), and(eq(e.requestedAt, new Date(after[0])), lt(e.attemptId, after[1]))) : undefined,
          ),
        )
        .orderBy(desc(e.requestedAt), desc(e.attemptId))
        .limit(q.limit + 1);
      const page = keysetPage(rows, q.limit, (r) => [r.event.requestedAt.toISOString(), r.event.attemptId]);
      return c.json(
        {
          items: page.items.map(({ event: r, doorName }) => ({
            attemptId: r.attemptId,
            doorId: r.doorId,
            doorName,
            method: r.method,
            outcome: r.outcome,
            reason: r.reason,
            detail: r.detail,
            credentialId: r.credentialId,
            holderKind: r.holderKind,
            holderId: r.holderId,
            readerId: r.readerId,
            decidedBy: r.decidedBy,
            requestedAt: r.requestedAt.toISOString(),
            decidedAt: r.decidedAt?.toISOString() ?? null,
            receivedAt: r.receivedAt.toISOString(),
          })),
          nextCursor: page.nextCursor,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/door-credentials',
      tags,
      summary: 'Keys issued in a community, newest first (to find the one to revoke)',
      security: bearerSecurity,
      middleware: [staffOnly('door:read')] as const,
      request: { params: CommunityParams, query: CredentialQuery },
      responses: { 200: jsonResponse(z.object({ items: z.array(VirtualKeyView), nextCursor: z.string().nullable() }), 'One page'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const deps = c.get('deps');
      await scopedCommunity(c, 'door:read', communityId);
      const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string(), z.string()])) : null;
      const k = doorCredentials;
      const rows = await deps.db
        .select()
        .from(k)
        .where(
          and(
            eq(k.communityId, communityId),
            q.holderKind ? eq(k.holderKind, q.holderKind) : undefined,
            q.holderId ? eq(k.holderId, q.holderId) : undefined,
            q.live === 'true' ? and(isNull(k.revokedAt), sql`${k.validUntil} > ${deps.now().toISOString()}::timestamptz`) : undefined,
            after ? or(lt(k.issuedAt, new Date(after[0])), and(eq(k.issuedAt, new Date(after[0])), lt(k.id, after[1]))) : undefined,
          ),
        )
        .orderBy(desc(k.issuedAt), desc(k.id))
        .limit(q.limit + 1);
      const page = keysetPage(rows, q.limit, (r) => [r.issuedAt.toISOString(), r.id]);
      // The signed key itself is the holder's: staff see its fields, not the credential.
      const views = (await keyViews(deps.db, page.items)).map((v) => ({ ...v, credential: '' }));
      return c.json({ items: views, nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/lock-events',
      tags,
      summary: 'What the locks reported: tamper, jam, low battery, door sensor; newest first',
      security: bearerSecurity,
      middleware: [staffOnly('door:read')] as const,
      request: { params: CommunityParams, query: LockEventQuery },
      responses: { 200: jsonResponse(z.object({ items: z.array(LockEventView), nextCursor: z.string().nullable() }), 'One page'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const q = c.req.valid('query');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'door:read', communityId);
      const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string(), z.string(), z.number()])) : null;
      const rows = await db
        .select({ event: lockEvents, doorName: doors.name })
        .from(lockEvents)
        .innerJoin(doors, eq(doors.id, lockEvents.doorId))
        .where(
          and(
            eq(doors.communityId, communityId),
            q.door ? eq(lockEvents.doorId, q.door) : undefined,
            q.kind ? eq(lockEvents.kind, q.kind) : undefined,
            after
              ? or(
                  lt(lockEvents.at, new Date(after[0])),
                  and(eq(lockEvents.at, new Date(after[0])), or(lt(lockEvents.gatewayId, after[1]), and(eq(lockEvents.gatewayId, after[1]), lt(lockEvents.seq, after[2])))),
                )
              : undefined,
          ),
        )
        .orderBy(desc(lockEvents.at), desc(lockEvents.gatewayId), desc(lockEvents.seq))
        .limit(q.limit + 1);
      const page = keysetPage(rows, q.limit, (r) => [r.event.at.toISOString(), r.event.gatewayId, r.event.seq]);
      return c.json(
        {
          items: page.items.map(({ event: e, doorName }) => ({ doorId: e.doorId, doorName, lockId: e.lockId, kind: e.kind, at: e.at.toISOString(), battery: e.battery, status: e.status })),
          nextCursor: page.nextCursor,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/door-credentials/{credentialId}/revoke',
      tags,
      summary: 'Revoke a key (property service: a lost phone, a departed worker)',
      description: 'Every gateway of the community receives the new revocation list and refuses the key, with the cloud unreachable too.',
      security: bearerSecurity,
      middleware: [staffOnly('door:revoke')] as const,
      request: { params: z.object({ credentialId: Uuid }), body: jsonBody(RevokeAllRequest) },
      responses: { 200: jsonResponse(VirtualKeyView, 'Revoked'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { credentialId } = c.req.valid('param');
      const { reason } = c.req.valid('json');
      const deps = c.get('deps');
      const [credential] = await deps.db.select().from(doorCredentials).where(eq(doorCredentials.id, credentialId));
      if (!credential) throw new Problem('not-found', 'No such key');
      requireStaff(c, 'door:revoke', credential.communityId);
      const result = await deps.db.transaction((tx) => revokeCredentials(deps, tx, eq(doorCredentials.id, credentialId), reason));
      await publishAfterCommit(deps, { revocations: result.communities });
      await recordAudit(c, { action: 'door.key_revoke', outcome: 'success', communityId: credential.communityId, targetKind: 'door_credential', targetId: credentialId, details: { reason, holderKind: credential.holderKind } });
      const [updated] = await deps.db.select().from(doorCredentials).where(eq(doorCredentials.id, credentialId));
      const [view] = await keyViews(deps.db, [updated!]);
      return c.json(view!, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/staff/me/door-keys',
      tags,
      summary: 'A staff key for this device: every door of the community, for a 12-hour shift',
      security: bearerSecurity,
      middleware: [staffOnly('door:key')] as const,
      request: { body: jsonBody(StaffKeyRequest) },
      responses: { 201: jsonResponse(VirtualKeyView, 'Issued'), ...problemResponses(400, 401, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const deps = c.get('deps');
      const { staff } = await scopedCommunity(c, 'door:key', body.communityId);
      const credential = await staffKey(deps, staff, body.communityId, parseDevicePublicKey(body.devicePublicKey));
      await recordAudit(c, { action: 'door.staff_key', outcome: 'success', communityId: body.communityId, targetKind: 'door_credential', targetId: credential.id });
      const [view] = await keyViews(deps.db, [credential]);
      return c.json(view!, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/door-keys',
      tags,
      summary: 'My keys for this device, one per house that opens doors',
      description:
        'The phone makes an ECDSA P-256 key pair with WebCrypto (private key not extractable) and sends its public key. Keys last 30 days (never past a tenancy) and are renewed by asking again; a key whose doors changed is replaced.',
      security: bearerSecurity,
      request: { body: jsonBody(KeysRequest) },
      responses: { 200: jsonResponse(z.object({ keys: z.array(VirtualKeyView) }), 'Keys'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const { devicePublicKey } = c.req.valid('json');
      const deps = c.get('deps');
      const credentials = await residentKeys(deps, principal.residentId, parseDevicePublicKey(devicePublicKey));
      return c.json({ keys: await keyViews(deps.db, credentials) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/door-keys/revoke-all',
      tags,
      summary: 'Revoke every key I hold (a lost phone)',
      description: 'With `phone-lost`, every other session of mine ends too, so the lost phone cannot simply ask for new keys; this session (the phone reporting it) stays signed in.',
      security: bearerSecurity,
      request: { body: jsonBody(RevokeAllRequest) },
      responses: { 200: jsonResponse(z.object({ revoked: z.number().int(), sessionsEnded: z.number().int() }), 'Revoked'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const { reason } = c.req.valid('json');
      const deps = c.get('deps');
      const result = await deps.db.transaction(async (tx) => {
        const keys = await revokeCredentials(deps, tx, and(eq(doorCredentials.holderKind, 'resident'), eq(doorCredentials.holderId, principal.residentId)), reason);
        const ended =
          reason === 'phone-lost'
            ? await tx
                .update(sessions)
                .set({ revokedAt: deps.now(), revokeReason: 'phone-lost' })
                .where(and(eq(sessions.subjectKind, 'resident'), eq(sessions.subjectId, principal.residentId), isNull(sessions.revokedAt), ne(sessions.id, principal.sessionId)))
                .returning({ id: sessions.id })
            : [];
        return { ...keys, sessionsEnded: ended.length };
      });
      await publishAfterCommit(deps, { revocations: result.communities });
      await recordAudit(c, { action: 'door.key_revoke', outcome: 'success', targetKind: 'resident', targetId: principal.residentId, details: { reason, revoked: result.revoked, sessionsEnded: result.sessionsEnded } });
      return c.json({ revoked: result.revoked, sessionsEnded: result.sessionsEnded }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/me/houses/{houseId}/members/{memberId}/door-access',
      tags,
      summary: 'Choose which doors a family member’s or tenant’s keys open (primary owner)',
      description: '`all` (the building and the community gates), `gates-only`, or `none`. Their current keys for this house are revoked; new ones follow the choice.',
      security: bearerSecurity,
      request: { params: z.object({ houseId: Uuid, memberId: Uuid }), body: jsonBody(DoorAccessUpdate) },
      responses: { 200: jsonResponse(z.object({ memberId: Uuid, access: z.string(), keysRevoked: z.number().int() }), 'Changed'), ...problemResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const { houseId, memberId } = c.req.valid('param');
      const { access } = c.req.valid('json');
      const deps = c.get('deps');
      const { house } = await requirePrimaryOwner(deps, principal.residentId, houseId);
      const result = await deps.db.transaction(async (tx) => {
        await transactionLock(tx, `house-members:${houseId}`);
        const [member] = await tx
          .update(houseMembers)
          .set({ doorAccess: access })
          .where(and(eq(houseMembers.id, memberId), eq(houseMembers.houseId, houseId), isNull(houseMembers.endedAt), sql`${houseMembers.role} <> 'owner'`))
          .returning();
        if (!member) throw new Problem('not-found', 'No such family member or tenant of this house');
        const revoked = await revokeCredentials(deps, tx, and(eq(doorCredentials.holderKind, 'resident'), eq(doorCredentials.holderId, member.residentId), eq(doorCredentials.houseId, houseId)), 'access-changed');
        return { member, revoked };
      });
      await publishAfterCommit(deps, { revocations: result.revoked.communities });
      await recordAudit(c, { action: 'door.member_access', outcome: 'success', communityId: house.communityId, targetKind: 'house_member', targetId: memberId, details: { access, keysRevoked: result.revoked.revoked } });
      return c.json({ memberId, access, keysRevoked: result.revoked.revoked }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/houses/{houseId}/visitor-passes',
      tags,
      summary: 'Create a visitor pass to share as a link or QR code',
      description: 'A window of at most 7 days, a number of uses, and the doors (within what your own keys open). The link is shown once.',
      security: bearerSecurity,
      request: { params: HouseParams, body: jsonBody(PassCreate) },
      responses: { 201: jsonResponse(PassCreated, 'Created'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const { houseId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      const { member, house } = await requireMembership(deps, principal.residentId, houseId);
      const [unit] = await deps.db.select({ buildingId: units.buildingId }).from(units).where(eq(units.id, house.unitId));
      const { pass, secret } = await createVisitorPass(
        deps,
        { residentId: principal.residentId, houseId, communityId: house.communityId, buildingId: unit!.buildingId, doorAccess: member.doorAccess },
        { visitorName: body.visitorName, validFrom: body.validFrom ? new Date(body.validFrom) : deps.now(), validUntil: new Date(body.validUntil), uses: body.uses, doorIds: body.doorIds },
      );
      await recordAudit(c, { action: 'door.visitor_pass', outcome: 'success', communityId: house.communityId, targetKind: 'visitor_pass', targetId: pass.id, details: { uses: body.uses, validUntil: body.validUntil } });
      return c.json({ pass: passView(pass, 0), link: passLink(deps, c.req.url, pass.id, secret) }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/houses/{houseId}/visitor-passes',
      tags,
      summary: 'Visitor passes of a house, newest first',
      security: bearerSecurity,
      request: { params: HouseParams },
      responses: { 200: jsonResponse(z.object({ items: z.array(VisitorPass) }), 'Passes'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const { houseId } = c.req.valid('param');
      const deps = c.get('deps');
      await requireMembership(deps, principal.residentId, houseId);
      const rows = await deps.db
        .select({ pass: visitorPasses, used: doorCredentials.uses })
        .from(visitorPasses)
        .leftJoin(doorCredentials, eq(doorCredentials.id, visitorPasses.credentialId))
        .where(eq(visitorPasses.houseId, houseId))
        .orderBy(desc(visitorPasses.createdAt))
        .limit(100);
      return c.json({ items: rows.map((r) => passView(r.pass, r.used ?? 0)) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/me/houses/{houseId}/visitor-passes/{passId}',
      tags,
      summary: 'Cancel a visitor pass; its key stops opening doors everywhere',
      security: bearerSecurity,
      request: { params: z.object({ houseId: Uuid, passId: Uuid }) },
      responses: { 204: { description: 'Cancelled' }, ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const { houseId, passId } = c.req.valid('param');
      const deps = c.get('deps');
      const { house } = await requireMembership(deps, principal.residentId, houseId);
      await revokeVisitorPass(deps, houseId, passId);
      await recordAudit(c, { action: 'door.visitor_pass_revoke', outcome: 'success', communityId: house.communityId, targetKind: 'visitor_pass', targetId: passId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/visitor-passes/{passId}/claim',
      tags,
      summary: 'Claim a visitor pass on this phone (no login: the link’s secret is the proof)',
      request: { params: z.object({ passId: Uuid }), body: jsonBody(PassClaim) },
      responses: { 200: jsonResponse(z.object({ key: VirtualKeyView, visitorName: z.string() }), 'The visitor’s key'), ...problemResponses(400, 404, 409) },
    }),
    async (c) => {
      const { passId } = c.req.valid('param');
      const { secret, devicePublicKey } = c.req.valid('json');
      const deps = c.get('deps');
      const { pass, credential } = await claimVisitorPass(deps, passId, secret, parseDevicePublicKey(devicePublicKey));
      const [view] = await keyViews(deps.db, [credential]);
      return c.json({ key: view!, visitorName: pass.visitorName }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/door-attempts/{attemptId}',
      tags,
      summary: 'How an open attempt ended (after a 504 door-state-unknown)',
      description: 'No login: the attempt id (a random UUID from the open’s answer) is the reference. `pending` or `unknown` until the gateway reports; then `opened`, `denied` or `failed` with the reason.',
      request: { params: z.object({ attemptId: Uuid }) },
      responses: { 200: jsonResponse(z.object({ attemptId: Uuid, doorId: Uuid.nullable(), outcome: z.string(), reason: z.string().nullable(), decidedAt: z.string().nullable() }), 'The attempt'), ...problemResponses(400, 404) },
    }),
    async (c) => {
      const { attemptId } = c.req.valid('param');
      const row = await loadAttempt(c.get('deps').db, attemptId);
      if (!row) throw new Problem('not-found', 'No such attempt');
      return c.json({ attemptId: row.attemptId, doorId: row.doorId, outcome: row.outcome, reason: row.reason, decidedAt: row.decidedAt?.toISOString() ?? null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/doors/{doorId}/open',
      tags,
      summary: 'Open a door online with a key and a fresh device signature',
      description:
        'No login: the key (signed by the cloud) and the token’s device signature are the proof. The cloud checks them, the gateway checks them again and drives the lock, and the answer arrives in this request: 200 opened; 403 `door-denied` with `reason`; 502 `door-failed` (the lock did not open); 503 `door-unreachable` (gateway offline: use the QR code); 504 `door-state-unknown` (no answer in time: the door may have opened). An address refused 30 times in a minute gets 429 until the minute is over.',
      request: { params: DoorParams, body: jsonBody(OpenRequest) },
      responses: { 200: jsonResponse(OpenResponse, 'Opened'), ...problemResponses(400, 403, 404, 415, 429, 502, 503, 504) },
    }),
    async (c) => {
      const { doorId } = c.req.valid('param');
      const { token } = c.req.valid('json');
      const deps = c.get('deps');
      const limiter = denialLimiter(deps);
      const ip = clientIp(c);
      limiter.check(ip);
      try {
        return c.json(await openDoorOnline(deps, doorId, token), 200);
      } catch (error) {
        if (error instanceof Problem && error.kind === 'door-denied') limiter.denied(ip);
        throw error;
      }
    },
  );
