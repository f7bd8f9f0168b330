import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, eq, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import type { Database } from '../../db/client.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { problemResponses } from '../../http/openapi.js';
import { Problem } from '../../http/problem.js';
import { bearerSecurity, CommunityParams, invalid, isUniqueViolation, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { createRouter } from '../../http/router.js';
import { recordAudit } from '../audit/audit-log.js';
import { buildings, houses } from '../estate/estate.schema.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { meters } from '../meters/meters.schema.js';
import { minDate, parseDate } from './billing-periods.js';
import {
  BillingSettingsUpdate,
  BillingSettingsView,
  CommunityHouseParams,
  FeeItemCreate,
  FeeItemParams,
  FeeItemView,
  HouseBillingWindow,
  TariffCreate,
  VacancyCreate,
  VacancyEnd,
  VacancyParams,
  VacancyView,
} from './billing.api.js';
import { billingSettings, billLines, bills, feeItems, houseVacancies, tariffVersions } from './billing.schema.js';
import { settingsOf } from './billing.jobs.js';
import { unitPriceText } from './bill-views.js';
import { uuidArray } from './run-inputs.js';
import { tariffIssues, type TariffVersion } from './tariffs.js';

type FeeItemRow = typeof feeItems.$inferSelect;
type TariffRow = typeof tariffVersions.$inferSelect;

function tariffView(v: TariffRow) {
  return {
    id: v.id,
    version: v.version,
    effectiveFrom: v.effectiveFrom,
    effectiveTo: v.effectiveTo,
    unitPrice: v.unitPrice,
    unitPriceDisplay: v.unitPrice === null ? null : unitPriceText(v.unitPrice),
    tiers: v.tiers?.map((t) => ({ ...t, unitPriceDisplay: unitPriceText(t.unitPrice) })) ?? null,
    createdAt: v.createdAt.toISOString(),
  };
}

function feeItemView(item: FeeItemRow, versions: readonly TariffRow[]) {
  const { createdAt: _c, archivedAt, ...rest } = item;
  return { ...rest, tariffs: versions.filter((v) => v.feeItemId === item.id).map(tariffView), archived: archivedAt !== null };
}

const asVersion = (v: TariffRow): TariffVersion => ({ id: v.id, version: v.version, effectiveFrom: v.effectiveFrom, effectiveTo: v.effectiveTo, unitPrice: v.unitPrice, tiers: v.tiers });

/** Throws validation-failed listing every issue, the way zod's own failures read. */
function refuse(issues: { path: string; message: string }[], prefix = ''): void {
  if (issues.length === 0) return;
  const errors = issues.map((i) => ({ path: `${prefix}${i.path}`, message: i.message, code: 'custom' }));
  throw new Problem('validation-failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}

const OPEN_END = '9999-12-31';

const TIME_KINDS = new Set(['property', 'fixed', 'parking-management', 'parking-rent', 'maintenance-fund']);

/** What zod cannot check about a fee item alone: which fields its kind needs, and what they point at. */
async function feeItemIssues(db: Database, communityId: string, body: z.infer<typeof FeeItemCreate>) {
  const issues: { path: string; message: string }[] = [];
  const metered = body.kind === 'metered';
  const shared = body.kind === 'shared';
  if (metered && !body.meterKind) issues.push({ path: 'meterKind', message: 'a metered fee item names the kind of meter it bills (water, electricity, gas, heat)' });
  if (!metered && body.meterKind) issues.push({ path: 'meterKind', message: `only metered fee items take a meter kind, not ${body.kind}` });
  if (shared && !body.sharedMeterId) issues.push({ path: 'sharedMeterId', message: 'a shared fee item names the common meter it splits' });
  if (shared && !body.shareMethod) issues.push({ path: 'shareMethod', message: 'a shared fee item says how it splits: area or equal' });
  if (!shared && (body.sharedMeterId || body.shareMethod)) issues.push({ path: 'sharedMeterId', message: `only shared fee items take a common meter, not ${body.kind}` });
  if (body.tiered && !metered && !shared) issues.push({ path: 'tiered', message: `${body.kind} is priced per month; only metered and shared items have tiers` });
  if (body.tierBasis === 'year' && !metered) issues.push({ path: 'tierBasis', message: 'yearly tiers apply to a house’s own meters only' });
  if (body.prepayOffers.length && !TIME_KINDS.has(body.kind)) issues.push({ path: 'prepayOffers', message: 'prepayment applies to time-based items (property fee, parking, fixed fees)' });
  if (body.prepayOffers.length && body.cycle !== 'monthly') issues.push({ path: 'prepayOffers', message: 'prepayment offers are for monthly items' });
  body.prepayOffers.forEach((o, i) => {
    if (o.freeMonths >= o.months) issues.push({ path: `prepayOffers.${i}.freeMonths`, message: 'must be fewer than the months prepaid' });
  });
  if (body.vacancyDiscountBp > 0 && !TIME_KINDS.has(body.kind)) issues.push({ path: 'vacancyDiscountBp', message: 'a vacancy discount applies to time-based items; a vacant house’s meters bill what they measure' });

  if (metered && body.meterKind) {
    const [found] = await db
      .select({ id: meters.id })
      .from(meters)
      .where(and(eq(meters.communityId, communityId), eq(meters.kind, body.meterKind), isNull(meters.removedAt), sql`${meters.houseId} is not null`))
      .limit(1);
    if (!found) issues.push({ path: 'meterKind', message: `the community has no ${body.meterKind} meter on any house; register the meters first` });
  }
  if (shared && body.sharedMeterId) {
    const [meter] = await db.select().from(meters).where(and(eq(meters.id, body.sharedMeterId), eq(meters.communityId, communityId)));
    if (!meter) issues.push({ path: 'sharedMeterId', message: 'is not a meter of this community' });
    else if (meter.houseId !== null) issues.push({ path: 'sharedMeterId', message: `meter ${meter.serialNo} belongs to a house; a shared item splits a common meter` });
    else if (meter.removedAt !== null) issues.push({ path: 'sharedMeterId', message: `meter ${meter.serialNo} was removed; name its replacement` });
  }
  if (body.buildingIds) {
    const found = await db
      .select({ id: buildings.id })
      .from(buildings)
      .where(and(eq(buildings.communityId, communityId), sql`${buildings.id} = any(${uuidArray(body.buildingIds)})`));
    const known = new Set(found.map((b) => b.id));
    body.buildingIds.forEach((id, i) => {
      if (!known.has(id)) issues.push({ path: `buildingIds.${i}`, message: 'is not a building of this community' });
    });
  }
  return issues;
}

async function scopedFeeItem(c: Context<AppEnv>, permission: 'billing:read' | 'billing:configure', feeItemId: string) {
  const [item] = await c.get('deps').db.select().from(feeItems).where(eq(feeItems.id, feeItemId));
  if (!item) throw new Problem('not-found', 'No such fee item');
  const staff = requireStaff(c, permission, item.communityId);
  return { item, staff };
}

async function scopedHouse(c: Context<AppEnv>, permission: 'billing:read' | 'billing:configure', communityId: string, houseId: string) {
  const { staff } = await scopedCommunity(c, permission, communityId);
  const [house] = await c.get('deps').db.select().from(houses).where(and(eq(houses.id, houseId), eq(houses.communityId, communityId)));
  if (!house) throw new Problem('not-found', 'No such house in this community');
  return { staff, house };
}

const FeeItemList = z.object({ items: z.array(FeeItemView) });

/** Fee items, their tariff versions, billing settings, and the house facts billing reads (vacancies, move-in/out). */
export const feeItemRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/fee-items',
      tags: ['Billing'],
      summary: 'Fee items of a community with their tariff versions',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(FeeItemList, 'Every fee item, archived ones last'), ...problemResponses(401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { db } = c.get('deps');
      await scopedCommunity(c, 'billing:read', communityId);
      const items = await db.select().from(feeItems).where(eq(feeItems.communityId, communityId)).orderBy(sql`${feeItems.archivedAt} is not null`, asc(feeItems.code));
      const versions = items.length
        ? await db.select().from(tariffVersions).where(sql`${tariffVersions.feeItemId} = any(${uuidArray(items.map((i) => i.id))})`).orderBy(asc(tariffVersions.version))
        : [];
      return c.json({ items: items.map((i) => feeItemView(i, versions)) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/fee-items',
      tags: ['Billing'],
      summary: 'Create a fee item with its first tariff version',
      description:
        'Prices are integer price units (10000 = ¥1). Property fee and maintenance fund: per m² per month; parking: per space per month; fixed: per house per month; ' +
        'metered and shared: per unit consumed, flat or tiered. 400 lists every problem: prices not above zero, tiers out of order, a metered item for a meter kind the community has no meter of, a shared item naming a house meter. 409 when the code is taken.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: CommunityParams, body: jsonBody(FeeItemCreate) },
      responses: { 201: jsonResponse(FeeItemView, 'The fee item'), ...problemResponses(400, 401, 403, 409, 413, 415) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      const { staff } = await scopedCommunity(c, 'billing:configure', communityId);
      const tariff = { effectiveFrom: body.tariff.effectiveFrom, effectiveTo: body.tariff.effectiveTo ?? null, unitPrice: body.tariff.unitPrice ?? null, tiers: body.tariff.tiers ?? null };
      refuse([...(await feeItemIssues(db, communityId, body)), ...tariffIssues(tariff, { tiered: body.tiered, existing: [] }).map((i) => ({ ...i, path: `tariff.${i.path}` }))]);
      try {
        const { item, version } = await db.transaction(async (tx) => {
          const { tariff: _t, ...fields } = body;
          const [item] = await tx
            .insert(feeItems)
            .values({ ...fields, communityId, meterKind: body.meterKind ?? null, sharedMeterId: body.sharedMeterId ?? null, shareMethod: body.shareMethod ?? null })
            .returning();
          const [version] = await tx.insert(tariffVersions).values({ feeItemId: item!.id, version: 1, ...tariff, createdBy: staff.staffId }).returning();
          await recordAudit(c, { action: 'billing.fee_item_create', outcome: 'success', communityId, targetKind: 'fee_item', targetId: item!.id, details: { code: body.code, kind: body.kind } }, tx);
          return { item: item!, version: version! };
        });
        return c.json(feeItemView(item, [version]), 201);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Problem('conflict', `The community already has a fee item with code "${body.code}"`);
        throw error;
      }
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/fee-items/{feeItemId}/tariffs',
      tags: ['Billing'],
      summary: 'Add a tariff version: a price change from a date',
      description:
        'An open-ended version that starts before the new one is closed on its start date (the usual price change). Any other overlap is refused, ' +
        'as is a version starting inside a period already posted (post an adjustment instead: posted bills never change).',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: FeeItemParams, body: jsonBody(TariffCreate) },
      responses: { 201: jsonResponse(FeeItemView, 'The fee item with all its versions'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const { feeItemId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      const { item, staff } = await scopedFeeItem(c, 'billing:configure', feeItemId);
      const proposed = { effectiveFrom: body.effectiveFrom, effectiveTo: body.effectiveTo ?? null, unitPrice: body.unitPrice ?? null, tiers: body.tiers ?? null };
      const result = await db.transaction(async (tx) => {
        await tx.select({ id: feeItems.id }).from(feeItems).where(eq(feeItems.id, feeItemId)).for('update');
        const existing = await tx.select().from(tariffVersions).where(eq(tariffVersions.feeItemId, feeItemId)).orderBy(asc(tariffVersions.version));
        // The usual price change: the open-ended version that started earlier ends where this one starts.
        // Only for an open-ended new price: closing it for a dated one would leave no price after it.
        const toClose = proposed.effectiveTo === null ? existing.find((v) => v.effectiveTo === null && v.effectiveFrom < proposed.effectiveFrom) : undefined;
        const compared = existing.map((v) => (v === toClose ? { ...asVersion(v), effectiveTo: proposed.effectiveFrom } : asVersion(v)));
        refuse(tariffIssues(proposed, { tiered: item.tiered, existing: compared }));
        const posted = await billedThrough(tx, eq(billLines.feeItemId, feeItemId));
        if (posted && proposed.effectiveFrom < posted) {
          throw new Problem(
            'conflict',
            `Bills are posted or previewed for this fee item up to ${posted}; a price from ${proposed.effectiveFrom} would change them. Start the version on or after ${posted}, discard the preview, or post adjustments.`,
          );
        }
        if (toClose) await tx.update(tariffVersions).set({ effectiveTo: proposed.effectiveFrom }).where(eq(tariffVersions.id, toClose.id));
        const next = Math.max(0, ...existing.map((v) => v.version)) + 1;
        await tx.insert(tariffVersions).values({ feeItemId, version: next, ...proposed, createdBy: staff.staffId });
        await recordAudit(c, { action: 'billing.tariff_create', outcome: 'success', communityId: item.communityId, targetKind: 'fee_item', targetId: feeItemId, details: { version: next, effectiveFrom: proposed.effectiveFrom, closedVersion: toClose?.version ?? null } }, tx);
        return tx.select().from(tariffVersions).where(eq(tariffVersions.feeItemId, feeItemId)).orderBy(asc(tariffVersions.version));
      });
      return c.json(feeItemView(item, result), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/billing-settings',
      tags: ['Billing'],
      summary: 'When scheduled runs post, how long owners have to pay',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(BillingSettingsView, 'The settings (defaults until changed)'), ...problemResponses(401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      await scopedCommunity(c, 'billing:read', communityId);
      return c.json(await settingsOf(c.get('deps'), communityId), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/communities/{communityId}/billing-settings',
      tags: ['Billing'],
      summary: 'Change the bill day, due days or auto-posting',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: CommunityParams, body: jsonBody(BillingSettingsUpdate) },
      responses: { 200: jsonResponse(BillingSettingsView, 'The settings now'), ...problemResponses(400, 401, 403, 413, 415) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const body = c.req.valid('json');
      const deps = c.get('deps');
      await scopedCommunity(c, 'billing:configure', communityId);
      const next = { ...(await settingsOf(deps, communityId)), ...body };
      await deps.db.transaction(async (tx) => {
        await tx.insert(billingSettings).values({ communityId, ...next }).onConflictDoUpdate({ target: billingSettings.communityId, set: { ...next, updatedAt: deps.now() } });
        await recordAudit(c, { action: 'billing.settings', outcome: 'success', communityId, details: next }, tx);
      });
      return c.json(next, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/houses/{houseId}/vacancies',
      tags: ['Billing'],
      summary: 'Spans a house stood empty (vacancy discounts)',
      security: bearerSecurity,
      middleware: [staffOnly('billing:read')] as const,
      request: { params: CommunityHouseParams },
      responses: { 200: jsonResponse(z.object({ items: z.array(VacancyView) }), 'Vacancies, oldest first'), ...problemResponses(401, 403, 404) },
    }),
    async (c) => {
      const { communityId, houseId } = c.req.valid('param');
      await scopedHouse(c, 'billing:read', communityId, houseId);
      const rows = await c.get('deps').db.select().from(houseVacancies).where(eq(houseVacancies.houseId, houseId)).orderBy(asc(houseVacancies.startsOn));
      return c.json({ items: rows.map(vacancyView) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/houses/{houseId}/vacancies',
      tags: ['Billing'],
      summary: 'Record that a house stands empty from a date (until another, or open)',
      description: 'Time-based fee items with a vacancy discount charge less on those days, from the next bill run on. Overlapping vacancies are refused.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: CommunityHouseParams, body: jsonBody(VacancyCreate) },
      responses: { 201: jsonResponse(VacancyView, 'The vacancy'), ...problemResponses(400, 401, 403, 404, 413, 415) },
    }),
    async (c) => {
      const { communityId, houseId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      const { staff } = await scopedHouse(c, 'billing:configure', communityId, houseId);
      checkDate('startsOn', body.startsOn);
      if (body.endsOn) checkDate('endsOn', body.endsOn);
      if (body.endsOn && body.endsOn <= body.startsOn) invalid('endsOn', `must be after startsOn (${body.startsOn})`);
      const row = await db.transaction(async (tx) => {
        await tx.select({ id: houses.id }).from(houses).where(eq(houses.id, houseId)).for('update');
        const overlapping = await tx
          .select()
          .from(houseVacancies)
          .where(and(eq(houseVacancies.houseId, houseId), sql`${houseVacancies.startsOn} < ${body.endsOn ?? '9999-12-31'}::date`, sql`coalesce(${houseVacancies.endsOn}, '9999-12-31'::date) > ${body.startsOn}::date`));
        if (overlapping.length) invalid('startsOn', `overlaps the vacancy from ${overlapping[0]!.startsOn} to ${overlapping[0]!.endsOn ?? 'open'}`);
        const [created] = await tx.insert(houseVacancies).values({ houseId, startsOn: body.startsOn, endsOn: body.endsOn ?? null, note: body.note, createdBy: staff.staffId }).returning();
        await recordAudit(c, { action: 'billing.vacancy', outcome: 'success', communityId, targetKind: 'house', targetId: houseId, details: { startsOn: body.startsOn, endsOn: body.endsOn ?? null } }, tx);
        return created!;
      });
      return c.json(vacancyView(row), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/communities/{communityId}/houses/{houseId}/billing-window',
      tags: ['Billing'],
      summary: 'Set a house’s move-in and move-out dates for billing',
      description: 'Time-based fees are prorated by day to the part of each period inside the window; metered fees stop after move-out. Dates already billed are not re-billed.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: CommunityHouseParams, body: jsonBody(HouseBillingWindow) },
      responses: { 200: jsonResponse(HouseBillingWindow, 'The window now'), ...problemResponses(400, 401, 403, 404, 413, 415) },
    }),
    async (c) => {
      const { communityId, houseId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      await scopedHouse(c, 'billing:configure', communityId, houseId);
      if (body.billingStartsOn) checkDate('billingStartsOn', body.billingStartsOn);
      if (body.billingEndsOn) checkDate('billingEndsOn', body.billingEndsOn);
      if (body.billingStartsOn && body.billingEndsOn && body.billingEndsOn <= body.billingStartsOn) invalid('billingEndsOn', `must be after billingStartsOn (${body.billingStartsOn})`);
      await db.transaction(async (tx) => {
        await tx.update(houses).set({ billingStartsOn: body.billingStartsOn, billingEndsOn: body.billingEndsOn }).where(eq(houses.id, houseId));
        await recordAudit(c, { action: 'billing.window', outcome: 'success', communityId, targetKind: 'house', targetId: houseId, details: body }, tx);
      });
      return c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/communities/{communityId}/houses/{houseId}/vacancies/{vacancyId}',
      tags: ['Billing'],
      summary: 'End a vacancy: the house is lived in again from a date',
      description: 'Days already billed keep their discount (posted bills never change): the end may not fall inside a period a run has posted or previewed for the house.',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: VacancyParams, body: jsonBody(VacancyEnd) },
      responses: { 200: jsonResponse(VacancyView, 'The vacancy now'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const { communityId, houseId, vacancyId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { db } = c.get('deps');
      await scopedHouse(c, 'billing:configure', communityId, houseId);
      if (body.endsOn) checkDate('endsOn', body.endsOn);
      const row = await db.transaction(async (tx) => {
        const [vacancy] = await tx.select().from(houseVacancies).where(and(eq(houseVacancies.id, vacancyId), eq(houseVacancies.houseId, houseId))).for('update');
        if (!vacancy) throw new Problem('not-found', 'No such vacancy of this house');
        if (body.endsOn && body.endsOn <= vacancy.startsOn) invalid('endsOn', `must be after the vacancy starts (${vacancy.startsOn})`);
        const through = await billedThrough(tx, and(eq(billLines.houseId, houseId), sql`${billLines.provenance}->>'method' = 'time'`)!);
        // The discount changes from the earlier of the old and the new end (open = never).
        const [before, after] = [vacancy.endsOn ?? OPEN_END, body.endsOn ?? OPEN_END];
        const changesFrom = before === after ? null : minDate(before, after);
        if (through && changesFrom !== null && changesFrom < through) {
          throw new Problem('conflict', `The house is billed up to ${through}; a vacancy changing from ${changesFrom} would re-price billed days. End it on or after ${through}, or post an adjustment.`);
        }
        const [other] = await tx
          .select()
          .from(houseVacancies)
          .where(and(eq(houseVacancies.houseId, houseId), ne(houseVacancies.id, vacancyId), sql`${houseVacancies.startsOn} < ${after}::date`, sql`coalesce(${houseVacancies.endsOn}, ${OPEN_END}::date) > ${vacancy.startsOn}::date`));
        if (other) invalid('endsOn', `would overlap the vacancy from ${other.startsOn} to ${other.endsOn ?? 'open'}`);
        const [updated] = await tx.update(houseVacancies).set({ endsOn: body.endsOn }).where(eq(houseVacancies.id, vacancyId)).returning();
        await recordAudit(c, { action: 'billing.vacancy', outcome: 'success', communityId, targetKind: 'house', targetId: houseId, details: { vacancyId, endsOn: body.endsOn } }, tx);
        return updated!;
      });
      return c.json(vacancyView(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/fee-items/{feeItemId}/archive',
      tags: ['Billing'],
      summary: 'Stop billing a fee item: later runs leave it out; its bills stay as they are',
      security: bearerSecurity,
      middleware: [staffOnly('billing:configure')] as const,
      request: { params: FeeItemParams },
      responses: { 200: jsonResponse(FeeItemView, 'The archived fee item'), ...problemResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const { feeItemId } = c.req.valid('param');
      const deps = c.get('deps');
      const { item } = await scopedFeeItem(c, 'billing:configure', feeItemId);
      if (item.archivedAt) throw new Problem('conflict', 'The fee item is already archived');
      const archived = await deps.db.transaction(async (tx) => {
        const [row] = await tx.update(feeItems).set({ archivedAt: deps.now() }).where(eq(feeItems.id, feeItemId)).returning();
        await recordAudit(c, { action: 'billing.fee_item_archive', outcome: 'success', communityId: item.communityId, targetKind: 'fee_item', targetId: feeItemId, details: { code: item.code } }, tx);
        return row!;
      });
      const versions = await deps.db.select().from(tariffVersions).where(eq(tariffVersions.feeItemId, feeItemId)).orderBy(asc(tariffVersions.version));
      return c.json(feeItemView(archived, versions), 200);
    },
  );

function vacancyView(v: typeof houseVacancies.$inferSelect) {
  return { id: v.id, houseId: v.houseId, startsOn: v.startsOn, endsOn: v.endsOn, note: v.note, createdAt: v.createdAt.toISOString() };
}

function checkDate(path: string, text: string): void {
  try {
    parseDate(text);
  } catch (error) {
    invalid(path, (error as Error).message);
  }
}

/**
 * The end of the last period bill runs have billed, posted or previewed, for the lines `where` picks (a
 * fee item's, a house's time-based ones): a new price or a changed vacancy may not reach before it, or
 * billed days would be priced twice (a preview posted later carries what it was computed with).
 * Prepayments do not count: their price is locked in on purpose, and one owner's prepaid year must not
 * freeze everyone's tariff.
 */
async function billedThrough(db: Database, where: SQL): Promise<string | null> {
  const [row] = await db
    .select({ last: sql<string | null>`max(${billLines.periodEnd})::text` })
    .from(billLines)
    .innerJoin(bills, eq(bills.id, billLines.billId))
    .where(and(where, eq(bills.kind, 'periodic')));
  return row?.last ?? null;
}
