import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, gte, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { decodeCursor, keysetPage } from '../../http/paging.js';
import { Problem } from '../../http/problem.js';
import { z } from '@hono/zod-openapi';
import { meterFacts, type MeterFacts, type MeterRow } from './meter-facts.js';
import { meterReadings, meters } from './meters.schema.js';
import { detectAnomalies, sameAnomalies, SPIKE_WINDOW, toMicro } from './reading-anomalies.js';
import { storeReadings, type NewReading } from './reading-store.js';
import { transactionLock } from '../../db/advisory-lock.js';

export type ReadingRow = typeof meterReadings.$inferSelect;

/** Largest number of readings per meter one house query returns (a year of 15-minute polls is 35,040). */
export const HOUSE_READINGS_PER_METER = 2000;
/** Readings may be dated this far ahead of the server clock (clock skew on a gateway or a phone). */
export const FUTURE_SKEW_MS = 5 * 60_000;

export function meterView(m: MeterRow) {
  return {
    id: m.id,
    communityId: m.communityId,
    houseId: m.houseId,
    kind: m.kind,
    model: m.model,
    serialNo: m.serialNo,
    billingQuantity: m.billingQuantity,
    unit: m.unit,
    gatewayId: m.gatewayId,
    deviceId: m.deviceId,
    busId: m.busId,
    modbusUnitId: m.modbusUnitId,
    pollSeconds: m.pollSeconds,
    installedAt: m.installedAt.toISOString(),
    removedAt: m.removedAt?.toISOString() ?? null,
    replacedById: m.replacedById,
  };
}

export function readingView(r: ReadingRow) {
  return {
    id: r.id,
    meterId: r.meterId,
    readAt: r.readAt.toISOString(),
    value: trimDecimal(r.value),
    values: r.values,
    source: r.source,
    anomalies: r.anomalies,
    gatewaySeq: r.gatewaySeq,
    enteredBy: r.enteredBy,
    receivedAt: r.receivedAt.toISOString(),
  };
}

/** "100.500000" -> "100.5": the column's scale is storage, not meaning. */
function trimDecimal(value: string): string {
  return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
}

export async function loadMeter(db: Database, meterId: string, forUpdate = false): Promise<MeterRow> {
  const query = db.select().from(meters).where(eq(meters.id, meterId));
  const [row] = forUpdate ? await query.for('update') : await query;
  if (!row) throw new Problem('not-found', 'No such meter');
  return row;
}

export type TimeRange = { from?: Date | undefined; to?: Date | undefined };

/** One meter's readings in time order, keyset-paged on the read time (unique per meter). */
export async function listReadings(db: Database, meterId: string, range: TimeRange, page: { limit: number; cursor?: string | undefined }) {
  const after = page.cursor ? new Date(decodeCursor(page.cursor, z.tuple([z.iso.datetime()]))[0]) : undefined;
  const rows = await db
    .select()
    .from(meterReadings)
    .where(
      and(
        eq(meterReadings.meterId, meterId),
        range.from ? gte(meterReadings.readAt, range.from) : undefined,
        range.to ? lt(meterReadings.readAt, range.to) : undefined,
        after ? gt(meterReadings.readAt, after) : undefined,
      ),
    )
    .orderBy(asc(meterReadings.readAt))
    .limit(page.limit + 1);
  const { items, nextCursor } = keysetPage(rows, page.limit, (r) => [r.readAt.toISOString()]);
  return { items: items.map(readingView), nextCursor };
}

export async function latestReading(db: Database, meterId: string) {
  const [row] = await db.select().from(meterReadings).where(eq(meterReadings.meterId, meterId)).orderBy(desc(meterReadings.readAt)).limit(1);
  return row ?? null;
}

/**
 * Every meter a house has had (replaced ones too, so a bill's history can be followed across a
 * replacement) with its readings in the range, oldest first.
 */
export async function houseReadings(db: Database, houseId: string, range: { from: Date; to: Date; kind?: MeterRow['kind'] | undefined }) {
  const houseMeters = await db
    .select()
    .from(meters)
    .where(and(eq(meters.houseId, houseId), range.kind ? eq(meters.kind, range.kind) : undefined))
    .orderBy(asc(meters.kind), asc(meters.installedAt));
  // A house has a handful of meters (a few more after replacements): one indexed range scan each.
  return Promise.all(
    houseMeters.map(async (m) => {
      const rows = await db
        .select()
        .from(meterReadings)
        .where(and(eq(meterReadings.meterId, m.id), gte(meterReadings.readAt, range.from), lt(meterReadings.readAt, range.to)))
        .orderBy(asc(meterReadings.readAt))
        .limit(HOUSE_READINGS_PER_METER + 1);
      return { meter: meterView(m), readings: rows.slice(0, HOUSE_READINGS_PER_METER).map(readingView), truncated: rows.length > HOUSE_READINGS_PER_METER };
    }),
  );
}

/** Serialises hand-entered readings and replacements of one meter (gateway ingest does not wait on it). */
/**
 * Meter routing of a community: ingest batches hold it shared while they route readings to meters and
 * insert them; a replacement holds it exclusively. A replacement therefore waits for batches in flight
 * (and then moves their readings after `at` to the new meter), and a batch never routes by a replacement
 * that is half done.
 */
export async function lockMeterRouting(tx: Database, communityId: string, mode: 'shared' | 'exclusive'): Promise<void> {
  const key = `meter-routing:${communityId}`;
  await transactionLock(tx, key, mode);
}

export async function lockMeter(tx: Database, meterId: string): Promise<void> {
  await transactionLock(tx, `meter:${meterId}`);
}

export type HandReading = { atMs: number; value: string };

/** A hand-entered or imported reading as the store takes it: the billing quantity only. */
export function handReading(meter: MeterFacts, reading: HandReading, source: 'manual' | 'import', enteredBy: string): NewReading {
  return {
    meter,
    atMs: reading.atMs,
    value: reading.value,
    micro: toMicro(reading.value),
    values: { [meter.billingQuantity]: { value: reading.value, unit: meter.unit } },
    source,
    gatewayId: null,
    gatewaySeq: null,
    enteredBy,
  };
}

/** Why a hand reading cannot go on this meter at this time, or null. */
export function handReadingProblem(meter: MeterRow, atMs: number, nowMs: number): string | null {
  if (atMs > nowMs + FUTURE_SKEW_MS) return 'is in the future';
  if (meter.removedAt && atMs > meter.removedAt.getTime()) {
    return `is after the meter was replaced (${meter.removedAt.toISOString()}); enter it on the meter that replaced it (${meter.replacedById})`;
  }
  return null;
}

/**
 * Re-judges every reading of a meter from scratch, in time order. Used after a replacement moved the
 * readings a gateway sent after the replacement time onto the new meter: judged against the old
 * meter's counter they were "backwards", against the new one's they are normal.
 */
export async function rejudgeMeter(tx: Database, meter: MeterFacts): Promise<void> {
  const rows = await tx.select().from(meterReadings).where(eq(meterReadings.meterId, meter.id)).orderBy(asc(meterReadings.readAt));
  const timeline = rows.map((r) => ({ atMs: r.readAt.getTime(), micro: toMicro(trimDecimal(r.value)) }));
  for (let i = 0; i < rows.length; i++) {
    const anomalies = detectAnomalies(timeline.slice(Math.max(0, i - SPIKE_WINDOW - 1), i), timeline[i]!, meter);
    if (!sameAnomalies(anomalies, rows[i]!.anomalies)) await tx.update(meterReadings).set({ anomalies }).where(eq(meterReadings.id, rows[i]!.id));
  }
}

export type ReplaceMeter = { newSerialNo: string; finalReading?: string | undefined; newInitialReading: string; at: Date };

/**
 * Closes a meter and puts a new one in its place (same house, gateway and device id, model and
 * schedule). Both keep their own readings. The new meter starts with its initial reading at `at`;
 * readings the gateway already sent for after `at` move to the new meter, since they were read from it.
 */
export async function replaceMeter(tx: Database, meterId: string, body: ReplaceMeter, staffId: string, nowMs: number) {
  // Routing first, before any row lock: an ingest batch holding it shared may need a key-share lock on
  // this meter's row for its readings' foreign key, so locking the row first could deadlock with it.
  await lockMeterRouting(tx, (await loadMeter(tx, meterId)).communityId, 'exclusive');
  await lockMeter(tx, meterId);
  const old = await loadMeter(tx, meterId, true);
  if (old.removedAt) throw new Problem('conflict', `The meter was already replaced on ${old.removedAt.toISOString()} by ${old.replacedById}`);
  const atMs = body.at.getTime();
  if (atMs > nowMs + FUTURE_SKEW_MS) throw new Problem('validation-failed', 'at: is in the future', { errors: [{ path: 'at', message: 'is in the future' }] });
  if (atMs <= old.installedAt.getTime()) {
    throw new Problem('validation-failed', `at: must be after the meter was installed (${old.installedAt.toISOString()})`, { errors: [{ path: 'at', message: 'before installation' }] });
  }
  const newId = randomUUID();
  const [closed] = await tx.update(meters).set({ removedAt: body.at, replacedById: newId }).where(eq(meters.id, old.id)).returning();
  const [fresh] = await tx
    .insert(meters)
    .values({
      id: newId,
      communityId: old.communityId,
      houseId: old.houseId,
      kind: old.kind,
      model: old.model,
      serialNo: body.newSerialNo,
      billingQuantity: old.billingQuantity,
      unit: old.unit,
      gatewayId: old.gatewayId,
      deviceId: old.deviceId,
      busId: old.busId,
      modbusUnitId: old.modbusUnitId,
      pollSeconds: old.pollSeconds,
      installedAt: body.at,
    })
    .returning();
  const moved = await tx
    .update(meterReadings)
    .set({ meterId: newId })
    .where(and(eq(meterReadings.meterId, old.id), gt(meterReadings.readAt, body.at)))
    .returning({ id: meterReadings.id });
  const oldFacts = meterFacts(closed!);
  const newFacts = meterFacts(fresh!);
  const now = new Date(nowMs);
  if (body.finalReading !== undefined) {
    const { duplicates } = await storeReadings(tx, [handReading(oldFacts, { atMs, value: body.finalReading }, 'manual', staffId)], now);
    if (duplicates.length > 0) throw new Problem('conflict', `The old meter already has a reading at ${body.at.toISOString()}; leave finalReading out`);
  }
  await storeReadings(tx, [handReading(newFacts, { atMs, value: body.newInitialReading }, 'manual', staffId)], now);
  if (moved.length > 0) await rejudgeMeter(tx, newFacts);
  return { old: closed!, fresh: fresh!, movedReadings: moved.length };
}
