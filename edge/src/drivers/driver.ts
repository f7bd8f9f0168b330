/**
 * What the gateway runtime hosts: one driver per device kind (Modbus meters, BLE locks, LAN cameras).
 * A driver never throws out of its work: a dead device or a lost bus shows in `status()`, so one failing
 * driver cannot stop the others (the runtime isolates them as zigbee2mqtt isolates its extensions).
 */
export type DriverStatus = {
  status: 'running' | 'degraded' | 'failed' | 'stopped';
  devices: number;
  unavailable: number;
  lastError: string | null;
};

export interface Driver {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): DriverStatus;
}

/** The few log calls a driver makes; the runtime's Logger fits it. */
export interface DriverLog {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export const silentLog: DriverLog = { debug: () => undefined, info: () => undefined, warn: () => undefined };
