import { ATT_MAX_VALUE, GattError, LOCK_GATT, type GattCentral, type GattConnection } from '@estate/protocol';
import { SimLock, type SimLockLink, type SimLockOptions } from './sim-lock.js';

/**
 * The air between gateways and simulated locks, in process. `radio.central()` is a GattCentral exactly as
 * the gateway's noble adapter is one, so the gateway's lock client runs unchanged against it.
 *
 * What it keeps from real BLE:
 * - A lock that is absent, out of range, or already connected does not advertise, so `connect` waits for
 *   it to become free and, if it does not within `timeoutMs`, rejects with `out-of-range` (it does not
 *   fail at once: a second central waits for the first one's link to end, as it would in the air).
 * - Every ATT value is at most ATT_MAX_VALUE bytes; a longer write is refused by the lock with ATT error
 *   0x0D (Core Spec 5.3, Vol 3, Part F, 3.4.1.1), after the round trip.
 * - Operations on a link (writes, reads, CCCD writes, notifications) happen one at a time, in order, each
 *   taking the lock's latency; a link that drops fails what is still queued with `disconnected`.
 *
 * @example
 * const radio = new SimRadio();
 * const lock = radio.addLock({ address: 'C0:FF:EE:00:00:01', secret });
 * const client = createLockClient(radio.central(), { id: 'door-1', address: lock.address, secret });
 */
export class SimRadio {
  private readonly locks = new Map<string, SimLock>();
  private readonly links = new Map<string, SimConnection>();
  private readonly waiters = new Set<() => void>();
  private readonly unsubscribers = new Map<string, () => void>();

  /** Powers up a lock in range of the radio. */
  addLock(options: SimLockOptions): SimLock {
    const lock = new SimLock(options);
    if (this.locks.has(lock.address)) throw new Error(`a lock with address ${lock.address} is already on the radio`);
    this.locks.set(lock.address, lock);
    // A fault cleared or a link ended may make a lock connectable again: wake the centrals waiting for it.
    this.unsubscribers.set(lock.address, lock.onEvent(() => this.wake()));
    this.wake();
    return lock;
  }

  /** Takes a lock off the air (battery pulled): its link drops and it cannot be connected any more. */
  removeLock(address: string): void {
    const key = address.toUpperCase();
    const lock = this.locks.get(key);
    if (!lock) return;
    this.links.get(key)?.drop('the lock went silent (removed from the radio)');
    this.unsubscribers.get(key)?.();
    this.unsubscribers.delete(key);
    lock.dispose();
    this.locks.delete(key);
  }

  lock(address: string): SimLock | undefined {
    return this.locks.get(address.toUpperCase());
  }

  /** A new central, as one gateway's Bluetooth controller. Several may share the radio. */
  central(): GattCentral {
    return new SimCentral(this);
  }

  /** Drops every link and stops every lock's timers. */
  close(): void {
    for (const address of [...this.locks.keys()]) this.removeLock(address);
  }

  /** @internal The lock at this address if a central could connect to it now. */
  connectable(address: string): SimLock | null {
    const key = address.toUpperCase();
    const lock = this.locks.get(key);
    if (!lock || lock.hasFault('out-of-range') || this.links.has(key)) return null;
    return lock;
  }

  /** @internal Calls back on any change that may make a lock connectable; returns the cancel function. */
  whenChanged(listener: () => void): () => void {
    this.waiters.add(listener);
    return () => this.waiters.delete(listener);
  }

  /** @internal */
  attach(connection: SimConnection, lock: SimLock): void {
    this.links.set(lock.address, connection);
  }

  /** @internal */
  detach(connection: SimConnection): void {
    if (this.links.get(connection.address) === connection) this.links.delete(connection.address);
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

class SimCentral implements GattCentral {
  private readonly connections = new Set<SimConnection>();
  private closed = false;

  constructor(private readonly radio: SimRadio) {}

  connect(address: string, options: { timeoutMs: number }): Promise<GattConnection> {
    if (this.closed) return Promise.reject(new GattError('no-adapter', 'this central is closed'));
    return new Promise((resolve, reject) => {
      let settled = false;
      let attempting = false;
      const finish = (error: GattError | null, connection?: SimConnection) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopWaiting();
        if (error) reject(error);
        else resolve(connection!);
      };
      const timer = setTimeout(() => {
        finish(new GattError('out-of-range', `lock ${address} was not heard within ${options.timeoutMs} ms (absent, out of range or connected to another central)`));
      }, options.timeoutMs);
      const attempt = () => {
        if (settled || attempting) return;
        const lock = this.radio.connectable(address);
        if (!lock) return;
        attempting = true;
        // The connection takes one latency; the lock may be taken or leave meanwhile.
        void delay(lock.operationLatency()).then(() => {
          attempting = false;
          if (settled) return;
          if (this.closed) return finish(new GattError('no-adapter', 'this central was closed while connecting'));
          if (this.radio.connectable(address) !== lock) return attempt();
          const connection = new SimConnection(this.radio, lock, () => this.connections.delete(connection));
          this.connections.add(connection);
          finish(null, connection);
        });
      };
      const stopWaiting = this.radio.whenChanged(attempt);
      attempt();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const connection of [...this.connections]) await connection.disconnect();
  }
}

/** One link between a central and a lock. */
class SimConnection implements GattConnection {
  readonly address: string;
  private connected = true;
  private air: Promise<void> = Promise.resolve();
  private readonly disconnectListeners: ((reason: string) => void)[] = [];
  private readonly subscribers = new Map<string, ((value: Uint8Array) => void)[]>();

  constructor(
    private readonly radio: SimRadio,
    private readonly lock: SimLock,
    private readonly onGone: () => void,
  ) {
    this.address = lock.address;
    radio.attach(this, lock);
    const link: SimLockLink = {
      notify: (characteristic, value) => this.carryNotification(characteristic, value),
      drop: (reason) => this.drop(reason),
    };
    lock.linkUp(link);
  }

  write(characteristic: string, value: Uint8Array): Promise<void> {
    const copy = Uint8Array.from(value);
    return this.onAir(`write ${characteristic}`, () => {
      if (characteristic !== LOCK_GATT.control) throw attError(0x03, 'Write Not Permitted', characteristic);
      if (copy.length > ATT_MAX_VALUE) throw attError(0x0d, 'Invalid Attribute Value Length', `${copy.length} bytes, at most ${ATT_MAX_VALUE}`);
      this.lock.receiveControl(copy);
    });
  }

  read(characteristic: string): Promise<Uint8Array> {
    return this.onAir(`read ${characteristic}`, () => {
      if (characteristic !== LOCK_GATT.info) throw attError(0x02, 'Read Not Permitted', characteristic);
      return this.lock.readCharacteristic(characteristic);
    });
  }

  subscribe(characteristic: string, listener: (value: Uint8Array) => void): Promise<void> {
    return this.onAir(`subscribe ${characteristic}`, () => {
      if (characteristic !== LOCK_GATT.response) throw new GattError('gatt-error', `${characteristic} has no notify property`);
      this.lock.enableNotifications(characteristic);
      const list = this.subscribers.get(characteristic) ?? [];
      list.push(listener);
      this.subscribers.set(characteristic, list);
    });
  }

  onDisconnect(listener: (reason: string) => void): void {
    this.disconnectListeners.push(listener);
  }

  isConnected(): boolean {
    return this.connected;
  }

  async disconnect(): Promise<void> {
    this.drop('disconnected by the central');
  }

  /** Ends the link from either side: the lock forgets its session, listeners hear why, once. */
  drop(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.lock.linkDown(reason);
    this.radio.detach(this);
    this.onGone();
    for (const listener of this.disconnectListeners.splice(0)) listener(reason);
  }

  private carryNotification(characteristic: string, value: Uint8Array): void {
    // The lock fragments everything it sends; a longer value is a bug in the simulator, not a fault to inject.
    if (value.length > ATT_MAX_VALUE) throw new Error(`lock ${this.address} notified ${value.length} bytes, over ATT_MAX_VALUE`);
    const copy = Uint8Array.from(value);
    this.onAir(`notify ${characteristic}`, () => {
      for (const listener of this.subscribers.get(characteristic) ?? []) listener(copy);
    }).catch(() => undefined); // a notification lost with the link is simply lost
  }

  /** Queues one ATT operation behind the others on this link; it takes the lock's latency. */
  private onAir<T>(what: string, run: () => T): Promise<T> {
    const result = this.air.then(async () => {
      if (!this.connected) throw new GattError('disconnected', `${what}: lock ${this.address} is not connected`);
      await delay(this.lock.operationLatency());
      if (!this.connected) throw new GattError('disconnected', `${what}: the link to lock ${this.address} dropped`);
      return run();
    });
    this.air = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

function attError(code: number, name: string, detail: string): GattError {
  return new GattError('gatt-error', `ATT error 0x${code.toString(16).padStart(2, '0')} (${name}): ${detail}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}
