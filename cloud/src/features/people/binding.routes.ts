import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { maskPhone, normalizePhone } from '../../crypto/pii.js';
import { requireResident } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { Problem } from '../../http/problem.js';
import { createRouter } from '../../http/router.js';
import { bearerSecurity, humanText, jsonBody } from '../../http/route-kit.js';
import { recordAudit } from '../audit/audit-log.js';
import { communities, houses } from '../estate/estate.schema.js';
import { bindHouse } from './binding.js';
import { membershipIsLive, requireMembership, requirePrimaryOwner } from './membership.js';
import { MEMBER_ROLES, houseMembers, residents } from './people.schema.js';
import { publishAfterCommit, revokeCredentials } from '../doors/door-credentials.js';
import { doorCredentials } from '../doors/doors.schema.js';

const PersonName = humanText(100);
const IsoDate = z.iso.date().openapi({ example: '2026-12-01' });
const Uuid = z.uuid();

const MyHouse = z
  .object({
    houseId: z.uuid(),
    communityId: z.uuid(),
    communityName: z.string(),
    houseCode: z.string().openapi({ example: '1-2-301' }),
    floorAreaM2: z.string().openapi({ example: '89.50' }),
    role: z.enum(MEMBER_ROLES),
    isPrimary: z.boolean(),
    tenancyStart: z.string().nullable(),
    tenancyEnd: z.string().nullable(),
  })
  .openapi('MyHouse');
function toMyHouse(row: {
  member: typeof houseMembers.$inferSelect;
  house: typeof houses.$inferSelect;
  community: typeof communities.$inferSelect;
}): z.infer<typeof MyHouse> {
  const { member, house, community } = row;
  return {
    houseId: house.id,
    communityId: community.id,
    communityName: community.name,
    houseCode: house.code,
    floorAreaM2: house.floorAreaM2,
    role: member.role,
    isPrimary: member.isPrimary,
    tenancyStart: member.tenancyStart,
    tenancyEnd: member.tenancyEnd,
  };
}

const Member = z
  .object({
    memberId: z.uuid(),
    residentId: z.uuid(),
    name: z.string().nullable(),
    phoneMasked: z.string(),
    role: z.enum(MEMBER_ROLES),
    isPrimary: z.boolean(),
    tenancyStart: z.string().nullable(),
    tenancyEnd: z.string().nullable(),
    /** Which doors the member's keys open, as the primary owner chose (PUT …/door-access). */
    doorAccess: z.enum(['all', 'gates-only', 'none']),
    since: z.string(),
  })
  .openapi('HouseMember');


export const bindingRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/public/communities',
      tags: ['Binding'],
      summary: 'Communities a resident can bind a house in',
      responses: { 200: { description: 'All communities', content: { 'application/json': { schema: z.object({ items: z.array(z.object({ id: z.uuid(), code: z.string(), name: z.string() })) }) } } } },
    }),
    async (c) => {
      const items = await c.get('deps').db.select({ id: communities.id, code: communities.code, name: communities.name }).from(communities).orderBy(asc(communities.name));
      return c.json({ items }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/house-bindings',
      tags: ['Binding'],
      summary: 'Bind a house by house number, owner name and ID number',
      description: 'Checked against the property roster. Five failures within an hour lock binding for the rest of that hour (423).',
      security: bearerSecurity,
      request: {
        body: jsonBody(
          z.strictObject({
            communityId: Uuid,
            houseCode: z.string().trim().min(1).max(40).openapi({ example: '1-2-301' }),
            ownerName: PersonName,
            idNumber: z.string().trim().min(15).max(18).openapi({ example: '11010519491231002X' }),
          }),
        ),
      },
      responses: {
        201: { description: 'Bound', content: { 'application/json': { schema: MyHouse } } },
        200: { description: 'Already bound', content: { 'application/json': { schema: MyHouse } } },
        ...problemResponses(400, 401, 409, 422, 423),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const principal = requireResident(c);
      const body = c.req.valid('json');
      const outcome = await bindHouse(deps, principal.residentId, body);
      await recordAudit(c, {
        action: 'house.bind',
        outcome: outcome.ok ? 'success' : 'failure',
        communityId: body.communityId,
        targetKind: 'house',
        targetId: outcome.ok ? outcome.house.id : (outcome.houseId ?? body.houseCode.slice(0, 40)),
        details: outcome.ok ? { role: outcome.member.role, isPrimary: outcome.member.isPrimary } : { reason: outcome.problem.kind },
      });
      if (!outcome.ok) throw outcome.problem;
      const [community] = await deps.db.select().from(communities).where(eq(communities.id, outcome.house.communityId));
      return c.json(toMyHouse({ member: outcome.member, house: outcome.house, community: community! }), outcome.created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/houses',
      tags: ['Binding'],
      summary: "The caller's houses",
      security: bearerSecurity,
      responses: { 200: { description: 'Live memberships', content: { 'application/json': { schema: z.object({ items: z.array(MyHouse) }) } } }, ...problemResponses(401) },
    }),
    async (c) => {
      const principal = requireResident(c);
      const rows = await c
        .get('deps')
        .db.select({ member: houseMembers, house: houses, community: communities })
        .from(houseMembers)
        .innerJoin(houses, eq(houses.id, houseMembers.houseId))
        .innerJoin(communities, eq(communities.id, houses.communityId))
        .where(and(eq(houseMembers.residentId, principal.residentId), membershipIsLive(c.get('deps').now())))
        .orderBy(asc(communities.name), asc(houses.code));
      return c.json({ items: rows.map(toMyHouse) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me/houses/{houseId}/members',
      tags: ['Binding'],
      summary: 'Members of one of my houses',
      security: bearerSecurity,
      request: { params: z.object({ houseId: Uuid }) },
      responses: { 200: { description: 'Active members', content: { 'application/json': { schema: z.object({ items: z.array(Member) }) } } }, ...problemResponses(401, 404) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const principal = requireResident(c);
      const { houseId } = c.req.valid('param');
      await requireMembership(deps, principal.residentId, houseId);
      const rows = await deps.db
        .select({ member: houseMembers, resident: residents })
        .from(houseMembers)
        .innerJoin(residents, eq(residents.id, houseMembers.residentId))
        .where(and(eq(houseMembers.houseId, houseId), isNull(houseMembers.endedAt)))
        .orderBy(asc(houseMembers.createdAt));
      return c.json(
        {
          items: rows.map(({ member, resident }) => ({
            memberId: member.id,
            residentId: resident.id,
            name: resident.name,
            phoneMasked: maskPhone(deps.vault.decrypt(resident.phoneEnc, 'phone')),
            role: member.role,
            isPrimary: member.isPrimary,
            tenancyStart: member.tenancyStart,
            tenancyEnd: member.tenancyEnd,
            doorAccess: member.doorAccess,
            since: member.createdAt.toISOString(),
          })),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/me/houses/{houseId}/members',
      tags: ['Binding'],
      summary: 'Invite a family member or tenant (primary owner only)',
      description: 'The invitee gets access as soon as they log in with that phone number. Tenants need tenancy dates.',
      security: bearerSecurity,
      request: {
        params: z.object({ houseId: Uuid }),
        body: jsonBody(
          z
            .strictObject({
              phone: z.string().max(20),
              name: PersonName,
              role: z.enum(['family', 'tenant']),
              tenancyStart: IsoDate.optional(),
              tenancyEnd: IsoDate.optional(),
            })
            .superRefine((b, ctx) => {
              if (!normalizePhone(b.phone)) ctx.addIssue({ code: 'custom', path: ['phone'], message: 'must be a mainland mobile number' });
              if (b.role === 'tenant' && (!b.tenancyStart || !b.tenancyEnd)) ctx.addIssue({ code: 'custom', path: ['tenancyEnd'], message: 'a tenant needs tenancyStart and tenancyEnd' });
              if (b.role === 'family' && (b.tenancyStart || b.tenancyEnd)) ctx.addIssue({ code: 'custom', path: ['tenancyStart'], message: 'only tenants have tenancy dates' });
              if (b.tenancyStart && b.tenancyEnd && b.tenancyEnd < b.tenancyStart) ctx.addIssue({ code: 'custom', path: ['tenancyEnd'], message: 'must not be before tenancyStart' });
            }),
        ),
      },
      responses: { 201: { description: 'Added', content: { 'application/json': { schema: Member } } }, ...problemResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const principal = requireResident(c);
      const { houseId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { house } = await requirePrimaryOwner(deps, principal.residentId, houseId);
      const phone = normalizePhone(body.phone)!;
      const phoneIndex = deps.vault.blindIndex(phone, 'phone');
      const now = deps.now();
      const result = await deps.db.transaction(async (tx) => {
        const [resident] = await tx
          .insert(residents)
          .values({ phoneEnc: deps.vault.encrypt(phone, 'phone'), phoneIndex, name: body.name, createdAt: now })
          .onConflictDoUpdate({ target: residents.phoneIndex, set: { phoneIndex } })
          .returning();
        const [already] = await tx
          .select()
          .from(houseMembers)
          .where(and(eq(houseMembers.houseId, houseId), eq(houseMembers.residentId, resident!.id), isNull(houseMembers.endedAt)));
        if (already) throw new Problem('conflict', `This phone number is already a member of the house (${already.role})`);
        const [member] = await tx
          .insert(houseMembers)
          .values({
            houseId,
            residentId: resident!.id,
            role: body.role,
            tenancyStart: body.tenancyStart ?? null,
            tenancyEnd: body.tenancyEnd ?? null,
            invitedBy: principal.residentId,
            createdAt: now,
          })
          .returning();
        await recordAudit(
          c,
          { action: 'house.member_add', outcome: 'success', communityId: house.communityId, targetKind: 'house_member', targetId: member!.id, details: { role: body.role, phone: maskPhone(phone) } },
          tx,
        );
        return { member: member!, resident: resident! };
      });
      return c.json(
        {
          memberId: result.member.id,
          residentId: result.resident.id,
          name: result.resident.name,
          phoneMasked: maskPhone(phone),
          role: result.member.role,
          isPrimary: false,
          tenancyStart: result.member.tenancyStart,
          tenancyEnd: result.member.tenancyEnd,
          doorAccess: result.member.doorAccess,
          since: result.member.createdAt.toISOString(),
        },
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/me/houses/{houseId}/members/{memberId}',
      tags: ['Binding'],
      summary: 'Remove a member (primary owner), or leave a house (any member, own membership)',
      description: "Ends the membership: the person loses this house's bills, keys and doors at once.",
      security: bearerSecurity,
      request: { params: z.object({ houseId: Uuid, memberId: Uuid }) },
      responses: { 204: { description: 'Removed' }, ...problemResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const principal = requireResident(c);
      const { houseId, memberId } = c.req.valid('param');
      const { member: me, house } = await requireMembership(deps, principal.residentId, houseId);
      const [target] = await deps.db
        .select()
        .from(houseMembers)
        .where(and(eq(houseMembers.id, memberId), eq(houseMembers.houseId, houseId), isNull(houseMembers.endedAt)));
      if (!target) throw new Problem('not-found', 'No such active member of this house');
      const leaving = target.residentId === principal.residentId;
      if (!leaving && !me.isPrimary) throw new Problem('forbidden', 'Only the primary owner can remove other members');
      if (target.isPrimary) throw new Problem('conflict', 'The primary owner cannot be removed here; a change of primary owner goes through property service');
      // Co-owners are on the property roster: they leave by themselves or through property service.
      if (target.role === 'owner' && !leaving) throw new Problem('forbidden', 'A co-owner cannot be removed by another owner; ask property service');
      const revoked = await deps.db.transaction(async (tx) => {
        await tx.update(houseMembers).set({ endedAt: deps.now(), endedBy: principal.residentId }).where(and(eq(houseMembers.id, memberId), isNull(houseMembers.endedAt)));
        // Their door keys for this house go in the same transaction, and every gateway hears of it below.
        const keys = await revokeCredentials(deps, tx, and(eq(doorCredentials.holderKind, 'resident'), eq(doorCredentials.holderId, target.residentId), eq(doorCredentials.houseId, houseId)), 'member-removed');
        await recordAudit(
          c,
          { action: 'house.member_remove', outcome: 'success', communityId: house.communityId, targetKind: 'house_member', targetId: memberId, details: { role: target.role, leaving, doorKeysRevoked: keys.revoked } },
          tx,
        );
        return keys;
      });
      await publishAfterCommit(deps, { revocations: revoked.communities });
      return c.body(null, 204);
    },
  );
