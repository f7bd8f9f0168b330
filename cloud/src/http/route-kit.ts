import { z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context.js';
import { requirePrincipal, requireStaff } from './auth-middleware.js';
import { Problem } from './problem.js';
import type { Permission } from '../features/rbac/permissions.js';

// Building blocks every feature router shares; problem responses come from openapi.ts.

/** A required JSON request body; `schema` should be a `z.strictObject` so unknown fields are refused. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { 'application/json': { schema } } } as const;
}

/** A JSON success response. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

/**
 * Route middleware: the caller is staff and the role holds `permission`. It runs before request
 * validation, so an anonymous or unprivileged caller gets 401/403 and never learns what a valid body
 * looks like. Community scope is checked in the handler, once the path parameter is validated.
 */
export function staffOnly(permission: Permission) {
  return createMiddleware<AppEnv>(async (c, next) => {
    requireStaff(c, permission);
    await next();
  });
}

/** Route middleware: any authenticated caller, resident or staff. */
export const signedIn = createMiddleware<AppEnv>(async (c, next) => {
  requirePrincipal(c);
  await next();
});

/** Throws a validation-failed problem shaped like the router's own, for checks zod cannot make. */
export function invalid(path: string, message: string): never {
  throw new Problem('validation-failed', `${path}: ${message}`, { errors: [{ path, message, code: 'custom' }] });
}

/** Free text a person types (names, addresses): trimmed, no control characters. */
export function humanText(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters');
}

/** Turns user text into a LIKE pattern that matches it literally anywhere (%, _ and \ escaped). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** True when a database error is a unique-constraint violation (SQLSTATE 23505), however it is wrapped. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

export const bearerSecurity = [{ bearer: [] }];

/** The `{communityId}` path parameter every community-scoped route takes. */
export const CommunityParams = z.object({ communityId: z.uuid().openapi({ param: { name: 'communityId', in: 'path' } }) });
