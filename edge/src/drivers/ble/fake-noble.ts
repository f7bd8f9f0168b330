import { EventEmitter } from 'node:events';
import type { SimRadio } from '@estate/firmware-sims';
import type { GattConnection } from '@estate/protocol';
import type { NobleCharacteristicLike, NobleLike, NoblePeripheralLike } from './noble-central.js';

/**
 * Test support: an EventEmitter shaped like noble's module, for noble-central's tests. It records every
 * radio operation it is asked for and flags two at once, and a connect while scanning. A peripheral is
 * either backed by a SimRadio lock (so the real protocol runs end to end) or answers nothing at all.
 */
export class FakeNoble extends EventEmitter implements NobleLike {
  _state = 'unknown';
  scanning = false;
  scanFilter: string[] | undefined;
  /** Operations in call order, e.g. "startScanning", "connect c0:ff:ee:00:00:01". */
  readonly operations: string[] = [];
  readonly violations: string[] = [];
  private active = 0;
  readonly peripherals: FakePeripheral[] = [];

  constructor(readonly operationMs = 2) {
    super();
  }

  setState(state: string): void {
    this._state = state;
    this.emit('stateChange', state);
  }

  /** A peripheral in range, advertising the given services (noble form: lower-case, no dashes). */
  advertise(peripheral: FakePeripheral): FakePeripheral {
    this.peripherals.push(peripheral);
    return peripheral;
  }

  async startScanningAsync(serviceUuids?: string[], _allowDuplicates?: boolean): Promise<void> {
    await this.operation('startScanning', async () => {
      if (this._state !== 'poweredOn') throw new Error(`Could not start scanning, state is ${this._state} (not poweredOn)`);
      this.scanning = true;
      this.scanFilter = serviceUuids;
    });
    for (const peripheral of this.peripherals) {
      if (!peripheral.advertising) continue;
      if (serviceUuids && !serviceUuids.some((uuid) => peripheral.services.includes(uuid))) continue;
      setTimeout(() => {
        if (this.scanning) this.emit('discover', peripheral);
      }, peripheral.advertiseAfterMs);
    }
  }

  async stopScanningAsync(): Promise<void> {
    await this.operation('stopScanning', async () => {
      this.scanning = false;
    });
  }

  /** Runs one radio operation, noting it and any overlap with another. */
  async operation<T>(name: string, run: () => Promise<T>): Promise<T> {
    this.operations.push(name);
    if (this.active > 0) this.violations.push(`${name} started while another operation was running`);
    this.active++;
    try {
      await new Promise((resolve) => setTimeout(resolve, this.operationMs));
      return await run();
    } finally {
      this.active--;
    }
  }
}

export type FakePeripheralOptions = {
  address: string;
  /** Advertised service UUIDs (noble form). */
  services: string[];
  /** Served service UUIDs, when they differ from the advertised ones. */
  serves?: string[];
  /** Where the GATT traffic goes; without it the peripheral never completes a connection. */
  radio?: SimRadio;
  advertiseAfterMs?: number;
};

export class FakePeripheral extends EventEmitter implements NoblePeripheralLike {
  readonly id: string;
  readonly address: string;
  state = 'disconnected';
  advertising = true;
  readonly services: string[];
  readonly serves: string[];
  readonly advertiseAfterMs: number;
  cancelled = 0;
  private link: GattConnection | null = null;
  private readonly radio: SimRadio | undefined;

  constructor(
    private readonly noble: FakeNoble,
    options: FakePeripheralOptions,
  ) {
    super();
    this.address = options.address.toLowerCase();
    this.id = this.address.replaceAll(':', '');
    this.services = options.services;
    this.serves = options.serves ?? options.services;
    this.radio = options.radio;
    this.advertiseAfterMs = options.advertiseAfterMs ?? 5;
  }

  connectAsync(): Promise<void> {
    if (this.noble.scanning) this.noble.violations.push(`connect ${this.address} while scanning`);
    this.state = 'connecting';
    return this.noble.operation(`connect ${this.address}`, () => {
      const radio = this.radio;
      // Like HCI LE Create Connection to a device that stopped advertising: no answer until cancelled.
      if (!radio) return new Promise<void>((_, reject) => this.once('cancel', () => reject(new Error('connection canceled!'))));
      return radio
        .central()
        .connect(this.address, { timeoutMs: 100 })
        .then((link) => {
          this.link = link;
          this.state = 'connected';
          link.onDisconnect(() => {
            this.state = 'disconnected';
            this.link = null;
            this.emit('disconnect', 0x08);
          });
        });
    });
  }

  cancelConnect(): void {
    this.cancelled++;
    this.state = 'disconnected';
    this.emit('cancel');
  }

  disconnectAsync(): Promise<void> {
    return this.noble.operation(`disconnect ${this.address}`, async () => {
      const link = this.link;
      this.link = null;
      this.state = 'disconnected';
      if (link) {
        await link.disconnect();
      } else {
        this.emit('disconnect', 0x16);
      }
    });
  }

  discoverSomeServicesAndCharacteristicsAsync(serviceUuids: string[], characteristicUuids: string[]): Promise<{ characteristics: NobleCharacteristicLike[] }> {
    return this.noble.operation(`discover ${this.address}`, async () => {
      if (!serviceUuids.every((uuid) => this.serves.includes(uuid))) throw 'Could not find all requested services';
      return { characteristics: characteristicUuids.map((uuid) => new FakeCharacteristic(this.noble, uuid, () => this.link)) };
    });
  }
}

/** Turns a noble-form UUID back into the dashed form SimRadio speaks. */
function dashed(uuid: string): string {
  return `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20)}`;
}

class FakeCharacteristic extends EventEmitter implements NobleCharacteristicLike {
  constructor(
    private readonly noble: FakeNoble,
    readonly uuid: string,
    private readonly link: () => GattConnection | null,
  ) {
    super();
  }

  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void> {
    return this.noble.operation(`write ${this.uuid}${withoutResponse ? ' without response' : ''}`, () => this.linked().write(dashed(this.uuid), new Uint8Array(data)));
  }

  readAsync(): Promise<Buffer> {
    return this.noble.operation(`read ${this.uuid}`, async () => Buffer.from(await this.linked().read(dashed(this.uuid))));
  }

  notifyAsync(notify: boolean): Promise<void> {
    return this.noble.operation(`notify ${this.uuid} ${notify}`, () =>
      this.linked().subscribe(dashed(this.uuid), (value) => this.emit('data', Buffer.from(value), true)),
    );
  }

  private linked(): GattConnection {
    const link = this.link();
    if (!link) throw new Error('not connected');
    return link;
  }
}
