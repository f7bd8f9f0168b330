import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppEnv } from '../context.js';

const WEB_ROOT = path.dirname(fileURLToPath(import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Everything the pages load comes from this app: no CDN, no inline script or style, no framing.
 * `connect-src 'self'` keeps a script injected by some future bug from sending tokens elsewhere.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  // The resident H5's service worker (`/h5/sw.js`); stated, not left to fall back to script-src.
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

type StaticFile = { file: string; contentType: string };

/**
 * The URL → file table, built once from the folders on disk. Only listed files are served, so no
 * request path (`..`, encoded slashes, test sources) can reach anything else.
 */
function collect(folder: string, urlPrefix: string, table: Map<string, StaticFile>) {
  for (const entry of readdirSync(path.join(WEB_ROOT, folder), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const contentType = CONTENT_TYPES[path.extname(entry.name)];
    if (!contentType) continue;
    const file = path.join(entry.parentPath, entry.name);
    const relative = path.relative(path.join(WEB_ROOT, folder), file).split(path.sep).join('/');
    table.set(`${urlPrefix}/${relative}`, { file, contentType });
  }
}

const files = new Map<string, StaticFile>();
collect('console', '/console', files);
collect('h5', '/h5', files);
collect('shared', '/assets', files);
files.set('/', { file: path.join(WEB_ROOT, 'index.html'), contentType: CONTENT_TYPES['.html']! });
for (const app of ['/console', '/h5']) files.set(app, files.get(`${app}/index.html`)!);

/**
 * Third-party ES modules the pages import, served from the installed packages (no CDN, no copy to keep
 * in step). qrcode-generator exports only its entry point, so its ES module is found beside it.
 */
const requireFromHere = createRequire(import.meta.url);
files.set('/assets/vendor/qrcode.mjs', {
  file: path.join(path.dirname(requireFromHere.resolve('qrcode-generator')), 'qrcode.mjs'),
  contentType: CONTENT_TYPES['.mjs']!,
});

const PAGE_HEADERS = {
  'content-security-policy': PAGE_CSP,
  // Revalidate every time: a deploy must never leave a stale page talking to a newer API.
  'cache-control': 'no-cache',
  'referrer-policy': 'no-referrer',
};

async function serve(c: Context<AppEnv>, urlPath: string) {
  const entry = files.get(urlPath);
  if (!entry) return c.notFound();
  const body = await readFile(entry.file);
  return c.body(body, 200, { 'content-type': entry.contentType, ...PAGE_HEADERS });
}

// ---- the resident H5's service worker: the app shell kept for a phone with no network ----

/** A trailing slash goes to the app path (the worker answers `/h5/` with the same redirect offline). */
const H5_REDIRECTS: Record<string, string> = { '/h5/': '/h5' };
const H5_WORKER = '/h5/sw.js';
/** The worker controls `/h5` itself, not only `/h5/…`: a scope above its own folder needs this header. */
const H5_WORKER_SCOPE = '/h5';
const WORKER_SOURCE = files.get(H5_WORKER)!;
// Never served as it is on disk: only with this deployment's shell written in (serveH5Worker).
files.delete(H5_WORKER);
const SHELL_LINE = /^const SHELL = .*;$/m;

/** What a page file loads: HTML `src`/`href`, ES module imports, CSS `url()` and `@import`. */
function references(contentType: string, text: string): string[] {
  const patterns = contentType.startsWith('text/html')
    ? [/\s(?:src|href)="([^"]+)"/g]
    : contentType.startsWith('text/css')
      ? [/url\(\s*['"]?([^'")\s]+)/g, /@import\s+['"]([^'"]+)['"]/g]
      : [/\bimport\s*(?:[\w$*{}\s,]+\bfrom\s*)?['"]([^'"]+)['"]/g, /\bexport\s*[\w$*{}\s,]*\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!));
}

const TEXT_TYPES = /^text\/(html|css|javascript)/;

/**
 * The URLs the H5 needs to start with no network, derived from the files served here: `/h5` (its
 * index) and every file of `h5/`, then whatever they load (the shared `/assets/*` modules and CSS, the
 * vendored QR module), followed import by import. `version` hashes the URLs, their contents and the
 * worker's own source: it names the worker's cache, so any change to the shell makes the browser
 * install a new worker, which fills a new cache and deletes the old one.
 */
async function h5Shell(): Promise<{ version: string; urls: string[]; redirects: Record<string, string> }> {
  const queue = ['/h5', ...[...files.keys()].filter((url) => url.startsWith('/h5/')).sort()];
  const urls: string[] = [];
  const hash = createHash('sha256').update(await readFile(WORKER_SOURCE.file));
  while (queue.length > 0) {
    const url = queue.shift()!;
    const entry = files.get(url);
    if (!entry || urls.includes(url)) continue;
    urls.push(url);
    const body = await readFile(entry.file);
    hash.update(`\0${url}\0`).update(body);
    if (!TEXT_TYPES.test(entry.contentType)) continue;
    for (const ref of references(entry.contentType, body.toString('utf8'))) {
      const target = new URL(ref, `http://pages${url}`);
      if (target.origin === 'http://pages' && files.has(target.pathname)) queue.push(target.pathname);
    }
  }
  return { version: hash.digest('hex').slice(0, 16), urls, redirects: H5_REDIRECTS };
}

/** `/h5/sw.js` with this deployment's shell in its `const SHELL = …;` line. */
async function serveH5Worker(c: Context<AppEnv>) {
  const source = await readFile(WORKER_SOURCE.file, 'utf8');
  if (!SHELL_LINE.test(source)) throw new Error(`${WORKER_SOURCE.file} has no "const SHELL = …;" line to fill in`);
  const shell = await h5Shell();
  const body = source.replace(SHELL_LINE, () => `const SHELL = ${JSON.stringify(shell)};`);
  return c.body(body, 200, { 'content-type': WORKER_SOURCE.contentType, ...PAGE_HEADERS, 'service-worker-allowed': H5_WORKER_SCOPE });
}

/**
 * The landing page, the staff console (`/console`) and the resident H5 app (`/h5`): plain HTML, CSS and
 * ES modules served from `cloud/src/web/`, with no build step. Shared modules live under `/assets`.
 */
export const pageRoutes = new Hono<AppEnv>()
  .get('/', (c) => serve(c, '/'))
  .get('/console/', (c) => c.redirect('/console', 301))
  .get('/h5/', (c) => c.redirect(H5_REDIRECTS['/h5/']!, 301))
  .get('/console/*', (c) => serve(c, c.req.path))
  .get('/console', (c) => serve(c, '/console'))
  .get(H5_WORKER, serveH5Worker)
  .get('/h5/*', (c) => serve(c, c.req.path))
  .get('/h5', (c) => serve(c, '/h5'))
  .get('/assets/*', (c) => serve(c, c.req.path));
