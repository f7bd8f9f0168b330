import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../test/harness.js';
import { createLogger } from './http/logger.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ jobs: 'bullmq', env: { BODY_LIMIT_BYTES: '2000' } });
});
afterAll(() => h.close());

describe('operations endpoints', () => {
  it('answers /healthz and /readyz with the database and queue checked', async () => {
    expect((await h.app.request('/healthz')).status).toBe(200);
    const ready = await h.app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true, kind: 'postgres' }, queue: { ok: true, kind: 'bullmq' } } });
  });

  it('exposes Prometheus metrics with request counts by route pattern', async () => {
    await h.app.request('/healthz');
    const text = await (await h.app.request('/metrics')).text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('serves an OpenAPI 3.1 document with the routes, the problem schema and bearer security', async () => {
    const doc = (await (await h.app.request('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/healthz', '/readyz', '/v1/auth/sms-codes', '/v1/auth/staff-login', '/v1/me/house-bindings', '/v1/me/houses/{houseId}/members']) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    expect(doc.components.securitySchemes).toHaveProperty('bearer');
    expect(doc.components.schemas).toHaveProperty('Problem');
    expect(doc.paths['/v1/auth/sms-codes']!['post']!.responses).toHaveProperty('429');
  });

  it('serves the browsable reference page and its assets locally', async () => {
    const page = await h.app.request('/docs');
    expect(await page.text()).toContain('/docs/assets/swagger-ui-bundle.js');
    const bundle = await h.app.request('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await h.app.request('/docs/assets/..%2F..%2Fpackage.json')).status).toBe(404);
  });
});

describe('errors are problem+json with a stable type', () => {
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    h.app.request('/v1/auth/staff-login', { method: 'POST', headers, body });

  it.each([
    ['malformed JSON', '{"username": "a",', '/problems/malformed-json', 400],
    ['wrong types', '{"username": 5, "password": []}', '/problems/validation-failed', 400],
    ['unknown fields', '{"username": "a", "password": "b", "role": "super_admin"}', '/problems/validation-failed', 400],
    ['a body over the limit', JSON.stringify({ username: 'a', password: 'x'.repeat(5000) }), '/problems/payload-too-large', 413],
  ])('%s', async (_name, body, type, status) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await res.json()) as { type: string; title: string; status: number; requestId: string };
    expect(problem).toMatchObject({ type, status });
    expect(problem.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('refuses a body that is not JSON at all', async () => {
    for (const headers of [{ 'content-type': 'application/x-www-form-urlencoded' }, {} as Record<string, string>]) {
      const res = await post('username=a&password=b', headers);
      expect(res.status).toBe(415);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(((await res.json()) as { type: string }).type).toBe('/problems/unsupported-media-type');
    }
  });

  it('answers unknown routes with a not-found problem and echoes a caller request id', async () => {
    const res = await h.app.request('/v1/nothing-here', { headers: { 'x-request-id': 'trace-123' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    expect(((await res.json()) as { type: string }).type).toBe('/problems/not-found');
  });
});

describe('logs', () => {
  it('never print phone numbers, ID numbers, passwords or tokens', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('info', sink);
    log.info({ phone: '13812341234', body: { idNumber: '11010519491231002X', password: 'hunter22' }, req: { headers: { authorization: 'Bearer abc.def' } } }, 'x');
    const out = lines.join('');
    for (const secret of ['13812341234', '11010519491231002X', 'hunter22', 'abc.def']) expect(out).not.toContain(secret);
  });
});
