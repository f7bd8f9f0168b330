import {
  GattError,
  LOCK_GATT,
  LOCK_NOTIFICATION_TYPES,
  LockMessageReassembler,
  LockSession,
  decodeLockFrame,
  encodePlainLockFrame,
  fragmentLockMessage,
  gatewayAuthProof,
  lockHelloProof,
  lockNonce,
  lockSessionKey,
  proofMatches,
  type DecodedLockFrame,
  type GattCentral,
  type GattConnection,
  type LockNotificationType,
  type SecureLockMessage,
} from '@estate/protocol';
import { silentLog, type DriverLog } from '../driver.js';

export type LockStatus = { battery: number; locked: boolean; doorOpen: boolean; tamper: boolean; jammed: boolean };
export type LockNotification = { kind: LockNotificationType; at: Date; status: LockStatus };

export type LockErrorCode = 'out-of-range' | 'auth-failed' | 'jammed' | 'timeout' | 'protocol' | 'no-adapter' | 'disconnected' | 'low-battery';

/** Why an operation on a lock failed, in words an operator can act on. `status` when the lock reported one. */
export class LockError extends Error {
  constructor(
    readonly code: LockErrorCode,
    message: string,
    readonly status: LockStatus | null = null,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

export interface LockClient {
  /** Retracts the bolt for holdMs (0 or omitted: the lock's own default) and resolves with the status after. */
  unlock(holdMs?: number): Promise<LockStatus>;
  status(): Promise<LockStatus>;
  /** Battery in percent. */
  battery(): Promise<number>;
  /** Unsolicited reports (door opened or closed, tamper, jam, low battery) while the link is up; returns the unsubscribe function. */
  onNotification(listener: (notification: LockNotification) => void): () => void;
  /** Waits for the operation in progress, then disconnects; later calls reject with `disconnected`. */
  close(): Promise<void>;
  /** An authenticated link is up, so the next operation skips connect and handshake. */
  isWarm(): boolean;
}

export type LockClientOptions = {
  /** How long to look for the lock and connect (default 8 s). */
  connectTimeoutMs?: number;
  /** How long each request may wait for its answer, handshake steps included (default 3 s). */
  commandTimeoutMs?: number;
  /** How long an idle authenticated link is kept (default 10 s). */
  idleDisconnectMs?: number;
  log?: DriverLog;
};

type Pending = { seq: number; what: string; resolve: (frame: DecodedLockFrame) => void; reject: (error: LockError) => void };
type Link = {
  connection: GattConnection;
  reassembler: LockMessageReassembler;
  handshake: { gatewayNonce: Uint8Array; lockNonce: Uint8Array } | null;
  session: LockSession | null;
  pending: Pending | null;
};

const NOTIFICATIONS = new Set<string>(LOCK_NOTIFICATION_TYPES);
/** Failures after which the link is still sound: the lock answered, it just could not do it. */
const LINK_SURVIVES = new Set<LockErrorCode>(['jammed', 'low-battery']);

/**
 * A gateway's client for one BLE door lock (protocol: protocol/src/doors/lock-gatt.ts). Operations run one
 * at a time; the authenticated link is kept warm for idleDisconnectMs, so a busy door is not reconnected
 * and re-authenticated for every visitor. If a warm link turns out to have dropped during an operation,
 * the operation is tried once more on a new link (an UNLOCK repeated that way only extends the hold).
 * After a timeout or a protocol error the link is dropped, so the next call starts clean.
 *
 * @example
 * const client = createLockClient(central, { id: 'door-3-1', address: 'C0:FF:EE:00:00:01', secret });
 * client.onNotification((n) => log.info(`door ${n.kind}`));
 * const status = await client.unlock(5000); // { battery: 88, locked: false, ... }
 */
export function createLockClient(
  central: GattCentral,
  lock: { id: string; address: string; secret: Uint8Array },
  options: LockClientOptions = {},
): LockClient {
  return new GatewayLockClient(central, lock, options);
}

class GatewayLockClient implements LockClient {
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly idleDisconnectMs: number;
  private readonly log: DriverLog;
  private readonly listeners = new Set<(notification: LockNotification) => void>();
  private queue: Promise<void> = Promise.resolve();
  private link: Link | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly central: GattCentral,
    private readonly lock: { id: string; address: string; secret: Uint8Array },
    options: LockClientOptions,
  ) {
    if (lock.secret.length !== 16) throw new Error(`lock ${lock.id}: the secret must be 16 bytes, got ${lock.secret.length}`);
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 8000);
    this.commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 3000);
    this.idleDisconnectMs = positive('idleDisconnectMs', options.idleDisconnectMs ?? 10_000);
    this.log = options.log ?? silentLog;
  }

  unlock(holdMs = 0): Promise<LockStatus> {
    if (!Number.isInteger(holdMs) || holdMs < 0 || holdMs > 0xffff) return Promise.reject(new RangeError(`holdMs must be an integer 0-65535, got ${holdMs}`));
    return this.run('unlock', (link) => this.command(link, { type: 'unlock', holdMs }));
  }

  status(): Promise<LockStatus> {
    return this.run('status', (link) => this.command(link, { type: 'status' }));
  }

  async battery(): Promise<number> {
    return (await this.run('battery', (link) => this.command(link, { type: 'battery' }))).battery;
  }

  onNotification(listener: (notification: LockNotification) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isWarm(): boolean {
    return this.link !== null && this.link.session !== null && this.link.connection.isConnected();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.cancelIdle();
    await this.dropLink('the client was closed');
  }

  // ---- one operation at a time ----

  private run<T>(what: string, operation: (link: Link) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new LockError('disconnected', `lock ${this.lock.id}: the client is closed`));
    const task = this.queue.then(() => this.attempt(what, operation));
    this.queue = task.then(
      () => undefined,
      () => undefined,
    );
    return task;
  }

  private async attempt<T>(what: string, operation: (link: Link) => Promise<T>): Promise<T> {
    this.cancelIdle();
    try {
      const warm = this.isWarm() ? this.link : null;
      try {
        return await operation(warm ?? (await this.connect()));
      } catch (error) {
        if (!warm || !(error instanceof LockError) || error.code !== 'disconnected') throw error;
        this.log.info('lock link dropped under a warm operation; reconnecting once', { lock: this.lock.id, operation: what });
        return await operation(await this.connect());
      }
    } catch (error) {
      const failure = asLockError(error, this.lock.id);
      if (!LINK_SURVIVES.has(failure.code)) await this.dropLink(`${what} failed: ${failure.message}`);
      throw failure;
    } finally {
      this.scheduleIdle();
    }
  }

  private scheduleIdle(): void {
    if (this.closed || !this.link) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      void this.dropLink(`idle for ${this.idleDisconnectMs} ms`);
    }, this.idleDisconnectMs);
    this.idleTimer.unref?.();
  }

  private cancelIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private async dropLink(reason: string): Promise<void> {
    const link = this.link;
    this.link = null;
    if (!link) return;
    this.log.debug('disconnecting lock', { lock: this.lock.id, reason });
    await link.connection.disconnect().catch((error: unknown) => this.log.warn('lock disconnect failed', { lock: this.lock.id, error: String(error) }));
  }

  // ---- link and handshake ----

  private async connect(): Promise<Link> {
    const { id, address } = this.lock;
    this.log.debug('connecting to lock', { lock: id, address });
    // The central has its own timeout; this deadline only keeps a central that never answers from stalling the queue.
    const connecting = this.central.connect(address, { timeoutMs: this.connectTimeoutMs });
    const connection = await deadline(connecting, this.connectTimeoutMs + this.commandTimeoutMs, `connecting to lock ${id} (${address})`, (late) => void late.disconnect());
    const link: Link = { connection, reassembler: new LockMessageReassembler(), handshake: null, session: null, pending: null };
    connection.onDisconnect((reason) => this.onLinkDown(link, reason));
    try {
      await deadline(
        connection.subscribe(LOCK_GATT.response, (value) => this.onValue(link, value)),
        this.commandTimeoutMs,
        `enabling notifications on lock ${id}`,
      );
      await this.authenticate(link);
    } catch (error) {
      await connection.disconnect().catch(() => undefined);
      throw error;
    }
    this.link = link;
    this.log.debug('lock authenticated', { lock: id });
    return link;
  }

  private async authenticate(link: Link): Promise<void> {
    const { id, secret } = this.lock;
    const gatewayNonce = lockNonce();
    const challenge = (await this.exchange(link, 'HELLO', (seq) => encodePlainLockFrame(seq, { type: 'hello', gatewayNonce }))).message;
    if (challenge.type !== 'challenge') throw unexpected(id, 'HELLO', challenge.type);
    if (!proofMatches(lockHelloProof(secret, gatewayNonce, challenge.lockNonce), challenge.lockProof)) {
      throw new LockError('auth-failed', `lock ${id} could not prove it holds our secret: it was provisioned with another secret, or it is not our lock`);
    }
    link.handshake = { gatewayNonce, lockNonce: challenge.lockNonce };
    const proof = gatewayAuthProof(secret, challenge.lockNonce, gatewayNonce);
    const answer = (await this.exchange(link, 'AUTH', (seq) => encodePlainLockFrame(seq, { type: 'auth', proof }))).message;
    if (answer.type === 'auth-fail') {
      throw new LockError('auth-failed', `lock ${id} refused our proof (${answer.reason}): the gateway and the lock hold different secrets`);
    }
    if (answer.type !== 'auth-ok' || !link.session) throw unexpected(id, 'AUTH', answer.type);
  }

  private onLinkDown(link: Link, reason: string): void {
    if (this.link === link) {
      this.link = null;
      this.cancelIdle();
    }
    this.log.info('lock link down', { lock: this.lock.id, reason });
    link.pending?.reject(new LockError('disconnected', `the link to lock ${this.lock.id} dropped during ${link.pending.what}: ${reason}`));
  }

  /** One notified ATT value from the lock. */
  private onValue(link: Link, value: Uint8Array): void {
    let frame: DecodedLockFrame;
    try {
      const bytes = link.reassembler.push(value);
      if (!bytes) return;
      frame = link.session ? link.session.open(bytes) : decodeLockFrame(bytes, null);
    } catch (error) {
      // BLE's link layer already checks CRCs and order, so this is a broken or hostile peer: end the link.
      const failure = new LockError('protocol', `lock ${this.lock.id} sent a frame we refuse: ${error instanceof Error ? error.message : String(error)}`);
      this.log.warn('refused a frame from a lock', { lock: this.lock.id, error: failure.message });
      link.pending?.reject(failure);
      if (this.link === link) void this.dropLink(failure.message);
      else void link.connection.disconnect().catch(() => undefined);
      return;
    }
    const message = frame.message;
    if (frame.secure && NOTIFICATIONS.has(message.type) && 'status' in message) {
      return this.deliver({ kind: message.type as LockNotificationType, at: new Date(), status: message.status });
    }
    const pending = link.pending;
    // A REJECT with seq 0 answers bytes the lock could not even read a seq from.
    if (!pending || (frame.seq !== pending.seq && !(message.type === 'reject' && frame.seq === 0))) {
      this.log.debug('ignored an answer nobody waits for', { lock: this.lock.id, type: message.type, seq: frame.seq });
      return;
    }
    // The session must exist before the next frame is read: the lock may notify right behind AUTH_OK.
    if (message.type === 'auth-ok' && link.handshake) {
      const { gatewayNonce, lockNonce: nonce } = link.handshake;
      link.session = new LockSession('gateway', lockSessionKey(this.lock.secret, gatewayNonce, nonce));
      link.handshake = null;
    }
    pending.resolve(frame);
  }

  private deliver(notification: LockNotification): void {
    for (const listener of this.listeners) {
      try {
        listener(notification);
      } catch (error) {
        this.log.warn('a lock notification listener threw', { lock: this.lock.id, kind: notification.kind, error: String(error) });
      }
    }
  }

  // ---- requests ----

  private async command(link: Link, message: SecureLockMessage): Promise<LockStatus> {
    const { id } = this.lock;
    const session = link.session;
    if (!session) throw new LockError('protocol', `lock ${id}: no session`);
    const answer = (await this.exchange(link, message.type.toUpperCase(), (seq) => session.seal(seq, message))).message;
    if (answer.type === 'reject') throw new LockError('protocol', `lock ${id} refused ${message.type.toUpperCase()}: ${answer.code}`);
    if (answer.type !== 'result') throw unexpected(id, message.type.toUpperCase(), answer.type);
    const status = answer.status;
    switch (answer.code) {
      case 'ok':
        return status;
      case 'jammed':
        throw new LockError('jammed', `lock ${id} is jammed: the bolt did not move (door pressed against the bolt, or a fault in the lock body)`, status);
      case 'low-battery':
        throw new LockError('low-battery', `lock ${id} has too little battery (${status.battery} %) to drive its motor: replace the batteries`, status);
      default:
        throw new LockError('protocol', `lock ${id} answered ${message.type.toUpperCase()} with ${answer.code}`, status);
    }
  }

  /** Writes one request and waits for the answer with its seq, within commandTimeoutMs. */
  private exchange(link: Link, what: string, encode: (seq: number) => Uint8Array): Promise<DecodedLockFrame> {
    this.seq = (this.seq % 255) + 1; // 1..255: seq 0 marks notifications
    const seq = this.seq;
    const bytes = encode(seq);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        settle();
        reject(new LockError('timeout', `lock ${this.lock.id} did not answer ${what} within ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      const settle = () => {
        clearTimeout(timer);
        if (link.pending === pending) link.pending = null;
      };
      const pending: Pending = {
        seq,
        what,
        resolve: (frame) => {
          settle();
          resolve(frame);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      link.pending = pending;
      void (async () => {
        try {
          for (const value of fragmentLockMessage(bytes)) await link.connection.write(LOCK_GATT.control, value);
        } catch (error) {
          pending.reject(asLockError(error, this.lock.id));
        }
      })();
    });
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}

function unexpected(id: string, request: string, answer: string): LockError {
  return new LockError('protocol', `lock ${id} answered ${request} with ${answer}`);
}

/** Races a radio step against a deadline; what arrives after it is handed to `late` to clean up. */
function deadline<T>(step: Promise<T>, ms: number, what: string, late?: (value: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new LockError('timeout', `${what} took longer than ${ms} ms`));
    }, ms);
    step.then(
      (value) => {
        clearTimeout(timer);
        if (expired) late?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!expired) reject(error);
      },
    );
  });
}

function asLockError(error: unknown, id: string): LockError {
  if (error instanceof LockError) return error;
  if (error instanceof GattError) {
    switch (error.code) {
      case 'out-of-range':
        return new LockError('out-of-range', `lock ${id} is out of range: ${error.message}`);
      case 'no-adapter':
        return new LockError('no-adapter', error.message);
      case 'disconnected':
        return new LockError('disconnected', `lock ${id}: ${error.message}`);
      case 'timeout':
        return new LockError('timeout', `lock ${id}: ${error.message}`);
      case 'not-a-lock':
      case 'gatt-error':
        return new LockError('protocol', `lock ${id}: ${error.message}`);
    }
  }
  return new LockError('protocol', `lock ${id}: ${error instanceof Error ? error.message : String(error)}`);
}
