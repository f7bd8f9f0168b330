import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany } from '../../test/actors.js';
import { fictitiousIdNumber, seedHouse, startSite, storedSession, type Site } from './browser-kit.js';

const OWNER = { name: '张伟', idNumber: fictitiousIdNumber('11010519800101001') };
const OWNER_PHONE = '13800138000';
const TENANT_PHONE = '13700137000';
const SCRIPT_NAME = '<img src=x onerror=alert(1)>';

let site: Site;
let communityName: string;

beforeAll(async () => {
  site = await startSite();
  const { communities } = await createCompany(site.h, ['H5']);
  communityName = communities['H5']!.name;
  await seedHouse(site.h, communities['H5']!.id, '1-1-301', [OWNER], { floorAreaM2: '120.35' });
});
afterAll(() => site?.close());

/** Signs in through the form, reading the code from the development hint as a demo user would. */
async function signIn(page: Page, phone: string, screenshot?: string) {
  await page.goto(`${site.baseUrl}/h5`);
  await page.getByRole('heading', { name: '住户登录' }).waitFor();
  await page.getByLabel('手机号').fill(phone);
  await page.getByRole('button', { name: '获取验证码' }).click();
  const hint = page.locator('.dev-hint');
  await hint.getByText('开发环境验证码').waitFor();
  const message = await hint.locator('.dev-body').textContent();
  const code = /\d{6}/.exec(message ?? '')?.[0];
  expect(code, `the hint shows the SMS text: ${message}`).toBeDefined();
  if (screenshot) await page.screenshot({ path: screenshot });
  await expect.poll(() => page.getByRole('button', { name: /秒后重发/ }).count()).toBe(1);
  await page.getByLabel('验证码').fill(code!);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '我的房屋', level: 1 }).waitFor();
}

function houseCard(page: Page, code: string) {
  return page.locator(`a.house[data-house-code="${code}"]`);
}

describe('resident H5', () => {
  it('signs in by SMS code, binds a house, invites and removes members, and keeps the session across token expiry', async () => {
    const { page, problems } = await site.newPage({ width: 390, height: 844 });
    await signIn(page, OWNER_PHONE, '/tmp/estate-h5-login.png');
    await page.getByText('还没有绑定房屋').waitFor();
    expect(await page.getByText('138****8000').count()).toBe(1);

    // A wrong ID number is refused with the reason in Chinese and the server's detail.
    await page.getByRole('link', { name: '+ 绑定房屋' }).click();
    await page.getByRole('heading', { name: '绑定房屋' }).waitFor();
    await expect.poll(() => page.getByLabel('小区').locator('option').allTextContents()).toContain(communityName);
    await page.getByLabel('小区').selectOption({ label: communityName });
    await page.getByLabel('房号').fill('1-1-301');
    await page.getByLabel('业主姓名').fill(OWNER.name);
    await page.getByLabel('业主身份证号').fill(fictitiousIdNumber('11010519800101002'));
    await page.getByRole('button', { name: '确认绑定' }).click();
    await page.getByRole('alert').getByText('房号、业主姓名或证件号码与登记信息不符').waitFor();

    await page.getByLabel('业主身份证号').fill(OWNER.idNumber);
    await page.getByRole('button', { name: '确认绑定' }).click();
    await page.getByText('绑定成功').waitFor();
    const card = houseCard(page, '1-1-301');
    await card.waitFor();
    expect(await card.textContent()).toMatch(/1-1-301.*业主.*主业主.*120\.35 m²/);
    expect(await card.textContent()).toContain(communityName);

    // The primary owner invites a family member whose "name" is markup: it must stay text.
    await card.click();
    await page.getByRole('heading', { name: '房屋成员' }).waitFor();
    await page.locator('.member').first().waitFor();
    expect(await page.locator('.member').count()).toBe(1);
    const invite = page.getByRole('form', { name: /邀请成员/ });
    await invite.getByLabel('手机号').fill('13900139000');
    await invite.getByLabel('姓名').fill(SCRIPT_NAME);
    await invite.getByRole('button', { name: '发送邀请' }).click();
    const family = page.locator('.member', { hasText: SCRIPT_NAME });
    await family.waitFor();
    expect(await family.textContent()).toContain('家属');
    expect(await family.textContent()).toContain('139****9000');
    expect(await page.locator('img[src="x"]').count()).toBe(0);

    // A tenant needs tenancy dates; the form asks for them only for tenants.
    expect(await invite.getByLabel('租期开始').isVisible()).toBe(false);
    await invite.getByLabel('身份').selectOption('tenant');
    await invite.getByLabel('手机号').fill(TENANT_PHONE);
    await invite.getByLabel('姓名').fill('李租客');
    await invite.getByLabel('租期开始').fill('2020-01-01');
    await invite.getByLabel('租期结束').fill('2099-12-31');
    await invite.getByRole('button', { name: '发送邀请' }).click();
    const tenant = page.locator('.member', { hasText: '李租客' });
    await tenant.waitFor();
    expect(await tenant.textContent()).toContain('租期 2020-01-01 至 2099-12-31');
    expect(await page.locator('.member').count()).toBe(3);

    // Removal asks once more, then the member disappears.
    await family.getByRole('button', { name: '移除' }).click();
    await family.getByRole('button', { name: '确认移除' }).click();
    await page.getByText(`已移除 ${SCRIPT_NAME}`).waitFor();
    await expect.poll(() => page.locator('.member').count()).toBe(2);
    expect(await page.getByText(SCRIPT_NAME).count()).toBe(1); // only the toast still says who left
    await page.screenshot({ path: '/tmp/estate-h5-house.png', fullPage: true });

    // After the access token expires the page renews it with the refresh token (rotated) and carries on.
    const before = (await storedSession(page, 'estate.h5.session'))!;
    site.h.advance(16 * 60 * 1000);
    await page.reload();
    await page.getByRole('heading', { name: '房屋成员' }).waitFor();
    await expect.poll(() => page.locator('.member').count()).toBe(2);
    const after = (await storedSession(page, 'estate.h5.session'))!;
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessToken).not.toBe(before.accessToken);

    // Sign out revokes the session on the server, not only in the page.
    await page.getByRole('link', { name: /返回/ }).click();
    await page.getByRole('button', { name: '退出' }).click();
    await page.getByText('您已退出登录。').waitFor();
    expect(await storedSession(page, 'estate.h5.session')).toBeNull();
    const res = await site.h.app.request('/v1/me', { headers: { authorization: `Bearer ${after.accessToken}` } });
    expect(res.status).toBe(401);
    expect(problems).toEqual([]);
  });

  it('shows an invited tenant the house with their role, and no member management', async () => {
    const { page, problems } = await site.newPage({ width: 390, height: 844 });
    await signIn(page, TENANT_PHONE);
    const card = houseCard(page, '1-1-301');
    await card.waitFor();
    expect(await card.textContent()).toMatch(/租客.*租期至 2099-12-31/);
    await page.screenshot({ path: '/tmp/estate-h5-houses.png', fullPage: true });
    await card.click();
    await page.locator('.member').first().waitFor();
    expect(await page.getByRole('form', { name: /邀请成员/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: '移除' }).count()).toBe(0);
    // A member may leave the house themselves.
    const me = page.locator('.member', { hasText: '（我）' });
    expect(await me.getByRole('button', { name: '退出房屋' }).count()).toBe(1);
    expect(problems).toEqual([]);
  });

  it('asks for a valid phone number before sending a code', async () => {
    const { page, problems } = await site.newPage({ width: 390, height: 844 });
    await page.goto(`${site.baseUrl}/h5`);
    await page.getByLabel('手机号').fill('12345');
    await page.getByRole('button', { name: '获取验证码' }).click();
    await page.getByRole('alert').getByText('请输入 11 位手机号码').waitFor();
    expect(problems).toEqual([]);
  });
});
