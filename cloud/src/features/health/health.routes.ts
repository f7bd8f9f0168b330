import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../../http/router.js';

const Check = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional(), kind: z.string().optional() });
const Readiness = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), Check) }).openapi('Readiness');

async function timed(kind: string, fn: () => Promise<void>): Promise<z.infer<typeof Check>> {
  const started = performance.now();
  try {
    await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 2000 ms')), 2000).unref())]);
    return { ok: true, kind, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, kind, latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

export const healthRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['Operations'],
      summary: 'Liveness: the process is up',
      responses: { 200: { description: 'Up', content: { 'application/json': { schema: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }) } } } },
    }),
    (c) => c.json({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }, 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['Operations'],
      summary: 'Readiness: database, job queue and MQTT broker answer',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
        503: { description: 'A dependency is down', content: { 'application/json': { schema: Readiness } } },
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const [database, queue, broker] = await Promise.all([
        timed(deps.database.kind, () => deps.database.ping()),
        timed(deps.jobs.kind, () => deps.jobs.ping()),
        // Left out while no broker is attached (tests and scripts without MQTT).
        deps.mqtt.kind === 'none' ? undefined : timed(deps.mqtt.kind, () => deps.mqtt.ping()),
      ]);
      const checks = { database, queue, ...(broker ? { broker } : {}) };
      const ready = Object.values(checks).every((check) => check.ok);
      return c.json({ status: ready ? ('ready' as const) : ('not_ready' as const), checks }, ready ? 200 : 503);
    },
  )
  .get('/metrics', async (c) => {
    const { registry } = c.get('deps').metrics;
    return c.text(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
