import { ModbusMeterDriver } from './modbus/index.js';
import type { DriverFactory } from './host.js';

/** The Modbus meter driver (edge/src/drivers/modbus/) as the runtime hosts it: readings go to the outbox. */
export const modbusMeterDriver: DriverFactory = {
  name: 'modbus-meters',
  deviceKind: 'meter',
  create: ({ config, log, onReading, onAvailability }) => new ModbusMeterDriver({ config: config.modbus, onReading, onAvailability, log }),
};
