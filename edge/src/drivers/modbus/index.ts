export { ModbusMeterDriver, type ModbusDriverOptions, type MeterReadingDraft, type MeterAvailabilityChange, type PollOutcome } from './modbus-meter-driver.js';
export { ModbusRequestError } from './response-framer.js';
export type { Backoff } from './bus-link.js';
