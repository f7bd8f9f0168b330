import { ATT_MAX_VALUE, GattError, LOCK_GATT, type GattCentral, type GattConnection } from '@estate/protocol';
import { silentLog, type DriverLog } from '../driver.js';

/**
 * The GattCentral on a real Bluetooth controller, through @abandonware/noble (HCI sockets on Linux).
 *
 * noble is loaded only when a central is opened: loading it opens an HCI socket at once, which throws
 * on a machine without Bluetooth (EAFNOSUPPORT), and the gateway must start without locks there.
 *
 * Every radio operation (scan, connect, discovery, write, read, CCCD write, disconnect) goes through one
 * queue, one at a time: noble's HCI bindings keep one pending command per kind and mix up answers when two
 * overlap, and many controllers refuse to create a connection while scanning. The cost: a connect to an
 * absent lock holds the radio for its timeout, so keep connect timeouts short on a busy gateway.
 */
export type NobleCentralOptions = {
  /** How long the controller may take to report poweredOn (default 5 s). */
  poweredOnTimeoutMs?: number;
  /** Bound on each single radio operation, so a lost answer cannot stall the queue (default 5 s). */
  operationTimeoutMs?: number;
  log?: DriverLog;
  /** Loads the noble module; tests pass a fake. Default: `import('@abandonware/noble')`. */
  loadNoble?: () => Promise<unknown>;
};

/** The part of noble's module this adapter uses (noble's own index.d.ts has the full shape). */
export interface NobleLike {
  _state?: string;
  state?: string;
  on(event: 'stateChange', listener: (state: string) => void): unknown;
  on(event: 'warning', listener: (message: unknown) => void): unknown;
  on(event: 'discover', listener: (peripheral: NoblePeripheralLike) => void): unknown;
  removeListener(event: 'stateChange', listener: (state: string) => void): unknown;
  removeListener(event: 'warning', listener: (message: unknown) => void): unknown;
  removeListener(event: 'discover', listener: (peripheral: NoblePeripheralLike) => void): unknown;
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
}

export interface NoblePeripheralLike {
  id: string;
  address: string;
  state: string;
  once(event: 'disconnect', listener: (reason?: unknown) => void): unknown;
  removeListener(event: 'disconnect', listener: (reason?: unknown) => void): unknown;
  connectAsync(): Promise<void>;
  cancelConnect(): void;
  disconnectAsync(): Promise<void>;
  discoverSomeServicesAndCharacteristicsAsync(serviceUuids: string[], characteristicUuids: string[]): Promise<{ characteristics: NobleCharacteristicLike[] }>;
}

export interface NobleCharacteristicLike {
  uuid: string;
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
  readAsync(): Promise<Buffer>;
  notifyAsync(notify: boolean): Promise<void>;
  on(event: 'data', listener: (data: Buffer, isNotification: boolean) => void): unknown;
  removeListener(event: 'data', listener: (data: Buffer, isNotification: boolean) => void): unknown;
}

/** noble writes 128-bit UUIDs lower-case without dashes. */
function nobleUuid(uuid: string): string {
  return uuid.replaceAll('-', '').toLowerCase();
}

const LOCK_CHARACTERISTICS = [LOCK_GATT.control, LOCK_GATT.response, LOCK_GATT.info];

/**
 * Loads noble, waits for the controller to be poweredOn and returns a central on it. Rejects with
 * GattError('no-adapter', why and what to check) when there is no usable controller.
 *
 * @example
 * const central = await openNobleCentral({ log });
 * const lock = createLockClient(central, { id: 'door-3-1', address: 'C0:FF:EE:00:00:01', secret });
 */
export async function openNobleCentral(options: NobleCentralOptions = {}): Promise<GattCentral> {
  const log = options.log ?? silentLog;
  let loaded: unknown;
  try {
    loaded = await (options.loadNoble ?? (() => import('@abandonware/noble')))();
  } catch (error) {
    throw new GattError('no-adapter', loadFailure(error));
  }
  const noble = asNoble(loaded);
  await poweredOn(noble, options.poweredOnTimeoutMs ?? 5000, log);
  log.info('Bluetooth controller is powered on');
  return new NobleCentral(noble, options.operationTimeoutMs ?? 5000, log);
}

function loadFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const cause = error instanceof Error ? error.message : String(error);
  const hint =
    code === 'EAFNOSUPPORT'
      ? 'the kernel offers no Bluetooth sockets here (no Bluetooth support, or a container without it)'
      : code === 'EPERM' || code === 'EACCES'
        ? 'the process may not open raw HCI sockets'
        : code === 'ENODEV'
          ? 'there is no HCI device with that number (NOBLE_HCI_DEVICE_ID)'
          : 'loading @abandonware/noble failed';
  return (
    `no Bluetooth controller: ${hint}: ${cause}${typeof code === 'string' ? ` (${code})` : ''}. ` +
    'Is there an HCI adapter (hciconfig, btmgmt info), and is the process allowed to use it (CAP_NET_RAW, or root)?'
  );
}

function asNoble(loaded: unknown): NobleLike {
  const candidate = (loaded as { default?: unknown } | null)?.default ?? loaded;
  const noble = candidate as Partial<NobleLike> | null;
  if (!noble || typeof noble.on !== 'function' || typeof noble.startScanningAsync !== 'function' || typeof noble.stopScanningAsync !== 'function') {
    throw new GattError('no-adapter', 'the loaded module is not noble: it has no on / startScanningAsync / stopScanningAsync');
  }
  return noble as NobleLike;
}

function currentState(noble: NobleLike): string {
  return noble._state ?? noble.state ?? 'unknown';
}

const STATE_PROBLEMS: Record<string, string> = {
  unsupported: 'the Bluetooth controller does not support Bluetooth Low Energy (state unsupported): use a Bluetooth 4.0 or later adapter',
  unauthorized:
    'the process may not use the Bluetooth controller (state unauthorized): give node CAP_NET_RAW (setcap cap_net_raw+eip "$(command -v node)") or run as root',
  poweredOff: 'the Bluetooth controller is powered off (state poweredOff): power it on (bluetoothctl power on; rfkill unblock bluetooth)',
};

/** Resolves once noble says poweredOn; a hopeless state or the timeout rejects with no-adapter. */
function poweredOn(noble: NobleLike, timeoutMs: number, log: DriverLog): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastWarning = '';
    const onWarning = (message: unknown) => {
      lastWarning = String(message);
      log.warn('noble warning', { message: lastWarning });
    };
    const finish = (problem: string | null) => {
      clearTimeout(timer);
      noble.removeListener('stateChange', check);
      noble.removeListener('warning', onWarning);
      if (problem) reject(new GattError('no-adapter', problem));
      else resolve();
    };
    const check = () => {
      const state = currentState(noble);
      if (state === 'poweredOn') finish(null);
      else if (STATE_PROBLEMS[state]) finish(STATE_PROBLEMS[state]);
    };
    const timer = setTimeout(() => {
      const warning = lastWarning ? `; noble said: ${lastWarning}` : '';
      finish(`the Bluetooth controller did not power on within ${timeoutMs} ms (state ${currentState(noble)}${warning}). Is an HCI adapter attached and up?`);
    }, timeoutMs);
    noble.on('warning', onWarning);
    // Adding the first stateChange listener is what makes noble initialise its bindings.
    noble.on('stateChange', check);
    check();
  });
}

/** Runs radio operations one at a time, in call order. */
class RadioQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const task = this.tail.then(operation);
    this.tail = task.then(
      () => undefined,
      () => undefined,
    );
    return task;
  }
}

/** Rejects with a GattError('timeout') if the step does not settle in time. */
function bounded<T>(step: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new GattError('timeout', `${what} got no answer within ${ms} ms`)), ms);
    step.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function reasonText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class NobleCentral implements GattCentral {
  private readonly queue = new RadioQueue();
  private readonly connections = new Set<NobleConnection>();
  private closed = false;
  private abortScan: ((error: GattError) => void) | null = null;

  constructor(
    private readonly noble: NobleLike,
    private readonly operationTimeoutMs: number,
    private readonly log: DriverLog,
  ) {
    noble.on('stateChange', this.onStateChange);
  }

  connect(address: string, options: { timeoutMs: number }): Promise<GattConnection> {
    if (this.closed) return Promise.reject(new GattError('no-adapter', 'the Bluetooth central is closed'));
    return this.queue.run(() => this.connectNow(address, options.timeoutMs));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abortScan?.(new GattError('no-adapter', 'the Bluetooth central was closed'));
    await this.queue.run(() => this.stopScanning());
    for (const connection of [...this.connections]) await connection.disconnect();
    this.noble.removeListener('stateChange', this.onStateChange);
  }

  private readonly onStateChange = (state: string) => {
    if (state === 'poweredOn') return;
    this.log.warn('Bluetooth controller left poweredOn', { state });
    for (const connection of [...this.connections]) connection.gone(`the Bluetooth controller went ${state}`);
  };

  private async connectNow(address: string, timeoutMs: number): Promise<GattConnection> {
    if (this.closed) throw new GattError('no-adapter', 'the Bluetooth central is closed');
    const state = currentState(this.noble);
    if (state !== 'poweredOn') throw new GattError('no-adapter', STATE_PROBLEMS[state] ?? `the Bluetooth controller is ${state}, not poweredOn`);
    const started = Date.now();
    const peripheral = await this.scanFor(address, timeoutMs);
    await this.connectPeripheral(peripheral, address, Math.max(1, timeoutMs - (Date.now() - started)));
    let characteristics: NobleCharacteristicLike[];
    try {
      const found = await bounded(
        peripheral.discoverSomeServicesAndCharacteristicsAsync([nobleUuid(LOCK_GATT.service)], LOCK_CHARACTERISTICS.map(nobleUuid)),
        this.operationTimeoutMs,
        `discovering the lock service on ${address}`,
      );
      characteristics = found.characteristics;
    } catch (error) {
      await bounded(peripheral.disconnectAsync(), this.operationTimeoutMs, 'disconnect').catch(() => undefined);
      if (error instanceof GattError) throw error;
      // noble says "Could not find all requested services" when the service is missing.
      throw new GattError('not-a-lock', `${address} has no lock service ${LOCK_GATT.service}: ${reasonText(error)}`);
    }
    const byUuid = new Map<string, NobleCharacteristicLike>();
    for (const characteristic of characteristics) {
      const known = LOCK_CHARACTERISTICS.find((uuid) => nobleUuid(uuid) === nobleUuid(characteristic.uuid));
      if (known) byUuid.set(known, characteristic);
    }
    if (!byUuid.has(LOCK_GATT.control) || !byUuid.has(LOCK_GATT.response)) {
      await bounded(peripheral.disconnectAsync(), this.operationTimeoutMs, 'disconnect').catch(() => undefined);
      throw new GattError('not-a-lock', `${address} has the lock service but not its control and response characteristics`);
    }
    const connection = new NobleConnection(address.toUpperCase(), peripheral, byUuid, this.queue, this.operationTimeoutMs, () => this.connections.delete(connection));
    this.connections.add(connection);
    this.log.debug('connected to BLE peripheral', { address });
    return connection;
  }

  /** Scans for the lock service until the peripheral with this address is heard; scanning is stopped before it returns. */
  private scanFor(address: string, timeoutMs: number): Promise<NoblePeripheralLike> {
    const wanted = address.toLowerCase();
    const wantedId = wanted.replaceAll(':', '');
    return new Promise((resolve, reject) => {
      let settled = false;
      const scanning = this.noble.startScanningAsync([nobleUuid(LOCK_GATT.service)], false);
      const finish = (error: GattError | null, peripheral?: NoblePeripheralLike) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.abortScan = null;
        this.noble.removeListener('discover', onDiscover);
        // Many controllers will not create a connection while scanning, so the scan ends first.
        void scanning
          .then(
            () => this.stopScanning(),
            () => undefined,
          )
          .then(() => (error ? reject(error) : resolve(peripheral!)));
      };
      const onDiscover = (peripheral: NoblePeripheralLike) => {
        if (peripheral.address?.toLowerCase() === wanted || peripheral.id?.toLowerCase() === wantedId) finish(null, peripheral);
      };
      const timer = setTimeout(() => {
        finish(new GattError('out-of-range', `lock ${address} was not heard within ${timeoutMs} ms (scanning for the lock service)`));
      }, timeoutMs);
      this.abortScan = (error) => finish(error);
      this.noble.on('discover', onDiscover);
      scanning.catch((error: unknown) => finish(new GattError('no-adapter', `could not start scanning: ${reasonText(error)}`)));
    });
  }

  private async stopScanning(): Promise<void> {
    // noble answers stopScanning only once the controller confirms; do not let a lost answer hold the queue.
    await bounded(this.noble.stopScanningAsync(), Math.min(this.operationTimeoutMs, 2000), 'stopping the scan').catch((error: unknown) => {
      this.log.warn('stopping the BLE scan failed', { error: reasonText(error) });
    });
  }

  private connectPeripheral(peripheral: NoblePeripheralLike, address: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        peripheral.cancelConnect();
        reject(new GattError('out-of-range', `lock ${address} was heard but did not accept a connection within ${timeoutMs} ms`));
      }, timeoutMs);
      peripheral.connectAsync().then(
        () => {
          clearTimeout(timer);
          if (timedOut) void peripheral.disconnectAsync().catch(() => undefined);
          else resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!timedOut) reject(new GattError('gatt-error', `connecting to ${address} failed: ${reasonText(error)}`));
        },
      );
    });
  }
}

/** HCI disconnect reasons (Core Spec 5.3, Vol 1, Part F, 1.3) that a lock link commonly ends with. */
const HCI_REASONS: Record<number, string> = {
  0x08: 'connection timeout (out of range?)',
  0x13: 'the lock ended the connection',
  0x16: 'the gateway ended the connection',
  0x3e: 'the connection could not be established',
};

class NobleConnection implements GattConnection {
  private connected = true;
  private readonly disconnectListeners: ((reason: string) => void)[] = [];
  private readonly dataListeners: { characteristic: NobleCharacteristicLike; listener: (data: Buffer, isNotification: boolean) => void }[] = [];
  private readonly goneWaiters = new Set<(error: GattError) => void>();

  constructor(
    readonly address: string,
    private readonly peripheral: NoblePeripheralLike,
    private readonly characteristics: Map<string, NobleCharacteristicLike>,
    private readonly queue: RadioQueue,
    private readonly operationTimeoutMs: number,
    private readonly onGone: () => void,
  ) {
    peripheral.once('disconnect', this.onPeripheralDisconnect);
  }

  async write(characteristic: string, value: Uint8Array): Promise<void> {
    // noble would turn a longer value into a prepared (long) write, which the lock does not implement.
    if (value.length > ATT_MAX_VALUE) throw new GattError('gatt-error', `a ${value.length}-byte value is over ATT_MAX_VALUE (${ATT_MAX_VALUE}): fragment it`);
    const target = this.characteristic(characteristic);
    const data = Buffer.from(value);
    return this.onRadio(`write ${characteristic}`, () => target.writeAsync(data, false));
  }

  async read(characteristic: string): Promise<Uint8Array> {
    const target = this.characteristic(characteristic);
    return new Uint8Array(await this.onRadio(`read ${characteristic}`, () => target.readAsync()));
  }

  async subscribe(characteristic: string, listener: (value: Uint8Array) => void): Promise<void> {
    const target = this.characteristic(characteristic);
    // noble also emits 'data' for plain reads; only notifications are wanted here.
    const onData = (data: Buffer, isNotification: boolean) => {
      if (isNotification !== false && this.connected) listener(new Uint8Array(data));
    };
    target.on('data', onData);
    this.dataListeners.push({ characteristic: target, listener: onData });
    return this.onRadio(`subscribe ${characteristic}`, () => target.notifyAsync(true));
  }

  onDisconnect(listener: (reason: string) => void): void {
    this.disconnectListeners.push(listener);
  }

  isConnected(): boolean {
    return this.connected && this.peripheral.state === 'connected';
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.gone('the gateway disconnected');
    await this.queue
      .run(() => bounded(this.peripheral.disconnectAsync(), this.operationTimeoutMs, `disconnecting ${this.address}`))
      .catch(() => undefined);
  }

  /** Marks the link down once: stops delivering data and tells the listeners why. */
  gone(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.peripheral.removeListener('disconnect', this.onPeripheralDisconnect);
    for (const { characteristic, listener } of this.dataListeners.splice(0)) characteristic.removeListener('data', listener);
    const error = new GattError('disconnected', `the link to ${this.address} dropped: ${reason}`);
    for (const fail of this.goneWaiters) fail(error);
    this.goneWaiters.clear();
    this.onGone();
    for (const listener of this.disconnectListeners.splice(0)) listener(reason);
  }

  private readonly onPeripheralDisconnect = (reason?: unknown) => {
    this.gone(typeof reason === 'number' ? (HCI_REASONS[reason] ?? `HCI reason 0x${reason.toString(16)}`) : `disconnected${reason ? ` (${String(reason)})` : ''}`);
  };

  private characteristic(uuid: string): NobleCharacteristicLike {
    const found = this.characteristics.get(uuid);
    if (!found) throw new GattError('gatt-error', `${this.address} has no characteristic ${uuid} in the lock service`);
    return found;
  }

  /** One operation on the shared radio queue, failed early if the link drops while it waits or runs. */
  private onRadio<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.queue.run(() => {
      if (!this.connected) return Promise.reject(new GattError('disconnected', `${what}: ${this.address} is not connected`));
      return new Promise<T>((resolve, reject) => {
        this.goneWaiters.add(reject);
        bounded(operation(), this.operationTimeoutMs, `${what} on ${this.address}`)
          .then(resolve, (error: unknown) => reject(error instanceof GattError ? error : new GattError('gatt-error', `${what} on ${this.address}: ${reasonText(error)}`)))
          .finally(() => this.goneWaiters.delete(reject));
      });
    });
  }
}
