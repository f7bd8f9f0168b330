import { and, eq, inArray } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { Problem } from '../../http/problem.js';
import type { RosterTable } from '../roster/roster-file.js';
import { meterFacts, type MeterRow } from './meter-facts.js';
import { meters } from './meters.schema.js';
import { handReading, handReadingProblem, lockMeter } from './meters.service.js';
import { storeReadings, type NewReading } from './reading-store.js';

/** Header names accepted per column, compared case-insensitively without spaces, "_" or "-". */
const COLUMNS = {
  serialNo: ['serialno', '表号', '表计编号', 'serial'],
  readAt: ['readat', '抄表时间', '读数时间', 'time'],
  value: ['value', '读数', '表读数', 'reading'],
} as const;
type Column = keyof typeof COLUMNS;

export type ImportRowError = { row: number; column?: string; reason: string; path: string; message: string };
export type ImportSummary = { imported: number; meters: number; flagged: number };

const VALUE = /^\d{1,14}(\.\d{1,6})?$/;
const LOCAL_TIME = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The UTC offset (ms) of a time zone at an instant, from Intl: no time zone library needed. */
function zoneOffsetMs(atMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    .formatToParts(new Date(atMs))
    .reduce<Record<string, number>>((acc, p) => (p.type === 'literal' ? acc : { ...acc, [p.type]: Number(p.value) }), {});
  return Date.UTC(parts['year']!, parts['month']! - 1, parts['day']!, parts['hour']!, parts['minute']!, parts['second']!) - (atMs - (atMs % 1000));
}

/**
 * A read time as staff type it: ISO 8601 with an offset, or "2025-03-01 08:00" in the community's
 * time zone (meter readers write local wall-clock time). Null when it is neither or does not exist.
 */
export function parseReadTime(text: string, timeZone: string): number | null {
  if (ZONED_TIME.test(text)) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : ms;
  }
  const m = LOCAL_TIME.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(wall);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23) return null;
  // Two passes: the offset at the guessed instant can differ from the one at the answer across a DST change.
  let atMs = wall - zoneOffsetMs(wall, timeZone);
  atMs = wall - zoneOffsetMs(atMs, timeZone);
  return atMs;
}

function columnIndexes(header: string[]): Record<Column, number> {
  const norm = header.map((h) => h.toLowerCase().replace(/[\s_-]/g, ''));
  const out = {} as Record<Column, number>;
  const missing: string[] = [];
  for (const [column, names] of Object.entries(COLUMNS) as [Column, readonly string[]][]) {
    const index = norm.findIndex((h) => names.includes(h));
    if (index < 0) missing.push(`${column} (${names.join(' / ')})`);
    out[column] = index;
  }
  if (missing.length > 0) throw new Problem('unreadable-file', `The file lacks the column(s) ${missing.join(', ')}; row 1 must name serialNo, readAt and value`);
  return out;
}

class RowsRejected extends Error {
  constructor(readonly errors: ImportRowError[]) {
    super(`${errors.length} rows cannot be imported`);
  }
}

const rowError = (row: number, column: Column, reason: string): ImportRowError => ({ row, column, reason, path: `row ${row}.${column}`, message: reason });

/**
 * Imports hand-read meter readings (serialNo, readAt, value) into a community, all or nothing: every
 * bad row is reported (unknown serial number, unreadable time or value, a time after the meter was
 * replaced, a reading the meter already has, the same reading twice in the file) and then nothing is
 * written. Stored with source "import", judged like every other reading.
 *
 * @example
 * const summary = await importReadings(deps, { communityId, timeZone: 'Asia/Shanghai', table, staffId });
 */
export async function importReadings(
  deps: Pick<AppDeps, 'db' | 'now'>,
  options: { communityId: string; timeZone: string; table: RosterTable; staffId: string },
): Promise<ImportSummary> {
  const { table } = options;
  const col = columnIndexes(table.header);
  const nowMs = deps.now().getTime();
  const serials = [...new Set(table.rows.map((r) => r.cells[col.serialNo] ?? '').filter(Boolean))];
  const known = serials.length
    ? await deps.db.select().from(meters).where(and(eq(meters.communityId, options.communityId), inArray(meters.serialNo, serials)))
    : [];
  const bySerial = new Map<string, MeterRow>(known.map((m) => [m.serialNo, m]));

  const errors: ImportRowError[] = [];
  const planned: { row: number; reading: NewReading }[] = [];
  const seen = new Map<string, number>();
  for (const { rowNumber, cells } of table.rows) {
    const serial = cells[col.serialNo] ?? '';
    const time = cells[col.readAt] ?? '';
    const value = cells[col.value] ?? '';
    const meter = bySerial.get(serial);
    const atMs = parseReadTime(time, options.timeZone);
    const before = errors.length;
    if (!serial) errors.push(rowError(rowNumber, 'serialNo', 'is empty'));
    else if (!meter) errors.push(rowError(rowNumber, 'serialNo', `no meter with serial number "${serial.slice(0, 64)}" in this community`));
    if (atMs === null) errors.push(rowError(rowNumber, 'readAt', `"${time.slice(0, 40)}" is not a time (2025-03-01 08:00, local, or ISO 8601 with offset)`));
    if (!VALUE.test(value)) errors.push(rowError(rowNumber, 'value', `"${value.slice(0, 40)}" is not a non-negative decimal with at most 6 decimals`));
    if (errors.length > before || !meter || atMs === null) continue;
    const problem = handReadingProblem(meter, atMs, nowMs);
    if (problem) {
      errors.push(rowError(rowNumber, 'readAt', problem));
      continue;
    }
    const key = `${meter.id}@${atMs}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      errors.push(rowError(rowNumber, 'readAt', `row ${earlier} already gives this meter a reading at this time`));
      continue;
    }
    seen.set(key, rowNumber);
    planned.push({ row: rowNumber, reading: handReading(meterFacts(meter), { atMs, value }, 'import', options.staffId) });
  }
  if (errors.length > 0) throw invalidRows(errors);

  try {
    return await deps.db.transaction(async (tx) => {
      const meterIds = [...new Set(planned.map((p) => p.reading.meter.id))].sort();
      for (const id of meterIds) await lockMeter(tx, id);
      const { inserted, duplicates } = await storeReadings(
        tx,
        planned.map((p) => p.reading),
        deps.now(),
      );
      if (duplicates.length > 0) {
        const rowOf = new Map(planned.map((p) => [p.reading, p.row]));
        throw new RowsRejected(
          duplicates.map((d) => rowError(rowOf.get(d) ?? 0, 'readAt', `meter ${d.meter.id} already has a reading at ${new Date(d.atMs).toISOString()}`)).sort((a, b) => a.row - b.row),
        );
      }
      return { imported: inserted.length, meters: meterIds.length, flagged: inserted.filter((r) => r.anomalies.length > 0).length };
    });
  } catch (error) {
    if (error instanceof RowsRejected) throw invalidRows(error.errors);
    throw error;
  }
}

function invalidRows(errors: ImportRowError[]): Problem {
  return new Problem('validation-failed', `${errors.length} row(s) cannot be imported; nothing was written. Fix every listed row and upload again`, { errors });
}
