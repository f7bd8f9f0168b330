import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { SMS_CODE_TTL_SECONDS } from './sms-login.js';
import { STAFF_LOCK_SECONDS } from './staff-login.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

let phoneCounter = 0;
/** A fresh phone and a fresh client address per test, so the send limits of one test do not leak into another. */
function freshPhone(): { phone: string; ip: string } {
  phoneCounter++;
  return { phone: `1390000${String(phoneCounter).padStart(4, '0')}`, ip: `10.9.0.${phoneCounter}` };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return h.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function latestCode(phone: string): Promise<string> {
  const res = await h.app.request(`/v1/dev/sms-outbox?phone=${phone}`);
  const { items } = (await res.json()) as { items: { body: string }[] };
  const match = /(\d{6})/.exec(items[0]?.body ?? '');
  if (!match) throw new Error('no code in outbox');
  return match[1]!;
}

describe('resident SMS login', () => {
  it('sends a code, logs in with it once, and shows only a masked phone', async () => {
    const { phone, ip } = freshPhone();
    const sent = await post('/v1/auth/sms-codes', { phone: `+86 ${phone}` }, { 'x-forwarded-for': ip });
    expect(sent.status).toBe(202);
    expect(await sent.json()).toEqual({ expiresInSeconds: 300, resendAfterSeconds: 60 });
    const code = await latestCode(phone);

    const login = await post('/v1/auth/resident-login', { phone, code });
    expect(login.status).toBe(200);
    const body = (await login.json()) as { accessToken: string; refreshToken: string; resident: { phoneMasked: string } };
    expect(body.resident.phoneMasked).toBe(`${phone.slice(0, 3)}****${phone.slice(-4)}`);

    const me = await h.app.request('/v1/me', { headers: { authorization: `Bearer ${body.accessToken}` } });
    expect(await me.json()).toMatchObject({ kind: 'resident', phoneMasked: body.resident.phoneMasked });

    const again = await post('/v1/auth/resident-login', { phone, code });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { type: string }).type).toBe('/problems/sms-code-invalid');
  });

  it('limits sending: a second code within a minute is refused with Retry-After', async () => {
    const { phone, ip } = freshPhone();
    expect((await post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip })).status).toBe(202);
    const second = await post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip });
    expect(second.status).toBe(429);
    expect(second.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    h.advance(61_000);
    expect((await post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip })).status).toBe(202);
  });

  it('limits sending per address across many phones', async () => {
    const ip = '10.77.0.1';
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await post('/v1/auth/sms-codes', { phone: `1370000${String(i).padStart(4, '0')}` }, { 'x-forwarded-for': ip })).status);
    expect(statuses.slice(0, 20).every((s) => s === 202)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  it('kills a code after five wrong guesses, even if the sixth is right', async () => {
    const { phone, ip } = freshPhone();
    await post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip });
    const code = await latestCode(phone);
    const wrong = code === '000000' ? '111111' : '000000';
    const lefts: unknown[] = [];
    for (let i = 0; i < 5; i++) lefts.push(((await (await post('/v1/auth/resident-login', { phone, code: wrong })).json()) as { attemptsLeft: number }).attemptsLeft);
    expect(lefts).toEqual([4, 3, 2, 1, 0]);
    const right = await post('/v1/auth/resident-login', { phone, code });
    expect(right.status).toBe(400);
  });

  it('expires a code after five minutes', async () => {
    const { phone, ip } = freshPhone();
    await post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip });
    const code = await latestCode(phone);
    h.advance((SMS_CODE_TTL_SECONDS + 1) * 1000);
    const res = await post('/v1/auth/resident-login', { phone, code });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/request a new one/);
  });

  it('rejects bad phone numbers, bad code shapes and unknown fields with every problem listed', async () => {
    const res = await post('/v1/auth/resident-login', { phone: '12345', code: 'abc', extra: true });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; errors: { path: string }[] };
    expect(body.type).toBe('/problems/validation-failed');
    expect(body.errors.map((e) => e.path).sort()).toEqual(['', 'code', 'phone'].sort());
  });

  it('hides the outbox from anonymous callers who do not name a phone', async () => {
    expect((await h.app.request('/v1/dev/sms-outbox')).status).toBe(401);
  });
});

describe('staff login and sessions', () => {
  it('logs in with argon2id password, rotates refresh tokens and revokes the session on reuse', async () => {
    const { company } = await createCompany(h);
    const { username, password } = await createStaff(h, company.id, 'finance');
    const login = await post('/v1/auth/staff-login', { username, password });
    expect(login.status).toBe(200);
    const first = (await login.json()) as { accessToken: string; refreshToken: string; staff: { role: string } };
    expect(first.staff.role).toBe('finance');

    const rotated = await post('/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(rotated.status).toBe(200);
    const second = (await rotated.json()) as { accessToken: string; refreshToken: string };
    expect(second.refreshToken).not.toBe(first.refreshToken);

    // The old token again: theft is assumed and the whole session dies, including the new tokens.
    const reuse = await post('/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect((await post('/v1/auth/refresh', { refreshToken: second.refreshToken })).status).toBe(401);
    expect((await h.app.request('/v1/me', { headers: { authorization: `Bearer ${second.accessToken}` } })).status).toBe(401);
  });

  it('logout makes the access token and refresh token useless at once', async () => {
    const { company } = await createCompany(h);
    const { username, password } = await createStaff(h, company.id, 'technician');
    const tokens = (await (await post('/v1/auth/staff-login', { username, password })).json()) as { accessToken: string; refreshToken: string };
    const auth = { authorization: `Bearer ${tokens.accessToken}` };
    expect((await h.app.request('/v1/me', { headers: auth })).status).toBe(200);
    expect((await h.app.request('/v1/auth/logout', { method: 'POST', headers: auth })).status).toBe(204);
    const after = await h.app.request('/v1/me', { headers: auth });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { type: string }).type).toBe('/problems/invalid-token');
    expect((await post('/v1/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(401);
  });

  it('locks an account after five wrong passwords, then lets the right one in after the lock', async () => {
    const { company } = await createCompany(h);
    const { username, password } = await createStaff(h, company.id, 'gate_guard');
    for (let i = 0; i < 5; i++) expect((await post('/v1/auth/staff-login', { username, password: 'wrong password!' })).status).toBe(401);
    const locked = await post('/v1/auth/staff-login', { username, password });
    expect(locked.status).toBe(423);
    h.advance((STAFF_LOCK_SECONDS + 1) * 1000);
    expect((await post('/v1/auth/staff-login', { username, password })).status).toBe(200);
  });

  it('answers an unknown username exactly like a wrong password', async () => {
    const res = await post('/v1/auth/staff-login', { username: 'nobody-here', password: 'whatever123' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toBe('Wrong username or password');
  });

  it('rejects garbage, tampered and foreign tokens', async () => {
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const res = await h.app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
    }
    expect((await h.app.request('/v1/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await h.app.request('/v1/me')).status).toBe(401);
  });

  it('records logins in the audit log without phone numbers in clear', async () => {
    const { auditEvents } = await import('../audit/audit.schema.js');
    const rows = await h.deps.db.select().from(auditEvents);
    expect(rows.some((r) => r.action === 'staff.login' && r.outcome === 'failure')).toBe(true);
    expect(rows.some((r) => r.action === 'resident.login' && r.outcome === 'success')).toBe(true);
    expect(JSON.stringify(rows)).not.toMatch(/1390000\d{4}/);
  });
});

describe('limits hold under parallel requests', () => {
  it('counts 40 parallel wrong codes one by one: at most 5 are tried', async () => {
    const { phone, ip } = freshPhone();
    await post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip });
    const code = await latestCode(phone);
    const wrong = code === '000000' ? '111111' : '000000';
    const answers = await Promise.all(Array.from({ length: 40 }, () => post('/v1/auth/resident-login', { phone, code: wrong }).then((r) => r.json() as Promise<{ detail: string }>)));
    expect(answers.filter((a) => /attempt\(s\) left/.test(a.detail))).toHaveLength(4);
    expect((await post('/v1/auth/resident-login', { phone, code })).status).toBe(400);
  });

  it('sends one code for ten parallel requests to one phone', async () => {
    const { phone, ip } = freshPhone();
    const statuses = await Promise.all(Array.from({ length: 10 }, () => post('/v1/auth/sms-codes', { phone }, { 'x-forwarded-for': ip }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
  });

  it('locks a username after five parallel wrong passwords, and answers unknown usernames the same way', async () => {
    const { company } = await createCompany(h);
    const { username, password } = await createStaff(h, company.id, 'finance');
    await Promise.all(Array.from({ length: 30 }, () => post('/v1/auth/staff-login', { username, password: 'wrong password!' })));
    const locked = await post('/v1/auth/staff-login', { username, password });
    expect(locked.status).toBe(423);

    const ghost = `ghost-${Date.now()}`;
    for (let i = 0; i < 5; i++) await post('/v1/auth/staff-login', { username: ghost, password: 'wrong password!' });
    const ghostLocked = await post('/v1/auth/staff-login', { username: ghost, password: 'anything12' });
    expect(ghostLocked.status).toBe(423);
    const [a, b] = (await Promise.all([locked.json(), ghostLocked.json()])) as { detail: string }[];
    expect(a!.detail.replace(/\d+/g, 'N')).toBe(b!.detail.replace(/\d+/g, 'N'));
  });

  it('treats usernames without regard to case', async () => {
    const { company } = await createCompany(h);
    const { username, password } = await createStaff(h, company.id, 'technician');
    expect((await post('/v1/auth/staff-login', { username: username.toUpperCase(), password })).status).toBe(200);
  });
});

describe('client address', () => {
  it('ignores a forged X-Forwarded-For when no proxy is trusted', async () => {
    const direct = await createHarness({ env: { TRUST_PROXY_HOPS: '0' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) {
        const res = await direct.app.request('/v1/auth/sms-codes', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${i}` },
          body: JSON.stringify({ phone: `1350000${String(i).padStart(4, '0')}` }),
        });
        statuses.push(res.status);
      }
      // All 21 come from the same socket address, whatever the header claims: the 21st is refused.
      expect(statuses.at(-1)).toBe(429);
    } finally {
      await direct.close();
    }
  });
});
