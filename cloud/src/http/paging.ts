import { z } from '@hono/zod-openapi';
import { invalid } from './route-kit.js';

/** Page size: at most 200, so one request never drags a whole community's table through the API. */
export const Limit = z.coerce.number().int().min(1).max(200).default(50).openapi({ description: 'Page size, 1–200', example: 50 });

/** Rows to skip, for small lists that report a `total`. */
export const Offset = z.coerce.number().int().min(0).max(1_000_000).default(0).openapi({ description: 'Rows to skip' });

/** Opaque position returned as `nextCursor` by the previous page. */
export const Cursor = z.string().max(1000).optional().openapi({ description: 'The nextCursor of the previous page' });

/**
 * Encodes a keyset position (the sort key of the last row) as an opaque token. Keyset rather than
 * offset for the big lists, so page 500 costs what page 1 does and rows inserted meanwhile do not shift pages.
 *
 * @example
 * encodeCursor(['1', '2', 3, '301', houseId]) // 'WyIxIiwiMiIsMywiMzAxIiwi…'
 */
export function encodeCursor(values: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}, checking its shape; a forged or stale one is a 400. */
export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return invalid('cursor', 'is not a cursor this endpoint issued');
  }
  const parsed = shape.safeParse(raw);
  if (!parsed.success) return invalid('cursor', 'is not a cursor this endpoint issued');
  return parsed.data;
}

/** Splits `limit + 1` fetched rows into the page and the cursor of its last row, if more follow. */
export function keysetPage<Row>(rows: Row[], limit: number, keyOf: (row: Row) => readonly unknown[]): { items: Row[]; nextCursor: string | null } {
  if (rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  return { items, nextCursor: encodeCursor(keyOf(items.at(-1)!)) };
}
