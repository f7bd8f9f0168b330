import { z } from '@hono/zod-openapi';
import { PROBLEM_TYPES } from './problem.js';

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: '/problems/validation-failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() }).passthrough()).optional(),
  })
  .passthrough()
  .openapi('Problem');

const STATUS_TEXT: Record<number, string> = Object.fromEntries(Object.values(PROBLEM_TYPES).map((p) => [p.status, p.title]));

/** OpenAPI responses for the problem statuses a route can answer, all as application/problem+json. */
export function problemResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: STATUS_TEXT[status] ?? 'Problem', content: { 'application/problem+json': { schema: ProblemSchema } } }]),
  ) as Record<S, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
}
