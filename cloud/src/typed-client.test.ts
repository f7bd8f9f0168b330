import { hc } from 'hono/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCompany, createStaff } from '../test/actors.js';
import { createHarness, type Harness } from '../test/harness.js';
import type { AppType } from './app.js';

// DESIGN.md promises clients typed through Hono's AppType: the H5 and a future mini-program call the API
// with paths, bodies and responses checked by the compiler. This proves the type carries real routes.
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

it('drives the API through hc<AppType> with typed paths, bodies and responses', async () => {
  const { company } = await createCompany(h);
  const { username, password } = await createStaff(h, company.id, 'customer_service');
  const client = hc<AppType>('http://local', { fetch: (input: string | URL | Request, init?: RequestInit) => h.app.request(input instanceof Request ? input.url : input, init) });

  // Never called: compile-time checks only. If AppType degraded to `any`, these directives would be
  // unused and `npm run typecheck` would fail.
  const compileTimeOnly = () => {
    // @ts-expect-error no such route
    void client.v1.auth['no-such-login'];
    // @ts-expect-error the password is missing
    void client.v1.auth['staff-login'].$post({ json: { username } });
  };
  void compileTimeOnly;

  const login = await client.v1.auth['staff-login'].$post({ json: { username, password } });
  expect(login.status).toBe(200);
  if (login.status !== 200) return;
  const tokens = await login.json();
  // `role` is typed as the staff role union: a typo here would not compile.
  expect(tokens.staff.role satisfies 'super_admin' | 'finance' | 'customer_service' | 'technician' | 'gate_guard').toBe('customer_service');

  const me = await client.v1.me.$get({}, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
  const body = await me.json();
  expect(body.kind === 'staff' && body.permissions).toContain('roster:import');
});
