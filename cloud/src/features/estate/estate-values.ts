import { z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { invalid } from '../../http/route-kit.js';

// Value shapes of the estate domain that requests carry: floor areas, time zones, licence plates.

/**
 * Floor area in m² as a decimal string with at most two decimals ("89.5", "89.50"), the precision of
 * `houses.floor_area_m2 numeric(10,2)`. Strings, not JSON numbers, so the value the client typed is the
 * value stored: the property fee is area × unit price and must not inherit binary float error.
 */
export const FloorAreaM2 = z
  .string()
  .regex(/^\d{1,8}(\.\d{1,2})?$/, { error: 'must be a decimal number of square metres with at most two decimals, e.g. "89.50"', abort: true })
  .refine((s) => /[1-9]/.test(s), 'must be greater than zero')
  .openapi({ example: '89.50', description: 'm², decimal string, two decimals at most' });

/**
 * A validated {@link FloorAreaM2} in the canonical form PostgreSQL returns for numeric(10,2), so a
 * request's value and a stored one compare as strings.
 *
 * @example
 * canonicalArea('089.5') // '89.50'
 */
export function canonicalArea(area: string): string {
  const [whole, fraction = ''] = area.split('.');
  return `${BigInt(whole!)}.${fraction.padEnd(2, '0')}`;
}

const IANA_NAMES = new Set(Intl.supportedValuesOf('timeZone'));

/**
 * The canonical spelling of an IANA time zone name, or null. `Intl.supportedValuesOf` lists only
 * canonical zones (not "UTC" nor links such as "Asia/Kolkata"), so names it lacks are tried on
 * `Intl.DateTimeFormat`; abbreviations such as "EST", which ICU silently maps to some city, are refused.
 *
 * @example
 * ianaTimeZone('asia/shanghai') // 'Asia/Shanghai'
 * ianaTimeZone('EST')           // null
 */
export function ianaTimeZone(name: string): string | null {
  if (IANA_NAMES.has(name)) return name;
  if (name !== 'UTC' && !/^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+$/.test(name)) return null;
  try {
    const resolved = new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
    // Keep what the caller asked for (a link like Asia/Kolkata stays itself), only fixing the case.
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  } catch {
    return null;
  }
}

export const TimeZone = z
  .string()
  .max(64)
  .transform((name, ctx) => {
    const zone = ianaTimeZone(name);
    if (!zone) {
      ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone name such as "Asia/Shanghai"' });
      return z.NEVER;
    }
    return zone;
  })
  .openapi({ type: 'string', example: 'Asia/Shanghai', description: 'IANA time zone name' });

/**
 * Refuses (400 on `timeZone`) a zone that ICU accepts but PostgreSQL does not: Node and the database
 * ship different tz data (ICU still knows US/Pacific-New, Canada/East-Saskatchewan, SystemV/AST4), and
 * a community with such a zone would make every query that reads the time there (`at time zone`) fail.
 *
 * @example
 * if (body.timeZone) await assertDatabaseTimeZone(db, body.timeZone);
 */
export async function assertDatabaseTimeZone(db: Database, zone: string): Promise<void> {
  const rows = rowsOf(await db.execute(sql`select 1 from pg_timezone_names where name = ${zone}`));
  if (rows.length === 0) invalid('timeZone', `"${zone}" is not a time zone the database knows; use a current IANA name such as "Asia/Shanghai"`);
}

/**
 * Licence plates as stored in `vehicles.plate`: full-width characters folded (NFKC), upper case, and
 * the separators people and cameras insert ("沪A·12345", "粤B D1234.5") removed.
 *
 * @example
 * normalizePlate(' 沪a·123 45 ') // '沪A12345'
 */
export function normalizePlate(input: string): string {
  return input
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[\s.·•・･]/gu, '');
}
