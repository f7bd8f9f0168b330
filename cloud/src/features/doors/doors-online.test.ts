import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, count, eq } from 'drizzle-orm';
import { newPhone, openToken, startDoorRig, waitFor, type DoorRig, type IssuedKey, type Phone } from '../../../test/door-rig.js';
import { doorAccessEvents } from './doors.schema.js';

let rig: DoorRig;
let phone: Phone;
let key: IssuedKey;

beforeAll(async () => {
  rig = await startDoorRig();
  ({ phone, key } = await rig.ownerPhoneWithKey());
}, 60_000);
afterAll(() => rig?.close());

async function open(doorId: string, token: string) {
  const res = await rig.request('POST', `/v1/doors/${doorId}/open`, {}, { token });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function record(attemptId: string) {
  return waitFor(`access record ${attemptId}`, async () => {
    const [row] = await rig.h.deps.db.select().from(doorAccessEvents).where(eq(doorAccessEvents.attemptId, attemptId));
    return row && row.outcome !== 'pending' ? row : null;
  });
}

describe('online opening', () => {
  it('gives an owner one key for the doors of their house: the community gate and their building, not another building', () => {
    expect(key.doors.map((d) => d.name).sort()).toEqual(['Building A entrance', 'North gate']);
    expect(key.validUntil > new Date(Date.now() + 29 * 86_400_000).toISOString()).toBe(true);
  });

  it('opens the door in the same request, and the lock really unlocked', async () => {
    const before = rig.doors.A.lock.unlocks;
    const { status, body } = await open(rig.doors.A.id, openToken(phone, key, rig.doors.A.code, 'online'));
    expect(status).toBe(200);
    expect(body).toMatchObject({ outcome: 'opened', doorId: rig.doors.A.id });
    expect(rig.doors.A.lock.unlocks).toBe(before + 1);
    const row = await record(body['attemptId'] as string);
    expect(row).toMatchObject({ outcome: 'opened', method: 'online', credentialId: key.credentialId, holderKind: 'resident', holderId: rig.owner.resident.id, decidedBy: 'gateway' });
  });

  it('refuses another building’s door with the reason, records it, and the lock never moves', async () => {
    const before = rig.doors.B.lock.unlocks;
    const { status, body } = await open(rig.doors.B.id, openToken(phone, key, rig.doors.B.code, 'online'));
    expect(status).toBe(403);
    expect(body).toMatchObject({ type: '/problems/door-denied', reason: 'wrong-door' });
    expect(rig.doors.B.lock.unlocks).toBe(before);
    expect(await record(body['attemptId'] as string)).toMatchObject({ outcome: 'denied', reason: 'wrong-door', decidedBy: 'cloud' });
  });

  it('refuses the same token twice: the gateway remembers it', async () => {
    const token = openToken(phone, key, rig.doors.gate.code, 'online');
    expect((await open(rig.doors.gate.id, token)).status).toBe(200);
    const again = await open(rig.doors.gate.id, token);
    expect(again.status).toBe(403);
    expect(again.body['reason']).toBe('replayed');
  });

  it('refuses bad keys and tokens, each with its reason and a record, never a crash', async () => {
    const valid = Buffer.from(openToken(phone, key, rig.doors.A.code, 'online'), 'base64url');
    const forged = Buffer.from(valid);
    forged.writeUInt16BE(rig.doors.B.code, 4 + 104); // widen the scope inside the signed key
    const wrongKeyId = Buffer.from(valid);
    wrongKeyId[4 + 2] = wrongKeyId[4 + 2]! ^ 0xff;
    const thief = newPhone();
    const cases: [string, string, number][] = [
      ['bad-signature', forged.toString('base64url'), 403],
      ['unknown-key', wrongKeyId.toString('base64url'), 403],
      ['malformed', valid.subarray(0, valid.length - 10).toString('base64url'), 403],
      ['bad-device-signature', openToken(thief, key, rig.doors.A.code, 'online'), 403],
      ['wrong-method', openToken(phone, key, rig.doors.A.code, 'qr'), 403],
      ['stale-token', openToken(phone, key, rig.doors.A.code, 'online', new Date(Date.now() - 60_000)), 403],
      ['future-token', openToken(phone, key, rig.doors.A.code, 'online', new Date(Date.now() + 60_000)), 403],
      ['wrong-door', openToken(phone, key, rig.doors.gate.code, 'online'), 403],
    ];
    const before = rig.doors.A.lock.unlocks;
    for (const [reason, token, status] of cases) {
      const res = await open(rig.doors.A.id, token);
      expect(res.status, reason).toBe(status);
      expect(res.body['reason'], reason).toBe(reason);
      expect((await record(res.body['attemptId'] as string)).reason).toBe(reason);
    }
    expect(rig.doors.A.lock.unlocks).toBe(before);
    const oversized = await open(rig.doors.A.id, 'A'.repeat(5000));
    expect(oversized.status).toBe(400);
    expect(oversized.body['type']).toBe('/problems/validation-failed');
  });

  it('refuses an expired key and one that is not valid yet', async () => {
    rig.h.advance(31 * 86_400_000);
    try {
      const res = await open(rig.doors.A.id, openToken(phone, key, rig.doors.A.code, 'online', new Date(Date.now() + 31 * 86_400_000)));
      expect(res.body['reason']).toBe('expired');
    } finally {
      rig.h.advance(-31 * 86_400_000);
    }
    const pass = await rig.ok<{ link: string }>(
      rig.request('POST', `/v1/me/houses/${rig.estate.houses['A-1-101']}/visitor-passes`, rig.owner.headers, { visitorName: 'Plumber', validFrom: new Date(Date.now() + 3600_000).toISOString(), validUntil: new Date(Date.now() + 7200_000).toISOString(), uses: 2 }),
      201,
    );
    const [passId, secret] = pass.link.split('#/pass/')[1]!.split('.') as [string, string];
    const visitor = newPhone();
    const claimed = await rig.ok<{ key: IssuedKey }>(rig.request('POST', `/v1/visitor-passes/${passId}/claim`, {}, { secret, devicePublicKey: visitor.raw }));
    const res = await open(rig.doors.gate.id, openToken(visitor, claimed.key, rig.doors.gate.code, 'online'));
    expect(res.body['reason']).toBe('not-yet-valid');
  });

  it('says honestly when the door did not answer in time, and the record catches up when the gateway reports', async () => {
    // Each GATT operation this slow: the unlock (a write and its answer) outlasts the cloud's wait, not the gateway's.
    rig.latency.A = Math.round(rig.h.deps.config.DOOR_OPEN_WAIT_MS * 0.6);
    try {
      const { status, body } = await open(rig.doors.A.id, openToken(phone, key, rig.doors.A.code, 'online'));
      expect(status).toBe(504);
      expect(body['type']).toBe('/problems/door-state-unknown');
      const attemptId = body['attemptId'] as string;
      const [row] = await rig.h.deps.db.select().from(doorAccessEvents).where(eq(doorAccessEvents.attemptId, attemptId));
      expect(row?.outcome).toBe('unknown');
      const settled = await waitFor('the late access record', async () => {
        const [r] = await rig.h.deps.db.select().from(doorAccessEvents).where(and(eq(doorAccessEvents.attemptId, attemptId)));
        return r && r.outcome !== 'unknown' ? r : null;
      }, 20_000);
      expect(settled.outcome).toBe('opened');
      // What a phone that got the 504 asks afterwards.
      const followUp = await rig.ok<{ outcome: string }>(rig.request('GET', `/v1/door-attempts/${attemptId}`, {}));
      expect(followUp.outcome).toBe('opened');
    } finally {
      rig.latency.A = 0;
    }
  }, 40_000);

  it('says the door failed (not denied) when the lock jams', async () => {
    rig.doors.gate.lock.setFault('jam', true);
    try {
      const { status, body } = await open(rig.doors.gate.id, openToken(phone, key, rig.doors.gate.code, 'online'));
      expect(status).toBe(502);
      expect(body).toMatchObject({ type: '/problems/door-failed', reason: 'jammed' });
      expect((await record(body['attemptId'] as string)).outcome).toBe('failed');
    } finally {
      rig.doors.gate.lock.setFault('jam', false);
    }
  });

  it('answers 503 with the QR advice when the gateway is offline', async () => {
    await rig.uplink.cut();
    try {
      await waitFor('the gateway offline in the registry', async () => (await rig.ok<{ state: string }>(rig.request('GET', `/v1/gateways/${rig.gatewayId}`, rig.admin.headers))).state === 'offline');
      const { status, body } = await open(rig.doors.A.id, openToken(phone, key, rig.doors.A.code, 'online'));
      expect(status).toBe(503);
      expect(body).toMatchObject({ type: '/problems/door-unreachable', reason: 'gateway-offline' });
    } finally {
      await rig.uplink.restore();
      await rig.gatewayOnline();
    }
  }, 30_000);

  it('lists every attempt for staff, filtered, and keeps it from residents and other communities', async () => {
    const all = await rig.ok<{ items: { outcome: string; reason: string | null; doorName: string | null }[] }>(rig.request('GET', `/v1/communities/${rig.community.id}/door-access?limit=200`, rig.admin.headers));
    expect(all.items.some((i) => i.outcome === 'opened' && i.doorName === 'Building A entrance')).toBe(true);
    const denied = await rig.ok<{ items: { outcome: string }[] }>(rig.request('GET', `/v1/communities/${rig.community.id}/door-access?outcome=denied&reason=wrong-door`, rig.admin.headers));
    expect(denied.items.length).toBeGreaterThan(0);
    expect(denied.items.every((i) => i.outcome === 'denied')).toBe(true);
    expect((await rig.request('GET', `/v1/communities/${rig.community.id}/door-access`, rig.owner.headers)).status).toBe(403);
    const { createCompany, createStaff } = await import('../../../test/actors.js');
    const other = await createCompany(rig.h, ['X']);
    const stranger = await createStaff(rig.h, other.company.id, 'super_admin', [other.communities['X']!.id]);
    expect((await rig.request('GET', `/v1/communities/${rig.community.id}/door-access`, stranger.headers)).status).toBe(403);
  });

  it('shows doors with their lock’s availability and battery', async () => {
    rig.doors.B.lock.setBattery(17);
    rig.doors.B.lock.triggerTamper();
    const doors = await waitFor('the tamper and battery to reach the registry', async () => {
      const body = await rig.ok<{ items: { name: string; lock: { available: boolean | null; battery: number | null; tamper: boolean | null } }[] }>(rig.request('GET', `/v1/communities/${rig.community.id}/doors`, rig.admin.headers));
      const b = body.items.find((d) => d.name === 'Building B entrance');
      return b?.lock.battery === 17 && b.lock.tamper ? body.items : null;
    });
    expect(doors.find((d) => d.name === 'Building A entrance')?.lock.available).toBe(true);
    const events = await waitFor('the tamper event', async () => {
      const body = await rig.ok<{ items: { kind: string; doorName: string }[] }>(rig.request('GET', `/v1/communities/${rig.community.id}/lock-events?kind=tamper`, rig.admin.headers));
      return body.items.length ? body.items : null;
    });
    expect(events[0]).toMatchObject({ kind: 'tamper', doorName: 'Building B entrance' });
  });

  it('lets property service find a resident’s key and revoke it; the gateway refuses it', async () => {
    const lost = newPhone();
    const [lostKey] = (await rig.residentKeys(rig.owner.headers, lost)) as [IssuedKey];
    const cs = await (await import('../../../test/actors.js')).createStaff(rig.h, rig.company.id, 'customer_service', [rig.community.id]);
    const list = await rig.ok<{ items: { credentialId: string; credential: string }[] }>(rig.request('GET', `/v1/communities/${rig.community.id}/door-credentials?holderId=${rig.owner.resident.id}&live=true`, cs.headers));
    expect(list.items.map((k) => k.credentialId)).toContain(lostKey.credentialId);
    expect(list.items.every((k) => k.credential === '')).toBe(true);
    const before = rig.gatewayVersions().revocations ?? 0;
    await rig.ok(rig.request('POST', `/v1/door-credentials/${lostKey.credentialId}/revoke`, cs.headers, { reason: 'phone-lost' }));
    await waitFor('the revocation at the gateway', () => (rig.gatewayVersions().revocations ?? 0) > before);
    const res = await open(rig.doors.A.id, openToken(lost, lostKey, rig.doors.A.code, 'online'));
    expect(res.body['reason']).toBe('revoked');
    const finance = await (await import('../../../test/actors.js')).createStaff(rig.h, rig.company.id, 'finance', [rig.community.id]);
    expect((await rig.request('POST', `/v1/door-credentials/${key.credentialId}/revoke`, finance.headers, { reason: 'phone-lost' })).status).toBe(403);
  });

  it('tells an address that floods the open endpoint with refused tokens to wait, without recording the flood', async () => {
    const flood = { 'x-forwarded-for': '203.0.113.7' };
    const [before] = await rig.h.deps.db.select({ n: count() }).from(doorAccessEvents);
    for (let i = 0; i < 30; i += 1) expect((await rig.request('POST', `/v1/doors/${rig.doors.A.id}/open`, flood, { token: `garbage${i}` })).status).toBe(403);
    const limited = await rig.request('POST', `/v1/doors/${rig.doors.A.id}/open`, flood, { token: openToken(phone, key, rig.doors.A.code, 'online') });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const [after] = await rig.h.deps.db.select({ n: count() }).from(doorAccessEvents);
    expect(after!.n - before!.n).toBe(30);
    // Another address is not affected.
    const other = await rig.request('POST', `/v1/doors/${rig.doors.A.id}/open`, { 'x-forwarded-for': '198.51.100.2' }, { token: openToken(phone, key, rig.doors.A.code, 'online') });
    expect(other.status).toBe(200);
  });
});
