import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResident } from '../../test/actors.js';
import { seedBilledCommunity } from '../features/billing/billing.test-fixture.js';
import { sendJson } from '../features/estate/estate.test-fixture.js';
import { startSite, storeSession, type Site } from './browser-kit.js';

const PHONE = { width: 390, height: 844 };
const OWNER_PHONE = '13900139001'; // the fixture's owner of 1-1-101
const STRANGER_PHONE = '13900139077';

type Money = { fen: number; display: string };
type BillSummary = { id: string; number: string; kind: 'periodic' | 'prepay'; status: string; period: { start: string; end: string; label: string }; total: Money; outstanding: Money; lateFee: Money; feeTypes: string[] };
type BillLine = { id: number; feeItemId: string; feeType: string; kind: string; description: string; amount: Money };
type BillDetail = BillSummary & { lines: BillLine[]; lateFees: { due: Money; byLine: { lineId: number; accrued: Money }[] } };

let site: Site;
let billed: Awaited<ReturnType<typeof seedBilledCommunity>>;
let houseId: string;

beforeAll(async () => {
  site = await startSite();
  billed = await seedBilledCommunity(site.h);
  houseId = billed.houses['1-1-101']!;
}, 90_000);
afterAll(() => site?.close());

/** What the API tells the owner, to compare the screen with. */
async function ownerApi<T>(path: string, body?: unknown): Promise<T> {
  const res = await site.h.app.request(path, body === undefined ? { headers: billed.owner.headers } : sendJson('POST', billed.owner.headers, body));
  const text = await res.text();
  expect(res.ok, text).toBe(true);
  return JSON.parse(text) as T;
}

/** A phone signed in as `phone` (a session of its own), showing `hash`. */
async function phoneAt(phone: string, hash: string) {
  const watched = await site.newPage(PHONE);
  // A step that never comes fails with its own message, well inside the test's time.
  watched.page.setDefaultTimeout(10_000);
  const { tokens } = await createResident(site.h, phone);
  await watched.page.goto(`${site.baseUrl}/h5`);
  await storeSession(watched.page, 'estate.h5.session', tokens);
  await watched.page.goto(`${site.baseUrl}/h5${hash}`);
  await watched.page.reload();
  return watched;
}

/** The day before an exclusive end date, as "MM-DD". */
function dayBefore(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(5, 10);
}

const fenOf = (display: string) => {
  const match = /^(-?)¥(\d+)\.(\d\d)$/.exec(display.trim());
  expect(match, `an amount: ${display}`).not.toBeNull();
  return (match![1] ? -1 : 1) * (Number(match![2]) * 100 + Number(match![3]));
};

function billRows(page: Page) {
  return page.locator('.bill-row');
}

async function listedBillIds(page: Page) {
  return billRows(page).evaluateAll((rows) => rows.map((row) => row.getAttribute('data-bill-id')));
}

async function expandWhy(page: Page, feeType: string) {
  const line = page.locator(`.bill-line[data-fee-type="${feeType}"]`).first();
  await line.getByText('为什么是这个金额').click();
  const steps = line.locator('.explain-steps');
  await steps.waitFor();
  return { line, steps };
}

describe('resident H5 bills', () => {
  it('shows the owner what is due, each bill line with why it costs that much, and prepays the property fee', { timeout: 60_000 }, async () => {
    const overview = await ownerApi<{ totalDue: Money; overdueBills: number }>(`/v1/me/houses/${houseId}/billing`);
    const { items: before } = await ownerApi<{ items: BillSummary[] }>(`/v1/me/houses/${houseId}/bills`);
    const current = before.find((b) => b.kind === 'periodic' && b.period.start === billed.period.start)!;
    expect(current).toBeDefined();
    const detail = await ownerApi<BillDetail>(`/v1/me/bills/${current.id}`);

    const { page, problems } = await phoneAt(OWNER_PHONE, `#/house/${houseId}`);

    // The house screen's 账单 card: total due (outstanding + late fees) as the API computes it.
    const card = page.locator('a.bill-card');
    await card.locator('[data-total-due]').waitFor();
    expect(await card.locator('.bill-due-value').textContent()).toBe(overview.totalDue.display);
    if (overview.overdueBills > 0) expect(await card.textContent()).toContain(`逾期账单 ${overview.overdueBills} 张`);
    await page.screenshot({ path: '/tmp/estate-h5-bill-card.png', fullPage: true });

    // The list: the current period's bill with its total and status.
    await card.click();
    await page.getByRole('heading', { name: '账单', level: 1 }).waitFor();
    const row = page.locator(`.bill-row[data-bill-id="${current.id}"]`);
    await row.waitFor();
    expect(await row.locator('.bill-title').textContent()).toBe(`${billed.period.start.slice(0, 7)} 账单`);
    expect(await row.locator('[data-amount="total"] .amount-value').textContent()).toBe(current.total.display);
    expect(await row.locator('[data-amount="outstanding"] .amount-value').textContent()).toBe(current.outstanding.display);
    expect(await row.locator('.badge[data-status]').getAttribute('data-status')).toBe(current.status);
    expect(await row.textContent()).toContain(current.number);
    await page.screenshot({ path: '/tmp/estate-h5-bills.png', fullPage: true });

    // The bill: every line, and for each why it costs what it does.
    await row.click();
    await page.getByRole('heading', { name: '账单详情', level: 1 }).waitFor();
    await page.locator('.bill-line').first().waitFor();
    expect(await page.locator('.bill-line').count()).toBe(detail.lines.length);

    const electricity = detail.lines.find((l) => l.feeType === 'electricity')!;
    const elec = await expandWhy(page, 'electricity');
    expect(await elec.line.locator('.bill-line-amount').textContent()).toBe(electricity.amount.display);
    expect(await elec.steps.textContent()).toContain(`电表 E-1-1-101：${dayBefore(billed.usage.start)} 24:00 读数 1000 → ${dayBefore(billed.usage.end)} 23:59 读数 1300.5，用电 300.5 kWh`);
    const tiers = await elec.steps.locator('.explain-tier').allTextContents();
    expect(tiers).toEqual(['第1档 240 kWh × ¥0.4883 = ¥117.19', '第2档 60.5 kWh × ¥0.5383 = ¥32.57']);
    // The tier rows add up to the line, to the fen.
    expect(tiers.reduce((sum, t) => sum + fenOf(t.split('=')[1]!), 0)).toBe(electricity.amount.fen);
    expect(await elec.steps.textContent()).toContain(`合计 ${electricity.amount.display}`);

    const property = detail.lines.find((l) => l.feeType === 'property')!;
    const prop = await expandWhy(page, 'property');
    const daysInMonth = Number(dayBefore(billed.period.end).slice(3));
    expect(await prop.steps.locator('.explain-segment').allTextContents()).toEqual([`89.5 m² × ¥2.45/m²/月 × ${daysInMonth}/${daysInMonth} 天 = ¥219.28`]);
    expect(property.amount.display).toBe('¥219.28');
    // 89.5 × 2.45 = 219.275: the exact amount and how it was rounded.
    expect(await prop.steps.textContent()).toContain('精确金额 ¥219.275，四舍五入到分');

    const shared = await expandWhy(page, 'shared');
    expect(await shared.steps.textContent()).toContain('公共电表用电 123.4 kWh，共 ¥74.04，按面积分摊：本户 89.5 / 309.5 m²（共 3 户）');
    expect(await shared.steps.textContent()).toContain(detail.lines.find((l) => l.feeType === 'shared')!.amount.display);

    // Late fees, when the bill is past due, line by line.
    if (detail.lateFees.due.fen > 0) {
      const accrued = detail.lateFees.byLine.find((l) => l.lineId === property.id)!;
      expect(await page.locator(`[data-late-fee-line="${property.id}"] .amount-value`).textContent()).toBe(accrued.accrued.display);
    }
    await page.screenshot({ path: '/tmp/estate-h5-bill.png', fullPage: true });

    // 预缴: a quote of 12 months plus the free one, then the prepayment bill.
    const quote = await ownerApi<{ total: Money; periods: unknown[] }>(`/v1/me/houses/${houseId}/prepayments/quote`, { feeItemId: property.feeItemId, months: 12 });
    const propertyLine = page.locator(`.bill-line[data-line-id="${property.id}"]`);
    await propertyLine.getByRole('button', { name: '预缴' }).click();
    const panel = propertyLine.locator('.prepay');
    await panel.locator('.quote-months li').first().waitFor();
    expect(await panel.locator('.quote-months li').count()).toBe(13);
    expect(await panel.locator('.quote-months li[data-free]').count()).toBe(1);
    expect(await panel.locator('.quote-months li[data-free]').textContent()).toContain('赠送');
    expect(await panel.locator('.quote-summary').textContent()).toMatch(/^预缴 12 个月，赠送 1 个月，共 13 个月/);
    expect(await panel.locator('[data-quote-total] .amount-value').textContent()).toBe(quote.total.display);
    await page.screenshot({ path: '/tmp/estate-h5-prepay-quote.png', fullPage: true });
    await panel.getByRole('button', { name: `确认预缴 ${quote.total.display}` }).click();

    await page.locator('.bill-head .bill-title', { hasText: '预缴账单' }).waitFor();
    const prepayId = /bills\/([\w-]+)$/.exec(new URL(page.url()).hash)![1]!;
    const prepay = await ownerApi<BillDetail>(`/v1/me/bills/${prepayId}`);
    expect(prepay.kind).toBe('prepay');
    expect(prepay.total.display).toBe(quote.total.display);
    expect(await page.locator('.bill-head [data-amount="total"] .amount-value').textContent()).toBe(quote.total.display);
    expect(await page.locator('.bill-line').count()).toBe(14); // 13 months and the free month's discount
    const free = page.locator('.bill-line[data-line-id]').filter({ hasText: '预缴赠送' });
    await free.getByText('为什么是这个金额').click();
    expect(await free.locator('.explain-steps').textContent()).toContain('预缴 12 个月赠送 1 个月');
    await page.screenshot({ path: '/tmp/estate-h5-prepay-bill.png', fullPage: true });

    // Back in the list, the prepayment bill is there beside the month's bill.
    await page.getByRole('link', { name: /返回/ }).click();
    await page.getByRole('heading', { name: '账单', level: 1 }).waitFor();
    await expect.poll(() => listedBillIds(page)).toEqual([prepayId, current.id]);
    expect(await page.locator(`.bill-row[data-bill-id="${prepayId}"] .bill-title`).textContent()).toMatch(/^预缴账单 \d{4}-\d\d 至 \d{4}-\d\d$/);

    // Filters: by fee type (electricity is only on the month's bill), and by status.
    await page.getByLabel('费用类型').selectOption({ label: '电费' });
    await expect.poll(() => listedBillIds(page)).toEqual([current.id]);
    await page.getByLabel('费用类型').selectOption({ label: '物业费' });
    await expect.poll(() => listedBillIds(page)).toEqual([prepayId, current.id]);
    await page.getByLabel('费用类型').selectOption({ label: '全部费用' });
    const statusGroup = page.getByRole('group', { name: '账单状态' });
    await statusGroup.getByRole('button', { name: '已缴清' }).click();
    await page.getByText('没有符合条件的账单').waitFor();
    expect(await billRows(page).count()).toBe(0);
    const currentLabel = { open: '待缴', overdue: '已逾期' }[current.status as 'open' | 'overdue'];
    await statusGroup.getByRole('button', { name: currentLabel }).click();
    await expect.poll(() => listedBillIds(page)).toContain(current.id);
    await statusGroup.getByRole('button', { name: '全部' }).click();
    await expect.poll(() => listedBillIds(page)).toEqual([prepayId, current.id]);

    // Paging: one bill a page here, then 加载更多 fetches the next with the cursor.
    const cursors: (string | null)[] = [];
    await page.route(
      (url) => url.pathname === `/v1/me/houses/${houseId}/bills`,
      (route) => {
        const url = new URL(route.request().url());
        url.searchParams.set('limit', '1');
        cursors.push(url.searchParams.get('cursor'));
        return route.continue({ url: url.toString() });
      },
    );
    await page.reload();
    await expect.poll(() => listedBillIds(page)).toEqual([prepayId]);
    await page.getByRole('button', { name: '加载更多' }).click();
    await expect.poll(() => listedBillIds(page)).toEqual([prepayId, current.id]);
    await expect.poll(() => page.getByRole('button', { name: '加载更多' }).isHidden()).toBe(true);
    expect(cursors[0]).toBeNull();
    expect(cursors.at(-1)).toEqual(expect.any(String));
    expect(problems).toEqual([]);
  });

  it('answers another resident opening the bill with not found, never the bill', async () => {
    const { items } = await ownerApi<{ items: BillSummary[] }>(`/v1/me/houses/${houseId}/bills`);
    const bill = items[0]!;
    const { page, problems } = await phoneAt(STRANGER_PHONE, `#/house/${houseId}/bills/${bill.id}`);
    await page.getByRole('heading', { name: '账单详情', level: 1 }).waitFor();
    await page.getByRole('alert').getByText('找不到该账单').waitFor();
    expect(await page.locator('.bill-line').count()).toBe(0);
    expect(await page.locator('body').textContent()).not.toContain(bill.number);
    expect(await page.locator('body').textContent()).not.toContain(bill.total.display);

    // Nor the house's list or what it owes.
    await page.goto(`${site.baseUrl}/h5#/house/${houseId}/bills`);
    await page.getByRole('heading', { name: '账单', level: 1 }).waitFor();
    await expect.poll(() => page.getByRole('alert').count()).toBeGreaterThan(0);
    expect(await billRows(page).count()).toBe(0);
    expect(await page.locator('[data-total-due]').count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
