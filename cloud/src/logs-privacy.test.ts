import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCompany, createStaff } from '../test/actors.js';
import { createHarness, type Harness } from '../test/harness.js';
import { buildings, houses, units } from './features/estate/estate.schema.js';
import { rosterOwners } from './features/people/people.schema.js';

// What the running app writes to its log during real flows, not what the redaction list promises.
const lines: string[] = [];
let h: Harness;
beforeAll(async () => {
  h = await createHarness({
    logTo: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
});
afterAll(() => h.close());

const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

it('keeps phone numbers, ID numbers, SMS codes, passwords and tokens out of the log', async () => {
  const phone = '13912348765';
  const idNumber = '11010519491231002X';
  const { company, communities } = await createCompany(h);
  const communityId = communities['A']!.id;
  const [b] = await h.deps.db.insert(buildings).values({ communityId, name: '1' }).returning();
  const [u] = await h.deps.db.insert(units).values({ buildingId: b!.id, name: '1' }).returning();
  const [house] = await h.deps.db.insert(houses).values({ communityId, unitId: u!.id, number: '101', code: '1-1-101', floor: 1, floorAreaM2: '90.00' }).returning();
  await h.deps.db.insert(rosterOwners).values({
    houseId: house!.id,
    name: '张伟',
    idNumberEnc: h.deps.vault.encrypt(idNumber, 'id_number'),
    idNumberIndex: h.deps.vault.blindIndex(idNumber, 'id_number'),
    isPrimary: true,
  });

  await h.app.request('/v1/auth/sms-codes', json({ phone }));
  const outbox = (await (await h.app.request(`/v1/dev/sms-outbox?phone=${phone}`)).json()) as { items: { body: string }[] };
  const code = /(\d{6})/.exec(outbox.items[0]!.body)![1]!;
  await h.app.request('/v1/auth/resident-login', json({ phone, code: code === '000000' ? '111111' : '000000' }));
  const login = (await (await h.app.request('/v1/auth/resident-login', json({ phone, code }))).json()) as { accessToken: string; refreshToken: string };
  const auth = { authorization: `Bearer ${login.accessToken}` };
  await h.app.request('/v1/me/house-bindings', json({ communityId, houseCode: '1-1-101', ownerName: '张伟', idNumber: '110105194912310021' }, auth));
  await h.app.request('/v1/me/house-bindings', json({ communityId, houseCode: '1-1-101', ownerName: '张伟', idNumber }, auth));
  await h.app.request('/v1/auth/refresh', json({ refreshToken: login.refreshToken }));
  const { username, password } = await createStaff(h, company.id, 'customer_service', [communityId]);
  await h.app.request('/v1/auth/staff-login', json({ username, password: 'not-the-password' }));
  await h.app.request('/v1/auth/staff-login', json({ username, password }));
  await h.app.request('/v1/me/house-bindings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"phone": "${phone}",` });

  const log = lines.join('');
  expect(log).toContain('"route":"/v1/me/house-bindings"');
  for (const secret of [phone, idNumber, '110105194912310021', code, password, login.accessToken, login.refreshToken]) {
    expect(log, `log holds ${secret.slice(0, 4)}…`).not.toContain(secret);
  }
});
