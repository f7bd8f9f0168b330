import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { CLOCK_SKEW_SECONDS, decodeVirtualKey } from '@estate/protocol';
import { newPhone, openToken, startDoorRig, waitFor, type DoorRig, type IssuedKey, type Phone } from '../../../test/door-rig.js';
import { createResident, createStaff } from '../../../test/actors.js';
import { addMember } from '../estate/estate.test-fixture.js';
import { doorAccessEvents, doorCredentials } from './doors.schema.js';

let rig: DoorRig;
let phone: Phone;
let key: IssuedKey;

beforeAll(async () => {
  rig = await startDoorRig();
  ({ phone, key } = await rig.ownerPhoneWithKey());
}, 60_000);
afterAll(() => rig?.close());

async function inCloud(attemptId: string) {
  const [row] = await rig.h.deps.db.select().from(doorAccessEvents).where(eq(doorAccessEvents.attemptId, attemptId));
  return row ?? null;
}

describe('opening by QR code at the door', () => {
  it('opens with a fresh QR code and refuses the same code scanned twice', async () => {
    const token = openToken(phone, key, rig.doors.A.code, 'qr');
    const before = rig.doors.A.lock.unlocks;
    const first = await rig.scan(rig.doors.A.code, token);
    expect(first).toMatchObject({ status: 200, body: { outcome: 'opened' } });
    expect(rig.doors.A.lock.unlocks).toBe(before + 1);
    const again = await rig.scan(rig.doors.A.code, token);
    expect(again).toMatchObject({ status: 403, body: { outcome: 'denied', reason: 'replayed' } });
    expect(rig.doors.A.lock.unlocks).toBe(before + 1);
    const record = await waitFor('the scan in the cloud', () => inCloud(first.body.attemptId));
    expect(record).toMatchObject({ method: 'qr', outcome: 'opened', readerId: 'reader-1', credentialId: key.credentialId });
  });

  it('refuses a screenshot older than the slot and accepts clock skew within the tolerance', async () => {
    const stale = await rig.scan(rig.doors.A.code, openToken(phone, key, rig.doors.A.code, 'qr', new Date(Date.now() - 30_000)));
    expect(stale.body).toMatchObject({ outcome: 'denied', reason: 'stale-token' });
    const ahead = await rig.scan(rig.doors.A.code, openToken(phone, key, rig.doors.A.code, 'qr', new Date(Date.now() + (CLOCK_SKEW_SECONDS - 2) * 1000)));
    expect(ahead.body.outcome).toBe('opened');
    const behind = await rig.scan(rig.doors.A.code, openToken(phone, key, rig.doors.A.code, 'qr', new Date(Date.now() - (CLOCK_SKEW_SECONDS - 2) * 1000)));
    expect(behind.body.outcome).toBe('opened');
  });

  it('refuses what is not a scan of a key, each with a clear answer', async () => {
    expect(await rig.scan(rig.doors.A.code, 'hello')).toMatchObject({ status: 403, body: { reason: 'malformed' } });
    expect(await rig.scan(rig.doors.A.code, openToken(phone, key, rig.doors.A.code, 'online'))).toMatchObject({ status: 403, body: { reason: 'wrong-method' } });
    expect((await rig.scan(999, openToken(phone, key, rig.doors.A.code, 'qr'))).status).toBe(404);
    const big = await fetch(`${rig.gateway.doors!.readerUrl()}/doors/${rig.doors.A.code}/scan`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
  });

  it('opens with the uplink down and the record reaches the cloud when it returns', async () => {
    await rig.uplink.cut();
    try {
      const res = await rig.scan(rig.doors.gate.code, openToken(phone, key, rig.doors.gate.code, 'qr'));
      expect(res.body.outcome).toBe('opened');
      await new Promise((r) => setTimeout(r, 200));
      expect(await inCloud(res.body.attemptId)).toBeNull();
      await rig.uplink.restore();
      const record = await waitFor('the buffered record', () => inCloud(res.body.attemptId), 15_000);
      expect(record).toMatchObject({ outcome: 'opened', method: 'qr', decidedBy: 'gateway' });
    } finally {
      await rig.uplink.restore().catch(() => undefined);
    }
  }, 30_000);

  it('refuses a key revoked while the phone was offline, with the cloud unreachable, and after a gateway restart', async () => {
    const lostPhone = newPhone();
    const family = await createResident(rig.h, '13800000002');
    await addMember(rig.h, rig.estate.houses['A-1-101']!, family.resident.id, { role: 'family' });
    const [familyKey] = (await rig.residentKeys(family.headers, lostPhone)) as [IssuedKey];
    expect((await rig.scan(rig.doors.A.code, openToken(lostPhone, familyKey, rig.doors.A.code, 'qr'))).body.outcome).toBe('opened');
    const before = rig.gatewayVersions().revocations ?? 0;
    const started = performance.now();
    // The report comes from another phone (a new session); the lost phone's session ends with it.
    const reporting = await createResident(rig.h, '13800000002');
    const reported = await rig.ok<{ revoked: number; sessionsEnded: number }>(rig.request('POST', '/v1/me/door-keys/revoke-all', reporting.headers, { reason: 'phone-lost' }));
    expect(reported).toMatchObject({ revoked: 1, sessionsEnded: 1 });
    expect((await rig.request('POST', '/v1/me/door-keys', family.headers, { devicePublicKey: lostPhone.raw })).status).toBe(401);
    await waitFor('the revocation at the gateway', () => (rig.gatewayVersions().revocations ?? 0) > before);
    const propagationMs = performance.now() - started;
    expect(propagationMs).toBeLessThan(5000);
    await rig.uplink.cut();
    try {
      const res = await rig.scan(rig.doors.A.code, openToken(lostPhone, familyKey, rig.doors.A.code, 'qr'));
      expect(res).toMatchObject({ status: 403, body: { reason: 'revoked' } });
      await rig.restartGateway();
      const afterRestart = await rig.scan(rig.doors.A.code, openToken(lostPhone, familyKey, rig.doors.A.code, 'qr'));
      expect(afterRestart.body.reason).toBe('revoked');
      // The owner's own key still opens, offline.
      expect((await rig.scan(rig.doors.A.code, openToken(phone, key, rig.doors.A.code, 'qr'))).body.outcome).toBe('opened');
    } finally {
      await rig.uplink.restore();
      await rig.gatewayOnline();
    }
  }, 30_000);

  it('revokes a removed member’s keys at every gateway', async () => {
    const tenantPhone = newPhone();
    const tenant = await createResident(rig.h, '13800000003');
    const today = new Date().toISOString().slice(0, 10);
    const member = await addMember(rig.h, rig.estate.houses['A-1-101']!, tenant.resident.id, { role: 'tenant', tenancy: [today, '2099-12-31'] });
    const [tenantKey] = (await rig.residentKeys(tenant.headers, tenantPhone)) as [IssuedKey];
    const before = rig.gatewayVersions().revocations ?? 0;
    const removed = await rig.request('DELETE', `/v1/me/houses/${rig.estate.houses['A-1-101']}/members/${member.id}`, rig.owner.headers);
    expect(removed.status).toBe(204);
    await waitFor('the revocation at the gateway', () => (rig.gatewayVersions().revocations ?? 0) > before);
    expect((await rig.scan(rig.doors.gate.code, openToken(tenantPhone, tenantKey, rig.doors.gate.code, 'qr'))).body.reason).toBe('revoked');
  });

  it('ends a tenant’s key with the tenancy, and follows the owner’s choice of doors', async () => {
    const tenant = await createResident(rig.h, '13800000004');
    const today = new Date().toISOString().slice(0, 10);
    const member = await addMember(rig.h, rig.estate.houses['A-1-101']!, tenant.resident.id, { role: 'tenant', tenancy: [today, today] });
    const tenantPhone = newPhone();
    const [tenantKey] = (await rig.residentKeys(tenant.headers, tenantPhone)) as [IssuedKey];
    // Shanghai midnight after the last day of the tenancy.
    expect(new Date(tenantKey.validUntil).getTime()).toBeLessThanOrEqual(Date.parse(`${today}T16:00:00Z`) + 86_400_000);
    const changed = await rig.ok<{ keysRevoked: number }>(rig.request('PUT', `/v1/me/houses/${rig.estate.houses['A-1-101']}/members/${member.id}/door-access`, rig.owner.headers, { access: 'gates-only' }));
    expect(changed.keysRevoked).toBe(1);
    const [gatesOnly] = (await rig.residentKeys(tenant.headers, tenantPhone)) as [IssuedKey];
    expect(gatesOnly.doors.map((d) => d.name)).toEqual(['North gate']);
    expect((await rig.request('PUT', `/v1/me/houses/${rig.estate.houses['A-1-101']}/members/${member.id}/door-access`, tenant.headers, { access: 'all' })).status).toBe(403);
  });

  it('rotates the signing key: old keys keep opening, new keys are signed by the new key', async () => {
    const before = rig.gatewayVersions().keySet ?? 0;
    const rotated = await rig.ok<{ keyId: string; keys: { keyId: string; retiredAt: string | null }[] }>(rig.request('POST', `/v1/communities/${rig.community.id}/door-signing-keys/rotate`, rig.admin.headers));
    expect(rotated.keys).toHaveLength(2);
    await waitFor('the new key set at the gateway', () => (rig.gatewayVersions().keySet ?? 0) > before);
    expect((await rig.scan(rig.doors.A.code, openToken(phone, key, rig.doors.A.code, 'qr'))).body.outcome).toBe('opened');
    const otherPhone = newPhone();
    const [fresh] = (await rig.residentKeys(rig.owner.headers, otherPhone)) as [IssuedKey];
    expect(decodeVirtualKey(Buffer.from(fresh.credential, 'base64url')).keyId).toBe(rotated.keyId);
    expect((await rig.scan(rig.doors.A.code, openToken(otherPhone, fresh, rig.doors.A.code, 'qr'))).body.outcome).toBe('opened');
  });

  it('lets a visitor open the doors of a pass as often as it allows, and only on the phone that claimed it', async () => {
    const created = await rig.ok<{ link: string; pass: { id: string } }>(
      rig.request('POST', `/v1/me/houses/${rig.estate.houses['A-1-101']}/visitor-passes`, rig.owner.headers, { visitorName: 'Aunt Li', validUntil: new Date(Date.now() + 3600_000).toISOString(), uses: 2, doorIds: [rig.doors.gate.id] }),
      201,
    );
    const [passId, secret] = created.link.split('#/pass/')[1]!.split('.') as [string, string];
    const visitor = newPhone();
    const claimed = await rig.ok<{ key: IssuedKey }>(rig.request('POST', `/v1/visitor-passes/${passId}/claim`, {}, { secret, devicePublicKey: visitor.raw }));
    expect(claimed.key.doors.map((d) => d.name)).toEqual(['North gate']);
    const second = await rig.request('POST', `/v1/visitor-passes/${passId}/claim`, {}, { secret, devicePublicKey: newPhone().raw });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { reason: string }).reason).toBe('claimed-elsewhere');
    expect((await rig.request('POST', `/v1/visitor-passes/${passId}/claim`, {}, { secret: 'wrong-secret-000', devicePublicKey: visitor.raw })).status).toBe(404);
    expect((await rig.scan(rig.doors.A.code, openToken(visitor, claimed.key, rig.doors.A.code, 'qr'))).body.reason).toBe('wrong-door');
    expect((await rig.scan(rig.doors.gate.code, openToken(visitor, claimed.key, rig.doors.gate.code, 'qr'))).body.outcome).toBe('opened');
    expect((await rig.scan(rig.doors.gate.code, openToken(visitor, claimed.key, rig.doors.gate.code, 'qr', new Date(Date.now() + 5000)))).body.outcome).toBe('opened');
    expect((await rig.scan(rig.doors.gate.code, openToken(visitor, claimed.key, rig.doors.gate.code, 'qr', new Date(Date.now() - 5000)))).body.reason).toBe('use-limit-reached');
    const passes = await waitFor('the uses counted in the cloud', async () => {
      const list = await rig.ok<{ items: { id: string; used: number }[] }>(rig.request('GET', `/v1/me/houses/${rig.estate.houses['A-1-101']}/visitor-passes`, rig.owner.headers));
      return list.items.find((p) => p.id === passId)?.used === 2 ? list : null;
    });
    expect(passes.items.length).toBeGreaterThan(0);
    // Its uses spent, the key is revoked, so a second gateway of the community would refuse it too.
    const spent = await waitFor('the spent key revoked', async () => {
      const [row] = await rig.h.deps.db.select().from(doorCredentials).where(eq(doorCredentials.id, claimed.key.credentialId));
      return row?.revokeReason ? row : null;
    });
    expect(spent).toMatchObject({ uses: 2, revokeReason: 'used-up' });
  });

  it('gives staff keys by role: a technician opens every door, finance gets none', async () => {
    const tech = await createStaff(rig.h, rig.company.id, 'technician', [rig.community.id]);
    const techPhone = newPhone();
    const staffKey = await rig.ok<IssuedKey>(rig.request('POST', '/v1/staff/me/door-keys', tech.headers, { communityId: rig.community.id, devicePublicKey: techPhone.raw }), 201);
    expect(staffKey.doors).toHaveLength(3);
    expect((await rig.scan(rig.doors.B.code, openToken(techPhone, staffKey, rig.doors.B.code, 'qr'))).body.outcome).toBe('opened');
    const finance = await createStaff(rig.h, rig.company.id, 'finance', [rig.community.id]);
    expect((await rig.request('POST', '/v1/staff/me/door-keys', finance.headers, { communityId: rig.community.id, devicePublicKey: newPhone().raw })).status).toBe(403);
  });

  it('refuses device keys that are not P-256 public keys', async () => {
    for (const devicePublicKey of ['A'.repeat(87), Buffer.alloc(65, 4).toString('base64url'), 'not a key at all, nope nope nope nope']) {
      const res = await rig.request('POST', '/v1/me/door-keys', rig.owner.headers, { devicePublicKey });
      expect(res.status).toBe(400);
    }
  });
});
