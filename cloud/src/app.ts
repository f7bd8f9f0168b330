import { randomUUID } from 'node:crypto';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from './context.js';
import { apiReference } from './http/api-reference.js';
import { authenticate } from './http/auth-middleware.js';
import { Problem } from './http/problem.js';
import { createRouter } from './http/router.js';
import { healthRoutes } from './features/health/health.routes.js';
import { authRoutes } from './features/auth/auth.routes.js';
import { estateRoutes } from './features/estate/estate.routes.js';
import { bindingRoutes } from './features/people/binding.routes.js';
import { staffRoutes } from './features/staff/staff.routes.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { rosterRoutes } from './features/roster/roster.routes.js';
import { meterRoutes } from './features/meters/meters.index.js';
import { gatewayRoutes } from './features/gateways/gateways.routes.js';
import { doorRoutes } from './features/doors/doors.routes.js';
import { billingRoutes } from './features/billing/billing.index.js';
import { pageRoutes } from './web/pages.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function problemResponse(c: Context<AppEnv>, problem: Problem): Response {
  const body = problem.toBody(c.req.path);
  const requestId = c.get('requestId');
  return c.newResponse(JSON.stringify({ ...body, requestId }), problem.status as 400, {
    ...problem.headers,
    'content-type': 'application/problem+json',
  });
}

/**
 * Builds the HTTP application. Everything it touches arrives in `deps`, so tests build one per file
 * against their own database schema and queue prefix and call it with `app.request(...)`.
 *
 * @example
 * const app = createApp(deps);
 * const res = await app.request('/healthz');
 */
export function createApp(deps: AppDeps) {
  const app = createRouter();

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('deps', deps);
    c.set('requestId', requestId);
    c.set('log', deps.log.child({ requestId }));
    c.header('x-request-id', requestId);
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath === '/*' || !c.req.routePath ? 'unmatched' : c.req.routePath;
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    deps.metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    // The path is logged, never the query string or body: those may carry phone or ID numbers.
    c.get('log').info({ method: c.req.method, route, path: c.req.path, status: c.res.status, ms: Math.round(seconds * 1000) }, 'request');
  });
  app.use('*', secureHeaders({ crossOriginResourcePolicy: false, contentSecurityPolicy: undefined }));
  app.use('/v1/*', async (c, next) => {
    const isUpload = c.req.method === 'POST' && /\/roster-imports$/.test(c.req.path);
    const maxSize = isUpload ? deps.config.UPLOAD_LIMIT_BYTES : deps.config.BODY_LIMIT_BYTES;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new Problem('payload-too-large', `The body exceeds the limit of ${maxSize} bytes`, { limitBytes: maxSize });
      },
    })(c, next);
  });
  app.use('/v1/*', authenticate);

  app.onError((error, c) => {
    if (error instanceof Problem) return problemResponse(c, error);
    if (error instanceof HTTPException) {
      if (error.status === 400 && /JSON/i.test(error.message)) return problemResponse(c, new Problem('malformed-json', error.message));
      if (error.status === 413) return problemResponse(c, new Problem('payload-too-large'));
      if (error.status === 415) return problemResponse(c, new Problem('unsupported-media-type', error.message));
      if (error.status === 400) return problemResponse(c, new Problem('validation-failed', error.message));
    }
    c.get('log').error({ err: error }, 'unhandled error');
    return problemResponse(c, new Problem('internal', 'Something went wrong on our side; quote the request id when reporting it'));
  });
  app.notFound((c) => problemResponse(c, new Problem('not-found', `No route for ${c.req.method} ${c.req.path}`)));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });

  const routes = app
    .route('/', healthRoutes)
    .route('/v1', authRoutes)
    .route('/v1', estateRoutes)
    .route('/v1', bindingRoutes)
    .route('/v1', staffRoutes)
    .route('/v1', auditRoutes)
    .route('/v1', rosterRoutes)
    .route('/v1', gatewayRoutes)
    .route('/v1', meterRoutes)
    .route('/v1', doorRoutes)
    .route('/v1', billingRoutes);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Estate platform API',
      version: '1.0.0',
      description:
        'Property management for residential communities. Errors are application/problem+json (RFC 9457); the `type` member is stable. Money is integer fen.',
    },
    servers: [{ url: deps.config.PUBLIC_URL ?? '/' }],
  });
  app.route('/', apiReference);
  app.route('/', pageRoutes);
  return routes;
}

export type AppType = ReturnType<typeof createApp>;
