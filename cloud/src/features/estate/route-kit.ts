import { z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../context.js';
import { requirePrincipal, requireStaff } from '../../http/auth-middleware.js';
import { Problem } from '../../http/problem.js';
import type { Permission } from '../rbac/permissions.js';

// Building blocks the estate, staff and audit routers share. They sit here rather than in http/ only
// because this is where their author was asked to work; they belong in http/ once the team agrees.

/** RFC 9457 body as app.onError renders it; documented once and referenced from every route. */
export const ProblemDetails = z
  .object({
    type: z.string().openapi({ example: '/problems/forbidden' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string() })).optional(),
  })
  .openapi('ProblemDetails');

const PROBLEM_DESCRIPTIONS = {
  400: 'Invalid input (validation-failed, malformed-json)',
  401: 'No token, or an invalid or expired one (unauthenticated, invalid-token)',
  403: 'The role lacks the permission, or the community is outside the caller’s scope (forbidden)',
  404: 'No such resource in this community (not-found)',
  409: 'Conflicts with the current state (conflict)',
  413: 'The body is over the size limit (payload-too-large)',
  415: 'The body is not JSON (unsupported-media-type)',
} as const;

type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS;
type ProblemResponse = { description: string; content: { 'application/problem+json': { schema: typeof ProblemDetails } } };

/**
 * OpenAPI response entries for the problem statuses a route can answer with.
 *
 * @example
 * responses: { 200: {...}, ...problemResponses(400, 401, 403) }
 */
export function problemResponses<const S extends readonly ProblemStatus[]>(...statuses: S): { [K in S[number]]: ProblemResponse } {
  const out: Partial<Record<ProblemStatus, ProblemResponse>> = {};
  for (const status of statuses) {
    out[status] = { description: PROBLEM_DESCRIPTIONS[status], content: { 'application/problem+json': { schema: ProblemDetails } } };
  }
  return out as { [K in S[number]]: ProblemResponse };
}

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
