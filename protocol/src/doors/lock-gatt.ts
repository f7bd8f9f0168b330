import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ATT_MAX_VALUE } from './gatt-central.js';

/**
 * Our door lock's BLE protocol, as the gateway and the lock firmware both compute it: pure code, no I/O.
 * docs/ble-lock-protocol.md is the same for a firmware author, with worked bytes.
 *
 * GATT: one primary service with three characteristics (LOCK_GATT). The gateway writes requests to
 * `control` (write with response), the lock answers and reports events as notifications on `response`,
 * and `info` (read, unauthenticated) says model, firmware and protocol version.
 *
 * Framing. With the default ATT_MTU of 23 a write or notification carries at most 20 bytes (Core Spec
 * 5.3, Vol 3, Part F, 3.4.5.1 and 3.4.7.1), so a message travels as fragments: each ATT value is one
 * header byte (bit 7 = last fragment, bits 0-6 = index 0..127) and up to 19 message bytes. We do not
 * rely on an MTU exchange: many phone-class and embedded stacks never raise it.
 *
 * Message (all integers big-endian):
 *
 *   off  size  field
 *   0    1     version = 1
 *   1    1     type (LOCK_MESSAGE_TYPES)
 *   2    1     seq: the gateway numbers each request 1..255; a response echoes it; notifications carry 0
 *   3    n     payload
 *   3+n  2     CRC-16/CCITT-FALSE over bytes 0 .. 3+n
 *
 * Handshake (plain payloads): HELLO{gatewayNonce 16} -> CHALLENGE{lockNonce 16, lockProof 16} ->
 * AUTH{proof 16} -> AUTH_OK{} | AUTH_FAIL{reason u8}. The gateway checks lockProof before it answers, so
 * an impostor lock is refused too. Afterwards every message is secure:
 *
 *   payload = counter u32 | body | mac 8,  mac = HMAC-SHA256(sessionKey, bytes 0..2 | counter | body)[0..8]
 *
 * Counters start at 1 in each direction for each session and must strictly increase. The MAC covers the
 * type, and the types a gateway sends differ from the ones a lock sends, so a message reflected back to
 * its sender is refused as well as a replayed one.
 */
export const LOCK_GATT = {
  service: 'e57a1000-10c4-4b1e-9a7e-d00210c4e57a',
  control: 'e57a1001-10c4-4b1e-9a7e-d00210c4e57a',
  response: 'e57a1002-10c4-4b1e-9a7e-d00210c4e57a',
  info: 'e57a1003-10c4-4b1e-9a7e-d00210c4e57a',
} as const;

export const LOCK_PROTOCOL_VERSION = 1;
/** The longest message either side accepts; our longest is 37 bytes, the rest is room for later versions. */
export const LOCK_MAX_MESSAGE = 512;
export const LOCK_FRAGMENT_PAYLOAD = ATT_MAX_VALUE - 1;
export const LOCK_SECRET_BYTES = 16;
export const LOCK_NONCE_BYTES = 16;
export const LOCK_PROOF_BYTES = 16;
export const LOCK_MAC_BYTES = 8;
const LAST_FRAGMENT = 0x80;
const HEADER_BYTES = 3;
const CRC_BYTES = 2;
const COUNTER_BYTES = 4;

export const LOCK_MESSAGE_TYPES = {
  hello: 0x01,
  challenge: 0x02,
  auth: 0x03,
  'auth-ok': 0x04,
  'auth-fail': 0x05,
  reject: 0x06,
  unlock: 0x10,
  status: 0x11,
  battery: 0x12,
  result: 0x20,
  'door-opened': 0x30,
  'door-closed': 0x31,
  tamper: 0x32,
  jam: 0x33,
  'battery-low': 0x34,
} as const;
export type LockMessageType = keyof typeof LOCK_MESSAGE_TYPES;
const TYPE_BY_CODE = new Map<number, LockMessageType>(Object.entries(LOCK_MESSAGE_TYPES).map(([name, code]) => [code, name as LockMessageType]));

/** What a RESULT (or a plain REJECT) says happened to a request. */
export const LOCK_RESULT_CODES = {
  ok: 0x00,
  jammed: 0x01,
  'low-battery': 0x02,
  busy: 0x03,
  'bad-mac': 0x04,
  'not-authenticated': 0x05,
  replayed: 0x06,
  'bad-frame': 0x07,
  'bad-request': 0x08,
} as const;
export type LockResultCode = keyof typeof LOCK_RESULT_CODES;
const RESULT_BY_CODE = new Map<number, LockResultCode>(Object.entries(LOCK_RESULT_CODES).map(([name, code]) => [code, name as LockResultCode]));

export const LOCK_AUTH_FAIL_REASONS = { 'wrong-proof': 0x01, 'no-challenge': 0x02 } as const;
export type LockAuthFailReason = keyof typeof LOCK_AUTH_FAIL_REASONS;
const AUTH_FAIL_BY_CODE = new Map<number, LockAuthFailReason>(
  Object.entries(LOCK_AUTH_FAIL_REASONS).map(([name, code]) => [code, name as LockAuthFailReason]),
);

export const LOCK_NOTIFICATION_TYPES = ['door-opened', 'door-closed', 'tamper', 'jam', 'battery-low'] as const;
export type LockNotificationType = (typeof LOCK_NOTIFICATION_TYPES)[number];

/** Status bits as the lock reports them: battery % then a flags byte. */
export type LockStatusReport = { battery: number; locked: boolean; doorOpen: boolean; tamper: boolean; jammed: boolean };
const FLAG = { locked: 0x01, doorOpen: 0x02, tamper: 0x04, jammed: 0x08 } as const;

export type PlainLockMessage =
  | { type: 'hello'; gatewayNonce: Uint8Array }
  | { type: 'challenge'; lockNonce: Uint8Array; lockProof: Uint8Array }
  | { type: 'auth'; proof: Uint8Array }
  | { type: 'auth-ok' }
  | { type: 'auth-fail'; reason: LockAuthFailReason }
  /** The lock's answer when it cannot or will not MAC one: before a session, bad MAC, replay, bad frame. */
  | { type: 'reject'; code: LockResultCode };

export type SecureLockMessage =
  /** holdMs 0 = the lock's own default hold time. */
  | { type: 'unlock'; holdMs: number }
  | { type: 'status' }
  | { type: 'battery' }
  | { type: 'result'; code: LockResultCode; status: LockStatusReport }
  | { type: LockNotificationType; status: LockStatusReport };

export type LockMessage = PlainLockMessage | SecureLockMessage;

export type DecodedLockFrame =
  | { seq: number; secure: false; message: PlainLockMessage }
  | { seq: number; secure: true; counter: number; message: SecureLockMessage };

const SECURE_TYPES = new Set<LockMessageType>(['unlock', 'status', 'battery', 'result', ...LOCK_NOTIFICATION_TYPES]);
const GATEWAY_TYPES = new Set<LockMessageType>(['hello', 'auth', 'unlock', 'status', 'battery']);

/** Which side may send a message type. */
export function lockMessageSender(type: LockMessageType): 'gateway' | 'lock' {
  return GATEWAY_TYPES.has(type) ? 'gateway' : 'lock';
}

export type LockProtocolErrorCode =
  | 'bad-fragment'
  | 'too-long'
  | 'truncated'
  | 'bad-crc'
  | 'bad-version'
  | 'unknown-type'
  | 'bad-payload'
  | 'bad-mac'
  | 'replayed'
  | 'not-authenticated'
  | 'wrong-direction';

/** Every way bytes from the air can be refused. `seq` is the frame's when its header could be read. */
export class LockProtocolError extends Error {
  constructor(
    readonly code: LockProtocolErrorCode,
    message: string,
    readonly seq: number | null = null,
  ) {
    super(message);
    this.name = 'LockProtocolError';
  }
}

// CRC-16/CCITT-FALSE (catalogued as CRC-16/IBM-3740): poly 0x1021, init 0xFFFF, not reflected, xorout 0,
// check value 0x29B1 over "123456789".
const CRC_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/**
 * CRC-16/CCITT-FALSE of some bytes.
 *
 * @example
 * crc16CcittFalse(new TextEncoder().encode('123456789')) // 0x29b1
 */
export function crc16CcittFalse(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

// ---- crypto, the same on both ends ----

const LABEL = { lockHello: ascii('lock-hello'), gatewayAuth: ascii('gw-auth'), session: ascii('session') };

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return new Uint8Array(mac.digest());
}

function checkLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${bytes.length}`);
}

/** A fresh random nonce for HELLO or CHALLENGE; never reuse one. */
export function lockNonce(): Uint8Array {
  return new Uint8Array(randomBytes(LOCK_NONCE_BYTES));
}

/**
 * The lock's proof in CHALLENGE: HMAC-SHA256(secret, "lock-hello" | gatewayNonce | lockNonce), first 16 bytes.
 *
 * @example
 * const proof = lockHelloProof(secret, hello.gatewayNonce, lockNonce());
 */
export function lockHelloProof(secret: Uint8Array, gatewayNonce: Uint8Array, lockNonceBytes: Uint8Array): Uint8Array {
  checkLength('the lock secret', secret, LOCK_SECRET_BYTES);
  return hmac(secret, LABEL.lockHello, gatewayNonce, lockNonceBytes).subarray(0, LOCK_PROOF_BYTES);
}

/**
 * The gateway's proof in AUTH: HMAC-SHA256(secret, "gw-auth" | lockNonce | gatewayNonce), first 16 bytes.
 * The nonces go in the other order from the lock's proof, and under another label, so neither proof can
 * be replayed as the other.
 *
 * @example
 * const auth = { type: 'auth', proof: gatewayAuthProof(secret, challenge.lockNonce, gatewayNonce) };
 */
export function gatewayAuthProof(secret: Uint8Array, lockNonceBytes: Uint8Array, gatewayNonce: Uint8Array): Uint8Array {
  checkLength('the lock secret', secret, LOCK_SECRET_BYTES);
  return hmac(secret, LABEL.gatewayAuth, lockNonceBytes, gatewayNonce).subarray(0, LOCK_PROOF_BYTES);
}

/**
 * The session key both ends derive once AUTH_OK is sent: HMAC-SHA256(secret, "session" | gatewayNonce | lockNonce),
 * all 32 bytes. Both nonces are fresh per connection, so a recorded session replays into nothing.
 *
 * @example
 * const session = new LockSession('gateway', lockSessionKey(secret, gatewayNonce, challenge.lockNonce));
 */
export function lockSessionKey(secret: Uint8Array, gatewayNonce: Uint8Array, lockNonceBytes: Uint8Array): Uint8Array {
  checkLength('the lock secret', secret, LOCK_SECRET_BYTES);
  return hmac(secret, LABEL.session, gatewayNonce, lockNonceBytes);
}

/** The 8-byte MAC of a secure message: HMAC-SHA256(sessionKey, header | counter | body), truncated. */
export function lockMessageMac(sessionKey: Uint8Array, header: Uint8Array, counter: number, body: Uint8Array): Uint8Array {
  return hmac(sessionKey, header, u32(counter), body).subarray(0, LOCK_MAC_BYTES);
}

/** Compares two proofs or MACs in constant time, so timing does not leak how many bytes matched. */
export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(COUNTER_BYTES);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

// ---- messages ----

function statusBytes(status: LockStatusReport): Uint8Array {
  if (!Number.isInteger(status.battery) || status.battery < 0 || status.battery > 100) throw new RangeError(`battery must be 0-100 %, got ${status.battery}`);
  const flags =
    (status.locked ? FLAG.locked : 0) | (status.doorOpen ? FLAG.doorOpen : 0) | (status.tamper ? FLAG.tamper : 0) | (status.jammed ? FLAG.jammed : 0);
  return Uint8Array.of(status.battery, flags);
}

function plainPayload(message: PlainLockMessage): Uint8Array {
  switch (message.type) {
    case 'hello':
      checkLength('gatewayNonce', message.gatewayNonce, LOCK_NONCE_BYTES);
      return message.gatewayNonce;
    case 'challenge':
      checkLength('lockNonce', message.lockNonce, LOCK_NONCE_BYTES);
      checkLength('lockProof', message.lockProof, LOCK_PROOF_BYTES);
      return Uint8Array.from([...message.lockNonce, ...message.lockProof]);
    case 'auth':
      checkLength('proof', message.proof, LOCK_PROOF_BYTES);
      return message.proof;
    case 'auth-ok':
      return new Uint8Array(0);
    case 'auth-fail':
      return Uint8Array.of(LOCK_AUTH_FAIL_REASONS[message.reason]);
    case 'reject':
      return Uint8Array.of(LOCK_RESULT_CODES[message.code]);
  }
}

function secureBody(message: SecureLockMessage): Uint8Array {
  switch (message.type) {
    case 'unlock':
      if (!Number.isInteger(message.holdMs) || message.holdMs < 0 || message.holdMs > 0xffff) throw new RangeError(`holdMs must be 0-65535, got ${message.holdMs}`);
      return Uint8Array.of(message.holdMs >> 8, message.holdMs & 0xff);
    case 'status':
    case 'battery':
      return new Uint8Array(0);
    case 'result':
      return Uint8Array.from([LOCK_RESULT_CODES[message.code], ...statusBytes(message.status)]);
    default:
      return statusBytes(message.status);
  }
}

function frame(type: LockMessageType, seq: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xff) throw new RangeError(`seq must be 0-255, got ${seq}`);
  const out = new Uint8Array(HEADER_BYTES + payload.length + CRC_BYTES);
  if (out.length > LOCK_MAX_MESSAGE) throw new RangeError(`a ${out.length}-byte message is over the ${LOCK_MAX_MESSAGE}-byte limit`);
  out.set([LOCK_PROTOCOL_VERSION, LOCK_MESSAGE_TYPES[type], seq]);
  out.set(payload, HEADER_BYTES);
  const crc = crc16CcittFalse(out.subarray(0, out.length - CRC_BYTES));
  out.set([crc >> 8, crc & 0xff], out.length - CRC_BYTES);
  return out;
}

/**
 * Encodes a handshake message (or a REJECT) as one whole message, before fragmentation.
 *
 * @example
 * const hello = encodePlainLockFrame(1, { type: 'hello', gatewayNonce: lockNonce() });
 */
export function encodePlainLockFrame(seq: number, message: PlainLockMessage): Uint8Array {
  return frame(message.type, seq, plainPayload(message));
}

/**
 * Encodes a secure message: counter, body and MAC under the session key. LockSession.seal picks the
 * counter; call this directly only to build test vectors or attacks.
 *
 * @example
 * encodeSecureLockFrame(7, 1, { type: 'unlock', holdMs: 5000 }, sessionKey)
 */
export function encodeSecureLockFrame(seq: number, counter: number, message: SecureLockMessage, sessionKey: Uint8Array): Uint8Array {
  if (!Number.isInteger(counter) || counter < 1 || counter > 0xffffffff) throw new RangeError(`counter must be 1..2^32-1, got ${counter}`);
  const body = secureBody(message);
  const header = Uint8Array.of(LOCK_PROTOCOL_VERSION, LOCK_MESSAGE_TYPES[message.type], seq);
  const mac = lockMessageMac(sessionKey, header, counter, body);
  return frame(message.type, seq, Uint8Array.from([...u32(counter), ...body, ...mac]));
}

/** Expected payload length by type (secure ones: body only). */
const PAYLOAD_BYTES: Record<LockMessageType, number> = {
  hello: LOCK_NONCE_BYTES,
  challenge: LOCK_NONCE_BYTES + LOCK_PROOF_BYTES,
  auth: LOCK_PROOF_BYTES,
  'auth-ok': 0,
  'auth-fail': 1,
  reject: 1,
  unlock: 2,
  status: 0,
  battery: 0,
  result: 3,
  'door-opened': 2,
  'door-closed': 2,
  tamper: 2,
  jam: 2,
  'battery-low': 2,
};

/**
 * Checks and decodes one whole (reassembled) message. A secure message needs the session key, and its
 * MAC is checked here; whether its counter is fresh is the session's business (LockSession.open).
 * Anything wrong is a LockProtocolError with a code, never another exception.
 *
 * @example
 * const frame = decodeLockFrame(bytes, null); // { seq: 1, secure: false, message: { type: 'challenge', ... } }
 */
export function decodeLockFrame(bytes: Uint8Array, sessionKey: Uint8Array | null): DecodedLockFrame {
  if (bytes.length > LOCK_MAX_MESSAGE) throw new LockProtocolError('too-long', `a ${bytes.length}-byte message is over the ${LOCK_MAX_MESSAGE}-byte limit`);
  if (bytes.length < HEADER_BYTES + CRC_BYTES) throw new LockProtocolError('truncated', `a message has at least 5 bytes, got ${bytes.length}`);
  const seq = bytes[2] ?? 0;
  const sent = ((bytes[bytes.length - 2] ?? 0) << 8) | (bytes[bytes.length - 1] ?? 0);
  const computed = crc16CcittFalse(bytes.subarray(0, bytes.length - CRC_BYTES));
  if (sent !== computed) {
    throw new LockProtocolError('bad-crc', `CRC is 0x${hex16(sent)}, the bytes give 0x${hex16(computed)}: corrupted or cut`, seq);
  }
  if (bytes[0] !== LOCK_PROTOCOL_VERSION) throw new LockProtocolError('bad-version', `protocol version ${bytes[0]} is not ${LOCK_PROTOCOL_VERSION}`, seq);
  const type = TYPE_BY_CODE.get(bytes[1] ?? 0);
  if (!type) throw new LockProtocolError('unknown-type', `message type 0x${(bytes[1] ?? 0).toString(16)} is not one we know`, seq);
  const payload = bytes.subarray(HEADER_BYTES, bytes.length - CRC_BYTES);
  if (!SECURE_TYPES.has(type)) return { seq, secure: false, message: plainMessage(type, exactPayload(type, payload, seq), seq) };

  if (!sessionKey) throw new LockProtocolError('not-authenticated', `${type} needs an authenticated session`, seq);
  const body = exactPayload(type, payload.subarray(COUNTER_BYTES, payload.length - LOCK_MAC_BYTES), seq, COUNTER_BYTES + LOCK_MAC_BYTES, payload.length);
  const counter = new DataView(payload.buffer, payload.byteOffset, COUNTER_BYTES).getUint32(0);
  const mac = payload.subarray(payload.length - LOCK_MAC_BYTES);
  if (!proofMatches(lockMessageMac(sessionKey, bytes.subarray(0, HEADER_BYTES), counter, body), mac)) {
    throw new LockProtocolError('bad-mac', `${type} #${counter} has a MAC that does not match the session key`, seq);
  }
  if (counter === 0) throw new LockProtocolError('bad-payload', 'counter 0 is never sent', seq);
  return { seq, secure: true, counter, message: secureMessage(type, body, seq) };
}

function hex16(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** The payload must have exactly the type's length (plus the secure envelope's `extra` bytes). */
function exactPayload(type: LockMessageType, payload: Uint8Array, seq: number, extra = 0, whole = payload.length): Uint8Array {
  const want = PAYLOAD_BYTES[type] + extra;
  if (whole < want) throw new LockProtocolError('truncated', `${type} needs ${want} payload bytes, got ${whole}`, seq);
  if (whole > want) throw new LockProtocolError('bad-payload', `${type} has ${want} payload bytes, got ${whole}`, seq);
  return payload;
}

function plainMessage(type: LockMessageType, payload: Uint8Array, seq: number): PlainLockMessage {
  const copy = (from: number, to: number) => Uint8Array.from(payload.subarray(from, to));
  switch (type) {
    case 'hello':
      return { type, gatewayNonce: copy(0, LOCK_NONCE_BYTES) };
    case 'challenge':
      return { type, lockNonce: copy(0, LOCK_NONCE_BYTES), lockProof: copy(LOCK_NONCE_BYTES, LOCK_NONCE_BYTES + LOCK_PROOF_BYTES) };
    case 'auth':
      return { type, proof: copy(0, LOCK_PROOF_BYTES) };
    case 'auth-ok':
      return { type };
    case 'auth-fail': {
      const reason = AUTH_FAIL_BY_CODE.get(payload[0] ?? 0);
      if (!reason) throw new LockProtocolError('bad-payload', `auth-fail reason 0x${(payload[0] ?? 0).toString(16)} is not one we know`, seq);
      return { type, reason };
    }
    default:
      return { type: 'reject', code: resultCode(payload[0] ?? 0, seq) };
  }
}

function secureMessage(type: LockMessageType, body: Uint8Array, seq: number): SecureLockMessage {
  switch (type) {
    case 'unlock':
      return { type, holdMs: ((body[0] ?? 0) << 8) | (body[1] ?? 0) };
    case 'status':
    case 'battery':
      return { type };
    case 'result':
      return { type, code: resultCode(body[0] ?? 0, seq), status: statusOf(body.subarray(1), seq) };
    default:
      return { type: type as LockNotificationType, status: statusOf(body, seq) };
  }
}

function resultCode(code: number, seq: number): LockResultCode {
  const name = RESULT_BY_CODE.get(code);
  if (!name) throw new LockProtocolError('bad-payload', `result code 0x${code.toString(16)} is not one we know`, seq);
  return name;
}

/** Unknown flag bits are ignored: a later firmware may report more without breaking older gateways. */
function statusOf(bytes: Uint8Array, seq: number): LockStatusReport {
  const battery = bytes[0] ?? 0;
  const flags = bytes[1] ?? 0;
  if (battery > 100) throw new LockProtocolError('bad-payload', `battery ${battery} % is over 100`, seq);
  return {
    battery,
    locked: (flags & FLAG.locked) !== 0,
    doorOpen: (flags & FLAG.doorOpen) !== 0,
    tamper: (flags & FLAG.tamper) !== 0,
    jammed: (flags & FLAG.jammed) !== 0,
  };
}

/**
 * One side's view of an authenticated session: seals outgoing secure messages with the next counter, and
 * opens incoming ones, refusing a counter that is not above the last one accepted (a replay), and a
 * secure message that only the other side may send (a reflection). Plain messages pass through.
 *
 * @example
 * const session = new LockSession('gateway', lockSessionKey(secret, gatewayNonce, lockNonceBytes));
 * const bytes = session.seal(2, { type: 'unlock', holdMs: 5000 });
 * const answer = session.open(reassembled); // { secure: true, message: { type: 'result', code: 'ok', ... } }
 */
export class LockSession {
  private sent = 0;
  private received = 0;

  constructor(
    readonly role: 'gateway' | 'lock',
    private readonly key: Uint8Array,
  ) {}

  /** The last counter accepted from the other side (0 before any). */
  get lastReceivedCounter(): number {
    return this.received;
  }

  seal(seq: number, message: SecureLockMessage): Uint8Array {
    if (lockMessageSender(message.type) !== this.role) throw new RangeError(`a ${this.role} does not send ${message.type}`);
    // A new session (reconnect and handshake) long before 2^32 messages; reaching it means a bug.
    if (this.sent >= 0xffffffff) throw new RangeError('the session counter is used up: reconnect for a new session');
    return encodeSecureLockFrame(seq, ++this.sent, message, this.key);
  }

  open(bytes: Uint8Array): DecodedLockFrame {
    const decoded = decodeLockFrame(bytes, this.key);
    if (!decoded.secure) return decoded;
    if (lockMessageSender(decoded.message.type) === this.role) {
      throw new LockProtocolError('wrong-direction', `${decoded.message.type} comes from a ${this.role}, not to one: reflected?`, decoded.seq);
    }
    if (decoded.counter <= this.received) {
      throw new LockProtocolError('replayed', `counter ${decoded.counter} is not above ${this.received}: replayed or reordered`, decoded.seq);
    }
    this.received = decoded.counter;
    return decoded;
  }
}

// ---- fragments ----

/**
 * Cuts a whole message into ATT values of at most ATT_MAX_VALUE bytes: a header byte (bit 7 = last,
 * bits 0-6 = index) and up to 19 message bytes each.
 *
 * @example
 * fragmentLockMessage(new Uint8Array(39)).map((v) => v.length) // [20, 20, 2]
 */
export function fragmentLockMessage(message: Uint8Array): Uint8Array[] {
  if (message.length === 0 || message.length > LOCK_MAX_MESSAGE) throw new RangeError(`a message has 1-${LOCK_MAX_MESSAGE} bytes, got ${message.length}`);
  const fragments: Uint8Array[] = [];
  for (let offset = 0, index = 0; offset < message.length; offset += LOCK_FRAGMENT_PAYLOAD, index++) {
    const chunk = message.subarray(offset, offset + LOCK_FRAGMENT_PAYLOAD);
    const last = offset + LOCK_FRAGMENT_PAYLOAD >= message.length;
    fragments.push(Uint8Array.from([(last ? LAST_FRAGMENT : 0) | index, ...chunk]));
  }
  return fragments;
}

/**
 * Puts fragments back together, one message at a time. ATT over an LE link is reliable and in order, so
 * a fragment out of order, repeated or missing means a broken peer or a lost link: the partial message is
 * dropped and a LockProtocolError('bad-fragment' | 'too-long') thrown; the next index-0 fragment starts over.
 *
 * @example
 * const reassembler = new LockMessageReassembler();
 * for (const value of fragmentLockMessage(bytes)) message = reassembler.push(value) ?? message;
 */
export class LockMessageReassembler {
  private parts: Uint8Array[] = [];
  private length = 0;

  /** A message is partly received. */
  get pending(): boolean {
    return this.parts.length > 0;
  }

  /** Takes one ATT value; returns the whole message when this was its last fragment, else null. */
  push(value: Uint8Array): Uint8Array | null {
    if (value.length < 2 || value.length > ATT_MAX_VALUE) {
      return this.fail('bad-fragment', `a fragment has 2-${ATT_MAX_VALUE} bytes, got ${value.length}`);
    }
    const header = value[0] ?? 0;
    const index = header & 0x7f;
    if (index !== this.parts.length) {
      const what = index < this.parts.length ? 'repeated or restarted' : 'out of order';
      return this.fail('bad-fragment', `fragment ${index} arrived when ${this.parts.length} was due (${what})`);
    }
    this.length += value.length - 1;
    if (this.length > LOCK_MAX_MESSAGE) return this.fail('too-long', `the message runs past ${LOCK_MAX_MESSAGE} bytes`);
    this.parts.push(value.subarray(1));
    if (!(header & LAST_FRAGMENT)) return null;
    const message = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      message.set(part, offset);
      offset += part.length;
    }
    this.reset();
    return message;
  }

  reset(): void {
    this.parts = [];
    this.length = 0;
  }

  private fail(code: 'bad-fragment' | 'too-long', message: string): never {
    this.reset();
    throw new LockProtocolError(code, message);
  }
}

// ---- info characteristic ----

/** What `info` says, readable without authentication: [protocol u8][firmware major, minor, patch u8][model ASCII 1-16]. */
export type LockInfo = { protocol: number; firmware: string; model: string };

/**
 * Encodes the `info` value (at most 20 bytes, so one plain ATT read returns all of it).
 *
 * @example
 * encodeLockInfo({ protocol: 1, firmware: '1.4.2', model: 'EL-200' })
 */
export function encodeLockInfo(info: LockInfo): Uint8Array {
  const parts = info.firmware.split('.').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`firmware "${info.firmware}" is not major.minor.patch`);
  if (!/^[\x20-\x7e]{1,16}$/.test(info.model)) throw new RangeError(`model "${info.model}" must be 1-16 printable ASCII characters`);
  return Uint8Array.from([info.protocol, ...parts, ...ascii(info.model)]);
}

/** Decodes the `info` value; see encodeLockInfo. */
export function decodeLockInfo(bytes: Uint8Array): LockInfo {
  if (bytes.length < 5 || bytes.length > 20) throw new LockProtocolError('bad-payload', `lock info has 5-20 bytes, got ${bytes.length}`);
  return { protocol: bytes[0] ?? 0, firmware: `${bytes[1]}.${bytes[2]}.${bytes[3]}`, model: new TextDecoder().decode(bytes.subarray(4)) };
}
