import { expect } from 'vitest';
import { createCompany, createResident, createStaff } from '../../../test/actors.js';
import type { Harness } from '../../../test/harness.js';
import { addMember, seedEstate, sendJson } from '../estate/estate.test-fixture.js';
import { meterReadings } from '../meters/meters.schema.js';
import { seedMeter } from '../meters/meters.test-fixture.js';
import { addDays, localDate, localMidnight, periodContaining, periodLabel, previousPeriod } from './billing-periods.js';

// Test-only setup shared by the billing API and page tests. Not a *.test.ts file.

const TZ = 'Asia/Shanghai';

/** Monthly electricity on Beijing-like residential tiers: ¥0.4883 to 240 kWh, ¥0.5383 to 400, ¥0.7883 above. */
export function electricityItem(effectiveFrom: string) {
  return {
    code: 'electricity',
    name: '电费',
    kind: 'metered',
    meterKind: 'electricity',
    cycle: 'monthly',
    tiered: true,
    tariff: { effectiveFrom, tiers: [{ upTo: '240', unitPrice: 4883 }, { upTo: '400', unitPrice: 5383 }, { upTo: null, unitPrice: 7883 }] },
  };
}

/**
 * A community billed through the API as finance would do it: three houses, property fee (with a daily
 * late fee and "prepay 12, get 1 free"), tiered electricity and a corridor light split by area. The run
 * posted is last month's (`period`), due on its 16th, so on any day the tests run its bills are overdue
 * and accrue late fees; the electricity it bills is the month before (`usage`). House 1-1-102's meter
 * has no reading at the end of `usage`, so its electricity line is held.
 *
 * @example
 * const billed = await seedBilledCommunity(h);
 * const bills = await h.app.request(`/v1/communities/${billed.communityId}/bills?run=${billed.runId}`, { headers: billed.finance.headers });
 */
export async function seedBilledCommunity(h: Harness) {
  const { company, communities } = await createCompany(h, ['A']);
  const communityId = communities['A']!.id;
  const finance = await createStaff(h, company.id, 'finance', [communityId]);
  const estate = await seedEstate(h, communityId, [
    { name: '1', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '89.50' }, { number: '102', floor: 1, area: '120.00' }] }] },
    { name: '2', units: [{ name: '1', houses: [{ number: '101', floor: 1, area: '100.00' }] }] },
  ]);
  const owner = await createResident(h, '13900139001');
  await addMember(h, estate.houses['1-1-101']!, owner.resident.id, { role: 'owner', isPrimary: true });

  const today = localDate(h.deps.now(), TZ);
  const period = previousPeriod('monthly', periodContaining('monthly', today));
  const usage = previousPeriod('monthly', period);
  const from = localMidnight(usage.start, TZ);
  const to = localMidnight(usage.end, TZ);
  const read = (meterId: string, at: Date, value: string) =>
    h.deps.db.insert(meterReadings).values({ meterId, readAt: at, value, values: { energy_import: { value, unit: 'kWh' } }, source: 'manual' });
  const meters: Record<string, string> = {};
  for (const [code, start, end] of [
    ['1-1-101', '1000.00', '1300.50'],
    ['1-1-102', '500.00', null],
    ['2-1-101', '2000.00', '2180.00'],
  ] as const) {
    meters[code] = (await seedMeter(h, { communityId, houseId: estate.houses[code]!, gatewayId: null, serialNo: `E-${code}` })).id;
    await read(meters[code], from, start);
    if (end) await read(meters[code], new Date(to.getTime() - 60_000), end);
  }
  const corridor = (await seedMeter(h, { communityId, houseId: null, gatewayId: null, serialNo: 'E-CORRIDOR' })).id;
  await read(corridor, from, '10000.00');
  await read(corridor, to, '10123.40');

  const post = async (path: string, body: unknown, status: number) => {
    const res = await h.app.request(path, sendJson('POST', finance.headers, body));
    const text = await res.text();
    expect(res.status, text).toBe(status);
    return JSON.parse(text) as { id: string };
  };
  const since = `${usage.start.slice(0, 4)}-01-01`;
  const property = await post(
    `/v1/communities/${communityId}/fee-items`,
    {
      code: 'property',
      name: '物业费',
      kind: 'property',
      cycle: 'monthly',
      lateFee: { rule: 'daily-rate', ratePerDayBp: 5 },
      prepayOffers: [{ months: 12, freeMonths: 1 }],
      tariff: { effectiveFrom: since, unitPrice: 24500 },
    },
    201,
  );
  await post(`/v1/communities/${communityId}/fee-items`, electricityItem(since), 201);
  await post(
    `/v1/communities/${communityId}/fee-items`,
    { code: 'corridor-light', name: '公摊电费', kind: 'shared', sharedMeterId: corridor, shareMethod: 'area', cycle: 'monthly', tariff: { effectiveFrom: since, unitPrice: 6000 } },
    201,
  );
  const run = await post(`/v1/communities/${communityId}/bill-runs`, { cycle: 'monthly', period: periodLabel('monthly', period), dueOn: addDays(period.start, 15), post: true }, 202);
  await h.deps.jobs.waitFor(run.id);
  return { communityId, companyId: company.id, finance, owner, houses: estate.houses, buildings: estate.buildings, meters, propertyFeeItemId: property.id, runId: run.id, period, usage };
}
