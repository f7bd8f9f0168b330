import { deviceKey } from '/assets/door-token.js';

/**
 * The door keys this phone holds, cached in localStorage so the QR code still works where there is no
 * network (a basement lobby): a resident's keys under one entry (for the signed-in resident only), each
 * visitor pass under its own. The credentials are useless without this browser's device key, which
 * never leaves IndexedDB.
 */
const RESIDENT_CACHE = 'estate.h5.door-keys';
const visitorCache = (passId) => `estate.h5.visitor-pass.${passId}`;
export const RESIDENT_DEVICE_KEY = 'resident';
export const visitorDeviceKey = (passId) => `visitor:${passId}`;

function read(name) {
  try {
    const value = JSON.parse(localStorage.getItem(name) ?? 'null');
    return value && Array.isArray(value.keys) ? value : null;
  } catch {
    return null;
  }
}

function write(name, value) {
  try {
    localStorage.setItem(name, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the keys still work until the page closes.
  }
}

/** `{ keys, communities, fetchedAt }` of the last successful fetch for this resident, or null. */
export function cachedResidentKeys(residentId) {
  const cached = read(RESIDENT_CACHE);
  return cached?.residentId === residentId ? cached : null;
}

/**
 * Asks for this device's keys (one per house that opens doors; renewed by asking again) and caches them
 * with the community names. Throws NetworkError when offline: the caller falls back to the cache.
 */
export async function fetchResidentKeys(api, residentId) {
  const { devicePublicKey } = await deviceKey(RESIDENT_DEVICE_KEY);
  const [{ keys }, houses] = await Promise.all([api.post('/v1/me/door-keys', { devicePublicKey }), api.get('/v1/me/houses').catch(() => ({ items: [] }))]);
  const communities = Object.fromEntries(houses.items.map((h) => [h.communityId, h.communityName]));
  const value = { residentId, keys, communities, fetchedAt: new Date().toISOString() };
  write(RESIDENT_CACHE, value);
  return value;
}

export function forgetResidentKeys() {
  localStorage.removeItem(RESIDENT_CACHE);
}

/** `{ keys: [key], visitorName, fetchedAt }` for a claimed pass, or null. */
export function cachedVisitorPass(passId) {
  return read(visitorCache(passId));
}

/** Claims the pass with this phone's own device key for it; the same phone asking again gets its key back. */
export async function claimVisitorPass(api, passId, secret) {
  const { devicePublicKey } = await deviceKey(visitorDeviceKey(passId));
  const { key, visitorName } = await api.post(`/v1/visitor-passes/${encodeURIComponent(passId)}/claim`, { secret, devicePublicKey }, { anonymous: true });
  const value = { keys: [key], visitorName, fetchedAt: new Date().toISOString() };
  write(visitorCache(passId), value);
  return value;
}

export function forgetVisitorPass(passId) {
  localStorage.removeItem(visitorCache(passId));
}

/** Whether a key can open anything now: not revoked, inside its window, uses left. */
export function keyUsable(key, now = Date.now()) {
  if (key.revokedAt) return false;
  if (Date.parse(key.validFrom) > now || Date.parse(key.validUntil) <= now) return false;
  return !(key.useLimit > 0 && key.uses >= key.useLimit);
}

/**
 * One entry per door the keys open, each with the key to use (a door two houses open once, with the key
 * that lasts longest), in the keys' door order. `deviceKeyName` says which device key signs for them.
 */
export function doorEntries(keys, deviceKeyName, now = Date.now()) {
  const byDoor = new Map();
  for (const key of keys) {
    if (!keyUsable(key, now)) continue;
    for (const door of key.doors) {
      const seen = byDoor.get(door.id);
      if (!seen || Date.parse(key.validUntil) > Date.parse(seen.key.validUntil)) byDoor.set(door.id, { door, key, deviceKeyName });
    }
  }
  return [...byDoor.values()].sort((a, b) => a.door.code - b.door.code);
}
