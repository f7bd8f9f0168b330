import { describe, expect, it } from 'vitest';
import { canonicalArea, FloorAreaM2, ianaTimeZone, normalizePlate } from './estate-values.js';

describe('normalizePlate', () => {
  it('upper-cases and removes spaces, dots and middle dots', () => {
    expect(normalizePlate(' 沪a·123 45 ')).toBe('沪A12345');
    expect(normalizePlate('粤B D1234.5')).toBe('粤BD12345');
    expect(normalizePlate('京Ａ・１２３４５')).toBe('京A12345');
  });
});

describe('ianaTimeZone', () => {
  it('accepts canonical names, links and UTC, fixing only the case', () => {
    expect(ianaTimeZone('Asia/Shanghai')).toBe('Asia/Shanghai');
    expect(ianaTimeZone('asia/shanghai')).toBe('Asia/Shanghai');
    expect(ianaTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(ianaTimeZone('UTC')).toBe('UTC');
    expect(ianaTimeZone('America/Argentina/Buenos_Aires')).toBe('America/Argentina/Buenos_Aires');
  });

  it('refuses abbreviations, offsets and made-up zones', () => {
    for (const name of ['EST', 'CST', '+08:00', 'GMT+8', 'Mars/Olympus', '', 'Asia/Shanghai ']) expect(ianaTimeZone(name), name).toBeNull();
  });
});

describe('FloorAreaM2', () => {
  it('takes up to two decimals and up to the numeric(10,2) range', () => {
    for (const ok of ['89.5', '89.50', '0.01', '99999999.99', '120']) expect(FloorAreaM2.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['89.505', '0', '0.00', '.5', '5.', '-1', '100000000', '1e3', ' 89.50']) expect(FloorAreaM2.safeParse(bad).success, bad).toBe(false);
  });

  it('canonicalises to two decimals as PostgreSQL prints numeric(10,2)', () => {
    expect(canonicalArea('089.5')).toBe('89.50');
    expect(canonicalArea('120')).toBe('120.00');
    expect(canonicalArea('0.01')).toBe('0.01');
  });
});
