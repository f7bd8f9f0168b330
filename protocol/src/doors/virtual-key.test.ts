import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CLOCK_SKEW_SECONDS,
  MAX_OPEN_TOKEN_CHARS,
  SLOT_SECONDS,
  checkOpenToken,
  compressDeviceKey,
  decodeOpenToken,
  decodeVirtualKey,
  signOpenToken,
  signVirtualKey,
  signingKeyId,
  signingKeyObject,
  type OpenCheckContext,
  type VirtualKeyClaims,
} from './virtual-key.js';

function cloudKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { keyId: signingKeyId(raw), privateKey, publicKey: signingKeyObject(raw) };
}

const communityId = randomUUID();
const signer = cloudKey();
const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const now = new Date('2026-11-25T08:00:02.000Z');

function claims(overrides: Partial<VirtualKeyClaims> = {}): VirtualKeyClaims {
  return {
    credentialId: randomUUID(),
    communityId,
    holderId: randomUUID(),
    holderKind: 'resident',
    validFrom: new Date('2026-11-01T00:00:00Z'),
    validUntil: new Date('2026-12-01T00:00:00Z'),
    useLimit: 0,
    devicePublicKey: compressDeviceKey(phone.publicKey),
    scope: { doors: [7], groups: [1] },
    ...overrides,
  };
}

function context(overrides: Partial<OpenCheckContext> = {}): OpenCheckContext {
  return {
    now,
    communityId,
    method: 'qr',
    door: { code: 3, groups: [1] },
    signingKey: (id) => (id === signer.keyId ? signer.publicKey : undefined),
    isRevoked: () => false,
    usesSoFar: () => 0,
    seen: () => false,
    ...overrides,
  };
}

function token(c: VirtualKeyClaims = claims(), options: { doorCode?: number; at?: Date; method?: 'online' | 'qr' } = {}) {
  const credential = signVirtualKey(c, signer);
  return signOpenToken({ credential, doorCode: options.doorCode ?? 3, method: options.method ?? 'qr', at: options.at ?? now, devicePrivateKey: phone.privateKey });
}

describe('virtual keys', () => {
  it('round-trips every claim and fits a QR code', () => {
    const c = claims({ holderKind: 'visitor', useLimit: 3, scope: { doors: [7, 9], groups: [1, 2] } });
    const bytes = signVirtualKey(c, signer);
    const key = decodeVirtualKey(bytes);
    expect(key).toMatchObject({ credentialId: c.credentialId, communityId, holderId: c.holderId, holderKind: 'visitor', useLimit: 3, keyId: signer.keyId, scope: { doors: [7, 9], groups: [1, 2] } });
    expect(key.validFrom.toISOString()).toBe(c.validFrom.toISOString());
    expect(bytes.byteLength).toBe(104 + 8 + 64);
    const text = token(claims());
    // 250 bytes, 334 base64url characters: a QR code of version 14 at error correction level M holds 362.
    expect(Buffer.from(text, 'base64url').byteLength).toBe(4 + 172 + 10 + 64);
    expect(text.length).toBeLessThanOrEqual(362);
    expect(decodeOpenToken(text).credential.credentialId).toBeTruthy();
  });

  it('opens a door in scope by group or by door code', () => {
    expect(checkOpenToken(token(), context())).toMatchObject({ ok: true });
    expect(checkOpenToken(token(undefined, { doorCode: 7 }), context({ door: { code: 7, groups: [] } }))).toMatchObject({ ok: true });
  });

  const denials: [string, () => ReturnType<typeof checkOpenToken>][] = [
    ['malformed', () => checkOpenToken('not*base64', context())],
    ['unknown-key', () => checkOpenToken(token(), context({ signingKey: () => undefined }))],
    ['wrong-community', () => checkOpenToken(token(claims({ communityId: randomUUID() })), context())],
    ['wrong-door', () => checkOpenToken(token(undefined, { doorCode: 4 }), context())],
    ['wrong-method', () => checkOpenToken(token(), context({ method: 'online' }))],
    ['not-yet-valid', () => checkOpenToken(token(claims({ validFrom: new Date('2026-11-26T00:00:00Z'), validUntil: new Date('2026-12-26T00:00:00Z') })), context())],
    ['expired', () => checkOpenToken(token(claims({ validFrom: new Date('2026-10-01T00:00:00Z'), validUntil: new Date('2026-11-25T08:00:00Z') })), context())],
    ['revoked', () => checkOpenToken(token(), context({ isRevoked: () => true }))],
    ['stale-token', () => checkOpenToken(token(undefined, { at: new Date(now.getTime() - (SLOT_SECONDS + CLOCK_SKEW_SECONDS + 1) * 1000) }), context())],
    ['future-token', () => checkOpenToken(token(undefined, { at: new Date(now.getTime() + (CLOCK_SKEW_SECONDS + SLOT_SECONDS) * 1000) }), context())],
    ['replayed', () => checkOpenToken(token(), context({ seen: () => true }))],
    ['use-limit-reached', () => checkOpenToken(token(claims({ useLimit: 2 })), context({ usesSoFar: () => 2 }))],
  ];
  it.each(denials)('denies %s', (reason, run) => {
    const check = run();
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toBe(reason);
  });

  it('denies a key whose claims were altered after signing (forged)', () => {
    const bytes = Buffer.from(signVirtualKey(claims({ scope: { doors: [9], groups: [] } }), signer));
    bytes.writeUInt16BE(3, 104); // widen the scope to door 3
    const forged = signOpenToken({ credential: bytes, doorCode: 3, method: 'qr', at: now, devicePrivateKey: phone.privateKey });
    expect(checkOpenToken(forged, context())).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('denies a key signed by a key that merely claims the community key id', () => {
    const impostor = cloudKey();
    const bytes = signVirtualKey(claims(), { keyId: signer.keyId, privateKey: impostor.privateKey });
    const text = signOpenToken({ credential: bytes, doorCode: 3, method: 'qr', at: now, devicePrivateKey: phone.privateKey });
    expect(checkOpenToken(text, context())).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('denies a token signed by another device than the key was issued to (a copied key)', () => {
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const text = signOpenToken({ credential: signVirtualKey(claims(), signer), doorCode: 3, method: 'qr', at: now, devicePrivateKey: thief.privateKey });
    expect(checkOpenToken(text, context())).toMatchObject({ ok: false, reason: 'bad-device-signature' });
  });

  it('denies a token whose door or slot was changed after the phone signed it', () => {
    const bytes = Buffer.from(token(), 'base64url');
    const doorAt = bytes.readUInt16BE(2) + 4;
    const moved = Buffer.from(bytes);
    moved.writeUInt32BE(moved.readUInt32BE(doorAt + 2) + 1, doorAt + 2);
    expect(checkOpenToken(moved, context())).toMatchObject({ ok: false, reason: 'bad-device-signature' });
  });

  it('accepts clock skew within the stated tolerance, both ways', () => {
    const skew = (CLOCK_SKEW_SECONDS - 1) * 1000;
    expect(checkOpenToken(token(undefined, { at: new Date(now.getTime() + skew) }), context())).toMatchObject({ ok: true });
    expect(checkOpenToken(token(undefined, { at: new Date(now.getTime() - skew) }), context())).toMatchObject({ ok: true });
  });

  it('refuses truncated, oversized and bit-flipped tokens as malformed, never throwing', () => {
    const bytes = Buffer.from(token(), 'base64url');
    const inputs: (string | Uint8Array)[] = [bytes.subarray(0, 3), bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, Buffer.from([0])]), 'A'.repeat(MAX_OPEN_TOKEN_CHARS + 1), '', Buffer.alloc(0)];
    const version = Buffer.from(bytes);
    version[0] = 9;
    inputs.push(version);
    const scope = Buffer.from(bytes);
    scope[4 + 103] = 0;
    inputs.push(scope);
    for (const input of inputs) expect(checkOpenToken(input, context())).toMatchObject({ ok: false, reason: 'malformed' });
    for (let i = 0; i < bytes.length; i += 7) {
      const flipped = Buffer.from(bytes);
      flipped[i] = flipped[i]! ^ 0x41;
      expect(checkOpenToken(flipped, context()).ok).toBe(false);
    }
  });

  it('refuses to sign what the format cannot carry', () => {
    expect(() => signVirtualKey(claims({ scope: { doors: [], groups: [] } }), signer)).toThrow(/at least one/);
    expect(() => signVirtualKey(claims({ scope: { doors: [0x8001], groups: [] } }), signer)).toThrow(/1..32767/);
    expect(() => signVirtualKey(claims({ validUntil: new Date('2026-10-01T00:00:00Z') }), signer)).toThrow(/after/);
    expect(() => signVirtualKey(claims({ devicePublicKey: new Uint8Array(65) }), signer)).toThrow(/compressed/);
  });
});
