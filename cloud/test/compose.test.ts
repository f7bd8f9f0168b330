import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.js';

// There is no Docker engine here, so docker-compose.yml is checked by reading it: what it builds must
// exist, what it sets must be something the cloud reads, and what it depends on must be defined.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');

type Service = {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: unknown;
  volumes?: (string | { type?: string; source?: string })[];
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8')) as Compose;
const services = Object.entries(compose.services);

/** The environment variable names cloud/src/config.ts declares: the keys of its `z.object({...})`. */
function configKeys(): Set<string> {
  const file = path.join(ROOT, 'cloud/src/config.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const keys = new Set<string>();
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'object') {
      for (const arg of node.arguments) {
        if (!ts.isObjectLiteralExpression(arg)) continue;
        for (const property of arg.properties) {
          if (property.name && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name)) && /^[A-Z][A-Z0-9_]*$/.test(property.name.text)) {
            keys.add(property.name.text);
          }
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return keys;
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0]!, entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : '']));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

/** Compose variable interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$) against `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const set = name! in vars;
    const current = vars[name!] ?? '';
    const missing = op?.startsWith(':') ? current === '' : !set;
    if (op?.endsWith('?') && missing) throw new Error(`${name} is required: ${arg}`);
    if (op?.endsWith('-') && missing) return arg ?? '';
    return current;
  });
}

function dependencies(service: Service): string[] {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

describe('docker-compose.yml', () => {
  it('defines postgres, redis, mosquitto and the cloud', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['cloud', 'mosquitto', 'postgres', 'redis']);
    expect(compose.services['postgres']?.image).toMatch(/^postgres:16/);
    expect(compose.services['redis']?.image).toMatch(/^redis:7/);
    expect(compose.services['mosquitto']?.image).toMatch(/^eclipse-mosquitto:2/);
  });

  it.each(services.filter(([, s]) => s.build))('%s: the build context, Dockerfile and everything it copies exist', (_name, service) => {
    const build = typeof service.build === 'string' ? { context: service.build } : service.build!;
    const context = path.resolve(ROOT, build.context ?? '.');
    expect(statSync(context).isDirectory(), `context ${context}`).toBe(true);
    const dockerfile = path.resolve(context, build.dockerfile ?? 'Dockerfile');
    expect(existsSync(dockerfile), `Dockerfile ${dockerfile}`).toBe(true);

    const instructions = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n');
    const copies = instructions.filter((line) => /^\s*(COPY|ADD)\s/i.test(line) && !/--from=/i.test(line));
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies) {
      const words = line.trim().split(/\s+/).slice(1).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) {
        expect(existsSync(path.resolve(context, source)), `${line.trim()}: ${source} is missing`).toBe(true);
      }
    }
  });

  it('the cloud sets only variables cloud/src/config.ts reads', () => {
    const known = configKeys();
    expect(known.has('DATABASE_URL')).toBe(true); // the reader above still understands config.ts
    const unknown = Object.keys(environmentOf(compose.services['cloud']!)).filter((key) => !known.has(key));
    expect(unknown, 'variables config.ts does not declare').toEqual([]);
  });

  it('the cloud configuration it produces from an .env with the documented secrets is valid for production', () => {
    const dotEnv = {
      POSTGRES_PASSWORD: randomBytes(16).toString('hex'),
      JWT_SECRET: randomBytes(32).toString('base64'),
      PII_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
    };
    const env = Object.fromEntries(Object.entries(environmentOf(compose.services['cloud']!)).map(([k, v]) => [k, interpolate(v, dotEnv)]));
    const config = loadConfig(env);
    expect(config.NODE_ENV).toBe('production');
    expect(config.secretsSource).toBe('environment');
    expect(config.DATABASE_URL).toBe(`postgres://estate:${dotEnv.POSTGRES_PASSWORD}@postgres:5432/estate`);
    expect(config.REDIS_URL).toBe('redis://redis:6379');
  });

  it('refuses to start without the secrets from .env (none are committed)', () => {
    const cloudEnv = environmentOf(compose.services['cloud']!);
    for (const secret of ['JWT_SECRET', 'PII_KEYS', 'BLIND_INDEX_KEY']) {
      expect(cloudEnv[secret], secret).toMatch(new RegExp(`^\\$\\{${secret}:\\?`));
    }
    expect(() => interpolate(cloudEnv['JWT_SECRET']!, {})).toThrow(/JWT_SECRET is required/);
  });

  it.each(services)('%s: depends only on services that exist, and waits for health only where there is a check', (_name, service) => {
    for (const dependency of dependencies(service)) {
      expect(Object.keys(compose.services), `depends_on ${dependency}`).toContain(dependency);
      const condition = Array.isArray(service.depends_on) ? undefined : service.depends_on?.[dependency]?.condition;
      if (condition === 'service_healthy') expect(compose.services[dependency]!.healthcheck, `${dependency} has no healthcheck`).toBeDefined();
    }
  });

  it.each(services)('%s: uses only named volumes that are declared', (_name, service) => {
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
      if (!source || /^[./~]/.test(source)) continue; // a bind mount, not a named volume
      expect(Object.keys(compose.volumes ?? {}), `volume ${source}`).toContain(source);
    }
  });
});
