import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { isUniqueViolation } from '../../http/route-kit.js';
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

type StoredPoint = { id: string; atMs: number; micro: bigint; polled: boolean; anomalies: ReadingAnomaly[] };
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
    const timeline: Entry[] = (stored.get(meterId) ?? []).map((s) => ({ atMs: s.atMs, micro: s.micro, polled: s.polled, stored: s }));
    const taken = new Set(timeline.map((e) => e.atMs));
    for (const reading of fresh) {
      if (taken.has(reading.atMs)) duplicates.push(reading);
      else {
        taken.add(reading.atMs);
        timeline.push({ atMs: reading.atMs, micro: reading.micro, polled: reading.source === 'gateway', fresh: reading });
      }
    }
    timeline.sort((a, b) => a.atMs - b.atMs);
    const meter = fresh[0]!.meter;
    const before = (i: number) => timeline.slice(Math.max(0, i - SPIKE_WINDOW - 1), i);
    for (let i = 0; i < timeline.length; i++) {
      const entry = timeline[i]!;
      if (entry.fresh) {
        toInsert.push({ ...entry.fresh, anomalies: detectAnomalies(before(i), entry, meter) });
        originals.push(entry.fresh);
      }
      else if (entry.stored && timeline[i - 1]?.fresh) {
        // A late reading now sits before a stored one: the stored one's judgement may change.
        const anomalies = detectAnomalies(before(i), entry, meter);
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

const COLUMNS = sql`id::text as id, meter_id::text as meter_id, (extract(epoch from read_at) * 1000)::bigint::text as ms, value::text as value, source, anomalies::text as anomalies`;

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
  // One row per meter with its points packed in text ("ms:value,ms:value", in no particular order: the
  // caller sorts): tens of thousands of rows through the driver cost more than the index scans that
  // find them. The aggregate is computed once per meter in a LATERAL join (a filter on a subquery's
  // output column would evaluate it twice), and the time is taken with date_part, which is exact for
  // the millisecond times this table holds (every row comes through insertRows) and much cheaper than
  // numeric extract().
  const packed = rowsOf<{ m: string; p: string }>(
    await tx.execute(sql`
      select q.m::text as m, n.p
      from json_to_recordset(${JSON.stringify(spans.map((s) => ({ m: s.m })))}::json) as q(m uuid)
      cross join lateral (
        select string_agg((date_part('epoch', r.read_at) * 1000)::int8::text || ':' || r.value::text || case when r.source = 'gateway' then '' else ':m' end, ',') as p
        from (select read_at, value, source from ${meterReadings} where meter_id = q.m order by read_at desc limit ${SPIKE_WINDOW + 1}) as r
      ) as n
      where n.p is not null`),
  );
  const newest = new Map<string, StoredPoint[]>();
  for (const row of packed) {
    const points: StoredPoint[] = [];
    for (const pair of row.p.split(',')) {
      // "ms:value", or "ms:value:m" for a reading not polled by a gateway (hand-read, imported).
      const [ms, value, manual] = pair.split(':');
      // Only the exact query below feeds successor re-judging, which needs id and anomalies.
      points.push({ id: '', atMs: Number(ms), micro: microOfNumeric(value!), polled: manual === undefined, anomalies: [] });
    }
    newest.set(row.m, points);
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
  for (const r of rowsOf<{ id: string; meter_id: string; ms: string; value: string; source: string; anomalies: string }>(result)) {
    const point: StoredPoint = { id: r.id, atMs: Number(r.ms), micro: microOfNumeric(r.value), polled: r.source === 'gateway', anomalies: JSON.parse(r.anomalies) as ReadingAnomaly[] };
    const list = out.get(r.meter_id);
    if (list) list.push(point);
    else out.set(r.meter_id, [point]);
  }
  return out;
}

/** numeric(20, 6) as PostgreSQL prints it ("100.500000") in micro-units. */
function microOfNumeric(text: string): bigint {
  // The column's scale is 6, so PostgreSQL prints exactly six decimals: drop the point and read the integer.
  const point = text.indexOf('.');
  if (point > 0 && point === text.length - 7) return BigInt(text.slice(0, point) + text.slice(point + 1));
  const [whole, frac = ''] = text.split('.');
  const negative = whole!.startsWith('-');
  const micro = BigInt(whole!.replace('-', '')) * 1_000_000n + BigInt(frac.padEnd(6, '0').slice(0, 6));
  return negative ? -micro : micro;
}

/**
 * Writes the rows; returns the keys of those written. The pre-checks above find the usual duplicates
 * (a redelivered message: the same meter and read time), so the batch is first written by a plain
 * INSERT inside a savepoint, which costs PostgreSQL about a sixth less than INSERT ... ON CONFLICT
 * (no speculative insertion). If that meets a unique index anyway (a duplicate the pre-checks cannot
 * see: a gateway sequence number stored under another read time, or a concurrent writer that
 * committed the same reading meanwhile), the savepoint is rolled back and the batch is written again
 * with ON CONFLICT DO NOTHING, which skips exactly the rows already there.
 *
 * The rows travel as one JSON parameter with short keys, absent keys being NULL; the two jsonb
 * columns are read as text and cast, which PostgreSQL does faster than json_to_recordset's own jsonb
 * conversion.
 */
async function insertRows(tx: Database, rows: readonly StoredReading[], receivedAt: Date): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const json = JSON.stringify(
    rows.map((r) => ({
      m: r.meter.id,
      t: new Date(r.atMs).toISOString(),
      v: r.value,
      j: r.values,
      s: r.source,
      g: r.gatewayId ?? undefined,
      q: r.gatewaySeq ?? undefined,
      a: r.anomalies.length > 0 ? r.anomalies : undefined,
      e: r.enteredBy ?? undefined,
    })),
  );
  const insert = (onConflict: SQL) => sql`
    insert into ${meterReadings} (meter_id, read_at, value, "values", source, gateway_id, gateway_seq, anomalies, entered_by, received_at)
    select r.m, r.t, r.v, r.j::jsonb, r.s, r.g, r.q, coalesce(r.a::jsonb, '[]'::jsonb), r.e, ${receivedAt.toISOString()}::timestamptz
    from json_to_recordset(${json}::json) as r(m uuid, t timestamptz, v numeric, j text, s text, g uuid, q bigint, a text, e uuid)
    ${onConflict}
    returning meter_id::text as meter_id, (date_part('epoch', read_at) * 1000)::int8::text as ms`;
  let result: unknown;
  try {
    result = await tx.transaction((savepoint) => savepoint.execute(insert(sql``)));
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // No conflict target: either unique index, (meter, read time) or (gateway, sequence), means "already here".
    result = await tx.execute(insert(sql`on conflict do nothing`));
  }
  return new Set(rowsOf<{ meter_id: string; ms: string }>(result).map((r) => keyOf(r.meter_id, Number(r.ms))));
}
