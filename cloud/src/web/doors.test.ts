import { writeFile } from 'node:fs/promises';
import jsqr from 'jsqr';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResident, createStaff } from '../../test/actors.js';
import { startDoorRig, waitFor, type DoorRig } from '../../test/door-rig.js';
import { serveHarness, storeSession, type Site } from './browser-kit.js';
import { PAGE_CSP } from './pages.js';

const PHONE = { width: 390, height: 844 };
const OWNER_PHONE = '13800000001'; // the rig's owner of A-1-101

let rig: DoorRig;
let site: Site;

beforeAll(async () => {
  rig = await startDoorRig();
  site = await serveHarness(rig.h);
}, 90_000);
afterAll(async () => {
  await site?.close();
  await rig?.close();
});

/** The owner's phone, signed in with a session of its own (sessions rotate their refresh tokens). */
async function ownerPhone(hash = '#/') {
  const watched = await site.newPage(PHONE);
  const { tokens } = await createResident(rig.h, OWNER_PHONE);
  await watched.page.goto(`${site.baseUrl}/h5`);
  await storeSession(watched.page, 'estate.h5.session', tokens);
  await watched.page.goto(`${site.baseUrl}/h5${hash}`);
  await watched.page.reload();
  return watched;
}

async function openDoorsScreen(page: Page) {
  await page.getByRole('link', { name: /开门/ }).first().click();
  await page.getByRole('heading', { name: '开门', level: 1 }).waitFor();
  await page.locator('.door').first().waitFor();
}

function doorRow(page: Page, name: string) {
  return page.locator('.door', { hasText: name });
}

function doorNames(page: Page) {
  return page.locator('.door .door-name').allTextContents();
}

/**
 * What a door's reader sees: the QR code on screen, photographed (a PNG screenshot) and decoded. Like a
 * reader, it looks again when a frame cannot be read (the code may be redrawn for a new slot mid-shot).
 */
async function readQr(page: Page, selector = '.qr-card svg.qr'): Promise<string> {
  let shot: Buffer = Buffer.alloc(0);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    shot = await page.locator(selector).screenshot();
    const png = PNG.sync.read(shot);
    // jsqr is CommonJS: its function is module.exports and, as its types say, module.exports.default.
    const code = jsqr.default(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), png.width, png.height);
    if (code) return code.data;
    await new Promise((r) => setTimeout(r, 300));
  }
  const file = `/tmp/estate-unreadable-qr-${Date.now()}.png`;
  await writeFile(file, shot);
  throw new Error(`no QR code could be read from the screenshot (${file})`);
}

/** The time slot an open token was signed for (virtual-key.ts: after the credential and the door code). */
function slotOfToken(token: string): number {
  const bytes = Buffer.from(token, 'base64url');
  return bytes.readUInt32BE(4 + bytes.readUInt16BE(2) + 2);
}

describe('doors in the resident H5', () => {
  it('serves the QR code module from the installed package, under the pages’ policy', async () => {
    const res = await rig.h.app.request('/assets/vendor/qrcode.mjs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(await res.text()).toContain('export default qrcode');
  });

  it('opens Building A online, and offers only the doors the key opens', async () => {
    const { page, problems } = await ownerPhone();
    await page.locator('a.house').first().waitFor();
    await page.screenshot({ path: '/tmp/estate-h5-home-doors.png', fullPage: true });
    await openDoorsScreen(page);
    expect(await doorNames(page)).toEqual(['North gate', 'Building A entrance']);
    expect(await doorRow(page, 'Building B entrance').count()).toBe(0);
    await rig.gatewayHasKeys();

    const before = rig.doors.A.lock.unlocks;
    const row = doorRow(page, 'Building A entrance');
    await row.getByRole('button', { name: '开门' }).click();
    await row.getByText('已开门：Building A entrance').waitFor();
    expect(rig.doors.A.lock.unlocks).toBe(before + 1);
    await page.screenshot({ path: '/tmp/estate-h5-doors.png', fullPage: true });
    expect(problems).toEqual([]);
  });

  it('says honestly when the lock jams, when the door does not answer in time, and when the gateway is offline', async () => {
    const { page, problems } = await ownerPhone('#/doors');
    await page.locator('.door').first().waitFor();
    await rig.gatewayHasKeys();
    const gate = doorRow(page, 'North gate');
    const entrance = doorRow(page, 'Building A entrance');

    rig.doors.gate.lock.setFault('jam', true);
    try {
      await gate.getByRole('button', { name: '开门' }).click();
      await gate.getByText('开门失败：门锁卡住').waitFor();
    } finally {
      rig.doors.gate.lock.setFault('jam', false);
    }

    // Slower than the cloud waits, not than the gateway: the door opens after the answer "unknown".
    rig.latency.A = Math.round(rig.h.deps.config.DOOR_OPEN_WAIT_MS * 0.6);
    const before = rig.doors.A.lock.unlocks;
    try {
      await entrance.getByRole('button', { name: '开门' }).click();
      await entrance.getByText(/门禁状态未知/).waitFor();
      expect(await entrance.locator('.door-status').textContent()).toContain('门可能已经打开，也可能没有');
      expect(await entrance.locator('.door-status').textContent()).not.toContain('无权');
      await waitFor('the slow lock to open after all', () => rig.doors.A.lock.unlocks > before, 15_000);
    } finally {
      rig.latency.A = 0;
    }

    await rig.uplink.cut();
    try {
      await waitFor('the gateway offline in the registry', async () => (await rig.ok<{ state: string }>(rig.request('GET', `/v1/gateways/${rig.gatewayId}`, rig.admin.headers))).state === 'offline', 20_000);
      await entrance.getByRole('button', { name: '开门' }).click();
      await entrance.getByText(/门禁网关离线.*请在门口使用二维码开门/).waitFor();
      await page.screenshot({ path: '/tmp/estate-h5-door-unreachable.png', fullPage: true });
      await entrance.locator('.door-status').getByRole('link', { name: /使用二维码开门/ }).click();
      await page.locator('.qr-card svg.qr').waitFor();
    } finally {
      await rig.uplink.restore();
      await rig.gatewayOnline();
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows a QR code the door reader accepts, and a new one every 5-second slot', async () => {
    const { page, problems } = await ownerPhone('#/doors');
    await page.locator('.door').first().waitFor();
    await rig.gatewayHasKeys();
    await doorRow(page, 'Building A entrance').getByRole('link', { name: '二维码开门', exact: true }).click();
    await page.getByRole('heading', { name: '二维码开门' }).waitFor();
    await page.locator('.qr-card svg.qr').waitFor();
    expect(await page.locator('.qr-countdown').textContent()).toMatch(/^[1-5] 秒后更新$/);

    const first = await readQr(page);
    expect(first.length).toBeGreaterThan(300);
    const before = rig.doors.A.lock.unlocks;
    expect((await rig.scan(rig.doors.A.code, first)).body).toMatchObject({ outcome: 'opened' });
    expect(rig.doors.A.lock.unlocks).toBe(before + 1);
    // The same picture twice is a replay: the reader refuses it.
    expect((await rig.scan(rig.doors.A.code, first)).body).toMatchObject({ outcome: 'denied', reason: 'replayed' });
    await page.screenshot({ path: '/tmp/estate-h5-door-qr.png', fullPage: true });

    await expect.poll(() => readQr(page).then(slotOfToken), { timeout: 8_000, interval: 500 }).toBeGreaterThan(slotOfToken(first));
    const next = await readQr(page);
    expect(next).not.toBe(first);
    expect((await rig.scan(rig.doors.A.code, next)).body).toMatchObject({ outcome: 'opened' });
    expect(problems).toEqual([]);
  }, 40_000);

  it('keeps showing a valid QR code with the network cut', async () => {
    const { page, context, problems } = await ownerPhone('#/doors');
    await page.locator('.door').first().waitFor();
    await page.getByText(/钥匙更新于/).waitFor();
    await rig.gatewayHasKeys();
    await context.setOffline(true);
    try {
      // Online opening fails without a network, and says to use the QR code.
      const gate = doorRow(page, 'North gate');
      await gate.getByRole('button', { name: '开门' }).click();
      await gate.getByText(/网络连接失败/).waitFor();

      await gate.getByRole('link', { name: '二维码开门', exact: true }).click();
      await page.locator('.qr-card svg.qr').waitFor();
      await page.getByText('当前无网络：二维码仍然可以开门').waitFor();
      const token = await readQr(page);
      expect((await rig.scan(rig.doors.gate.code, token)).body).toMatchObject({ outcome: 'opened' });
      await page.screenshot({ path: '/tmp/estate-h5-door-qr-offline.png', fullPage: true });

      // Back on the list, the kept keys are shown and the page says why.
      await page.getByRole('link', { name: /返回/ }).click();
      await page.getByText(/当前无网络：显示这部手机保存的钥匙/).waitFor();
      expect(await doorNames(page)).toEqual(['North gate', 'Building A entrance']);
    } finally {
      await context.setOffline(false);
    }
    expect(problems).toEqual([]);
  });

  it('starts with no network from the service worker’s copy of the app, and its QR code opens the door', async () => {
    const worker = await rig.h.app.request('/h5/sw.js');
    expect(worker.status).toBe(200);
    expect(worker.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(worker.headers.get('cache-control')).toBe('no-cache');
    expect(worker.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(worker.headers.get('service-worker-allowed')).toBe('/h5');
    expect(await worker.text()).toMatch(/^const SHELL = \{"version":"[0-9a-f]{16}","urls":\["\/h5",/m);

    // Online: the keys are fetched and kept, and the worker has kept the app shell and controls the page.
    const { page, context, problems } = await ownerPhone('#/doors');
    await page.locator('.door').first().waitFor();
    await page.getByText(/钥匙更新于/).waitFor();
    expect(await page.evaluate('navigator.serviceWorker.ready.then((r) => r.active.scriptURL)')).toBe(`${site.baseUrl}/h5/sw.js`);
    await page.waitForFunction('navigator.serviceWorker.controller !== null');
    const kept = JSON.parse(
      (await page.evaluate('caches.keys().then(async (names) => JSON.stringify({ names, paths: (await (await caches.open(names[0])).keys()).map((r) => new URL(r.url).pathname) }))')) as string,
    ) as { names: string[]; paths: string[] };
    expect(kept.names).toEqual([expect.stringMatching(/^estate-h5-shell-[0-9a-f]{16}$/)]);
    expect(kept.paths).toEqual(
      expect.arrayContaining(['/h5', '/h5/app.js', '/h5/doors.js', '/h5/door-qr.js', '/h5/h5.css', '/assets/api.js', '/assets/door-token.js', '/assets/qr.js', '/assets/base.css', '/assets/vendor/qrcode.mjs']),
    );
    expect(kept.paths.filter((p) => p.startsWith('/v1/'))).toEqual([]);
    await rig.gatewayHasKeys();

    await context.setOffline(true);
    try {
      // The page loads with no network and shows the kept keys, not the login form or an error.
      await page.reload();
      await page.getByRole('heading', { name: '开门', level: 1 }).waitFor();
      await page.getByText(/当前无网络：显示这部手机保存的钥匙/).waitFor();
      expect(await doorNames(page)).toEqual(['North gate', 'Building A entrance']);
      // The API is never answered from the worker's cache: with no network, asking fails.
      expect(await page.evaluate('fetch("/v1/me").then((r) => `answered ${r.status}`, () => "failed")')).toBe('failed');

      await doorRow(page, 'Building A entrance').getByRole('link', { name: '二维码开门', exact: true }).click();
      await page.locator('.qr-card svg.qr').waitFor();
      await page.reload();
      await page.locator('.qr-card svg.qr').waitFor();
      await page.getByText('当前无网络：二维码仍然可以开门').waitFor();
      // Photographed mid-slot, so the code is not redrawn (a new slot) while the screenshot is taken.
      await page.locator('.qr-countdown', { hasText: /^4 秒后更新$/ }).waitFor({ timeout: 8_000 });
      const token = await readQr(page);
      const before = rig.doors.A.lock.unlocks;
      expect((await rig.scan(rig.doors.A.code, token)).body).toMatchObject({ outcome: 'opened' });
      expect(rig.doors.A.lock.unlocks).toBe(before + 1);
      await page.screenshot({ path: '/tmp/estate-h5-offline-start-qr.png', fullPage: true });

      // A link with the trailing slash (as visitor passes are sent) is redirected by the worker too.
      await page.goto(`${site.baseUrl}/h5/#/doors`);
      await page.getByText(/当前无网络：显示这部手机保存的钥匙/).waitFor();
      expect(page.url()).toBe(`${site.baseUrl}/h5#/doors`);
    } finally {
      await context.setOffline(false);
    }
    expect(problems).toEqual([]);
  }, 40_000);

  it('lets the owner pass a visitor the doors: the visitor claims the link on their own phone and opens the gate by QR', async () => {
    const { page, problems } = await ownerPhone(`#/house/${rig.estate.houses['A-1-101']}`);
    const form = page.getByRole('form', { name: /访客通行证/ });
    await form.getByLabel('访客姓名').fill('李访客');
    await form.getByLabel('可用次数').fill('3');
    await form.getByRole('button', { name: '生成通行证' }).click();
    const created = page.locator('.pass-created');
    await created.waitFor();
    const link = (await created.locator('.pass-link').textContent())!;
    expect(link).toMatch(new RegExp(`^${site.baseUrl}/h5/#/pass/[0-9a-f-]{36}\\.[\\w-]+$`));
    expect(await readQr(page, '.pass-created svg.qr')).toBe(link);
    const pass = page.locator('.pass', { hasText: '李访客' });
    expect(await pass.textContent()).toMatch(/未领取.*已用 0 \/ 3 次/);
    await page.screenshot({ path: '/tmp/estate-h5-visitor-pass.png', fullPage: true });

    // The visitor: another phone, no account.
    const visitor = await site.newPage(PHONE);
    await visitor.page.goto(link);
    await visitor.page.getByText('李访客，您好').waitFor();
    await visitor.page.locator('.door').first().waitFor();
    expect(await doorNames(visitor.page)).toEqual(['North gate', 'Building A entrance']);
    expect(await visitor.page.getByText('剩余 3 次').count()).toBe(1);
    await rig.gatewayHasKeys();
    await doorRow(visitor.page, 'North gate').getByRole('link', { name: '二维码开门', exact: true }).click();
    await visitor.page.locator('.qr-card svg.qr').waitFor();
    const token = await readQr(visitor.page);
    expect((await rig.scan(rig.doors.gate.code, token)).body).toMatchObject({ outcome: 'opened' });
    await visitor.page.screenshot({ path: '/tmp/estate-h5-visitor-qr.png', fullPage: true });

    // A third phone with the same link gets nothing: the pass belongs to the first phone that claimed it.
    const stranger = await site.newPage(PHONE);
    await stranger.page.goto(link);
    await stranger.page.getByRole('alert').getByText('此通行证已不能领取').waitFor();
    expect(await stranger.page.locator('.door').count()).toBe(0);

    // The owner sees it claimed and used once (when the gateway's record reaches the cloud), then cancels it.
    await expect
      .poll(async () => {
        await page.reload();
        return page.locator('.pass', { hasText: '李访客' }).textContent();
      }, { timeout: 15_000, interval: 500 })
      .toMatch(/已领取.*已用 1 \/ 3 次/);
    await pass.getByRole('button', { name: '取消通行证' }).click();
    await pass.getByRole('button', { name: '确认取消' }).click();
    await expect.poll(() => pass.textContent()).toContain('已取消');

    // The visitor's QR code stops opening once the gateway has the revocation (the reader decides alone).
    const after = await readQr(visitor.page);
    await expect.poll(async () => (await rig.scan(rig.doors.gate.code, after)).body.reason, { timeout: 10_000, interval: 200 }).toBe('revoked');
    expect([...problems, ...visitor.problems, ...stranger.problems]).toEqual([]);
  }, 60_000);

  it('reports a lost phone: every key of the resident stops opening, and this phone can take a new one', async () => {
    const { page, problems } = await ownerPhone('#/doors');
    await page.locator('.door').first().waitFor();
    await rig.gatewayHasKeys();
    // What a thief would hold: a QR code from before the report.
    await doorRow(page, 'Building A entrance').getByRole('link', { name: '二维码开门', exact: true }).click();
    await page.locator('.qr-card svg.qr').waitFor();
    const stolen = await readQr(page);
    await page.getByRole('link', { name: /返回/ }).click();

    await page.getByRole('button', { name: '挂失' }).click();
    await page.getByText('挂失后，您在所有手机上').waitFor();
    await page.getByRole('button', { name: '确认挂失' }).click();
    await page.getByText(/已挂失：\d+ 把钥匙已作废/).waitFor();
    expect(await page.locator('.door').count()).toBe(0);
    await expect.poll(async () => (await rig.scan(rig.doors.A.code, stolen)).body.reason, { timeout: 10_000, interval: 200 }).toBe('revoked');

    await page.getByRole('button', { name: '在这部手机上重新领取钥匙' }).click();
    await page.locator('.door').first().waitFor();
    const before = rig.doors.A.lock.unlocks;
    const entrance = doorRow(page, 'Building A entrance');
    await entrance.getByRole('button', { name: '开门' }).click();
    await entrance.getByText('已开门：Building A entrance').waitFor();
    expect(rig.doors.A.lock.unlocks).toBe(before + 1);
    expect(problems).toEqual([]);
  }, 40_000);
});

describe('doors in the staff console', () => {
  async function signIn(role: 'customer_service' | 'technician') {
    const staff = await createStaff(rig.h, rig.company.id, role, [rig.community.id]);
    const watched = await site.newPage();
    await watched.page.goto(`${site.baseUrl}/console`);
    await watched.page.getByLabel('用户名').fill(staff.username);
    await watched.page.getByLabel('密码').fill(staff.password);
    await watched.page.getByRole('button', { name: /登录/ }).click();
    await watched.page.getByRole('button', { name: /退出登录/ }).waitFor();
    await watched.page.getByRole('link', { name: /门禁/ }).click();
    await watched.page.getByRole('heading', { name: /门禁/, level: 1 }).waitFor();
    return watched;
  }

  it('lists the doors with battery and alerts, and the access records, filtered by outcome', async () => {
    rig.doors.B.lock.setBattery(17);
    rig.doors.B.lock.triggerTamper();
    const { page, problems } = await signIn('customer_service');
    const doors = page.locator('.doors-card tbody tr');
    await expect
      .poll(
        async () => {
          await page.locator('.doors-card').getByRole('button', { name: /刷新/ }).click();
          return doors.allTextContents();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toEqual([
        expect.stringMatching(/^1North gate小区大门lock-1.*在线\d+%/),
        expect.stringMatching(/^2Building A entrance楼栋入口lock-2.*在线\d+%/),
        expect.stringMatching(/^3Building B entrance楼栋入口lock-3.*在线17%.*防拆报警.*电量低/),
      ]);
    // customer service may read doors, not rotate the signing key
    expect(await page.getByRole('button', { name: /轮换签名密钥/ }).count()).toBe(0);

    const records = page.locator('.access-card tbody tr');
    await expect.poll(() => records.count()).toBeGreaterThan(3);
    expect((await records.allTextContents()).some((r) => /Building A entrance手机开门已开门/.test(r))).toBe(true);
    // QR opens reach the cloud in the gateway's access records, shortly after.
    await expect.poll(async () => {
      await page.getByRole('button', { name: /查询/ }).click();
      return (await records.allTextContents()).some((r) => /North gate二维码已开门/.test(r));
    }, { timeout: 10_000, interval: 500 }).toBe(true);

    await page.getByLabel('结果 Outcome').selectOption('denied');
    await page.getByLabel('方式 Method').selectOption('qr');
    await page.getByRole('button', { name: /查询/ }).click();
    await expect.poll(async () => (await records.allTextContents()).every((r) => r.includes('拒绝'))).toBe(true);
    expect(await page.locator('.access-card [data-outcome="opened"]').count()).toBe(0);
    expect((await records.allTextContents()).some((r) => r.includes('开门码已使用过') && r.includes('replayed'))).toBe(true);

    await page.getByLabel('结果 Outcome').selectOption('opened');
    await page.getByLabel('方式 Method').selectOption('');
    await page.getByLabel('门 Door').selectOption({ label: `${rig.doors.A.code} · Building A entrance` });
    await page.getByRole('button', { name: /查询/ }).click();
    await expect.poll(async () => (await records.allTextContents()).every((r) => /Building A entrance.*已开门/.test(r))).toBe(true);
    expect(await records.count()).toBeGreaterThan(0);
    await page.screenshot({ path: '/tmp/estate-console-doors.png', fullPage: true });
    expect(problems).toEqual([]);
  });

  it('lets a technician rotate the key-signing key, with a confirmation', async () => {
    const { page, problems } = await signIn('technician');
    await page.getByRole('button', { name: /轮换签名密钥/ }).click();
    await page.getByRole('button', { name: /确认轮换/ }).click();
    await page.getByText(/新签名密钥 [0-9a-f]{16} 已启用/).waitFor();
    expect(await page.locator('.rotate-card tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);
  });
});
