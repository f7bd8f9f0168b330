import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../context.js';
import { Problem } from './problem.js';

/**
 * Every feature's router. Request validation failures become one problem+json listing every issue,
 * with the path of each offending field.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
        throw new Problem('validation-failed', issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), { errors: issues });
      }
      return undefined;
    },
  });
}

export type Router = ReturnType<typeof createRouter>;
