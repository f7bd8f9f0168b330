import { localDate, localMidnight, periodContaining, periodLabel, previousPeriod } from '../cloud/src/features/billing/billing-periods.js';
import type { RunningCloud } from '../cloud/src/server.js';

/**
 * The demo community's billing, set up through the API as finance would on day one: fee items with
 * Shanghai-like prices, last month's hand-read meter round imported as a CSV (the values the simulated
 * meters' counters had then, so the gateway's later readings continue them), and the current month's
 * bill run, posted. Idempotent: a community that has fee items is left as it is (the hourly schedule
 * bills the months that follow).
 */

type Api = <T>(method: string, url: string, body?: unknown) => Promise<T>;
export type DemoMeterSpec = { serialNo: string; valueAt: (ms: number) => number };

const TZ = 'Asia/Shanghai';

export async function seedDemoBilling(cloud: RunningCloud, api: Api, token: string, communityId: string, meters: DemoMeterSpec[]): Promise<{ runId: string | null }> {
  const existing = await api<{ items: unknown[] }>('GET', `/communities/${communityId}/fee-items`);
  if (existing.items.length > 0) return { runId: null };
  const period = periodContaining('monthly', localDate(cloud.deps.now(), TZ));
  const usage = previousPeriod('monthly', period);
  const edges = [localMidnight(usage.start, TZ), localMidnight(usage.end, TZ)];

  // The corridor lights and lifts: a common meter read by hand, split by floor area.
  const common = await api<{ id: string }>('POST', `/communities/${communityId}/meters`, {
    shared: true,
    kind: 'electricity',
    model: 'DTSY-TOU',
    serialNo: 'E-PUBLIC-1',
    installedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  });
  const publicMeter: DemoMeterSpec = { serialNo: 'E-PUBLIC-1', valueAt: (ms) => 50_000 + ((ms - Date.UTC(2026, 0, 1)) / 86_400_000) * 85.5 };
  const rows = [...meters, publicMeter].flatMap((m) => edges.map((at) => `${m.serialNo},${at.toISOString()},${m.valueAt(at.getTime()).toFixed(2)}`));
  const form = new FormData();
  form.append('file', new File([`serialNo,readAt,value\n${rows.join('\n')}\n`], `meter-round-${usage.start.slice(0, 7)}.csv`, { type: 'text/csv' }));
  const imported = await fetch(`${cloud.baseUrl}/v1/communities/${communityId}/meter-readings/import`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  if (!imported.ok) throw new Error(`the demo meter round did not import: ${imported.status} ${await imported.text()}`);

  const since = `${usage.start.slice(0, 4)}-01-01`;
  const items = [
    {
      code: 'property',
      name: '物业费',
      kind: 'property',
      cycle: 'monthly',
      vacancyDiscountBp: 3000,
      lateFee: { rule: 'daily-rate', ratePerDayBp: 5, graceDays: 0, capBp: 10000 },
      prepayOffers: [{ months: 12, freeMonths: 1 }],
      tariff: { effectiveFrom: since, unitPrice: 24_500 },
    },
    {
      code: 'electricity',
      name: '电费',
      kind: 'metered',
      meterKind: 'electricity',
      cycle: 'monthly',
      tiered: true,
      tierBasis: 'year',
      tariff: { effectiveFrom: since, tiers: [{ upTo: '3120', unitPrice: 6_170 }, { upTo: '4800', unitPrice: 6_670 }, { upTo: null, unitPrice: 9_170 }] },
    },
    {
      code: 'water',
      name: '水费',
      kind: 'metered',
      meterKind: 'water',
      cycle: 'monthly',
      tiered: true,
      tierBasis: 'year',
      onBadReading: 'estimate',
      tariff: { effectiveFrom: since, tiers: [{ upTo: '220', unitPrice: 34_500 }, { upTo: '300', unitPrice: 48_300 }, { upTo: null, unitPrice: 58_300 }] },
    },
    { code: 'public-light', name: '公摊电费', kind: 'shared', sharedMeterId: common.id, shareMethod: 'area', cycle: 'monthly', tariff: { effectiveFrom: since, unitPrice: 6_170 } },
    { code: 'parking-mgmt', name: '车位管理费', kind: 'parking-management', cycle: 'monthly', tariff: { effectiveFrom: since, unitPrice: 800_000 } },
    { code: 'parking-rent', name: '车位租金', kind: 'parking-rent', cycle: 'monthly', tariff: { effectiveFrom: since, unitPrice: 3_000_000 } },
  ];
  for (const item of items) await api('POST', `/communities/${communityId}/fee-items`, item);

  // The schedule's first tick may have started this month's run already; then that run is the one.
  const label = periodLabel('monthly', period);
  const run = await api<{ id: string }>('POST', `/communities/${communityId}/bill-runs`, { cycle: 'monthly', period: label, post: true }).catch(async (error: unknown) => {
    const runs = await api<{ items: { id: string; period: { label: string } }[] }>('GET', `/communities/${communityId}/bill-runs`);
    const existing = runs.items.find((r) => r.period.label === label);
    if (!existing) throw error;
    return existing;
  });
  for (let waited = 0; waited < 60_000; waited += 100) {
    const state = await api<{ status: string; failure: string | null }>('GET', `/bill-runs/${run.id}`);
    if (state.status === 'posted') return { runId: run.id };
    if (state.status === 'failed') throw new Error(`the demo bill run failed: ${state.failure}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the demo bill run did not finish in a minute');
}
