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

async function serve(c: Context<AppEnv>, urlPath: string) {
  const entry = files.get(urlPath);
  if (!entry) return c.notFound();
  const body = await readFile(entry.file);
  return c.body(body, 200, {
    'content-type': entry.contentType,
    'content-security-policy': PAGE_CSP,
    // Revalidate every time: a deploy must never leave a stale page talking to a newer API.
    'cache-control': 'no-cache',
    'referrer-policy': 'no-referrer',
  });
}

/**
 * The landing page, the staff console (`/console`) and the resident H5 app (`/h5`): plain HTML, CSS and
 * ES modules served from `cloud/src/web/`, with no build step. Shared modules live under `/assets`.
 */
export const pageRoutes = new Hono<AppEnv>()
  .get('/', (c) => serve(c, '/'))
  .get('/console/', (c) => c.redirect('/console', 301))
  .get('/h5/', (c) => c.redirect('/h5', 301))
  .get('/console/*', (c) => serve(c, c.req.path))
  .get('/console', (c) => serve(c, '/console'))
  .get('/h5/*', (c) => serve(c, c.req.path))
  .get('/h5', (c) => serve(c, '/h5'))
  .get('/assets/*', (c) => serve(c, c.req.path));
