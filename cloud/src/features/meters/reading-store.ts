import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import type { MeterFacts } from './meter-facts.js';
import { meterReadings, type ReadingAnomaly } from './meters.schema.js';
import { detectAnomalies, sameAnomalies, SPIKE_WINDOW, type TimelinePoint } from './reading-anomalies.js';

/** A reading about to be stored, already routed to its meter and with its billing value picked out. */
export type NewReading = {
  meter: MeterFacts;
  atMs: number;
  /** The billing quantity's value, exact, as text. */
  value: string;
  micro: bigint;
  values: Record<string, { value: string; unit: string }>;
  source: 'gateway' | 'manual' | 'import';
  gatewayId: string | null;
  gatewaySeq: number | null;
  enteredBy: string | null;
};

export type StoredReading = NewReading & { anomalies: ReadingAnomaly[] };

/**
 * inserted: rows written now. duplicates: rows not written because the meter already has a reading at
 * that time, or (gateway readings) the gateway sequence number is already stored.
 */
export type StoreResult = { inserted: StoredReading[]; duplicates: NewReading[] };

type StoredPoint = { id: string; atMs: number; micro: bigint; anomalies: ReadingAnomaly[] };
type Entry = TimelinePoint & { stored?: StoredPoint; fresh?: NewReading };

const keyOf = (meterId: string, atMs: number) => `${meterId}@${atMs}`;

/**
 * Stores readings of any source with their anomalies, in the caller's transaction: one statement loads
 * each meter's neighbourhood (the SPIKE_WINDOW + 1 readings before the batch, those inside its time
 * span, the one after), one multi-row INSERT ... ON CONFLICT DO NOTHING writes the batch, and one
 * UPDATE re-judges stored readings whose predecessor changed because an older reading arrived late.
 *
 * Everything goes through json_to_recordset (see roster-import.ts): one parameter per batch instead of
 * a VALUES list the query builder would render row by row.
 *
 * @example
 * const { inserted, duplicates } = await storeReadings(tx, rows, new Date());
 */
export async function storeReadings(tx: Database, rows: readonly NewReading[], receivedAt: Date): Promise<StoreResult> {
  if (rows.length === 0) return { inserted: [], duplicates: [] };
  const byMeter = new Map<string, NewReading[]>();
  for (const row of rows) {
    const list = byMeter.get(row.meter.id);
    if (list) list.push(row);
    else byMeter.set(row.meter.id, [row]);
  }
  const stored = await loadNeighbourhoods(tx, byMeter);

  const toInsert: StoredReading[] = [];
  const originals: NewReading[] = [];
  const duplicates: NewReading[] = [];
  const successorUpdates: { id: string; anomalies: ReadingAnomaly[]; after: NewReading }[] = [];
  for (const [meterId, fresh] of byMeter) {
    const timeline: Entry[] = (stored.get(meterId) ?? []).map((s) => ({ atMs: s.atMs, micro: s.micro, stored: s }));
    const taken = new Set(timeline.map((e) => e.atMs));
    for (const reading of fresh) {
      if (taken.has(reading.atMs)) duplicates.push(reading);
      else {
        taken.add(reading.atMs);
        timeline.push({ atMs: reading.atMs, micro: reading.micro, fresh: reading });
      }
    }
    timeline.sort((a, b) => a.atMs - b.atMs);
    const meter = fresh[0]!.meter;
    for (let i = 0; i < timeline.length; i++) {
      const entry = timeline[i]!;
      const before = timeline.slice(Math.max(0, i - SPIKE_WINDOW - 1), i);
      if (entry.fresh) {
        toInsert.push({ ...entry.fresh, anomalies: detectAnomalies(before, entry, meter) });
        originals.push(entry.fresh);
      }
      else if (entry.stored && timeline[i - 1]?.fresh) {
        // A late reading now sits before a stored one: the stored one's judgement may change.
        const anomalies = detectAnomalies(before, entry, meter);
        if (!sameAnomalies(anomalies, entry.stored.anomalies)) successorUpdates.push({ id: entry.stored.id, anomalies, after: timeline[i - 1]!.fresh! });
      }
    }
  }

  const written = await insertRows(tx, toInsert, receivedAt);
  const inserted = toInsert.filter((r) => written.has(keyOf(r.meter.id, r.atMs)));
  // The caller's own objects, so it can tell which of its rows were not written.
  for (const r of originals) if (!written.has(keyOf(r.meter.id, r.atMs))) duplicates.push(r);
  const updates = successorUpdates.filter((u) => written.has(keyOf(u.after.meter.id, u.after.atMs)));
  if (updates.length > 0) {
    const json = JSON.stringify(updates.map((u) => ({ id: u.id, anomalies: u.anomalies })));
    await tx.execute(sql`
      update ${meterReadings} as m set anomalies = u.anomalies
      from json_to_recordset(${json}::json) as u(id bigint, anomalies jsonb) where m.id = u.id`);
  }
  return { inserted, duplicates };
}

const COLUMNS = sql`id::text as id, meter_id::text as meter_id, (extract(epoch from read_at) * 1000)::bigint::text as ms, value::text as value, anomalies::text as anomalies`;

/**
 * Each meter's stored readings around the batch. The usual case, readings newer than anything stored,
 * needs only the meter's newest SPIKE_WINDOW + 1 readings: one short backward index scan per meter.
 * Meters where that shows a stored reading at or after the batch's oldest one (a late or redelivered
 * reading) get the exact neighbourhood in a second query: the readings before the batch's span, those
 * inside it and the one after it.
 */
async function loadNeighbourhoods(tx: Database, byMeter: Map<string, NewReading[]>): Promise<Map<string, StoredPoint[]>> {
  const spans = [...byMeter].map(([m, list]) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of list) {
      lo = Math.min(lo, r.atMs);
      hi = Math.max(hi, r.atMs);
    }
    return { m, lo, hi };
  });
  // One row per meter with its points packed in text ("ms:value,ms:value"): tens of thousands of rows
  // through the driver cost more than the index scans that find them.
  const packed = rowsOf<{ m: string; p: string }>(
    await tx.execute(sql`
      select * from (
        select q.m::text as m, array_to_string(array(
          select (extract(epoch from r.read_at) * 1000)::bigint::text || ':' || r.value::text
          from ${meterReadings} as r where r.meter_id = q.m order by r.read_at desc limit ${SPIKE_WINDOW + 1}), ',') as p
        from json_to_recordset(${JSON.stringify(spans.map((s) => ({ m: s.m })))}::json) as q(m uuid)
      ) as packed where p <> ''`),
  );
  const newest = new Map<string, StoredPoint[]>();
  for (const row of packed) {
    newest.set(
      row.m,
      row.p.split(',').map((pair) => {
        const [ms, value] = pair.split(':');
        // Only the exact query below feeds successor re-judging, which needs id and anomalies.
        return { id: '', atMs: Number(ms), micro: microOfNumeric(value!), anomalies: [] };
      }),
    );
  }
  const overlapping = spans.filter((s) => (newest.get(s.m) ?? []).some((p) => p.atMs >= s.lo));
  if (overlapping.length === 0) return newest;
  const exact = pointsByMeter(
    await tx.execute(sql`
      select c.* from json_to_recordset(${JSON.stringify(overlapping.map((s) => ({ m: s.m, lo: new Date(s.lo).toISOString(), hi: new Date(s.hi).toISOString() })))}::json)
        as q(m uuid, lo timestamptz, hi timestamptz)
      cross join lateral (
        (select ${COLUMNS} from ${meterReadings} where meter_id = q.m and read_at < q.lo order by read_at desc limit ${SPIKE_WINDOW + 1})
        union all
        (select ${COLUMNS} from ${meterReadings} where meter_id = q.m and read_at between q.lo and q.hi)
        union all
        (select ${COLUMNS} from ${meterReadings} where meter_id = q.m and read_at > q.hi order by read_at limit 1)
      ) as c`),
  );
  for (const s of overlapping) newest.set(s.m, exact.get(s.m) ?? []);
  return newest;
}

function pointsByMeter(result: unknown): Map<string, StoredPoint[]> {
  const out = new Map<string, StoredPoint[]>();
  for (const r of rowsOf<{ id: string; meter_id: string; ms: string; value: string; anomalies: string }>(result)) {
    const point: StoredPoint = { id: r.id, atMs: Number(r.ms), micro: microOfNumeric(r.value), anomalies: JSON.parse(r.anomalies) as ReadingAnomaly[] };
    const list = out.get(r.meter_id);
    if (list) list.push(point);
    else out.set(r.meter_id, [point]);
  }
  return out;
}

/** numeric(20, 6) as PostgreSQL prints it ("100.500000") in micro-units. */
function microOfNumeric(text: string): bigint {
  const [whole, frac = ''] = text.split('.');
  const negative = whole!.startsWith('-');
  const micro = BigInt(whole!.replace('-', '')) * 1_000_000n + BigInt(frac.padEnd(6, '0').slice(0, 6));
  return negative ? -micro : micro;
}

async function insertRows(tx: Database, rows: readonly StoredReading[], receivedAt: Date): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const json = JSON.stringify(
    rows.map((r) => ({
      meter_id: r.meter.id,
      read_at: new Date(r.atMs).toISOString(),
      value: r.value,
      values: r.values,
      source: r.source,
      gateway_id: r.gatewayId,
      gateway_seq: r.gatewaySeq,
      anomalies: r.anomalies,
      entered_by: r.enteredBy,
    })),
  );
  // No conflict target: either unique index, (meter, read time) or (gateway, sequence), means "already here".
  const result = await tx.execute(sql`
    insert into ${meterReadings} (meter_id, read_at, value, "values", source, gateway_id, gateway_seq, anomalies, entered_by, received_at)
    select r.meter_id, r.read_at, r.value, r."values", r.source, r.gateway_id, r.gateway_seq, r.anomalies, r.entered_by, ${receivedAt.toISOString()}::timestamptz
    from json_to_recordset(${json}::json)
      as r(meter_id uuid, read_at timestamptz, value numeric, "values" jsonb, source text, gateway_id uuid, gateway_seq bigint, anomalies jsonb, entered_by uuid)
    on conflict do nothing
    returning meter_id::text as meter_id, (extract(epoch from read_at) * 1000)::bigint::text as ms`);
  return new Set(rowsOf<{ meter_id: string; ms: string }>(result).map((r) => keyOf(r.meter_id, Number(r.ms))));
}
