/**
 * The resident H5's service worker (scope `/h5`): keeps the app shell — the page, its modules and CSS —
 * so that a phone with no network (a basement lobby) can still load `/h5` and show the door QR code from
 * the keys the page keeps itself (localStorage, and the device key in IndexedDB).
 *
 * Strategy: network first, the cache only as a fallback. Online, every shell file comes from the server
 * exactly as without a worker (the server says `no-cache`: a deployment must never leave an old page
 * talking to a newer API), and each answer refreshes the cached copy. Only when the network fails (or the
 * server answers 5xx, say a proxy whose cloud is down) is the kept copy served. Stale-while-revalidate
 * would be faster, but would start the old code once after every deployment.
 *
 * Only the shell's own URLs are answered here. The API (`/v1/*`) is never cached or answered: sessions
 * and keys must not come back stale from a cache; the page caches the door keys itself. Requests other
 * than GET, and anything else, go to the network untouched.
 */

// pages.ts replaces the next line with this deployment's shell: its URLs, their content hash, redirects.
const SHELL = { version: 'unversioned', urls: [], redirects: {} };

const CACHE_PREFIX = 'estate-h5-shell-';
const CACHE = `${CACHE_PREFIX}${SHELL.version}`;
const SHELL_PATHS = new Set(SHELL.urls);

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Revalidated with the server, never an older deployment's copy from the HTTP cache.
      await cache.addAll(SHELL.urls.map((url) => new Request(url, { cache: 'no-cache' })));
      // The new shell is in; there is nothing for an older worker to finish first (network first).
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // Control the page that registered this worker now, not only from its next load.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/v1/')) return;
  const target = SHELL.redirects[url.pathname];
  if (target) {
    // `/h5/` (a visitor's pass link): the server's redirect, or the same one made here when offline.
    event.respondWith(fetch(request).catch(() => Response.redirect(new URL(target + url.search, url).href, 301)));
    return;
  }
  if (!SHELL_PATHS.has(url.pathname)) return;
  event.respondWith(networkFirst(event, url.pathname));
});

async function networkFirst(event, path) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(event.request);
  } catch (error) {
    const kept = await cache.match(path);
    if (kept) return kept;
    throw error;
  }
  if (response.status >= 500) return (await cache.match(path)) ?? response;
  if (response.status === 200 && response.type === 'basic' && !response.redirected) {
    // Keyed by path: the server ignores query strings on these files.
    event.waitUntil(cache.put(path, response.clone()).catch(() => undefined));
  }
  return response;
}
