import { eq } from 'drizzle-orm';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaff } from '../../test/actors.js';
import { addDays, localDate, localMidnight, periodContaining, periodLabel } from '../features/billing/billing-periods.js';
import { seedBilledCommunity } from '../features/billing/billing.test-fixture.js';
import { houses } from '../features/estate/estate.schema.js';
import { meterReadings } from '../features/meters/meters.schema.js';
import type { StaffRole } from '../features/staff/staff.schema.js';
import { startSite, storeSession, type Site } from './browser-kit.js';

// The console's 账单 screen as a finance clerk uses it, on the community the billing fixture bills
// (`billed.period`): three houses, property fee (with a daily late fee), tiered electricity and a
// corridor light split by area; one run posted, with 1-1-102's electricity held for a missing reading.

const TZ = 'Asia/Shanghai';
type Money = { fen: number; display: string };
type Run = { id: string; dueOn: string; report: { total: Money; held: number; lines: number } };
type Arrears = { buildings: { buildingName: string; houses: number; bills: number; outstanding: Money; lateFee: Money }[] };

let site: Site;
let billed: Awaited<ReturnType<typeof seedBilledCommunity>>;
let label: string;

beforeAll(async () => {
  site = await startSite();
  billed = await seedBilledCommunity(site.h);
  label = periodLabel('monthly', billed.period);
  // Bills fall due 15 days into the month; past that they are overdue and the property fee accrues late
  // fees. Early in a month, move the server's clock three days past the due date (same month still).
  const run = await api<Run>(`/v1/bill-runs/${billed.runId}`);
  const today = localDate(site.h.deps.now(), TZ);
  if (today <= run.dueOn) {
    const target = localMidnight(addDays(run.dueOn, 3), TZ).getTime() + 10 * 3600_000;
    site.h.advance(target - site.h.deps.now().getTime());
  }
}, 120_000);
afterAll(() => site?.close());

async function api<T>(path: string): Promise<T> {
  const staff = await createStaff(site.h, billed.companyId, 'finance', [billed.communityId]);
  const res = await site.h.app.request(path, { headers: staff.headers });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as T;
}

/** A staff member of the community with the console open on 账单 (signed in by a stored session). */
async function openBilling(role: StaffRole = 'finance') {
  const staff = await createStaff(site.h, billed.companyId, role, [billed.communityId]);
  const watched = await site.newPage();
  await watched.page.goto(`${site.baseUrl}/console`);
  await storeSession(watched.page, 'estate.console.session', staff.tokens);
  await watched.page.goto(`${site.baseUrl}/console#billing`);
  await watched.page.reload();
  await watched.page.getByRole('heading', { name: /账单/, level: 1 }).waitFor();
  return watched;
}

function tab(page: Page, name: RegExp) {
  return page.getByRole('tab', { name });
}

function rows(scope: Locator) {
  return scope.locator('tbody tr');
}

/** The text of a stat tile (`data-total`) inside `scope`. */
function tile(scope: Locator, key: string) {
  return scope.locator(`[data-total="${key}"] .stat-value`);
}

/** "¥1,234.56" / "-¥10.00" → fen. */
function fenOf(display: string | null): number {
  const match = /^(-)?¥(\d+)\.(\d\d)$/.exec((display ?? '').trim());
  if (!match) throw new Error(`not an amount: ${display}`);
  const fen = Number(match[2]) * 100 + Number(match[3]);
  return match[1] ? -fen : fen;
}

describe('the billing screen of the staff console', () => {
  it('lists the posted run with its total and held count, and why 1-1-102 was held', async () => {
    const { page, problems } = await openBilling();
    const run = await api<Run>(`/v1/bill-runs/${billed.runId}`);
    expect(await page.locator('.nav a > span:first-child').allTextContents()).toContain('账单');
    expect(await tab(page, /出账批次/).getAttribute('aria-selected')).toBe('true');

    const list = page.getByRole('region', { name: /批次列表/ });
    await expect.poll(() => rows(list).count()).toBe(1);
    const cells = await rows(list).first().locator('td').allTextContents();
    expect(cells[0]).toContain(label);
    expect(cells[1]).toBe('已出账');
    expect(cells[4]).toBe(run.report.total.display);
    expect(cells[5]).toBe('1');

    // The newest run opens by itself: its report per fee item and the held line with its reason.
    const detail = page.getByRole('region', { name: `批次详情 ${label}` });
    await detail.waitFor();
    expect(await tile(detail, 'total').textContent()).toBe(run.report.total.display);
    expect(await tile(detail, 'held').textContent()).toBe('1');
    expect(await tile(detail, 'lines').textContent()).toBe(String(run.report.lines));
    const electricity = detail.locator('tr', { hasText: 'electricity' }).first();
    expect(await electricity.locator('td').allTextContents()).toEqual([expect.stringContaining('电费'), '2', expect.stringMatching(/^¥/), '1']);
    const held = detail.locator('.holds tbody tr');
    await expect.poll(() => held.count()).toBe(1);
    const hold = await held.first().locator('td').allTextContents();
    expect(hold[0]).toBe('1-1-102');
    expect(hold[1]).toBe('electricity');
    expect(hold[2]).toContain('缺少抄表读数');
    expect(hold[3]).toContain('E-1-1-102');
    // A posted run can no longer be posted or discarded.
    expect(await detail.getByRole('button', { name: /^出账/ }).count()).toBe(0);
    expect(await detail.getByRole('button', { name: /作废/ }).count()).toBe(0);
    await page.screenshot({ path: '/tmp/estate-console-billing-runs.png', fullPage: true });
    expect(problems).toEqual([]);
  });

  it('previews a run for the held line once its reading is in, then posts it; an empty preview is discarded', async () => {
    // The missing reading arrives: 650 kWh at the end of last month, 150 kWh used, all in tier 1.
    const end = localMidnight(billed.usage.end, TZ);
    await site.h.deps.db.insert(meterReadings).values({
      meterId: billed.meters['1-1-102']!,
      readAt: new Date(end.getTime() - 60_000),
      value: '650.00',
      values: { energy_import: { value: '650.00', unit: 'kWh' } },
      source: 'manual',
    });
    const { page, problems } = await openBilling();
    const form = page.getByRole('form', { name: /开始出账/ });
    // The form starts on this month (the browser's clock, in the community's zone); the clerk bills the fixture's period.
    expect(await form.getByLabel(/周期/).inputValue()).toBe('monthly');
    expect(await form.getByLabel(/账期/).inputValue()).toBe(periodLabel('monthly', periodContaining('monthly', localDate(new Date(), TZ))));
    await form.getByLabel(/周期/).selectOption('quarterly');
    expect(await form.getByLabel(/账期/).inputValue()).toMatch(/^\d{4}-Q[1-4]$/);
    await form.getByLabel(/周期/).selectOption('monthly');
    await form.getByLabel(/账期/).fill(label);
    await form.getByRole('button', { name: /预览/ }).click();

    const detail = page.getByRole('region', { name: `批次详情 ${label}` });
    await expect.poll(() => detail.locator('h2 .badge').textContent(), { timeout: 15_000 }).toBe('预览待出账');
    expect(await tile(detail, 'lines').textContent()).toBe('1');
    expect(await tile(detail, 'bills').textContent()).toBe('1');
    // 150 kWh × ¥0.4883 = ¥73.245, rounded half-up.
    expect(await tile(detail, 'total').textContent()).toBe('¥73.25');
    expect(await tile(detail, 'held').textContent()).toBe('0');
    expect(await tile(detail, 'alreadyBilled').textContent()).toBe('8');
    expect(await detail.locator('tr', { hasText: 'electricity' }).first().locator('td').allTextContents()).toEqual([expect.stringContaining('电费'), '1', '¥73.25', '0']);
    const list = page.getByRole('region', { name: /批次列表/ });
    await expect.poll(() => rows(list).count()).toBe(2);
    expect(await rows(list).first().locator('td').nth(1).textContent()).toBe('预览待出账');
    await page.screenshot({ path: '/tmp/estate-console-billing-preview.png', fullPage: true });

    await detail.getByRole('button', { name: /^出账/ }).click();
    await detail.getByRole('button', { name: '确认出账' }).click();
    await expect.poll(() => detail.locator('h2 .badge').textContent()).toBe('已出账');
    await expect.poll(() => rows(list).locator('td:nth-child(2)').allTextContents()).toEqual(['已出账', '已出账']);

    // Nothing is left to bill: a preview finds only what was billed before, and is thrown away.
    await form.getByRole('button', { name: /预览/ }).click();
    await expect.poll(() => detail.locator('h2 .badge').textContent(), { timeout: 15_000 }).toBe('预览待出账');
    expect(await tile(detail, 'lines').textContent()).toBe('0');
    expect(await tile(detail, 'alreadyBilled').textContent()).toBe('9');
    await detail.getByRole('button', { name: /作废/ }).click();
    await detail.getByRole('button', { name: '确认作废' }).click();
    await expect.poll(() => detail.locator('h2 .badge').textContent()).toBe('已作废');
    await expect.poll(() => rows(list).locator('td:nth-child(2)').allTextContents()).toEqual(['已作废', '已出账', '已出账']);
    expect(problems).toEqual([]);
  });

  it('opens a bill with how each line was computed, issues a credit note, refuses too large a one and waives late fees', async () => {
    const { page, problems } = await openBilling();
    await tab(page, /^账单/).click();
    const list = page.getByRole('region', { name: /账单列表/ });
    await list.getByLabel(/账期/).fill(label);
    await list.getByLabel(/状态/).selectOption('overdue');
    await list.getByRole('button', { name: /查询/ }).click();
    // The list shows what the API calls overdue for the period: the first run's bills among them.
    const overdue = await api<{ items: { number: string; houseCode: string }[] }>(`/v1/communities/${billed.communityId}/bills?period=${label}&status=overdue`);
    expect(overdue.items.map((b) => b.houseCode)).toContain('1-1-101');
    await expect.poll(() => rows(list).locator('td:first-child').allTextContents()).toEqual(overdue.items.map((b) => b.number));
    const row = rows(list).filter({ hasText: '1-1-101' });
    expect(await row.locator('td').nth(8).textContent()).toBe('已逾期');
    await row.click();

    const bill = page.getByRole('region', { name: /^账单 ZD\d+/ });
    await bill.waitFor();
    expect(await bill.locator('h2').textContent()).toContain(`1-1-101 · ${label}`);

    // Electricity: the meter's readings at both ends of last month and the tiers they fell in.
    const electricity = bill.locator('.bill-line[data-fee-item="electricity"]');
    expect(await electricity.locator('summary .line-amount').textContent()).toBe('¥149.76');
    const meter = electricity.locator('.provenance tbody tr').first();
    expect(await meter.locator('td').first().textContent()).toBe('E-1-1-101');
    expect(await meter.locator('td.reading-start strong').textContent()).toBe('1000 kWh');
    expect(await meter.locator('td.reading-end strong').textContent()).toBe('1300.5 kWh');
    expect(await meter.locator('td').nth(3).textContent()).toBe('300.5 kWh');
    expect(await electricity.locator('[data-field="consumption"]').textContent()).toBe('300.5 kWh');
    const tiers = await electricity.locator('.tiers tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(tiers).toEqual([
      ['第 1 档', '240 kWh', '× ¥0.4883', '= ¥117.19'],
      ['第 2 档', '60.5 kWh', '× ¥0.5383', '= ¥32.57'],
    ]);

    // Property fee: the days of the month at the monthly price per m²; corridor light: the share by area.
    const property = bill.locator('.bill-line[data-fee-item="property"]');
    const segment = await property.locator('.provenance tbody tr').first().locator('td').allTextContents();
    expect(segment[1]).toMatch(/^(\d+)\/\1$/);
    expect(segment[2]).toContain('¥2.45');
    expect(segment[3]).toMatch(/^89\.50? m² × ¥2\.45 × (\d+)\/\1$/);
    const shared = bill.locator('.bill-line[data-fee-item="corridor-light"]');
    expect(await shared.locator('[data-field="consumption"]').textContent()).toBe('123.4 kWh');
    expect(await shared.locator('[data-field="total"]').textContent()).toBe('¥74.04');
    expect(await shared.locator('[data-field="method"]').textContent()).toBe('按建筑面积');
    expect(await shared.locator('[data-field="weight"]').textContent()).toBe('89.5 m² / 309.5 m²');
    expect(await shared.locator('[data-field="houses"]').textContent()).toBe('3');
    await page.screenshot({ path: '/tmp/estate-console-billing-bill.png', fullPage: true });

    // A credit note of ¥10.00 takes ¥10.00 off what the owner owes.
    const before = fenOf(await tile(bill, 'outstanding').textContent());
    const correct = bill.getByRole('form', { name: /更正账单/ });
    await correct.getByLabel(/类型/).selectOption('credit-note');
    await correct.getByLabel(/金额/).fill('10.00');
    await correct.getByLabel(/原因/).fill('电梯停运补偿');
    await correct.getByRole('button', { name: /提交/ }).click();
    await expect.poll(async () => fenOf(await tile(bill, 'outstanding').textContent())).toBe(before - 1000);
    expect(await tile(bill, 'adjustments').textContent()).toBe('-¥10.00');
    const adjustment = await bill.locator('tr', { hasText: '电梯停运补偿' }).locator('td').allTextContents();
    expect(adjustment.slice(1)).toEqual(['红字冲减', '整张账单', '-¥10.00', '电梯停运补偿']);
    await expect.poll(async () => fenOf(await rows(list).filter({ hasText: '1-1-101' }).locator('td').nth(5).textContent())).toBe(before - 1000);

    // More than the bill still owes: the server refuses and says why, beside the form.
    const owed = before - 1000;
    const form = bill.getByRole('form', { name: /更正账单/ });
    await form.getByLabel(/金额/).fill(((owed + 100) / 100).toFixed(2));
    await form.getByLabel(/原因/).fill('太多');
    await form.getByRole('button', { name: /提交/ }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('填写的内容有误');
    expect(await alert.locator('.alert-detail').textContent()).toContain(`the bill owes ¥${(owed / 100).toFixed(2)}; a correction of -¥${((owed + 100) / 100).toFixed(2)} would leave it below zero`);
    expect(fenOf(await tile(bill, 'outstanding').textContent())).toBe(owed);
    // Not a number at all: the form says so before asking the server.
    await form.getByLabel(/金额/).fill('十元');
    await form.getByRole('button', { name: /提交/ }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toContain('金额格式不对');

    // Overdue: the property fee accrues late fees; waiving them all leaves none due.
    expect(fenOf(await tile(bill, 'lateFee').textContent())).toBeGreaterThan(0);
    const accrued = await bill.locator('[data-field="lateFeeAccrued"]').textContent();
    const waive = bill.getByRole('form', { name: /减免滞纳金/ });
    await waive.getByLabel(/原因/).fill('业主困难，经理批准');
    await waive.getByRole('button', { name: /减免/ }).click();
    await expect.poll(() => tile(bill, 'lateFee').textContent()).toBe('¥0.00');
    expect(await bill.locator('[data-field="lateFeeWaived"]').textContent()).toBe(accrued);
    expect(await bill.locator('tr', { hasText: '业主困难，经理批准' }).count()).toBe(1);
    expect(await bill.getByRole('form', { name: /减免滞纳金/ }).count()).toBe(0);
    await page.screenshot({ path: '/tmp/estate-console-billing-credit.png', fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows arrears per building and the houses of one', async () => {
    const { page, problems } = await openBilling();
    const report = await api<Arrears>(`/v1/communities/${billed.communityId}/arrears`);
    await tab(page, /欠费/).click();
    const table = page.getByRole('region', { name: /按楼栋欠费/ });
    await expect.poll(() => rows(table).count()).toBe(2);
    const shown = await rows(table).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 5).map((td) => td.textContent)));
    expect(shown).toEqual(report.buildings.map((b) => [b.buildingName, String(b.houses), String(b.bills), b.outstanding.display, b.lateFee.display]));
    expect(shown.map((r) => r[0])).toEqual(['1', '2']);
    await rows(table).first().click();
    const houses = page.getByRole('heading', { name: /1 栋欠费房屋/ });
    await houses.waitFor();
    await expect.poll(() => page.locator('.screen section', { has: houses }).locator('tbody tr td:first-child').allTextContents()).toEqual(['1-1-101', '1-1-102']);
    await page.screenshot({ path: '/tmp/estate-console-billing-arrears.png', fullPage: true });

    await tab(page, /收费项目/).click();
    const items = page.locator('[role=tabpanel]:not([hidden]) tbody tr');
    await expect.poll(() => items.count()).toBe(3);
    expect(await items.filter({ hasText: 'electricity' }).textContent()).toMatch(/0–240：¥0\.4883.*240–400：¥0\.5383.*400 以上：¥0\.7883/);
    expect(await items.filter({ hasText: 'property' }).textContent()).toContain('每日 0.05%');
    expect(problems).toEqual([]);
  });

  it('lets customer service look but not run, post or correct', async () => {
    const { page, problems } = await openBilling('customer_service');
    await page.getByRole('region', { name: `批次详情 ${label}` }).waitFor();
    expect(await page.getByRole('form', { name: /开始出账/ }).count()).toBe(0);
    await tab(page, /^账单/).click();
    const list = page.getByRole('region', { name: /账单列表/ });
    await expect.poll(() => rows(list).count()).toBeGreaterThan(0);
    await rows(list).first().click();
    const bill = page.getByRole('region', { name: /^账单 ZD\d+/ });
    await bill.locator('.bill-line').first().waitFor();
    expect(await bill.getByRole('form').count()).toBe(0);
    expect(problems).toEqual([]);
  });
  it('sets a house\'s vacancies and move-in date on 房屋计费, and shows why a vacancy may not end inside a billed period', async () => {
    const house = billed.houses['1-1-101']!;
    const path = `/v1/communities/${billed.communityId}/houses/${house}`;
    // An earlier vacancy, recorded through the API: it starts inside the billed period and ends where it ends.
    const inside = addDays(billed.period.start, 3);
    const staff = await createStaff(site.h, billed.companyId, 'finance', [billed.communityId]);
    const created = await site.h.app.request(`${path}/vacancies`, {
      method: 'POST',
      headers: { ...staff.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ startsOn: inside, endsOn: billed.period.end, note: '装修' }),
    });
    expect(created.status, await created.clone().text()).toBe(201);

    const { page, problems } = await openBilling();
    await tab(page, /房屋计费/).click();
    const finder = page.getByRole('search', { name: /查找房屋/ });
    await finder.getByLabel(/房号/).fill('1-1-101');
    await finder.getByRole('button', { name: /查找/ }).click();
    const found = page.locator('[role=tabpanel]:not([hidden]) section', { has: finder });
    await expect.poll(() => rows(found).locator('td:first-child').allTextContents()).toEqual(['1-1-101']);
    const card = page.getByRole('region', { name: '房屋计费 1-1-101' });
    await card.waitFor();
    const vacancies = card.locator('.house-vacancies tbody tr');
    await expect.poll(() => vacancies.count()).toBe(1);
    expect(await vacancies.first().locator('td').allTextContents()).toEqual([inside, billed.period.end, '装修', expect.any(String)]);

    // Vacant from the first day after the billed period, open-ended.
    const from = billed.period.end;
    const add = card.getByRole('form', { name: /登记空置/ });
    await add.getByLabel(/开始日期/).fill(from);
    await add.getByLabel(/备注/).fill('业主出国');
    await add.getByRole('button', { name: /登记/ }).click();
    await expect.poll(() => vacancies.count()).toBe(2);
    const open = vacancies.filter({ hasText: '业主出国' });
    expect(await open.locator('td').first().textContent()).toBe(from);
    expect(await open.locator('[data-field="endsOn"]').textContent()).toBe('空置中');

    // Lived in again 20 days later: nothing billed changes, so the server takes it.
    const until = addDays(from, 20);
    const end = open.getByRole('form', { name: /结束空置/ });
    await end.getByLabel(/结束日期/).fill(until);
    await end.getByRole('button', { name: /结束/ }).click();
    await expect.poll(() => open.locator('[data-field="endsOn"]').textContent()).toBe(until);
    await page.screenshot({ path: '/tmp/estate-console-billing-house.png', fullPage: true });

    // Ending the earlier one inside the billed period would re-price billed days: 409, its detail beside the form.
    const earlier = vacancies.filter({ hasText: '装修' }).getByRole('form', { name: /结束空置/ });
    const tooEarly = addDays(billed.period.start, 10);
    await earlier.getByLabel(/结束日期/).fill(tooEarly);
    await earlier.getByRole('button', { name: /结束/ }).click();
    const alert = earlier.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('与当前状态冲突');
    expect(await alert.locator('.alert-detail').textContent()).toContain(`The house is billed up to ${billed.period.end}; a vacancy changing from ${tooEarly} would re-price billed days`);
    expect(await vacancies.filter({ hasText: '装修' }).locator('[data-field="endsOn"]').textContent()).toBe(billed.period.end);

    // Move-in for billing: saved, shown, and kept when the house is looked up again.
    const moveIn = addDays(billed.period.start, 9);
    const billingWindow = card.getByRole('form', { name: /计费起止/ });
    await billingWindow.getByLabel(/起计日/).fill(moveIn);
    await billingWindow.getByRole('button', { name: /保存/ }).click();
    await expect.poll(() => card.locator('[data-field="billingStartsOn"]').textContent()).toBe(moveIn);
    expect(await card.locator('[data-field="billingEndsOn"]').textContent()).toBe('未设置（不限）');
    const [stored] = await site.h.deps.db.select({ startsOn: houses.billingStartsOn, endsOn: houses.billingEndsOn }).from(houses).where(eq(houses.id, house));
    expect(stored).toEqual({ startsOn: moveIn, endsOn: null });
    await finder.getByRole('button', { name: /查找/ }).click();
    await expect.poll(() => card.locator('[data-field="billingStartsOn"]').textContent()).toBe(moveIn);
    expect(await card.getByRole('form', { name: /计费起止/ }).getByLabel(/起计日/).inputValue()).toBe(moveIn);
    expect(problems).toEqual([]);
  });
});
