import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSite, type Site } from './browser-kit.js';
import { PAGE_CSP } from './pages.js';

let site: Site;
beforeAll(async () => {
  site = await startSite();
});
afterAll(() => site?.close());

describe('page routes', () => {
  it.each([
    ['/', 'text/html; charset=utf-8'],
    ['/console', 'text/html; charset=utf-8'],
    ['/console/app.js', 'text/javascript; charset=utf-8'],
    ['/console/console.css', 'text/css; charset=utf-8'],
    ['/h5', 'text/html; charset=utf-8'],
    ['/h5/app.js', 'text/javascript; charset=utf-8'],
    ['/assets/base.css', 'text/css; charset=utf-8'],
    ['/assets/icon.svg', 'image/svg+xml'],
  ])('serves %s as %s under a self-only Content-Security-Policy', async (path, type) => {
    const res = await site.h.app.request(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(PAGE_CSP);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it.each(['/console/../pages.ts', '/console/%2e%2e/pages.ts', '/h5/pages.test.ts', '/assets/../index.html', '/console/nope.js', '/h5/..%2fpages.ts'])(
    'answers 404 for %s, which is not a page file',
    async (path) => {
      const res = await site.h.app.request(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    },
  );

  it('redirects a trailing slash to the app path, so its absolute asset URLs resolve', async () => {
    const res = await site.h.app.request('/console/');
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/console');
  });

  it('keeps the pages free of inline scripts, inline styles and third-party URLs', async () => {
    for (const path of ['/', '/console', '/h5']) {
      const html = await (await site.h.app.request(path)).text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\sstyle=|<style/);
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
  });
});

describe('landing page and API reference in a browser', () => {
  it('links to the console, the resident app and the API reference', async () => {
    const { page, problems } = await site.newPage();
    await page.goto(`${site.baseUrl}/`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('智慧社区物业平台');
    const links = page.getByRole('navigation').getByRole('link');
    expect(await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['/console', '/h5', '/docs']);
    await page.screenshot({ path: '/tmp/estate-landing.png', fullPage: true });
    await page.getByRole('link', { name: /接口文档/ }).click();
    await page.waitForURL('**/docs');
    await page.getByText('/healthz', { exact: true }).first().waitFor();
    expect(await page.getByText('/healthz', { exact: true }).count()).toBeGreaterThan(0);
    await page.screenshot({ path: '/tmp/estate-docs.png' });
    expect(problems).toEqual([]);
  });
});
