import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../test/actors.js';
import { createHarness, type Harness } from '../../test/harness.js';
import { migrate } from './migrate.js';

// The embedded mode `npm start` uses: the same migrations and the same queries on PGlite.
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ database: 'pglite' });
});
afterAll(() => h.close());

it('applies the committed migrations once and reports ready on PGlite', async () => {
  expect(await migrate(h.deps.db, h.deps.database.schemaName)).toEqual({ applied: [], alreadyApplied: expect.any(Number) });
  const ready = await h.app.request('/readyz');
  expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { kind: 'pglite', ok: true } } });
});

it('runs a staff login and an SMS login end to end', async () => {
  const { company } = await createCompany(h);
  const { username, password } = await createStaff(h, company.id, 'super_admin');
  const login = await h.app.request('/v1/auth/staff-login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  expect(login.status).toBe(200);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const me = (await (await h.app.request('/v1/me', { headers: { authorization: `Bearer ${accessToken}` } })).json()) as { role: string; permissions: string[] };
  expect(me.role).toBe('super_admin');
  expect(me.permissions).toContain('audit:read');

  const phone = '13912345678';
  expect((await h.app.request('/v1/auth/sms-codes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone }) })).status).toBe(202);
  const outbox = (await (await h.app.request(`/v1/dev/sms-outbox?phone=${phone}`)).json()) as { items: { body: string }[] };
  const code = /(\d{6})/.exec(outbox.items[0]!.body)![1];
  const resident = await h.app.request('/v1/auth/resident-login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, code }) });
  expect(resident.status).toBe(200);
});
