import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { compressDeviceKey, signOpenToken, signVirtualKey, signingKeyId, type DoorKeySet, type DoorRevocations, type DoorRoster } from '@estate/protocol';
import { SimRadio } from '@estate/firmware-sims';
import { DoorService } from '../src/doors/door-service.js';
import { DoorState } from '../src/doors/door-state.js';
import { silentLogger } from '../src/log.js';
import { Outbox } from '../src/outbox/outbox.js';
import { openGatewayStore } from '../src/outbox/store.js';
import { tempDataDir } from './helpers.js';

// The gateway's door decisions without a cloud: shared state handling, the roster, uses and records.

const communityId = randomUUID();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function signer() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { keyId: signingKeyId(raw), privateKey, raw };
}

function keySet(version: number, keys: ReturnType<typeof signer>[]): DoorKeySet {
  return { v: 1, communityId, version, issuedAt: new Date().toISOString(), keys: keys.map((k) => ({ keyId: k.keyId, alg: 'Ed25519', publicKey: k.raw.toString('base64url'), notAfter: null })) };
}

function revocations(version: number, ids: string[]): DoorRevocations {
  return { v: 1, communityId, version, issuedAt: new Date().toISOString(), entries: ids.map((id) => ({ id, until: Math.floor(Date.now() / 1000) + 3600 })) };
}

async function setup() {
  const data = tempDataDir();
  const store = openGatewayStore(data.dir);
  const outbox = new Outbox(store, { quotaBytes: 8 * 1024 * 1024, alarmRatio: 0.8 }, silentLogger);
  const radio = new SimRadio();
  const secret = randomBytes(16);
  const lock = radio.addLock({ address: 'C0:FF:EE:00:00:09', secret, autoRelockMs: 20 });
  const state = new DoorState(store);
  const service = new DoorService({ gateway: { communityId, gatewayId: randomUUID() }, state, outbox, openCentral: async () => radio.central(), reader: null, statusEveryMs: 3_600_000, log: silentLogger, onAvailability: () => undefined });
  const doorId = randomUUID();
  const roster: DoorRoster = { revision: 1, doors: [{ doorId, code: 9, name: 'Gate', groups: [1], lock: { id: 'lock-9', address: lock.address, secret: secret.toString('base64url') }, holdMs: 1000 }] };
  cleanups.push(async () => {
    await service.stop();
    radio.close();
    await store.close();
    data.remove();
  });
  await service.start();
  return { data, store, outbox, radio, lock, state, service, doorId, roster };
}

function token(cloud: ReturnType<typeof signer>, phone = generateKeyPairSync('ec', { namedCurve: 'P-256' }), overrides: { useLimit?: number; credentialId?: string } = {}) {
  const credential = signVirtualKey(
    {
      credentialId: overrides.credentialId ?? randomUUID(),
      communityId,
      holderId: randomUUID(),
      holderKind: 'visitor',
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 3600_000),
      useLimit: overrides.useLimit ?? 0,
      devicePublicKey: compressDeviceKey(phone.publicKey),
      scope: { doors: [], groups: [1] },
    },
    cloud,
  );
  return { next: (at = new Date()) => signOpenToken({ credential, doorCode: 9, method: 'qr', at, devicePrivateKey: phone.privateKey }), phone };
}

describe('the gateway’s door state', () => {
  it('keeps only newer shared state, refuses malformed or foreign state, and keeps it across a restart', async () => {
    const { service, state, data } = await setup();
    const k1 = signer();
    const k2 = signer();
    service.intakeShared('door-keys', Buffer.from(JSON.stringify(keySet(2, [k1]))));
    service.intakeShared('door-keys', Buffer.from(JSON.stringify(keySet(1, [k2])))); // a stale retained copy
    expect(state.signingKey(k1.keyId)).toBeDefined();
    expect(state.signingKey(k2.keyId)).toBeUndefined();
    service.intakeShared('door-keys', Buffer.from('{"v":1,"nope":true}'));
    service.intakeShared('door-keys', Buffer.from(JSON.stringify({ ...keySet(3, [k2]), communityId: randomUUID() })));
    service.intakeShared('door-revocations', Buffer.from([0xff, 0xfe]));
    expect(state.versions()).toMatchObject({ keySet: 2, revocations: null });
    const revoked = randomUUID();
    service.intakeShared('door-revocations', Buffer.from(JSON.stringify(revocations(5, [revoked]))));
    service.intakeShared('door-revocations', Buffer.from(JSON.stringify(revocations(4, []))));
    expect(state.isRevoked(revoked)).toBe(true);
    const reopened = new DoorState(openGatewayStore(data.dir));
    expect(reopened.isRevoked(revoked)).toBe(true);
    expect(reopened.versions()).toMatchObject({ keySet: 2, revocations: 5 });
  });

  it('applies a newer roster, ignores an older one and refuses an invalid one with every problem', async () => {
    const { service, roster } = await setup();
    expect(service.applyRoster(roster)).toMatchObject({ status: 'ok', data: { applied: true } });
    expect(service.applyRoster({ ...roster, doors: [] })).toMatchObject({ status: 'ok', data: { applied: false, revision: 1 } });
    const bad = service.applyRoster({ revision: 2, doors: [{ ...roster.doors[0]!, lock: { ...roster.doors[0]!.lock, address: 'nope', secret: 'short' } }] });
    expect(bad.status).toBe('rejected');
    expect((bad.data as { problems: string[] }).problems.length).toBe(2);
    expect(service.doors()).toHaveLength(1);
  });

  it('counts a limited key’s uses across concurrent scans and gives a use back when the lock fails', async () => {
    const { service, roster, lock, outbox } = await setup();
    const cloud = signer();
    service.applyRoster(roster);
    service.intakeShared('door-keys', Buffer.from(JSON.stringify(keySet(1, [cloud]))));
    const visitor = token(cloud, undefined, { useLimit: 2 });
    lock.setFault('jam', true);
    expect(await service.scan({ doorCode: 9, token: visitor.next(), readerId: null })).toMatchObject({ outcome: 'failed', reason: 'jammed' });
    lock.setFault('jam', false);
    const results = await Promise.all([0, 1, 2].map((i) => service.scan({ doorCode: 9, token: visitor.next(new Date(Date.now() - i * 1000)), readerId: null })));
    expect(results.filter((r) => r.outcome === 'opened')).toHaveLength(2);
    expect(results.filter((r) => r.outcome === 'denied' && r.reason === 'use-limit-reached')).toHaveLength(1);
    expect(lock.unlocks).toBe(2);
    // Every attempt is an access record waiting in the outbox: one failed, two opened, one denied.
    const records = outbox.read('access', 0, 10).map((r) => JSON.parse(r.json) as { outcome: string });
    expect(records.map((r) => r.outcome).sort()).toEqual(['denied', 'failed', 'opened', 'opened']);
  });

  it('says why doors cannot open when there is no Bluetooth controller, and still decides', async () => {
    const data = tempDataDir();
    const store = openGatewayStore(data.dir);
    const outbox = new Outbox(store, { quotaBytes: 8 * 1024 * 1024, alarmRatio: 0.8 }, silentLogger);
    const state = new DoorState(store);
    const service = new DoorService({ gateway: { communityId, gatewayId: randomUUID() }, state, outbox, openCentral: async () => Promise.reject(new Error('no Bluetooth controller (EAFNOSUPPORT)')), reader: null, log: silentLogger, onAvailability: () => undefined });
    cleanups.push(async () => {
      await service.stop();
      await store.close();
      data.remove();
    });
    await service.start();
    const { roster } = { roster: { revision: 1, doors: [{ doorId: randomUUID(), code: 9, name: 'Gate', groups: [1], lock: { id: 'l', address: 'C0:FF:EE:00:00:01', secret: randomBytes(16).toString('base64url') }, holdMs: 1000 }] } };
    service.applyRoster(roster);
    expect(service.status()).toMatchObject({ status: 'failed', lastError: expect.stringContaining('EAFNOSUPPORT') });
    const cloud = signer();
    service.intakeShared('door-keys', Buffer.from(JSON.stringify(keySet(1, [cloud]))));
    expect(await service.scan({ doorCode: 9, token: token(cloud).next(), readerId: null })).toMatchObject({ outcome: 'failed', reason: 'no-adapter' });
    expect(await service.scan({ doorCode: 9, token: 'garbage', readerId: null })).toMatchObject({ outcome: 'denied', reason: 'malformed' });
  });
});
