import { randomUUID } from 'node:crypto';
import {
  DoorKeySet,
  DoorRevocations,
  DoorRoster,
  checkOpenToken,
  decodePayload,
  type AccessRecord,
  type DenialReason,
  type GatewayAddress,
  type GattCentral,
  type LockEvent,
  type LockStatus,
  type OpenMethod,
  type RosterDoor,
  type SharedName,
} from '@estate/protocol';
import type { CommandOutcome } from '../commands/command-processor.js';
import type { DriverStatus } from '../drivers/driver.js';
import type { DriverAvailability, HostedDriver } from '../drivers/host.js';
import { createLockClient, LockError, type LockClient, type LockNotification } from '../drivers/ble/lock-client.js';
import { errorText, type Logger } from '../log.js';
import { OutboxFullError, type Outbox } from '../outbox/outbox.js';
import type { DoorState } from './door-state.js';
import { startReaderServer, type ReaderServer } from './reader-server.js';

export type OpenRequest = { doorId: string; token: string | Uint8Array; method: OpenMethod; attemptId?: string; readerId?: string | null };
export type OpenOutcome =
  | { outcome: 'opened'; attemptId: string; status: LockStatus }
  | { outcome: 'denied'; attemptId: string; reason: DenialReason | 'unknown-door'; detail: string }
  | { outcome: 'failed'; attemptId: string; reason: string; detail: string };

export type DoorServiceOptions = {
  gateway: GatewayAddress;
  state: DoorState;
  outbox: Outbox;
  /** Opens the BLE central when the service starts; noble is loaded only inside it. */
  openCentral: () => Promise<GattCentral>;
  /** Where the door readers push scanned QR codes; null: no reader endpoint. */
  reader: { host: string; port: number } | null;
  /** How often every lock is asked for its status (battery, door sensor) when idle. Default 30 min. */
  statusEveryMs?: number;
  now?: () => Date;
  log: Logger;
  onAvailability(availability: DriverAvailability): void;
};

type Counters = { opened: number; denied: number; failed: number; lost: number };

/**
 * The gateway's doors: it decides on every open itself, online (a `door.open` command carrying the
 * phone's token) or offline (a QR code a door reader hands over), with the key set, revocations, uses
 * and replay memory it keeps on disk, and then drives the lock over BLE. Every attempt, opened, denied
 * or failed, becomes an access record in the outbox, so attempts made while the uplink is down reach
 * the cloud when it returns.
 *
 * It is hosted as a driver (`ble-locks`), so its health shows with the others and a broken BLE adapter
 * cannot take the gateway down.
 */
export class DoorService implements HostedDriver {
  readonly name = 'ble-locks';
  readonly counters: Counters = { opened: 0, denied: 0, failed: 0, lost: 0 };
  private central: GattCentral | null = null;
  private centralError: string | null = null;
  private clients = new Map<string, { client: LockClient; door: RosterDoor; unsubscribe: () => void }>();
  private unavailable = new Set<string>();
  private reader: ReaderServer | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private running = false;
  private lastError: string | null = null;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: DoorServiceOptions) {
    this.log = options.log;
    this.now = options.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    this.running = true;
    try {
      this.central = await this.options.openCentral();
      this.centralError = null;
    } catch (error) {
      // No adapter: doors cannot open, and health says why; the rest of the gateway goes on.
      this.centralError = errorText(error);
      this.log.error('BLE central unavailable; doors cannot open', { error: this.centralError });
    }
    this.syncClients();
    if (this.options.reader) {
      this.reader = await startReaderServer({ ...this.options.reader, log: this.log.child({ component: 'door-reader' }), scan: (scan) => this.scan(scan) });
      this.log.info('door reader endpoint listening', { url: this.reader.url });
    }
    const every = this.options.statusEveryMs ?? 30 * 60_000;
    this.statusTimer = setInterval(() => void this.pollStatus(), every);
    this.statusTimer.unref();
    void this.pollStatus();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    await this.reader?.close();
    this.reader = null;
    await Promise.all([...this.clients.values()].map(({ client, unsubscribe }) => (unsubscribe(), client.close().catch(() => undefined))));
    this.clients.clear();
    await this.central?.close().catch(() => undefined);
    this.central = null;
  }

  status(): DriverStatus {
    const devices = this.options.state.doors().length;
    if (this.centralError) return { status: devices > 0 ? 'failed' : 'running', devices, unavailable: devices, lastError: this.centralError };
    const unavailable = this.unavailable.size;
    return { status: !this.running ? 'stopped' : unavailable > 0 ? 'degraded' : 'running', devices, unavailable, lastError: this.lastError };
  }

  readerUrl(): string | null {
    return this.reader?.url ?? null;
  }

  /** Versions of the roster, key set and revocation list held (what an operator checks after a change). */
  versions(): ReturnType<DoorState['versions']> {
    return this.options.state.versions();
  }

  doors(): readonly RosterDoor[] {
    return this.options.state.doors();
  }

  /** `doors.sync`: a newer roster replaces the doors and their locks; an older one is acknowledged and ignored. */
  applyRoster(raw: unknown): CommandOutcome {
    const parsed = DoorRoster.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      return { status: 'rejected', error: { code: 'invalid-roster', message: problems.join('; ') }, data: { problems } };
    }
    const applied = this.options.state.applyRoster(parsed.data);
    if (applied) this.syncClients();
    this.log.info(applied ? 'door roster applied' : 'door roster ignored: not newer than the one held', { revision: parsed.data.revision, doors: parsed.data.doors.length });
    return { status: 'ok', data: { revision: this.options.state.versions().roster, applied } };
  }

  /** Retained shared state from the cloud: key set and revocations. Refusals are counted and logged. */
  intakeShared(name: string, payload: Buffer): void {
    if (payload.byteLength === 0) return; // a cleared retained message
    const schema = name === 'door-keys' ? DoorKeySet : name === 'door-revocations' ? DoorRevocations : null;
    if (!schema) return;
    const decoded = decodePayload(schema, payload);
    if (!decoded.ok) {
      this.log.warn('shared door state rejected', { name, reason: decoded.reason, detail: decoded.detail.slice(0, 300) });
      return;
    }
    const message = decoded.message;
    if (message.communityId !== this.options.gateway.communityId) {
      this.log.warn('shared door state for another community rejected', { name });
      return;
    }
    const applied = (name as SharedName) === 'door-keys' ? this.options.state.applyKeySet(message as DoorKeySet) : this.options.state.applyRevocations(message as DoorRevocations);
    this.log.info(applied ? 'shared door state applied' : 'shared door state ignored: not newer', { name, version: message.version });
  }

  /** An online open (`door.open`): the answer the cloud waits for. */
  async openOnline(params: { doorId: string; token: string }, commandId: string): Promise<CommandOutcome> {
    const result = await this.open({ doorId: params.doorId, token: params.token, method: 'online', attemptId: commandId });
    if (result.outcome === 'opened') return { status: 'ok', data: { outcome: 'opened', status: result.status } };
    if (result.outcome === 'denied') return { status: 'rejected', error: { code: result.reason, message: result.detail }, data: { outcome: 'denied' } };
    return { status: 'error', error: { code: result.reason, message: result.detail }, data: { outcome: 'failed' } };
  }

  /** A QR code from a door's reader. */
  scan(input: { doorCode: number; token: string; readerId: string | null }): Promise<OpenOutcome> {
    const door = this.options.state.doorByCode(input.doorCode);
    if (!door) {
      const attemptId = randomUUID();
      this.log.warn('scan at an unknown door', { doorCode: input.doorCode, readerId: input.readerId });
      return Promise.resolve({ outcome: 'denied', attemptId, reason: 'unknown-door', detail: `this gateway serves no door ${input.doorCode}` });
    }
    return this.open({ doorId: door.doorId, token: input.token, method: 'qr', readerId: input.readerId });
  }

  /**
   * Decides and, if allowed, unlocks. The check and the consumption of the token run in one synchronous
   * step, so concurrent scans of one token (or of a key's last use) cannot both pass.
   */
  async open(request: OpenRequest): Promise<OpenOutcome> {
    const attemptId = request.attemptId ?? randomUUID();
    const door = this.options.state.door(request.doorId);
    const now = this.now();
    if (!door) {
      const outcome: OpenOutcome = { outcome: 'denied', attemptId, reason: 'unknown-door', detail: `this gateway serves no door ${request.doorId}` };
      this.counters.denied += 1;
      return outcome;
    }
    const state = this.options.state;
    const check = checkOpenToken(request.token, {
      now,
      communityId: this.options.gateway.communityId,
      method: request.method,
      door: { code: door.code, groups: door.groups },
      signingKey: (keyId) => state.signingKey(keyId, now.getTime()),
      isRevoked: (id) => state.isRevoked(id),
      usesSoFar: (id) => state.usesSoFar(id),
      seen: (key) => state.seen(key, now.getTime()),
    });
    const key = check.token?.credential ?? null;
    const base = { attemptId, doorId: door.doorId, method: request.method, credentialId: key?.credentialId ?? null, holderKind: key?.holderKind ?? null, holderId: key?.holderId ?? null, readerId: request.readerId ?? null };
    if (!check.ok) {
      this.counters.denied += 1;
      this.record({ ...base, outcome: 'denied', reason: check.reason, detail: check.detail, at: now.toISOString() });
      return { outcome: 'denied', attemptId, reason: check.reason, detail: check.detail };
    }
    const credential = check.token.credential;
    const use = state.consume({ credentialId: credential.credentialId, replayKey: check.replayKey, limited: credential.useLimit > 0, validUntil: credential.validUntil }, now.getTime());
    try {
      const status = await this.unlock(door);
      this.counters.opened += 1;
      this.record({ ...base, outcome: 'opened', reason: null, detail: null, at: this.now().toISOString() });
      return { outcome: 'opened', attemptId, status };
    } catch (error) {
      use.release();
      const code = error instanceof LockError ? error.code : 'failed';
      const detail = errorText(error).slice(0, 300);
      this.counters.failed += 1;
      this.record({ ...base, outcome: 'failed', reason: code, detail, at: this.now().toISOString() });
      return { outcome: 'failed', attemptId, reason: code, detail };
    }
  }

  private async unlock(door: RosterDoor): Promise<LockStatus> {
    const entry = this.clients.get(door.doorId);
    if (!entry) throw new LockError(this.centralError ? 'no-adapter' : 'disconnected', this.centralError ?? `no lock client for door ${door.name}`);
    try {
      const status = await entry.client.unlock(door.holdMs);
      this.markAvailable(door, true, null);
      this.statusIfChanged(door, status);
      return status;
    } catch (error) {
      if (error instanceof LockError && (error.code === 'out-of-range' || error.code === 'timeout' || error.code === 'disconnected' || error.code === 'auth-failed')) {
        this.markAvailable(door, false, `${error.code}: ${error.message}`);
      }
      this.lastError = errorText(error).slice(0, 500);
      throw error;
    }
  }

  private syncClients(): void {
    const central = this.central;
    const wanted = new Map(this.options.state.doors().map((d) => [d.doorId, d]));
    for (const [doorId, entry] of this.clients) {
      const next = wanted.get(doorId);
      if (!next || next.lock.address !== entry.door.lock.address || next.lock.secret !== entry.door.lock.secret || next.lock.id !== entry.door.lock.id) {
        entry.unsubscribe();
        void entry.client.close().catch(() => undefined);
        this.clients.delete(doorId);
      } else {
        entry.door = next;
      }
    }
    if (!central || !this.running) return;
    for (const door of wanted.values()) {
      if (this.clients.has(door.doorId)) continue;
      const client = createLockClient(central, { id: door.lock.id, address: door.lock.address, secret: Buffer.from(door.lock.secret, 'base64url') }, { log: this.log.child({ lockId: door.lock.id }) });
      const unsubscribe = client.onNotification((n: LockNotification) => this.lockEvent(door, n.kind, n.status, n.at));
      this.clients.set(door.doorId, { client, door, unsubscribe });
    }
  }

  /** Asks every lock for its status (battery, door sensor): availability and battery stay current when idle. */
  private async pollStatus(): Promise<void> {
    for (const { client, door } of [...this.clients.values()]) {
      if (!this.running) return;
      try {
        const status = await client.status();
        this.markAvailable(door, true, null);
        this.statusIfChanged(door, status);
      } catch (error) {
        this.markAvailable(door, false, errorText(error).slice(0, 300));
      }
    }
  }

  private markAvailable(door: RosterDoor, available: boolean, reason: string | null): void {
    const was = !this.unavailable.has(door.lock.id);
    if (available) this.unavailable.delete(door.lock.id);
    else this.unavailable.add(door.lock.id);
    if (was !== available || !this.announced.has(door.lock.id)) {
      this.announced.add(door.lock.id);
      this.options.onAvailability({ deviceId: door.lock.id, available, reason, since: this.now() });
    }
  }
  private readonly announced = new Set<string>();

  /**
   * A status record only when battery or a flag changed since the last one sent: every open answers with
   * the lock's status, and a busy door would otherwise send one per visitor (`locked` flips with every
   * open and is not news). A tamper or jam that a status reveals (it happened while no link was up, so
   * its notification never came) is reported as that alarm, not as a plain status.
   */
  private statusIfChanged(door: RosterDoor, status: LockStatus): void {
    const previous = this.lastStatus.get(door.lock.id);
    const kind: LockEvent['kind'] =
      status.tamper && !previous?.tamper ? 'tamper' : status.jammed && !previous?.jammed ? 'jam' : status.battery < 20 && (previous?.battery ?? 100) >= 20 ? 'battery-low' : 'status';
    if (kind === 'status' && previous && sameStatus(previous, status)) return;
    this.lockEvent(door, kind, status);
  }
  private readonly lastStatus = new Map<string, LockStatus>();

  private lockEvent(door: RosterDoor, kind: LockEvent['kind'], status: LockStatus, at = this.now()): void {
    this.lastStatus.set(door.lock.id, status);
    this.append('locks', { lockId: door.lock.id, doorId: door.doorId, kind, at: at.toISOString(), status });
  }

  private record(record: Omit<AccessRecord, 'seq'>): void {
    this.append('access', record);
  }

  private append<C extends 'access' | 'locks'>(channel: C, item: C extends 'access' ? Omit<AccessRecord, 'seq'> : Omit<LockEvent, 'seq'>): void {
    try {
      this.options.outbox.append(channel, item as never);
    } catch (error) {
      // Never silent: counted in health (`lost`) and logged with what was lost.
      this.counters.lost += 1;
      this.log.error(`${channel === 'access' ? 'access record' : 'lock event'} could not be stored`, { full: error instanceof OutboxFullError, error: errorText(error), item });
    }
  }
}

function sameStatus(a: LockStatus, b: LockStatus): boolean {
  return a.battery === b.battery && a.doorOpen === b.doorOpen && a.tamper === b.tamper && a.jammed === b.jammed;
}
