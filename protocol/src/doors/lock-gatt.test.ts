import { describe, expect, it } from 'vitest';
import { ATT_MAX_VALUE } from './gatt-central.js';
import {
  LOCK_GATT,
  LOCK_MAX_MESSAGE,
  LOCK_MESSAGE_TYPES,
  LOCK_NOTIFICATION_TYPES,
  LOCK_RESULT_CODES,
  LockMessageReassembler,
  LockProtocolError,
  LockSession,
  crc16CcittFalse,
  decodeLockFrame,
  decodeLockInfo,
  encodeLockInfo,
  encodePlainLockFrame,
  encodeSecureLockFrame,
  fragmentLockMessage,
  gatewayAuthProof,
  lockHelloProof,
  lockMessageMac,
  lockNonce,
  lockSessionKey,
  proofMatches,
  type LockProtocolErrorCode,
  type LockStatusReport,
  type PlainLockMessage,
  type SecureLockMessage,
} from './lock-gatt.js';

const secret = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const gatewayNonce = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const lockNonceBytes = Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i);
const key = lockSessionKey(secret, gatewayNonce, lockNonceBytes);
const status: LockStatusReport = { battery: 87, locked: false, doorOpen: true, tamper: false, jammed: false };

function rejects(run: () => unknown, code: LockProtocolErrorCode): LockProtocolError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LockProtocolError);
    expect((error as LockProtocolError).code).toBe(code);
    return error as LockProtocolError;
  }
  throw new Error(`expected a LockProtocolError ${code}`);
}

function withCrc(bytes: number[]): Uint8Array {
  const crc = crc16CcittFalse(Uint8Array.from(bytes));
  return Uint8Array.from([...bytes, crc >> 8, crc & 0xff]);
}

describe('lock GATT layout', () => {
  it('uses lower-case dashed 128-bit UUIDs in one base', () => {
    for (const uuid of Object.values(LOCK_GATT)) expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(Object.values(LOCK_GATT)).size).toBe(4);
  });

  it('computes CRC-16/CCITT-FALSE with the catalogue check value', () => {
    expect(crc16CcittFalse(new TextEncoder().encode('123456789'))).toBe(0x29b1);
    expect(crc16CcittFalse(new Uint8Array(0))).toBe(0xffff);
  });

  it('round-trips the info characteristic', () => {
    const info = { protocol: 1, firmware: '1.4.2', model: 'EL-200' };
    const bytes = encodeLockInfo(info);
    expect(bytes.length).toBeLessThanOrEqual(ATT_MAX_VALUE);
    expect(decodeLockInfo(bytes)).toEqual(info);
    expect(() => encodeLockInfo({ ...info, model: 'x'.repeat(17) })).toThrow(/1-16/);
    rejects(() => decodeLockInfo(new Uint8Array(3)), 'bad-payload');
  });
});

describe('the worked example in docs/ble-lock-protocol.md', () => {
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  const K = Uint8Array.from({ length: 16 }, (_, i) => i);
  const Ng = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  const Nl = Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i);

  it('gives the same bytes, so firmware authors can test against them', () => {
    const hello = encodePlainLockFrame(1, { type: 'hello', gatewayNonce: Ng });
    expect(fragmentLockMessage(hello).map(hex)).toEqual(['00010101a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', '815cf8']);
    expect(hex(lockHelloProof(K, Ng, Nl))).toBe('a159c3fc182741b4e9b60c2284285013');
    expect(hex(gatewayAuthProof(K, Nl, Ng))).toBe('73dc55251c7e950caa2465e533c84921');
    expect(hex(encodePlainLockFrame(2, { type: 'auth-ok' }))).toBe('010402172a');
    const sessionKey = lockSessionKey(K, Ng, Nl);
    expect(hex(sessionKey)).toBe('9df71489d6563f992ec83662594b63e5adc04249b81a095fabc1142bfbe34745');
    expect(hex(encodeSecureLockFrame(3, 1, { type: 'unlock', holdMs: 5000 }, sessionKey))).toBe('011003000000011388726e4e5660a98366c834');
    const result = encodeSecureLockFrame(3, 1, { type: 'result', code: 'ok', status: { battery: 87, locked: false, doorOpen: false, tamper: false, jammed: false } }, sessionKey);
    expect(hex(result)).toBe('01200300000001005700fa8935408de49c070cd9');
    expect(hex(encodeLockInfo({ protocol: 1, firmware: '1.0.0', model: 'EL-200' }))).toBe('01010000454c2d323030');
  });
});

describe('handshake crypto', () => {
  it('makes the two proofs differ and agree only under the same secret', () => {
    const lockProof = lockHelloProof(secret, gatewayNonce, lockNonceBytes);
    const gwProof = gatewayAuthProof(secret, lockNonceBytes, gatewayNonce);
    expect(lockProof).toHaveLength(16);
    expect(gwProof).toHaveLength(16);
    expect(proofMatches(lockProof, gwProof)).toBe(false);
    expect(proofMatches(lockProof, lockHelloProof(secret, gatewayNonce, lockNonceBytes))).toBe(true);
    const other = Uint8Array.from(secret, (b) => b ^ 0xff);
    expect(proofMatches(lockProof, lockHelloProof(other, gatewayNonce, lockNonceBytes))).toBe(false);
    expect(proofMatches(lockProof, lockProof.subarray(0, 8))).toBe(false);
    expect(key).toHaveLength(32);
    expect(() => lockHelloProof(new Uint8Array(15), gatewayNonce, lockNonceBytes)).toThrow(/16 bytes/);
  });

  it('draws fresh nonces', () => {
    expect(lockNonce()).toHaveLength(16);
    expect(proofMatches(lockNonce(), lockNonce())).toBe(false);
  });
});

describe('plain messages', () => {
  const messages: PlainLockMessage[] = [
    { type: 'hello', gatewayNonce },
    { type: 'challenge', lockNonce: lockNonceBytes, lockProof: lockHelloProof(secret, gatewayNonce, lockNonceBytes) },
    { type: 'auth', proof: gatewayAuthProof(secret, lockNonceBytes, gatewayNonce) },
    { type: 'auth-ok' },
    { type: 'auth-fail', reason: 'wrong-proof' },
    { type: 'auth-fail', reason: 'no-challenge' },
    ...Object.keys(LOCK_RESULT_CODES).map((code) => ({ type: 'reject', code }) as PlainLockMessage),
  ];

  it.each(messages.map((m) => [`${m.type} ${JSON.stringify(m).slice(0, 40)}`, m] as const))('round-trips %s', (_, message) => {
    const bytes = encodePlainLockFrame(9, message);
    expect(bytes[0]).toBe(1);
    expect(bytes[1]).toBe(LOCK_MESSAGE_TYPES[message.type]);
    expect(decodeLockFrame(bytes, null)).toEqual({ seq: 9, secure: false, message });
  });

  it('lays HELLO out as version, type, seq, nonce, CRC', () => {
    const bytes = encodePlainLockFrame(1, { type: 'hello', gatewayNonce });
    expect(Array.from(bytes.subarray(0, 3))).toEqual([0x01, 0x01, 0x01]);
    expect(bytes).toHaveLength(21);
    const crc = crc16CcittFalse(bytes.subarray(0, 19));
    expect(Array.from(bytes.subarray(19))).toEqual([crc >> 8, crc & 0xff]);
  });
});

describe('secure messages', () => {
  const messages: SecureLockMessage[] = [
    { type: 'unlock', holdMs: 5000 },
    { type: 'unlock', holdMs: 0 },
    { type: 'unlock', holdMs: 65535 },
    { type: 'status' },
    { type: 'battery' },
    ...Object.keys(LOCK_RESULT_CODES).map((code) => ({ type: 'result', code, status }) as SecureLockMessage),
    ...LOCK_NOTIFICATION_TYPES.map((type) => ({ type, status: { battery: 12, locked: true, doorOpen: false, tamper: true, jammed: true } })),
  ];

  it.each(messages.map((m) => [JSON.stringify(m).slice(0, 60), m] as const))('round-trips %s', (_, message) => {
    const bytes = encodeSecureLockFrame(3, 41, message, key);
    expect(decodeLockFrame(bytes, key)).toEqual({ seq: 3, secure: true, counter: 41, message });
  });

  it('keeps UNLOCK in one ATT value and RESULT in two', () => {
    expect(encodeSecureLockFrame(1, 1, { type: 'unlock', holdMs: 1 }, key)).toHaveLength(19);
    expect(fragmentLockMessage(encodeSecureLockFrame(1, 1, { type: 'unlock', holdMs: 1 }, key))).toHaveLength(1);
    expect(fragmentLockMessage(encodeSecureLockFrame(1, 1, { type: 'result', code: 'ok', status }, key))).toHaveLength(2);
  });

  it('refuses a secure message without a session key, or under another key', () => {
    const bytes = encodeSecureLockFrame(3, 1, { type: 'status' }, key);
    rejects(() => decodeLockFrame(bytes, null), 'not-authenticated');
    const otherKey = lockSessionKey(secret, lockNonceBytes, gatewayNonce);
    expect(rejects(() => decodeLockFrame(bytes, otherKey), 'bad-mac').seq).toBe(3);
  });

  it('refuses a message whose MAC was tampered with, even with a fixed-up CRC', () => {
    const bytes = encodeSecureLockFrame(3, 1, { type: 'unlock', holdMs: 100 }, key);
    const forged = Array.from(bytes.subarray(0, bytes.length - 2));
    forged[8] = 0xff; // holdMs low byte
    rejects(() => decodeLockFrame(withCrc(forged), key), 'bad-mac');
  });

  it('refuses out-of-range values when encoding', () => {
    expect(() => encodeSecureLockFrame(1, 1, { type: 'unlock', holdMs: 70_000 }, key)).toThrow(RangeError);
    expect(() => encodeSecureLockFrame(1, 0, { type: 'status' }, key)).toThrow(RangeError);
    expect(() => encodeSecureLockFrame(256, 1, { type: 'status' }, key)).toThrow(RangeError);
    expect(() => encodeSecureLockFrame(1, 1, { type: 'jam', status: { ...status, battery: 101 } }, key)).toThrow(/0-100/);
  });
});

describe('decoding damaged bytes', () => {
  const good = encodePlainLockFrame(5, { type: 'auth-fail', reason: 'wrong-proof' });

  it('names a flipped bit a CRC error', () => {
    for (let i = 0; i < good.length; i++) {
      const bad = Uint8Array.from(good);
      bad[i] = (bad[i] ?? 0) ^ 0x10;
      rejects(() => decodeLockFrame(bad, null), 'bad-crc');
    }
  });

  it('names short and cut messages truncated', () => {
    rejects(() => decodeLockFrame(new Uint8Array(0), null), 'truncated');
    rejects(() => decodeLockFrame(Uint8Array.of(1, 4, 0, 0), null), 'truncated');
    rejects(() => decodeLockFrame(withCrc([1, LOCK_MESSAGE_TYPES.hello, 1, 1, 2, 3]), null), 'truncated');
    rejects(() => decodeLockFrame(withCrc([1, LOCK_MESSAGE_TYPES.unlock, 1, 0, 0, 0, 1]), key), 'truncated');
  });

  it('refuses an oversized message, an unknown type, a future version and bad values', () => {
    rejects(() => decodeLockFrame(new Uint8Array(LOCK_MAX_MESSAGE + 1), null), 'too-long');
    expect(rejects(() => decodeLockFrame(withCrc([1, 0x7e, 4]), null), 'unknown-type').seq).toBe(4);
    rejects(() => decodeLockFrame(withCrc([2, LOCK_MESSAGE_TYPES['auth-ok'], 4]), null), 'bad-version');
    rejects(() => decodeLockFrame(withCrc([1, LOCK_MESSAGE_TYPES['auth-ok'], 4, 0]), null), 'bad-payload');
    rejects(() => decodeLockFrame(withCrc([1, LOCK_MESSAGE_TYPES.reject, 4, 0x55]), null), 'bad-payload');
    rejects(() => decodeLockFrame(withCrc([1, LOCK_MESSAGE_TYPES['auth-fail'], 4, 0x09]), null), 'bad-payload');
  });

  it('refuses a battery over 100 % even under a valid MAC', () => {
    // Built by hand, as a buggy firmware would: the encoder refuses it.
    const header = [1, LOCK_MESSAGE_TYPES.jam, 0];
    const body = Uint8Array.of(150, 0);
    const mac = lockMessageMac(key, Uint8Array.from(header), 1, body);
    rejects(() => decodeLockFrame(withCrc([...header, 0, 0, 0, 1, ...body, ...mac]), key), 'bad-payload');
  });
});

describe('LockSession', () => {
  it('counts up per direction and refuses a replay or a reordering', () => {
    const gateway = new LockSession('gateway', key);
    const lock = new LockSession('lock', key);
    const first = gateway.seal(1, { type: 'unlock', holdMs: 3000 });
    const second = gateway.seal(2, { type: 'status' });
    expect(lock.open(first)).toMatchObject({ counter: 1, message: { type: 'unlock', holdMs: 3000 } });
    expect(lock.open(second)).toMatchObject({ counter: 2, message: { type: 'status' } });
    rejects(() => lock.open(first), 'replayed');
    rejects(() => lock.open(second), 'replayed');
    expect(lock.lastReceivedCounter).toBe(2);

    const answer = lock.seal(2, { type: 'result', code: 'ok', status });
    expect(gateway.open(answer)).toMatchObject({ counter: 1, message: { type: 'result', code: 'ok', status } });
    rejects(() => gateway.open(answer), 'replayed');
  });

  it('accepts a gap (counters strictly increase, need not be consecutive)', () => {
    const lock = new LockSession('lock', key);
    expect(lock.open(encodeSecureLockFrame(1, 10, { type: 'status' }, key))).toMatchObject({ counter: 10 });
    rejects(() => lock.open(encodeSecureLockFrame(1, 9, { type: 'status' }, key)), 'replayed');
  });

  it('refuses its own kind of message reflected back', () => {
    const gateway = new LockSession('gateway', key);
    const sent = gateway.seal(1, { type: 'unlock', holdMs: 3000 });
    rejects(() => gateway.open(sent), 'wrong-direction');
    expect(() => gateway.seal(1, { type: 'result', code: 'ok', status })).toThrow(/does not send/);
  });

  it('passes plain messages through, such as a REJECT', () => {
    const gateway = new LockSession('gateway', key);
    expect(gateway.open(encodePlainLockFrame(4, { type: 'reject', code: 'bad-mac' }))).toEqual({
      seq: 4,
      secure: false,
      message: { type: 'reject', code: 'bad-mac' },
    });
  });
});

describe('fragments', () => {
  const message = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

  it.each([
    [1, [2]],
    [19, [20]],
    [20, [20, 2]],
    [38, [20, 20]],
    [39, [20, 20, 2]],
    [57, [20, 20, 20]],
    [LOCK_MAX_MESSAGE, [...Array<number>(26).fill(20), 19]],
  ])('cuts %i bytes into ATT values of %j and puts them back', (n, sizes) => {
    const fragments = fragmentLockMessage(message(n));
    expect(fragments.map((f) => f.length)).toEqual(sizes);
    expect(fragments.every((f) => f.length <= ATT_MAX_VALUE)).toBe(true);
    fragments.forEach((f, i) => expect(f[0]).toBe(i | (i === fragments.length - 1 ? 0x80 : 0)));
    const reassembler = new LockMessageReassembler();
    const results = fragments.map((f) => reassembler.push(f));
    expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
    expect(results.at(-1)).toEqual(message(n));
    expect(reassembler.pending).toBe(false);
  });

  it('reassembles several messages in a row', () => {
    const reassembler = new LockMessageReassembler();
    for (const n of [5, 39, 20]) {
      let whole: Uint8Array | null = null;
      for (const f of fragmentLockMessage(message(n))) whole = reassembler.push(f);
      expect(whole).toEqual(message(n));
    }
  });

  it('refuses an out-of-order, repeated or missing fragment, then starts over cleanly', () => {
    const fragments = fragmentLockMessage(message(57));
    const [f0, f1, f2] = fragments as [Uint8Array, Uint8Array, Uint8Array];
    const reassembler = new LockMessageReassembler();
    expect(rejects(() => reassembler.push(f1), 'bad-fragment').message).toMatch(/fragment 1 arrived when 0 was due \(out of order\)/);
    reassembler.push(f0);
    expect(rejects(() => reassembler.push(f0), 'bad-fragment').message).toMatch(/repeated/);
    expect(reassembler.pending).toBe(false);
    reassembler.push(f0);
    rejects(() => reassembler.push(f2), 'bad-fragment');
    for (const f of fragments) reassembler.push(f);
    expect(reassembler.pending).toBe(false);
  });

  it('refuses empty and oversized ATT values, and a message past the limit', () => {
    const reassembler = new LockMessageReassembler();
    rejects(() => reassembler.push(new Uint8Array(0)), 'bad-fragment');
    rejects(() => reassembler.push(Uint8Array.of(0x80)), 'bad-fragment');
    rejects(() => reassembler.push(new Uint8Array(21)), 'bad-fragment');
    expect(() => fragmentLockMessage(message(LOCK_MAX_MESSAGE + 1))).toThrow(RangeError);
    const full = Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? 0 : 1));
    for (let index = 0; index < 26; index++) {
      full[0] = index;
      reassembler.push(full);
    }
    full[0] = 26;
    expect(rejects(() => reassembler.push(full), 'too-long').message).toMatch(/512/);
  });

  it('carries a whole handshake and session through fragments', () => {
    const lockProof = lockHelloProof(secret, gatewayNonce, lockNonceBytes);
    const challenge = encodePlainLockFrame(1, { type: 'challenge', lockNonce: lockNonceBytes, lockProof });
    expect(challenge).toHaveLength(37);
    const reassembler = new LockMessageReassembler();
    let whole: Uint8Array | null = null;
    for (const f of fragmentLockMessage(challenge)) whole = reassembler.push(f);
    const decoded = decodeLockFrame(whole!, null);
    expect(decoded.message).toEqual({ type: 'challenge', lockNonce: lockNonceBytes, lockProof });
  });
});
