import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('lists every problem at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', JWT_SECRET: 'short' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = error!.problems.map((p) => p.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL', 'JWT_SECRET']));
    expect(error!.message).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
  });

  it('demands real secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: is required in production[\s\S]*PII_KEYS[\s\S]*BLIND_INDEX_KEY/);
  });

  it('generates development secrets once per installation and reuses them', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'estate-config-'));
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(first.secrets.jwtSecret.equals(second.secrets.jwtSecret)).toBe(true);
    expect(first.secretsSource).toBe(path.resolve(dir, 'secrets.json'));
    const other = loadConfig({ DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'estate-config-')) });
    expect(other.secrets.jwtSecret.equals(first.secrets.jwtSecret)).toBe(false);
  });

  it('keeps the development outbox by default and demands every Aliyun setting for SMS_PROVIDER=aliyun', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'estate-config-'));
    expect(loadConfig({ DATA_DIR: dir }).SMS_PROVIDER).toBe('outbox');
    let error: ConfigError | undefined;
    try {
      loadConfig({ DATA_DIR: dir, SMS_PROVIDER: 'aliyun', ALIYUN_SMS_SIGN_NAME: '智慧社区', ALIYUN_SMS_ENDPOINT: 'not a url' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = error!.problems.map((p) => p.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining(['ALIYUN_SMS_ACCESS_KEY_ID', 'ALIYUN_SMS_ACCESS_KEY_SECRET', 'ALIYUN_SMS_TEMPLATE_CODE', 'ALIYUN_SMS_ENDPOINT']));
    expect(keys).not.toContain('ALIYUN_SMS_SIGN_NAME');
    expect(error!.message).toMatch(/ALIYUN_SMS_ACCESS_KEY_ID: is required when SMS_PROVIDER=aliyun/);

    const aliyun = loadConfig({
      DATA_DIR: dir,
      SMS_PROVIDER: 'aliyun',
      ALIYUN_SMS_ACCESS_KEY_ID: 'LTAI5tExample',
      ALIYUN_SMS_ACCESS_KEY_SECRET: 'secret',
      ALIYUN_SMS_SIGN_NAME: '智慧社区',
      ALIYUN_SMS_TEMPLATE_CODE: 'SMS_123456789',
    });
    expect(aliyun.SMS_PROVIDER).toBe('aliyun');
    expect(aliyun.ALIYUN_SMS_ENDPOINT).toBe('https://dysmsapi.aliyuncs.com');
    expect(() => loadConfig({ DATA_DIR: dir, SMS_PROVIDER: 'twilio' })).toThrow(/SMS_PROVIDER/);
  });

  it('parses rotated PII keys and the active key id', () => {
    const k = Buffer.alloc(32, 1).toString('base64');
    const config = loadConfig({ JWT_SECRET: k, BLIND_INDEX_KEY: k, PII_KEYS: `k2:${k},k1:${k}`, PII_ACTIVE_KEY_ID: 'k2' });
    expect([...config.secrets.piiKeys.keys()]).toEqual(['k2', 'k1']);
    expect(config.secrets.piiActiveKeyId).toBe('k2');
    expect(() => loadConfig({ JWT_SECRET: k, BLIND_INDEX_KEY: k, PII_KEYS: `k1:${k}`, PII_ACTIVE_KEY_ID: 'k9' })).toThrow(/PII_ACTIVE_KEY_ID/);
  });
});
