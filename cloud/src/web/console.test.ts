import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, createStaff } from '../../test/actors.js';
import type { StaffRole } from '../features/staff/staff.schema.js';
import { fictitiousIdNumber, seedHouse, startSite, storedSession, type Site } from './browser-kit.js';

const SCRIPT_NAME = '<img src=x onerror=alert(1)>';

let site: Site;
let communityA: { id: string; name: string };
let communityB: { id: string; name: string };
let companyId: string;

beforeAll(async () => {
  site = await startSite();
  const { company, communities } = await createCompany(site.h, ['A', 'B']);
  companyId = company.id;
  communityA = communities['A']!;
  communityB = communities['B']!;
  await seedHouse(site.h, communityA.id, '1-1-101', [{ name: SCRIPT_NAME, idNumber: fictitiousIdNumber('11010519800101003') }], { floorAreaM2: '88.00' });
  await seedHouse(site.h, communityA.id, '1-1-102', [{ name: '王芳', idNumber: fictitiousIdNumber('11010519850615002') }], { floorAreaM2: '101.25' });
  await seedHouse(site.h, communityA.id, '2-1-201', [], { floorAreaM2: '75.10', status: 'vacant' });
  await seedHouse(site.h, communityB.id, '9-1-901', [{ name: '孙丽', idNumber: fictitiousIdNumber('11010519900303004') }]);
});
afterAll(() => site?.close());

/** Signs in through the form and waits for the console shell. */
async function signIn(role: StaffRole, communityIds: string[]) {
  const staff = await createStaff(site.h, companyId, role, communityIds);
  const watched = await site.newPage();
  const { page } = watched;
  await page.goto(`${site.baseUrl}/console`);
  await page.getByLabel('用户名').fill(staff.username);
  await page.getByLabel('密码').fill(staff.password);
  await page.getByRole('button', { name: /登录/ }).click();
  await page.getByRole('button', { name: /退出登录/ }).waitFor();
  return { ...watched, staff };
}

function navLabels(page: Page) {
  return page.locator('.nav a > span:first-child').allTextContents();
}

function houseRows(page: Page) {
  return page.locator('.screen tbody tr');
}

describe('staff console', () => {
  it('refuses a wrong password with the reason on screen', async () => {
    const staff = await createStaff(site.h, companyId, 'customer_service', [communityA.id]);
    const { page, problems } = await site.newPage();
    await page.goto(`${site.baseUrl}/console`);
    await page.getByRole('heading', { name: /员工登录/ }).waitFor();
    await page.getByLabel('用户名').fill(staff.username);
    await page.getByLabel('密码').fill('not the password');
    await page.getByRole('button', { name: /登录/ }).click();
    await page.getByRole('alert').getByText('用户名或密码错误').waitFor();
    await page.screenshot({ path: '/tmp/estate-console-login.png' });
    expect(problems).toEqual([]);
  });

  it('shows customer service the houses of their community, as text, and a dry run listing the bad row', async () => {
    const { page, problems, staff } = await signIn('customer_service', [communityA.id]);
    expect(await navLabels(page)).toEqual(['房屋', '名册导入导出', '账单', '门禁', '短信发件箱']);
    expect(await page.locator('.who').textContent()).toContain('客服');
    expect(await page.locator('.who').textContent()).toContain(staff.username);
    // Only their own community is offered.
    expect(await page.getByLabel('社区 Community').locator('option').allTextContents()).toEqual([`${communityA.name}（A）`]);

    await expect.poll(() => houseRows(page).count()).toBe(3);
    expect(await houseRows(page).allTextContents()).toEqual([
      expect.stringMatching(/^1-1-101.*88\.00.*已入住.*<img src=x onerror=alert\(1\)>$/),
      expect.stringMatching(/^1-1-102.*101\.25.*已入住.*王芳$/),
      expect.stringMatching(/^2-1-201.*75\.10.*空置.*—$/),
    ]);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    await expect.poll(() => page.locator('.stat[data-total="houses"] .stat-value').textContent()).toBe('3');
    expect(await page.locator('.stat[data-total="floorAreaM2"] .stat-value').textContent()).toBe('264.35');
    await page.screenshot({ path: '/tmp/estate-console-houses.png', fullPage: true });

    await page.getByRole('searchbox').fill('王芳');
    await page.getByRole('button', { name: /查询/ }).click();
    await expect.poll(() => houseRows(page).count()).toBe(1);
    await houseRows(page).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('王芳').waitFor();
    expect(await dialog.textContent()).toMatch(/1-1-102.*主业主/);
    expect(await dialog.textContent()).toMatch(/1101\*{10}\d{3}[\dX]/); // the ID number arrives masked
    expect(await dialog.textContent()).not.toContain(fictitiousIdNumber('11010519850615002'));
    await dialog.getByRole('button', { name: /关闭/ }).click();
    await expect.poll(() => dialog.count()).toBe(0);

    // A dry run of a roster with one bad row shows that row, its column and the reason.
    await page.getByRole('link', { name: /名册导入导出/ }).click();
    await page.getByRole('heading', { name: /导入名册/ }).waitFor();
    expect(await page.getByLabel(/仅校验/).isChecked()).toBe(true);
    const csv = [
      '楼栋,单元,房号,楼层,建筑面积,业主姓名,身份证号',
      `3,1,301,3,95.20,赵敏,${fictitiousIdNumber('11010519700101005')}`,
      `3,1,302,3,abc,钱进,${fictitiousIdNumber('11010519700101006')}`,
      `3,1,303,3,96.00,周芷若,${fictitiousIdNumber('11010519700101007')}`,
    ].join('\n');
    await page.getByLabel(/名册文件/).setInputFiles({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
    await page.getByRole('button', { name: /开始导入/ }).click();
    const badRows = page.locator('.bad-rows');
    await badRows.waitFor();
    expect(await page.locator('.progress-head').textContent()).toContain('校验未通过');
    expect(await badRows.locator('h3').textContent()).toContain('错误行 1 条');
    const cells = await badRows.locator('tbody tr').first().locator('td').allTextContents();
    expect(cells[0]).toBe('3');
    expect(cells[1]).toMatch(/area_m2|面积/);
    expect(cells[2]!.length).toBeGreaterThan(3);
    expect(await page.locator('.progress-line').textContent()).toContain('共 3 行');
    await page.screenshot({ path: '/tmp/estate-console-import.png', fullPage: true });

    // Export downloads the community's roster as CSV.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /下载 CSV/ }).click()]);
    expect(download.suggestedFilename()).toBe('roster-A.csv');
    const file = path.join(os.tmpdir(), `estate-export-${Date.now()}.csv`);
    await download.saveAs(file);
    const exported = await readFile(file, 'utf8');
    expect(exported).toContain('1,1,102,1,101.25,已入住,王芳');
    expect(exported).not.toContain('孙丽');
    expect(problems).toEqual([]);
  });

  it('does not offer the import screen to a technician, even by address', async () => {
    const { page, problems } = await signIn('technician', [communityA.id]);
    expect(await navLabels(page)).toEqual(['房屋', '门禁']);
    expect(await page.locator('.who').textContent()).toContain('维修技术员');
    await expect.poll(() => houseRows(page).count()).toBe(3);
    // Technicians see houses but not who owns them.
    expect(await page.getByText('王芳').count()).toBe(0);
    await page.goto(`${site.baseUrl}/console#roster`);
    await page.getByRole('heading', { name: /房屋/, level: 1 }).waitFor();
    expect(await page.getByRole('heading', { name: /导入名册/ }).count()).toBe(0);
    expect(await page.getByText('名册导入导出').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('shows finance the fee basis with exact area totals', async () => {
    const { page, problems } = await signIn('finance', [communityA.id]);
    expect(await navLabels(page)).toEqual(['房屋', '收费基础', '账单']);
    await page.getByRole('link', { name: /收费基础/ }).click();
    await page.getByRole('heading', { name: /按楼栋/ }).waitFor();
    expect(await page.locator('[data-total="area"]').textContent()).toBe('264.35');
    expect(await page.locator('[data-total="houses"]').textContent()).toBe('3');
    await page.screenshot({ path: '/tmp/estate-console-fee-basis.png', fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows a super admin every community, the audit log and the SMS outbox, and signs out', async () => {
    const { page, problems } = await signIn('super_admin', []);
    expect(await navLabels(page)).toEqual(['房屋', '名册导入导出', '收费基础', '账单', '门禁', '审计日志', '短信发件箱']);
    expect(await page.getByLabel('社区 Community').locator('option').count()).toBeGreaterThanOrEqual(2);
    await page.getByLabel('社区 Community').selectOption({ label: `${communityB.name}（B）` });
    await expect.poll(() => houseRows(page).allTextContents()).toEqual([expect.stringMatching(/^9-1-901/)]);

    await page.getByRole('link', { name: /审计日志/ }).click();
    await page.getByText('员工登录').first().waitFor();
    expect(await page.locator('.screen tbody').textContent()).toContain('staff.login');
    await page.screenshot({ path: '/tmp/estate-console-audit.png', fullPage: true });

    await page.getByRole('link', { name: /短信发件箱/ }).click();
    await page.getByRole('button', { name: /刷新/ }).waitFor();

    await page.getByRole('button', { name: /退出登录/ }).click();
    await page.getByText('您已退出登录').waitFor();
    expect(await storedSession(page, 'estate.console.session')).toBeNull();
    expect(problems).toEqual([]);
  });
});
