import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const base64Key = z
  .string()
  .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)');

/**
 * `PII_KEYS` holds every data key ever used, so old rows stay readable after rotation:
 * `k2:<base64>,k1:<base64>`. New values are written with `PII_ACTIVE_KEY_ID`.
 */
const piiKeys = z.string().transform((s, ctx) => {
  const keys = new Map<string, Buffer>();
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [id, key] = part.split(':');
    if (!id || !key || !/^[A-Za-z0-9_-]{1,16}$/.test(id)) {
      ctx.addIssue({ code: 'custom', message: `entry "${part.slice(0, 20)}" is not <keyId>:<base64 key>` });
      continue;
    }
    const bytes = Buffer.from(key, 'base64');
    if (bytes.length !== 32) ctx.addIssue({ code: 'custom', message: `key ${id} must be 32 bytes, base64-encoded` });
    keys.set(id, bytes);
  }
  if (keys.size === 0) ctx.addIssue({ code: 'custom', message: 'at least one key is required' });
  return keys;
});

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_URL: z.url().optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .default('public'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// URL')
      .optional(),
    QUEUE_PREFIX: z.string().min(1).default('estate'),
    DATA_DIR: z.string().default('.data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // How many reverse proxies in front of the API append to X-Forwarded-For. 0: the header is ignored and
    // the socket address is the client (rate limits and audit cannot be fooled by a forged header).
    TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    UPLOAD_LIMIT_BYTES: z.coerce.number().int().positive().default(20 * 1024 * 1024),
    JWT_SECRET: base64Key.optional(),
    PII_KEYS: piiKeys.optional(),
    PII_ACTIVE_KEY_ID: z.string().optional(),
    BLIND_INDEX_KEY: base64Key.optional(),
    // 'outbox' (development) keeps messages in the database; 'aliyun' sends them through Alibaba Cloud SMS.
    SMS_PROVIDER: z.enum(['outbox', 'aliyun']).default('outbox'),
    ALIYUN_SMS_ACCESS_KEY_ID: z.string().min(1).optional(),
    ALIYUN_SMS_ACCESS_KEY_SECRET: z.string().min(1).optional(),
    ALIYUN_SMS_SIGN_NAME: z.string().min(1).optional(),
    ALIYUN_SMS_TEMPLATE_CODE: z.string().min(1).optional(),
    ALIYUN_SMS_ENDPOINT: z
      .url()
      .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
      .default('https://dysmsapi.aliyuncs.com'),
    SEED_DEMO: z.enum(['auto', 'always', 'never']).default('auto'),
    // How long POST /v1/doors/{id}/open waits for the gateway before answering that the door's state is unknown.
    DOOR_OPEN_WAIT_MS: z.coerce.number().int().min(500).max(30_000).default(8000),
    // MQTT: the embedded aedes broker by default; MQTT_URL switches the cloud to a client of an external
    // broker (Mosquitto / EMQX). 1883 is left to a Mosquitto on the same host.
    MQTT_HOST: z.string().default('0.0.0.0'),
    MQTT_PORT: z.coerce.number().int().min(0).max(65535).default(1884),
    MQTT_TLS_PORT: z.coerce.number().int().min(0).max(65535).default(8883),
    MQTT_TLS_CERT: z.string().min(1).optional(),
    MQTT_TLS_KEY: z.string().min(1).optional(),
    MQTT_URL: z
      .string()
      .regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
      .optional(),
    MQTT_USERNAME: z.string().min(1).optional(),
    MQTT_PASSWORD: z.string().min(1).optional(),
    MQTT_CLIENT_ID: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" only (1-64)')
      .default('estate-cloud'),
    MQTT_SHARED_GROUP: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" only (1-64)')
      .optional(),
    PUBLIC_MQTT_URL: z
      .string()
      .regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production') {
      for (const key of ['JWT_SECRET', 'PII_KEYS', 'BLIND_INDEX_KEY'] as const) {
        if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required in production (no generated development default)' });
      }
    }
    if (Boolean(env.MQTT_TLS_CERT) !== Boolean(env.MQTT_TLS_KEY)) {
      ctx.addIssue({ code: 'custom', path: [env.MQTT_TLS_CERT ? 'MQTT_TLS_KEY' : 'MQTT_TLS_CERT'], message: 'MQTT_TLS_CERT and MQTT_TLS_KEY go together' });
    }
    if (Boolean(env.MQTT_USERNAME) !== Boolean(env.MQTT_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: [env.MQTT_USERNAME ? 'MQTT_PASSWORD' : 'MQTT_USERNAME'], message: 'MQTT_USERNAME and MQTT_PASSWORD go together' });
    }
    if (env.SMS_PROVIDER === 'aliyun') {
      for (const key of ['ALIYUN_SMS_ACCESS_KEY_ID', 'ALIYUN_SMS_ACCESS_KEY_SECRET', 'ALIYUN_SMS_SIGN_NAME', 'ALIYUN_SMS_TEMPLATE_CODE'] as const) {
        if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when SMS_PROVIDER=aliyun' });
      }
    }
    if (env.PII_KEYS && env.PII_ACTIVE_KEY_ID && !env.PII_KEYS.has(env.PII_ACTIVE_KEY_ID)) {
      ctx.addIssue({ code: 'custom', path: ['PII_ACTIVE_KEY_ID'], message: 'names a key that PII_KEYS does not hold' });
    }
  });

export type Secrets = {
  jwtSecret: Buffer;
  piiKeys: Map<string, Buffer>;
  piiActiveKeyId: string;
  blindIndexKey: Buffer;
};

export type Config = Omit<z.infer<typeof envSchema>, 'JWT_SECRET' | 'PII_KEYS' | 'PII_ACTIVE_KEY_ID' | 'BLIND_INDEX_KEY'> & {
  secrets: Secrets;
  /** Where the secrets came from, for the start-up banner. */
  secretsSource: 'environment' | string;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once, reporting every problem at once rather than the first.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError listing all problems
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`));
  }
  const { JWT_SECRET, PII_KEYS, PII_ACTIVE_KEY_ID, BLIND_INDEX_KEY, ...rest } = parsed.data;
  if (JWT_SECRET && PII_KEYS && BLIND_INDEX_KEY) {
    const activeId = PII_ACTIVE_KEY_ID ?? [...PII_KEYS.keys()][0]!;
    return {
      ...rest,
      secrets: { jwtSecret: Buffer.from(JWT_SECRET, 'base64'), piiKeys: PII_KEYS, piiActiveKeyId: activeId, blindIndexKey: Buffer.from(BLIND_INDEX_KEY, 'base64') },
      secretsSource: 'environment',
    };
  }
  // Development: secrets are generated once per installation and kept beside the data they protect,
  // never committed. Whatever the environment did give still wins.
  const file = path.resolve(rest.DATA_DIR, 'secrets.json');
  const dev = readOrCreateDevSecrets(file);
  const piiKeys = PII_KEYS ?? new Map([[dev.piiKeyId, Buffer.from(dev.piiKey, 'base64')]]);
  return {
    ...rest,
    secrets: {
      jwtSecret: Buffer.from(JWT_SECRET ?? dev.jwtSecret, 'base64'),
      piiKeys,
      piiActiveKeyId: PII_ACTIVE_KEY_ID ?? [...piiKeys.keys()][0]!,
      blindIndexKey: Buffer.from(BLIND_INDEX_KEY ?? dev.blindIndexKey, 'base64'),
    },
    secretsSource: file,
  };
}

type DevSecrets = { jwtSecret: string; piiKeyId: string; piiKey: string; blindIndexKey: string };

function readOrCreateDevSecrets(file: string): DevSecrets {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  const secrets: DevSecrets = {
    jwtSecret: randomBytes(32).toString('base64'),
    piiKeyId: 'dev1',
    piiKey: randomBytes(32).toString('base64'),
    blindIndexKey: randomBytes(32).toString('base64'),
  };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: 'wx' });
  return secrets;
}
