import { ECDH, createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The virtual key: a credential the cloud signs (Ed25519) and the holder's phone keeps, bound to a key
 * pair the phone made with WebCrypto (ECDSA P-256) and never exports. To open, the phone signs an *open
 * token* (the credential, the door, the current time slot and a nonce) with that device key, so a copied
 * credential opens nothing and a screenshot of the QR code expires with its slot.
 *
 * Compact binary, base64url on the wire, so a token fits a QR code (see docs/doors.md for the byte
 * counts). All integers are big-endian.
 *
 * Credential, version 1:
 *
 *   off  size  field
 *   0    1     format version = 1
 *   1    1     signature algorithm: 1 = Ed25519 (RFC 8032)
 *   2    8     key id: the first 8 bytes of SHA-256 of the signing key's raw public key
 *   10   16    credential id (UUID)
 *   26   16    community id (UUID)
 *   42   16    holder id (UUID: resident, staff member or visitor pass)
 *   58   1     holder kind: 1 resident, 2 staff, 3 visitor
 *   59   4     valid from, Unix seconds
 *   63   4     valid until, Unix seconds (exclusive)
 *   67   2     use limit, 0 = unlimited
 *   69   1     device key algorithm: 1 = ES256 (ECDSA P-256, SHA-256)
 *   70   33    device public key, SEC1 compressed point
 *   103  1     scope entries n (1..MAX_SCOPE)
 *   104  2n    scope: door code 1..0x7FFF, or 0x8000 | door group code
 *   104+2n 64  Ed25519 signature over bytes 0 .. 104+2n
 *
 * Open token, version 1 (the QR payload, and the body of an online open):
 *
 *   0    1     format version = 1
 *   1    1     method: 1 online, 2 QR at the door's reader
 *   2    2     credential length L
 *   4    L     credential
 *   4+L  2     door code
 *   6+L  4     time slot: floor(Unix seconds / SLOT_SECONDS)
 *   10+L 4     nonce (random; makes two tokens of one slot distinct)
 *   14+L 64    device signature, ECDSA P-256 SHA-256, IEEE P1363 (r || s, what WebCrypto produces),
 *              over OPEN_DOMAIN || bytes 0 .. 14+L
 */
export const VIRTUAL_KEY_VERSION = 1;
export const OPEN_TOKEN_VERSION = 1;
/** A QR code changes every SLOT_SECONDS. */
export const SLOT_SECONDS = 5;
/** Clock difference between phone and gateway that is accepted, either way. */
export const CLOCK_SKEW_SECONDS = 10;
export const MAX_SCOPE = 64;
export const SIGNATURE_BYTES = 64;
export const DEVICE_KEY_BYTES = 33;
const HEADER_BYTES = 104;
export const MAX_CREDENTIAL_BYTES = HEADER_BYTES + 2 * MAX_SCOPE + SIGNATURE_BYTES;
export const MAX_OPEN_TOKEN_BYTES = 4 + MAX_CREDENTIAL_BYTES + 10 + SIGNATURE_BYTES;
/** Longest base64url open token accepted as text, before decoding. */
export const MAX_OPEN_TOKEN_CHARS = Math.ceil((MAX_OPEN_TOKEN_BYTES * 4) / 3);
/** Bound into every device signature, so a signature made for anything else never opens a door. */
export const OPEN_DOMAIN = new TextEncoder().encode('estate-door-open:v1\0');
const GROUP_FLAG = 0x8000;

export const HOLDER_KINDS = ['resident', 'staff', 'visitor'] as const;
export type HolderKind = (typeof HOLDER_KINDS)[number];
export const OPEN_METHODS = ['online', 'qr'] as const;
export type OpenMethod = (typeof OPEN_METHODS)[number];

/** A scope entry: one door by its community-wide code, or a door group by its code. */
export type DoorScope = { doors: number[]; groups: number[] };

export type VirtualKeyClaims = {
  credentialId: string;
  communityId: string;
  holderId: string;
  holderKind: HolderKind;
  validFrom: Date;
  validUntil: Date;
  /** 0 = unlimited. */
  useLimit: number;
  /** SEC1 compressed P-256 point (33 bytes). */
  devicePublicKey: Uint8Array;
  scope: DoorScope;
};

export type VirtualKey = VirtualKeyClaims & { version: number; keyId: string; signedBytes: Uint8Array; signature: Uint8Array; bytes: Uint8Array };

export type OpenToken = {
  method: OpenMethod;
  credential: VirtualKey;
  doorCode: number;
  slot: number;
  nonce: Uint8Array;
  signedBytes: Uint8Array;
  signature: Uint8Array;
};

/** Why a key or token was refused: stable codes shown to users, stored in access records, counted. */
export const DENIAL_REASONS = [
  'malformed',
  'unknown-key',
  'bad-signature',
  'wrong-community',
  'not-yet-valid',
  'expired',
  'wrong-door',
  'revoked',
  'bad-device-signature',
  'wrong-method',
  'stale-token',
  'future-token',
  'replayed',
  'use-limit-reached',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export class VirtualKeyFormatError extends Error {
  readonly reason = 'malformed' as const;
  constructor(message: string) {
    super(message);
    this.name = 'VirtualKeyFormatError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidBytes(kind: string, id: string): Uint8Array {
  if (!UUID.test(id)) throw new Error(`${kind} must be a UUID, got "${id.slice(0, 40)}"`);
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function seconds(date: Date): number {
  const s = Math.floor(date.getTime() / 1000);
  if (!Number.isFinite(s) || s < 0 || s > 0xffffffff) throw new Error(`time ${date.toISOString()} is outside the key's range`);
  return s;
}

/** The key id of an Ed25519 public key: hex of the first 8 bytes of SHA-256 over its 32 raw bytes. */
export function signingKeyId(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest().subarray(0, 8).toString('hex');
}

/** The claims as the bytes that are signed (everything before the signature). */
export function encodeKeyClaims(claims: VirtualKeyClaims, keyId: string): Uint8Array {
  const { doors, groups } = claims.scope;
  const entries = [...doors.map((d) => checkCode('door', d)), ...groups.map((g) => GROUP_FLAG | checkCode('door group', g))];
  if (entries.length === 0) throw new Error('a key must name at least one door or door group');
  if (entries.length > MAX_SCOPE) throw new Error(`a key may name at most ${MAX_SCOPE} doors and groups, not ${entries.length}`);
  if (!/^[0-9a-f]{16}$/.test(keyId)) throw new Error('key id must be 16 hex digits');
  if (claims.devicePublicKey.byteLength !== DEVICE_KEY_BYTES || (claims.devicePublicKey[0] !== 2 && claims.devicePublicKey[0] !== 3)) {
    throw new Error('device public key must be a compressed P-256 point (33 bytes starting 02 or 03)');
  }
  if (!Number.isInteger(claims.useLimit) || claims.useLimit < 0 || claims.useLimit > 0xffff) throw new Error('use limit must be 0..65535');
  if (claims.validUntil.getTime() <= claims.validFrom.getTime()) throw new Error('valid until must be after valid from');
  const out = Buffer.alloc(HEADER_BYTES + 2 * entries.length);
  out[0] = VIRTUAL_KEY_VERSION;
  out[1] = 1;
  Buffer.from(keyId, 'hex').copy(out, 2);
  out.set(uuidBytes('credential id', claims.credentialId), 10);
  out.set(uuidBytes('community id', claims.communityId), 26);
  out.set(uuidBytes('holder id', claims.holderId), 42);
  out[58] = HOLDER_KINDS.indexOf(claims.holderKind) + 1;
  out.writeUInt32BE(seconds(claims.validFrom), 59);
  out.writeUInt32BE(seconds(claims.validUntil), 63);
  out.writeUInt16BE(claims.useLimit, 67);
  out[69] = 1;
  out.set(claims.devicePublicKey, 70);
  out[103] = entries.length;
  entries.forEach((e, i) => out.writeUInt16BE(e, HEADER_BYTES + 2 * i));
  return out;
}

function checkCode(kind: string, code: number): number {
  if (!Number.isInteger(code) || code < 1 || code > 0x7fff) throw new Error(`${kind} code must be 1..32767, not ${code}`);
  return code;
}

/**
 * Signs claims with the cloud's Ed25519 private key into a credential.
 *
 * @example
 * const bytes = signVirtualKey(claims, { keyId, privateKey });
 * const text = Buffer.from(bytes).toString('base64url');
 */
export function signVirtualKey(claims: VirtualKeyClaims, signer: { keyId: string; privateKey: KeyObject }): Uint8Array {
  const body = encodeKeyClaims(claims, signer.keyId);
  const signature = sign(null, body, signer.privateKey);
  return Buffer.concat([body, signature]);
}

/** Reads a credential's fields without checking its signature (verifyOpenToken does that). */
export function decodeVirtualKey(bytes: Uint8Array): VirtualKey {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < HEADER_BYTES + 2 + SIGNATURE_BYTES) throw new VirtualKeyFormatError(`a key has at least ${HEADER_BYTES + 2 + SIGNATURE_BYTES} bytes, this one ${buf.byteLength}`);
  if (buf[0] !== VIRTUAL_KEY_VERSION) throw new VirtualKeyFormatError(`key format version ${buf[0]} is not ${VIRTUAL_KEY_VERSION}`);
  if (buf[1] !== 1) throw new VirtualKeyFormatError(`signature algorithm ${buf[1]} is not 1 (Ed25519)`);
  const kind = HOLDER_KINDS[buf[58]! - 1];
  if (!kind) throw new VirtualKeyFormatError(`holder kind ${buf[58]} is unknown`);
  if (buf[69] !== 1) throw new VirtualKeyFormatError(`device key algorithm ${buf[69]} is not 1 (ES256)`);
  const n = buf[103]!;
  if (n < 1 || n > MAX_SCOPE) throw new VirtualKeyFormatError(`scope of ${n} entries is outside 1..${MAX_SCOPE}`);
  const end = HEADER_BYTES + 2 * n;
  if (buf.byteLength !== end + SIGNATURE_BYTES) throw new VirtualKeyFormatError(`a key with ${n} scope entries has ${end + SIGNATURE_BYTES} bytes, this one ${buf.byteLength}`);
  const scope: DoorScope = { doors: [], groups: [] };
  for (let i = 0; i < n; i += 1) {
    const entry = buf.readUInt16BE(HEADER_BYTES + 2 * i);
    if ((entry & 0x7fff) === 0) throw new VirtualKeyFormatError('scope entry 0 is not a door or group');
    if (entry & GROUP_FLAG) scope.groups.push(entry & 0x7fff);
    else scope.doors.push(entry);
  }
  const devicePublicKey = buf.subarray(70, 103);
  if (devicePublicKey[0] !== 2 && devicePublicKey[0] !== 3) throw new VirtualKeyFormatError('device public key is not a compressed point');
  return {
    version: buf[0]!,
    keyId: buf.subarray(2, 10).toString('hex'),
    credentialId: uuidText(buf.subarray(10, 26)),
    communityId: uuidText(buf.subarray(26, 42)),
    holderId: uuidText(buf.subarray(42, 58)),
    holderKind: kind,
    validFrom: new Date(buf.readUInt32BE(59) * 1000),
    validUntil: new Date(buf.readUInt32BE(63) * 1000),
    useLimit: buf.readUInt16BE(67),
    devicePublicKey,
    scope,
    signedBytes: buf.subarray(0, end),
    signature: buf.subarray(end),
    bytes: buf,
  };
}

/** The time slot a moment falls in. */
export function slotOf(at: Date): number {
  return Math.floor(at.getTime() / 1000 / SLOT_SECONDS);
}

/** The bytes a device signs for an open token: OPEN_DOMAIN, then the token up to the signature. */
export function openTokenMessage(unsigned: Uint8Array): Uint8Array {
  return Buffer.concat([OPEN_DOMAIN, unsigned]);
}

/** The token's bytes before the device signature. */
export function encodeOpenTokenBody(input: { method: OpenMethod; credential: Uint8Array; doorCode: number; slot: number; nonce: Uint8Array }): Uint8Array {
  if (input.nonce.byteLength !== 4) throw new Error('nonce must be 4 bytes');
  const out = Buffer.alloc(4 + input.credential.byteLength + 10);
  out[0] = OPEN_TOKEN_VERSION;
  out[1] = OPEN_METHODS.indexOf(input.method) + 1;
  out.writeUInt16BE(input.credential.byteLength, 2);
  out.set(input.credential, 4);
  const at = 4 + input.credential.byteLength;
  out.writeUInt16BE(checkCode('door', input.doorCode), at);
  out.writeUInt32BE(input.slot >>> 0, at + 2);
  out.set(input.nonce, at + 6);
  return out;
}

/** Reads an open token (base64url text or bytes); throws VirtualKeyFormatError on anything malformed. */
export function decodeOpenToken(input: string | Uint8Array): OpenToken {
  let buf: Buffer;
  if (typeof input === 'string') {
    if (input.length > MAX_OPEN_TOKEN_CHARS) throw new VirtualKeyFormatError(`a token has at most ${MAX_OPEN_TOKEN_CHARS} characters, this one ${input.length}`);
    if (!/^[A-Za-z0-9_-]+$/.test(input)) throw new VirtualKeyFormatError('a token is base64url text (A-Z a-z 0-9 - _)');
    buf = Buffer.from(input, 'base64url');
  } else {
    buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  if (buf.byteLength > MAX_OPEN_TOKEN_BYTES) throw new VirtualKeyFormatError(`a token has at most ${MAX_OPEN_TOKEN_BYTES} bytes, this one ${buf.byteLength}`);
  if (buf.byteLength < 4) throw new VirtualKeyFormatError('the token is truncated');
  if (buf[0] !== OPEN_TOKEN_VERSION) throw new VirtualKeyFormatError(`token format version ${buf[0]} is not ${OPEN_TOKEN_VERSION}`);
  const method = OPEN_METHODS[buf[1]! - 1];
  if (!method) throw new VirtualKeyFormatError(`open method ${buf[1]} is unknown`);
  const length = buf.readUInt16BE(2);
  if (buf.byteLength !== 4 + length + 10 + SIGNATURE_BYTES) throw new VirtualKeyFormatError(`a token carrying a ${length}-byte key has ${4 + length + 10 + SIGNATURE_BYTES} bytes, this one ${buf.byteLength}`);
  const credential = decodeVirtualKey(buf.subarray(4, 4 + length));
  const at = 4 + length;
  const doorCode = buf.readUInt16BE(at);
  if (doorCode < 1 || doorCode > 0x7fff) throw new VirtualKeyFormatError(`door code ${doorCode} is outside 1..32767`);
  return {
    method,
    credential,
    doorCode,
    slot: buf.readUInt32BE(at + 2),
    nonce: buf.subarray(at + 6, at + 10),
    signedBytes: buf.subarray(0, at + 10),
    signature: buf.subarray(at + 10),
  };
}

/** A P-256 public key from its compressed SEC1 form. */
export function deviceKeyObject(compressed: Uint8Array): KeyObject {
  const uncompressed = ECDH.convertKey(Buffer.from(compressed), 'prime256v1', undefined, undefined, 'uncompressed') as Buffer;
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: uncompressed.subarray(1, 33).toString('base64url'), y: uncompressed.subarray(33, 65).toString('base64url') }, format: 'jwk' });
}

/** An Ed25519 public key from its 32 raw bytes. */
export function signingKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** What a verifier knows; the gateway and the cloud each provide their own. */
export type OpenCheckContext = {
  now: Date;
  communityId: string;
  /** How the token arrived: a QR token handed in online (a screenshot sent away from the door) is refused. */
  method: OpenMethod;
  /** The door being opened: its code and the groups it belongs to. */
  door: { code: number; groups: readonly number[] };
  /** Signing keys in force, by key id. */
  signingKey(keyId: string): KeyObject | undefined;
  isRevoked(credentialId: string): boolean;
  /** Successful opens counted so far for this credential. */
  usesSoFar(credentialId: string): number;
  /** Whether this replay key was already used (the verifier does not record it: the caller does, on opening). */
  seen(replayKey: string): boolean;
};

export type OpenCheck =
  | { ok: true; token: OpenToken; replayKey: string }
  | { ok: false; reason: DenialReason; detail: string; token: OpenToken | null };

/**
 * Decides whether an open token opens this door, in the order that says the most honest reason: format,
 * then the cloud's signature, then the device's, then scope, window, revocation, freshness, replay and
 * use count. Pure and synchronous; the gateway runs it offline with its cached key set and revocations,
 * the cloud runs it before sending the command.
 *
 * @example
 * const check = checkOpenToken(qrText, { now: new Date(), communityId, door: { code: 3, groups: [1] }, ...state });
 * if (!check.ok) record('denied', check.reason);
 */
export function checkOpenToken(input: string | Uint8Array, ctx: OpenCheckContext): OpenCheck {
  let token: OpenToken;
  try {
    token = decodeOpenToken(input);
  } catch (error) {
    return { ok: false, reason: 'malformed', detail: (error as Error).message, token: null };
  }
  const key = token.credential;
  const deny = (reason: DenialReason, detail: string): OpenCheck => ({ ok: false, reason, detail, token });
  const signingKey = ctx.signingKey(key.keyId);
  if (!signingKey) return deny('unknown-key', `signing key ${key.keyId} is not in this community's key set`);
  if (!verify(null, key.signedBytes, signingKey, key.signature)) return deny('bad-signature', 'the key was not signed by the community');
  let deviceOk = false;
  try {
    deviceOk = verify('sha256', openTokenMessage(token.signedBytes), { key: deviceKeyObject(key.devicePublicKey), dsaEncoding: 'ieee-p1363' }, token.signature);
  } catch {
    deviceOk = false;
  }
  if (!deviceOk) return deny('bad-device-signature', 'the token was not signed by the device the key was issued to');
  if (token.method !== ctx.method) return deny('wrong-method', `the token was made for ${token.method === 'qr' ? 'a door reader' : 'an online open'}, not ${ctx.method === 'qr' ? 'a door reader' : 'an online open'}`);
  if (key.communityId !== ctx.communityId) return deny('wrong-community', 'the key is for another community');
  if (token.doorCode !== ctx.door.code) return deny('wrong-door', `the token is for door ${token.doorCode}, not door ${ctx.door.code}`);
  if (!key.scope.doors.includes(ctx.door.code) && !key.scope.groups.some((g) => ctx.door.groups.includes(g))) return deny('wrong-door', `the key does not open door ${ctx.door.code}`);
  const now = ctx.now.getTime();
  if (now < key.validFrom.getTime()) return deny('not-yet-valid', `the key is valid from ${key.validFrom.toISOString()}`);
  if (now >= key.validUntil.getTime()) return deny('expired', `the key expired at ${key.validUntil.toISOString()}`);
  if (ctx.isRevoked(key.credentialId)) return deny('revoked', 'the key was revoked');
  const slotStart = token.slot * SLOT_SECONDS * 1000;
  if (slotStart + SLOT_SECONDS * 1000 + CLOCK_SKEW_SECONDS * 1000 <= now) return deny('stale-token', `the token's time slot ended ${Math.round((now - slotStart) / 1000) - SLOT_SECONDS} s ago; the phone shows a new one every ${SLOT_SECONDS} s`);
  if (slotStart - CLOCK_SKEW_SECONDS * 1000 > now) return deny('future-token', `the token's time slot starts ${Math.round((slotStart - now) / 1000)} s ahead of the door's clock`);
  const replayKey = `${key.credentialId}/${token.doorCode}/${token.slot}/${Buffer.from(token.nonce).toString('hex')}`;
  if (ctx.seen(replayKey)) return deny('replayed', 'this token was already used');
  if (key.useLimit > 0 && ctx.usesSoFar(key.credentialId) >= key.useLimit) return deny('use-limit-reached', `the key's ${key.useLimit} uses are spent`);
  return { ok: true, token, replayKey };
}

/** How long a replay key must be remembered: past the time no clock could still accept its slot. */
export const REPLAY_MEMORY_MS = (SLOT_SECONDS + 2 * CLOCK_SKEW_SECONDS) * 1000;

/** A P-256 public key in the compressed SEC1 form keys carry (02/03 || x). */
export function compressDeviceKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('the device key must be an ECDSA P-256 key');
  const y = Buffer.from(jwk.y, 'base64url');
  return Buffer.concat([Buffer.from([(y[31]! & 1) === 1 ? 3 : 2]), Buffer.from(jwk.x, 'base64url')]);
}

/**
 * What a phone does to open a door, for Node callers (the simulated phones of tests, the bench and the
 * demo); the H5 page does the same with WebCrypto.
 *
 * @example
 * const token = signOpenToken({ credential, doorCode: 3, method: 'qr', at: new Date(), devicePrivateKey });
 */
export function signOpenToken(input: { credential: Uint8Array; doorCode: number; method: OpenMethod; at: Date; devicePrivateKey: KeyObject; nonce?: Uint8Array }): string {
  const nonce = input.nonce ?? Buffer.from(Array.from({ length: 4 }, () => Math.floor(Math.random() * 256)));
  const body = encodeOpenTokenBody({ method: input.method, credential: input.credential, doorCode: input.doorCode, slot: slotOf(input.at), nonce });
  const signature = sign('sha256', openTokenMessage(body), { key: input.devicePrivateKey, dsaEncoding: 'ieee-p1363' });
  return Buffer.concat([body, signature]).toString('base64url');
}
