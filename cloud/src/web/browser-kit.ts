import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { and, eq } from 'drizzle-orm';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createHarness, type Harness, type HarnessOptions } from '../../test/harness.js';
import { idNumberCheckChar } from '../crypto/pii.js';
import { buildings, houses, units, type HouseStatus } from '../features/estate/estate.schema.js';
import { rosterOwners } from '../features/people/people.schema.js';

/**
 * Test support for the pages: the whole app on a free port and a headless Debian Chromium. Never
 * downloads a browser; CI installs the `chromium` package (`apt-get install -y chromium`).
 */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export type Site = {
  h: Harness;
  baseUrl: string;
  browser: Browser;
  /** A fresh browser context (own sessionStorage) and page; page errors and CSP reports are collected. */
  newPage(viewport?: { width: number; height: number }): Promise<WatchedPage>;
  close(): Promise<void>;
};

export type WatchedPage = {
  page: Page;
  context: BrowserContext;
  /** Uncaught script errors, CSP violations and any alert/confirm dialog (there should be none). */
  problems: string[];
};

export async function startSite(options: HarnessOptions = {}): Promise<Site> {
  checkChromium();
  return serveHarness(await createHarness(options), { closeHarness: true });
}

function checkChromium() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}; install it with "apt-get install -y chromium" or set CHROMIUM_PATH`);
  }
}

/**
 * Serves a harness someone else made (the door rig's, say) on a free port with a browser beside it.
 * `close()` stops the server and the browser; the harness is closed too only with `closeHarness`.
 *
 * @example
 * const rig = await startDoorRig();
 * const site = await serveHarness(rig.h);
 * afterAll(async () => { await site.close(); await rig.close(); });
 */
export async function serveHarness(h: Harness, options: { closeHarness?: boolean } = {}): Promise<Site> {
  checkChromium();
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: h.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const contexts: BrowserContext[] = [];
  return {
    h,
    baseUrl: `http://127.0.0.1:${port}`,
    browser,
    async newPage(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      contexts.push(context);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
      });
      page.on('dialog', (dialog) => {
        problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
        void dialog.dismiss();
      });
      return { page, context, problems };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (options.closeHarness) await h.close();
    },
  };
}

/** A fictitious ID number with a valid check character (GB 11643-1999), from its first 17 digits. */
export function fictitiousIdNumber(first17: string): string {
  return first17 + idNumberCheckChar(first17);
}

export type SeedOwner = { name: string; idNumber: string; primary?: boolean };

/**
 * A house `<building>-<unit>-<room>` with its roster owners, as an import would leave it; building and
 * unit are created when missing. ID numbers are stored the way the app stores them: encrypted, with a
 * blind index.
 */
export async function seedHouse(
  h: Harness,
  communityId: string,
  code: string,
  owners: SeedOwner[] = [],
  house: { floor?: number; floorAreaM2?: string; status?: HouseStatus } = {},
): Promise<string> {
  const [buildingName, unitName, room] = code.split('-') as [string, string, string];
  const db = h.deps.db;
  const building =
    (await db.select().from(buildings).where(and(eq(buildings.communityId, communityId), eq(buildings.name, buildingName))))[0] ??
    (await db.insert(buildings).values({ communityId, name: buildingName }).returning())[0]!;
  const unit =
    (await db.select().from(units).where(and(eq(units.buildingId, building.id), eq(units.name, unitName))))[0] ??
    (await db.insert(units).values({ buildingId: building.id, name: unitName }).returning())[0]!;
  const [row] = await db
    .insert(houses)
    .values({ communityId, unitId: unit.id, number: room, code, floor: house.floor ?? Number(room.slice(0, -2) || 1), floorAreaM2: house.floorAreaM2 ?? '89.50', status: house.status ?? 'occupied' })
    .returning();
  for (const [i, owner] of owners.entries()) {
    await db.insert(rosterOwners).values({
      houseId: row!.id,
      name: owner.name,
      idNumberEnc: h.deps.vault.encrypt(owner.idNumber, 'id_number'),
      idNumberIndex: h.deps.vault.blindIndex(owner.idNumber, 'id_number'),
      isPrimary: owner.primary ?? i === 0,
    });
  }
  return row!.id;
}

/** The tokens a page keeps in sessionStorage under `key` (null when signed out). */
export async function storedSession(page: Page, key: string): Promise<{ accessToken: string; refreshToken: string } | null> {
  // Evaluated as a string: this package's TypeScript has no DOM types, the page has sessionStorage.
  const raw = (await page.evaluate(`sessionStorage.getItem(${JSON.stringify(key)})`)) as string | null;
  return raw ? JSON.parse(raw) : null;
}

/**
 * Signs a page in without the login form: stores `tokens` (from `startSession`, as `createResident` or
 * `createStaff` return them) under `key` in the page's sessionStorage, where the pages' API client reads
 * them. The page must already be on the site's origin; reload or navigate afterwards.
 */
export async function storeSession(page: Page, key: string, tokens: { accessToken: string; refreshToken: string }): Promise<void> {
  const value = JSON.stringify({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  await page.evaluate(`sessionStorage.setItem(${JSON.stringify(key)}, ${JSON.stringify(value)})`);
}
