/**
 * How the gateway reaches a lock over BLE, as GATT operations: the one seam between the lock protocol
 * (lock-gatt.ts) and a radio. Two things implement it: the gateway's noble adapter on a real Bluetooth
 * controller (edge/src/drivers/ble/noble-central.ts), and the simulated radio in firmware-sims, whose
 * locks answer the same bytes on the same characteristics.
 *
 * Characteristic UUIDs are the lock service's (LOCK_GATT in lock-gatt.ts), lower-case with dashes.
 */
export interface GattCentral {
  /**
   * Connects to the peripheral with this address ("AA:BB:CC:DD:EE:FF") and discovers the lock service.
   * Rejects with a GattError: `out-of-range` when the lock is not heard within `timeoutMs`, `no-adapter`
   * when there is no usable controller, `not-a-lock` when it has no lock service.
   */
  connect(address: string, options: { timeoutMs: number }): Promise<GattConnection>;
  /** Disconnects everything and releases the controller. */
  close(): Promise<void>;
}

export interface GattConnection {
  readonly address: string;
  /** Write with response. A value is at most ATT_MAX_VALUE bytes (default ATT MTU 23 minus the 3-byte header). */
  write(characteristic: string, value: Uint8Array): Promise<void>;
  read(characteristic: string): Promise<Uint8Array>;
  /** Enables notifications (writes the CCCD) and calls back with every notified value, in order. */
  subscribe(characteristic: string, listener: (value: Uint8Array) => void): Promise<void>;
  /** Called once when the link drops for any reason (including disconnect()). */
  onDisconnect(listener: (reason: string) => void): void;
  isConnected(): boolean;
  disconnect(): Promise<void>;
}

/** The ATT payload a write or notification can carry with the default MTU (23 - 3). */
export const ATT_MAX_VALUE = 20;

export type GattErrorCode = 'no-adapter' | 'out-of-range' | 'not-a-lock' | 'disconnected' | 'timeout' | 'gatt-error';

export class GattError extends Error {
  constructor(
    readonly code: GattErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GattError';
  }
}
