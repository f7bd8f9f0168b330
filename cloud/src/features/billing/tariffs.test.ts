import { describe, expect, it } from 'vitest';
import { priceInFen, Ratio } from './billing-math.js';
import { fillTiers, MAX_UNIT_PRICE, tariffIssues, versionsOver, type TariffIssue, type TariffVersion, type Tier } from './tariffs.js';

type Proposed = Omit<TariffVersion, 'id' | 'version'>;

const flatProposal = (unitPrice: number | null, effectiveFrom = '2026-01-01', effectiveTo: string | null = null, tiers: Tier[] | null = null): Proposed => ({
  effectiveFrom,
  effectiveTo,
  unitPrice,
  tiers,
});

const tieredProposal = (tiers: Tier[] | null, unitPrice: number | null = null, effectiveFrom = '2026-01-01', effectiveTo: string | null = null): Proposed => ({
  effectiveFrom,
  effectiveTo,
  unitPrice,
  tiers,
});

const version = (v: number, effectiveFrom: string, effectiveTo: string | null, unitPrice = 24500): TariffVersion => ({
  id: `v${v}`,
  version: v,
  effectiveFrom,
  effectiveTo,
  unitPrice,
  tiers: null,
});

const flatIssues = (p: Proposed, existing: TariffVersion[] = []) => tariffIssues(p, { tiered: false, existing });
const tieredIssues = (p: Proposed, existing: TariffVersion[] = []) => tariffIssues(p, { tiered: true, existing });
const paths = (issues: TariffIssue[]) => issues.map((i) => i.path);

const GOOD_TIERS: Tier[] = [
  { upTo: '240', unitPrice: 4883 },
  { upTo: '400', unitPrice: 5383 },
  { upTo: null, unitPrice: 7883 },
];

describe('tariffIssues', () => {
  it('accepts a good flat price and good tiers', () => {
    expect(flatIssues(flatProposal(24500))).toEqual([]);
    expect(flatIssues(flatProposal(1, '2026-01-01', '2026-07-01'))).toEqual([]);
    expect(flatIssues(flatProposal(MAX_UNIT_PRICE))).toEqual([]);
    expect(tieredIssues(tieredProposal(GOOD_TIERS))).toEqual([]);
    expect(tieredIssues(tieredProposal([{ upTo: null, unitPrice: 4883 }]))).toEqual([]);
    expect(tieredIssues(tieredProposal([{ upTo: '0.5', unitPrice: 1 }, { upTo: null, unitPrice: 2 }]))).toEqual([]);
  });

  it('refuses zero, negative, fractional and absurd prices', () => {
    expect(flatIssues(flatProposal(0))).toEqual([{ path: 'unitPrice', message: 'must be greater than zero, got 0' }]);
    expect(flatIssues(flatProposal(-24500))).toEqual([{ path: 'unitPrice', message: 'must be greater than zero, got -24500' }]);
    expect(paths(flatIssues(flatProposal(2.45)))).toEqual(['unitPrice']);
    expect(paths(flatIssues(flatProposal(null)))).toEqual(['unitPrice']);
    expect(paths(flatIssues(flatProposal(MAX_UNIT_PRICE + 1)))).toEqual(['unitPrice']);
    expect(
      tieredIssues(
        tieredProposal([
          { upTo: '240', unitPrice: 0 },
          { upTo: '400', unitPrice: -1 },
          { upTo: null, unitPrice: 7883 },
        ]),
      ),
    ).toEqual([
      { path: 'tiers.0.unitPrice', message: 'must be greater than zero, got 0' },
      { path: 'tiers.1.unitPrice', message: 'must be greater than zero, got -1' },
    ]);
  });

  it('refuses thresholds that do not rise', () => {
    const outOfOrder = tieredIssues(
      tieredProposal([
        { upTo: '400', unitPrice: 4883 },
        { upTo: '240', unitPrice: 5383 },
        { upTo: null, unitPrice: 7883 },
      ]),
    );
    expect(paths(outOfOrder)).toEqual(['tiers.1.upTo']);
    expect(outOfOrder[0]!.message).toMatch(/240 is not above the previous tier's 400/);

    const equal = tieredIssues(
      tieredProposal([
        { upTo: '240', unitPrice: 4883 },
        { upTo: '240.000', unitPrice: 5383 },
        { upTo: null, unitPrice: 7883 },
      ]),
    );
    expect(paths(equal)).toEqual(['tiers.1.upTo']);

    // a first threshold of zero or below
    expect(paths(tieredIssues(tieredProposal([{ upTo: '0', unitPrice: 1 }, { upTo: null, unitPrice: 2 }])))).toEqual(['tiers.0.upTo']);
    expect(paths(tieredIssues(tieredProposal([{ upTo: '-5', unitPrice: 1 }, { upTo: null, unitPrice: 2 }])))).toEqual(['tiers.0.upTo']);
    // a threshold that is not a quantity
    expect(paths(tieredIssues(tieredProposal([{ upTo: '2e2', unitPrice: 1 }, { upTo: null, unitPrice: 2 }])))).toEqual(['tiers.0.upTo']);
    // after a bad threshold the next is compared with the highest good one so far: 400 > 240 is fine
    expect(
      paths(
        tieredIssues(
          tieredProposal([
            { upTo: '240', unitPrice: 1 },
            { upTo: '100', unitPrice: 2 },
            { upTo: '400', unitPrice: 3 },
            { upTo: null, unitPrice: 4 },
          ]),
        ),
      ),
    ).toEqual(['tiers.1.upTo']);
  });

  it('wants exactly one open-ended tier, last', () => {
    const closed = tieredIssues(
      tieredProposal([
        { upTo: '240', unitPrice: 4883 },
        { upTo: '400', unitPrice: 5383 },
      ]),
    );
    expect(closed).toEqual([{ path: 'tiers.1.upTo', message: expect.stringMatching(/last tier must be open-ended/) }]);

    const openInMiddle = tieredIssues(
      tieredProposal([
        { upTo: '240', unitPrice: 4883 },
        { upTo: null, unitPrice: 5383 },
        { upTo: null, unitPrice: 7883 },
      ]),
    );
    expect(openInMiddle).toEqual([{ path: 'tiers.1.upTo', message: 'only the last tier may be open-ended' }]);

    expect(paths(tieredIssues(tieredProposal([])))).toEqual(['tiers']);
    expect(paths(tieredIssues(tieredProposal(null)))).toEqual(['tiers']);
  });

  it('keeps unit prices and tiers apart', () => {
    expect(tieredIssues(tieredProposal(GOOD_TIERS, 4883))).toEqual([{ path: 'unitPrice', message: 'a tiered fee item takes tiers, not a unit price' }]);
    expect(flatIssues(flatProposal(24500, '2026-01-01', null, GOOD_TIERS))).toEqual([{ path: 'tiers', message: 'this fee item is not tiered; give unitPrice instead' }]);
  });

  it('wants the window to end after it starts, on real dates', () => {
    expect(flatIssues(flatProposal(24500, '2026-01-01', '2026-01-01'))).toEqual([{ path: 'effectiveTo', message: 'must be after effectiveFrom (2026-01-01)' }]);
    expect(paths(flatIssues(flatProposal(24500, '2026-02-01', '2026-01-01')))).toEqual(['effectiveTo']);
    expect(paths(flatIssues(flatProposal(24500, '2026-02-30', null)))).toEqual(['effectiveFrom']);
    expect(paths(flatIssues(flatProposal(24500, '2026-01-01', '2026-13-01')))).toEqual(['effectiveTo']);
    expect(paths(flatIssues(flatProposal(24500, '2026-1-1', null)))).toEqual(['effectiveFrom']);
  });

  it('refuses overlap with an existing version, allows adjacent windows', () => {
    const v1 = version(1, '2025-01-01', '2026-01-01');
    const v2open = version(2, '2026-01-01', null);

    // [2025-07-01, 2025-10-01) inside v1
    const inside = flatIssues(flatProposal(26000, '2025-07-01', '2025-10-01'), [v1]);
    expect(inside).toEqual([
      {
        path: 'effectiveFrom',
        message: 'overlaps version 1 (2025-01-01 .. 2026-01-01) on 2025-07-01 .. 2025-10-01; end that version first or start this one later',
      },
    ]);
    // one day of overlap: [2025-12-31, …) with v1 ending 2026-01-01
    expect(flatIssues(flatProposal(26000, '2025-12-31', null), [v1])[0]!.message).toMatch(/on 2025-12-31 \.\. 2026-01-01/);
    // both open-ended
    expect(flatIssues(flatProposal(26000, '2027-01-01', null), [v2open])[0]!.message).toMatch(/overlaps version 2 \(2026-01-01 \.\. open-ended\) on 2027-01-01 \.\. open-ended/);
    // a proposal ending inside an open-ended one
    expect(paths(flatIssues(flatProposal(26000, '2025-06-01', '2026-02-01'), [v2open]))).toEqual(['effectiveFrom']);

    // adjacent: [a, b) and [b, …) share no day, either way round
    expect(flatIssues(flatProposal(26000, '2026-01-01', null), [v1])).toEqual([]);
    expect(flatIssues(flatProposal(26000, '2024-01-01', '2025-01-01'), [v1])).toEqual([]);
    expect(flatIssues(flatProposal(26000, '2025-01-01', '2026-01-01'), [v2open])).toEqual([]);
    // overlapping two versions gives two issues
    expect(paths(flatIssues(flatProposal(26000, '2025-06-01', null), [v1, v2open]))).toEqual(['effectiveFrom', 'effectiveFrom']);
  });
});

describe('versionsOver', () => {
  const JAN = { start: '2026-01-01', end: '2026-02-01' };

  it('cuts versions at the span edges and in time order', () => {
    const v2 = version(2, '2026-01-16', null, 26000);
    const v1 = version(1, '2025-01-01', '2026-01-16');
    const { pieces, gaps } = versionsOver([v2, v1], JAN);
    expect(gaps).toEqual([]);
    expect(pieces.map((p) => [p.start, p.end, p.version.version])).toEqual([
      ['2026-01-01', '2026-01-16', 1],
      ['2026-01-16', '2026-02-01', 2],
    ]);
  });

  it('ignores versions outside the span', () => {
    const old = version(1, '2024-01-01', '2025-01-01');
    const current = version(2, '2025-01-01', '2026-01-01');
    const next = version(3, '2026-01-01', '2026-02-01');
    const later = version(4, '2026-02-01', null);
    expect(versionsOver([old, current, next, later], JAN).pieces.map((p) => p.version.version)).toEqual([3]);
    expect(versionsOver([old, current, next, later], JAN).gaps).toEqual([]);
  });

  it('reports the gaps: before, between and after', () => {
    const a = version(1, '2026-01-05', '2026-01-10');
    const b = version(2, '2026-01-20', '2026-01-25');
    const { pieces, gaps } = versionsOver([a, b], JAN);
    expect(pieces.map((p) => [p.start, p.end])).toEqual([
      ['2026-01-05', '2026-01-10'],
      ['2026-01-20', '2026-01-25'],
    ]);
    expect(gaps).toEqual([
      { start: '2026-01-01', end: '2026-01-05' },
      { start: '2026-01-10', end: '2026-01-20' },
      { start: '2026-01-25', end: '2026-02-01' },
    ]);
    expect(versionsOver([], JAN)).toEqual({ pieces: [], gaps: [JAN] });
  });
});

describe('fillTiers', () => {
  const tiers = [
    { limit: Ratio.of(240n), unitPrice: 4883, fenPerUnit: priceInFen(4883) },
    { limit: Ratio.of(400n), unitPrice: 5383, fenPerUnit: priceInFen(5383) },
    { limit: null, unitPrice: 7883, fenPerUnit: priceInFen(7883) },
  ];

  it('pours from the position into the tiers that still have room', () => {
    // from 200: 40 in tier 1 (40 × 48.83 = 1953.2), 160 in tier 2 (8612.8), 50 in tier 3 (3941.5)
    const fills = fillTiers(tiers, Ratio.of(200n), Ratio.of(250n));
    expect(fills.map((f) => [f.tier, f.quantity.toDecimal(0), f.exactFen.toDecimal(1)])).toEqual([
      [1, '40', '1953.2'],
      [2, '160', '8612.8'],
      [3, '50', '3941.5'],
    ]);
    // starting past tier 2: all in tier 3
    expect(fillTiers(tiers, Ratio.of(400n), Ratio.of(10n)).map((f) => f.tier)).toEqual([3]);
    // nothing to pour
    expect(fillTiers(tiers, Ratio.ZERO, Ratio.ZERO)).toEqual([]);
  });
});
