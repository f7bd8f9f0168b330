import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PiiVault, idNumberCheckChar, maskIdNumber, maskPhone, normalizeIdNumber, normalizePhone } from './pii.js';

const key = () => randomBytes(32);

describe('PiiVault', () => {
  const k1 = key();
  const vault = new PiiVault({ piiKeys: new Map([['k1', k1]]), piiActiveKeyId: 'k1', blindIndexKey: key() });

  it('round-trips and never stores the clear value', () => {
    const sealed = vault.encrypt('13812341234', 'phone');
    expect(sealed).not.toContain('13812341234');
    expect(sealed.startsWith('v1.k1.')).toBe(true);
    expect(vault.decrypt(sealed, 'phone')).toBe('13812341234');
    expect(vault.encrypt('13812341234', 'phone')).not.toBe(sealed);
  });

  it('refuses a tampered ciphertext and a value moved to another field', () => {
    const sealed = vault.encrypt('110105194912310021', 'id_number');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[4]!, 'base64url');
    body[0]! ^= 1;
    parts[4] = body.toString('base64url');
    expect(() => vault.decrypt(parts.join('.'), 'id_number')).toThrow();
    expect(() => vault.decrypt(sealed, 'phone')).toThrow();
  });

  it('reads values written under a retired key after rotation', () => {
    const old = vault.encrypt('13812341234', 'phone');
    const rotated = new PiiVault({ piiKeys: new Map([['k2', key()], ['k1', k1]]), piiActiveKeyId: 'k2', blindIndexKey: key() });
    expect(rotated.decrypt(old, 'phone')).toBe('13812341234');
    expect(rotated.encrypt('1', 'phone').startsWith('v1.k2.')).toBe(true);
    const withoutOld = new PiiVault({ piiKeys: new Map([['k2', key()]]), piiActiveKeyId: 'k2', blindIndexKey: key() });
    expect(() => withoutOld.decrypt(old, 'phone')).toThrow(/k1/);
  });

  it('gives a stable blind index that differs per field and per key', () => {
    expect(vault.blindIndex('13812341234', 'phone')).toBe(vault.blindIndex('13812341234', 'phone'));
    expect(vault.blindIndex('13812341234', 'phone')).not.toBe(vault.blindIndex('13812341234', 'id_number'));
    const other = new PiiVault({ piiKeys: new Map([['k1', k1]]), piiActiveKeyId: 'k1', blindIndexKey: key() });
    expect(other.blindIndex('13812341234', 'phone')).not.toBe(vault.blindIndex('13812341234', 'phone'));
  });
});

describe('masking and normalising', () => {
  it('masks the way Chinese apps do', () => {
    expect(maskPhone('13812341234')).toBe('138****1234');
    expect(maskIdNumber('11010519491231002X')).toBe('1101**********002X');
  });

  it.each([
    ['13812341234', '13812341234'],
    ['+86 138-1234-1234', '13812341234'],
    ['8613812341234', '13812341234'],
    ['12812341234', null],
    ['1381234123', null],
    ['abc', null],
  ])('normalizePhone(%s) = %s', (input, expected) => expect(normalizePhone(input)).toBe(expected));

  it('checks the GB 11643-1999 check character and the birth date', () => {
    expect(normalizeIdNumber('11010519491231002x')).toBe('11010519491231002X');
    expect(normalizeIdNumber('110105194912310021')).toBeNull(); // wrong check character
    expect(normalizeIdNumber('110105194902300021')).toBeNull(); // 30 February
    expect(normalizeIdNumber('1101051949123100')).toBeNull();
    const first17 = '44030419851130123';
    expect(normalizeIdNumber(first17 + idNumberCheckChar(first17))).toBe(first17 + idNumberCheckChar(first17));
  });
});
