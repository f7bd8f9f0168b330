/**
 * The phone's half of a door key (protocol/src/doors/virtual-key.ts has the byte formats): a device key
 * pair made with WebCrypto, kept in IndexedDB with its private half not extractable, and the open tokens
 * signed with it. A token proves this phone holds the key *now* (a 5-second slot and a nonce), so a
 * copied credential or an old screenshot of the QR code opens nothing.
 */

/** A QR code changes every SLOT_SECONDS (virtual-key.ts SLOT_SECONDS). */
export const SLOT_SECONDS = 5;
/** Bound into every device signature (virtual-key.ts OPEN_DOMAIN): "estate-door-open:v1" and a 0 byte. */
const OPEN_DOMAIN = new TextEncoder().encode('estate-door-open:v1\0');
const METHOD_CODES = { online: 1, qr: 2 };
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' };

export class DeviceKeyError extends Error {
  constructor(message, cause) {
    super(message, { cause });
    this.name = 'DeviceKeyError';
    this.summary = message;
  }
}

/** base64url without padding, as the API writes credentials and tokens. */
export function toBase64url(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function fromBase64url(text) {
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The time slot a moment (epoch milliseconds) falls in. */
export function slotOf(ms) {
  return Math.floor(ms / 1000 / SLOT_SECONDS);
}

// ---- the device key pair, one per name ('resident', 'visitor:<passId>'), in IndexedDB ----

const DB_NAME = 'estate-doors';
const STORE = 'device-keys';
const pending = new Map();

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function stored(db, mode, operation) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = operation(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

async function loadOrCreate(name) {
  if (!globalThis.crypto?.subtle) {
    throw new DeviceKeyError('此浏览器不能生成开门密钥：请使用 HTTPS 地址打开本页面');
  }
  let db = null;
  try {
    db = await openDb();
    const pair = await stored(db, 'readonly', (store) => store.get(name));
    if (pair?.privateKey && pair?.publicKey) return pair;
  } catch {
    db = null; // private browsing without IndexedDB: the key lives as long as the page
  }
  // The private key is not extractable: it cannot leave this browser, only sign here.
  const pair = await crypto.subtle.generateKey(ECDSA_P256, false, ['sign']);
  const record = { privateKey: pair.privateKey, publicKey: pair.publicKey };
  if (db) await stored(db, 'readwrite', (store) => store.put(record, name)).catch(() => undefined);
  return record;
}

/**
 * This browser's device key pair for `name`, made on first use and kept across reloads, with the public
 * key as the API takes it (`devicePublicKey`: base64url of the 65-byte raw point).
 *
 * @example
 * const { devicePublicKey } = await deviceKey('resident');
 * await api.post('/v1/me/door-keys', { devicePublicKey });
 */
export function deviceKey(name) {
  if (!pending.has(name)) {
    const loading = (async () => {
      const pair = await loadOrCreate(name);
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      return { ...pair, devicePublicKey: toBase64url(raw) };
    })();
    pending.set(name, loading);
    loading.catch(() => pending.delete(name));
  }
  return pending.get(name);
}

/**
 * An open token, base64url: [1][method][u16 L][credential][u16 door code][u32 slot][4-byte nonce] and the
 * device's ECDSA P-256 / SHA-256 signature (r || s, 64 bytes, as WebCrypto gives it) over OPEN_DOMAIN and
 * those bytes.
 *
 * @example
 * const token = await signOpenToken({ deviceKeyName: 'resident', credential: key.credential, doorCode: 2, method: 'online' });
 */
export async function signOpenToken({ deviceKeyName, credential, doorCode, method, at = Date.now() }) {
  const { privateKey } = await deviceKey(deviceKeyName);
  const key = fromBase64url(credential);
  const body = new Uint8Array(4 + key.length + 10);
  const view = new DataView(body.buffer);
  body[0] = 1;
  body[1] = METHOD_CODES[method];
  view.setUint16(2, key.length);
  body.set(key, 4);
  view.setUint16(4 + key.length, doorCode);
  view.setUint32(6 + key.length, slotOf(at));
  crypto.getRandomValues(body.subarray(10 + key.length));
  const message = new Uint8Array(OPEN_DOMAIN.length + body.length);
  message.set(OPEN_DOMAIN);
  message.set(body, OPEN_DOMAIN.length);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, message));
  const token = new Uint8Array(body.length + signature.length);
  token.set(body);
  token.set(signature, body.length);
  return toBase64url(token);
}
