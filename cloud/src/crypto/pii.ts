import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { Secrets } from '../config.js';

const FORMAT = 'v1';

/**
 * Encrypts phone and ID numbers at rest with AES-256-GCM (NIST SP 800-38D: 96-bit random IV, 128-bit
 * tag) and finds them again through a keyed blind index (HMAC-SHA256), so lookups need no decryption
 * and equal values cannot be spotted in a dump without the index key.
 *
 * Ciphertext format: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts), so keys can rotate:
 * new writes use the active key, old rows stay readable while their key is still configured.
 */
export class PiiVault {
  constructor(private readonly secrets: Pick<Secrets, 'piiKeys' | 'piiActiveKeyId' | 'blindIndexKey'>) {
    if (!secrets.piiKeys.has(secrets.piiActiveKeyId)) throw new Error(`PII key "${secrets.piiActiveKeyId}" is not configured`);
  }

  /** @example vault.encrypt('13812341234') // 'v1.dev1.…' */
  encrypt(plain: string, field: PiiField): string {
    const keyId = this.secrets.piiActiveKeyId;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.secrets.piiKeys.get(keyId)!, iv);
    // The field name is bound as associated data: a phone ciphertext pasted into an ID column fails to open.
    cipher.setAAD(Buffer.from(field));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [FORMAT, keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  decrypt(sealed: string, field: PiiField): string {
    const [format, keyId, iv, tag, body] = sealed.split('.');
    if (format !== FORMAT || !keyId || iv === undefined || tag === undefined || body === undefined) throw new Error('not a sealed PII value');
    const key = this.secrets.piiKeys.get(keyId);
    if (!key) throw new Error(`PII key "${keyId}" is no longer configured; it is needed to read this value`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(field));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Deterministic lookup key for a normalised value; the field name keeps phone and ID indexes apart. */
  blindIndex(plain: string, field: PiiField): string {
    return createHmac('sha256', this.secrets.blindIndexKey).update(field).update('\0').update(plain).digest('base64url');
  }
}

/** What a sealed value is; bound as associated data, so a value cannot be moved to another column. */
export type PiiField = 'phone' | 'id_number' | 'door_signing_key' | 'lock_secret';

/** 13812341234 -> 138****1234 */
export function maskPhone(phone: string): string {
  return phone.length >= 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : '****';
}

/** 110101199003074518 -> 1101**********4518 */
export function maskIdNumber(id: string): string {
  return id.length >= 8 ? `${id.slice(0, 4)}${'*'.repeat(id.length - 8)}${id.slice(-4)}` : '****';
}

/**
 * Masks what could be a phone, ID or bank number inside free text meant for people (error messages,
 * audit details): every run of 6 or more digits (with an ID number's trailing X) keeps its first 3 and
 * last 2 characters. Short numbers (floors, rooms, row numbers) stay readable.
 *
 * @example
 * redactDigits('ID 11010519491231002X, phone 13912345678') // 'ID 110*************2X, phone 139******78'
 */
export function redactDigits(text: string): string {
  return text.replace(/\d{6,}[Xx]?/g, (run) => `${run.slice(0, 3)}${'*'.repeat(run.length - 5)}${run.slice(-2)}`);
}

/** Mainland mobile numbers: 11 digits starting 1[3-9]; an optional +86 / 86 prefix is dropped. */
export function normalizePhone(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '').replace(/^(\+?86)/, '');
  return /^1[3-9]\d{9}$/.test(digits) ? digits : null;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/**
 * Resident identity card number, GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character.
 * Returns the upper-cased number, or null when the shape, birth date or check character is wrong.
 */
export function normalizeIdNumber(input: string): string | null {
  const id = input.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return null;
  const birth = id.slice(6, 14);
  const date = new Date(`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10).replaceAll('-', '') !== birth) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id[17] ? id : null;
}

/** Appends the check character to 17 digits; used by fixtures to make valid, fictitious numbers. */
export function idNumberCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}
