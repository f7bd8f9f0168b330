import { readFile } from 'node:fs/promises';
import { GatewayConfig } from '@estate/protocol';

/** A config that cannot be used, with every problem found, one `path: message` per entry. */
export class GatewayConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source} is not a valid gateway config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'GatewayConfigError';
    this.problems = problems;
  }
}

export type ConfigCheck = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] };

/** Validates against protocol's GatewayConfig and lists every issue, not just the first. */
export function checkGatewayConfig(raw: unknown): ConfigCheck {
  const parsed = GatewayConfig.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`) };
}

/**
 * The few settings an operator changes on the box itself, without a new bundle from the cloud. They win
 * over the file and over a config pushed with `config.apply` (the operator on site knows the LAN).
 */
export type ConfigOverrides = { mqttUrl?: string; username?: string; password?: string; caPem?: string };

export type EdgeEnvironment = {
  /** EDGE_DATA_DIR: outbox, applied configs and command journal. Default `.data/edge`. */
  dataDir: string;
  /** EDGE_LOG_LEVEL: debug | info | warn | error. */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  overrides: ConfigOverrides;
  /**
   * EDGE_BLE: `noble` drives door locks through the host's Bluetooth controller (@abandonware/noble,
   * loaded only then); `off` (default) runs no doors.
   */
  ble: 'noble' | 'off';
  /** EDGE_DOOR_READER_HOST / EDGE_DOOR_READER_PORT: where door readers push QR scans. Default 0.0.0.0:8740. */
  doorReader: { host: string; port: number };
};

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Reads EDGE_* variables: EDGE_MQTT_URL, EDGE_MQTT_USERNAME, EDGE_MQTT_PASSWORD, EDGE_MQTT_CA_FILE
 * (a PEM file, read here), EDGE_DATA_DIR, EDGE_LOG_LEVEL, EDGE_BLE, EDGE_DOOR_READER_HOST, EDGE_DOOR_READER_PORT.
 */
export async function readEdgeEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<EdgeEnvironment> {
  const problems: string[] = [];
  const overrides: ConfigOverrides = {};
  if (env.EDGE_MQTT_URL) overrides.mqttUrl = env.EDGE_MQTT_URL;
  if (env.EDGE_MQTT_USERNAME) overrides.username = env.EDGE_MQTT_USERNAME;
  if (env.EDGE_MQTT_PASSWORD) overrides.password = env.EDGE_MQTT_PASSWORD;
  if (env.EDGE_MQTT_CA_FILE) {
    try {
      overrides.caPem = await readFile(env.EDGE_MQTT_CA_FILE, 'utf8');
    } catch (error) {
      problems.push(`EDGE_MQTT_CA_FILE: cannot read ${env.EDGE_MQTT_CA_FILE} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const logLevel = env.EDGE_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`EDGE_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);
  const ble = env.EDGE_BLE ?? 'off';
  if (ble !== 'noble' && ble !== 'off') problems.push('EDGE_BLE: must be noble (a Bluetooth controller on this host) or off');
  const readerPort = Number(env.EDGE_DOOR_READER_PORT ?? 8740);
  if (!Number.isInteger(readerPort) || readerPort < 0 || readerPort > 65535) problems.push('EDGE_DOOR_READER_PORT: must be a port number 0-65535');
  if (problems.length > 0) throw new GatewayConfigError('the environment', problems);
  return {
    dataDir: env.EDGE_DATA_DIR || '.data/edge',
    logLevel: logLevel as EdgeEnvironment['logLevel'],
    overrides,
    ble: ble as EdgeEnvironment['ble'],
    doorReader: { host: env.EDGE_DOOR_READER_HOST || '0.0.0.0', port: readerPort },
  };
}

/** Puts the overrides into a raw (not yet validated) config, so they are validated with the rest. */
export function applyConfigOverrides(raw: unknown, overrides: ConfigOverrides): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(overrides).length === 0) return raw;
  const config = raw as Record<string, unknown>;
  const cloud = config.cloud && typeof config.cloud === 'object' ? (config.cloud as Record<string, unknown>) : {};
  const patched = { ...cloud };
  if (overrides.mqttUrl !== undefined) patched.mqttUrl = overrides.mqttUrl;
  if (overrides.username !== undefined) patched.username = overrides.username;
  if (overrides.password !== undefined) patched.password = overrides.password;
  if (overrides.caPem !== undefined) patched.caPem = overrides.caPem;
  return { ...config, cloud: patched };
}

/**
 * Reads a gateway config file, applies the environment overrides and validates it.
 *
 * @throws GatewayConfigError listing every problem at once (`path: message`).
 * @example
 * const config = await loadGatewayConfig('/etc/estate/gateway.json', (await readEdgeEnvironment()).overrides);
 */
export async function loadGatewayConfig(path: string, overrides: ConfigOverrides = {}): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new GatewayConfigError(path, [`(file): cannot read it (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new GatewayConfigError(path, [`(file): not JSON (${errorMessage(error)})`]);
  }
  const checked = checkGatewayConfig(applyConfigOverrides(raw, overrides));
  if (!checked.ok) throw new GatewayConfigError(path, checked.problems);
  return checked.config;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
