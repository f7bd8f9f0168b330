import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayConfig } from '@estate/protocol';
import { checkGatewayConfig } from './load-config.js';

type StoredConfig = { source: 'file' | 'command'; bootstrapHash: string; appliedAt: string; commandId: string | null; config: GatewayConfig };
type PendingApply = { commandId: string; startedAt: string; config: GatewayConfig };

export type StartupConfig = {
  config: GatewayConfig;
  source: 'file' | 'command';
  /** A `config.apply` that was running when the process died: it has been rolled back. */
  interruptedApply: { commandId: string } | null;
};

/**
 * The configs a gateway keeps under `{dataDir}/config/`:
 *
 * - `current.json`  the config in use (from the file, or the last `config.apply` that reached the cloud)
 * - `previous.json` the one before it, for the record
 * - `pending.json`  a `config.apply` being tried; present at start only if the process died mid-apply,
 *                   which rolls it back: the gateway runs `current.json`, which the apply never replaced.
 *
 * The config file given on the command line is the bootstrap: while it is unchanged, a config pushed by
 * the cloud wins over it; when an operator edits it (its hash changes), the edited file wins.
 * Every write is write-to-temp, fsync, rename, so a crash leaves the old file or the new one, never half.
 */
export class ConfigStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'config');
    mkdirSync(this.dir, { recursive: true });
  }

  resolveAtStart(bootstrap: GatewayConfig): StartupConfig {
    const bootstrapHash = createHash('sha256').update(JSON.stringify(bootstrap)).digest('hex');
    const pending = this.read<PendingApply>('pending.json');
    if (pending) this.remove('pending.json');
    const current = this.read<StoredConfig>('current.json');
    const interruptedApply = pending ? { commandId: pending.commandId } : null;
    if (current && current.bootstrapHash === bootstrapHash && current.config.gatewayId === bootstrap.gatewayId) {
      const checked = checkGatewayConfig(current.config);
      if (checked.ok) return { config: checked.config, source: current.source, interruptedApply };
    }
    this.write('current.json', { source: 'file', bootstrapHash, appliedAt: new Date().toISOString(), commandId: null, config: bootstrap } satisfies StoredConfig);
    return { config: bootstrap, source: 'file', interruptedApply };
  }

  /** Records the config being tried before anything is torn down, so a crash from here on rolls back. */
  beginApply(config: GatewayConfig, commandId: string): void {
    this.write('pending.json', { commandId, startedAt: new Date().toISOString(), config } satisfies PendingApply);
  }

  /** The new config reached the cloud: it becomes current, the old one previous. */
  commitApply(): void {
    const pending = this.read<PendingApply>('pending.json');
    const current = this.read<StoredConfig>('current.json');
    if (!pending || !current) throw new Error('no config.apply in progress');
    this.write('previous.json', current);
    this.write('current.json', { source: 'command', bootstrapHash: current.bootstrapHash, appliedAt: new Date().toISOString(), commandId: pending.commandId, config: pending.config } satisfies StoredConfig);
    this.remove('pending.json');
  }

  abortApply(): void {
    this.remove('pending.json');
  }

  current(): GatewayConfig | null {
    return this.read<StoredConfig>('current.json')?.config ?? null;
  }

  previous(): GatewayConfig | null {
    return this.read<StoredConfig>('previous.json')?.config ?? null;
  }

  private read<T>(name: string): T | null {
    try {
      return JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      // A torn file cannot happen with rename; anything unreadable is treated as absent and replaced.
      return null;
    }
  }

  private write(name: string, value: unknown): void {
    const path = join(this.dir, name);
    const temp = `${path}.tmp`;
    writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    this.syncDir();
  }

  private remove(name: string): void {
    rmSync(join(this.dir, name), { force: true });
    this.syncDir();
  }

  private syncDir(): void {
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
