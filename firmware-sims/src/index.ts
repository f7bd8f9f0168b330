// Simulators of the devices the gateway talks to; see firmware-sims/README.md.
export const PACKAGE = '@estate/firmware-sims';
export * from './meters/clock.js';
export * from './meters/consumption.js';
export * from './meters/sim-meter.js';
export * from './meters/meter-server.js';
export { crc16 } from './meters/modbus-wire.js';
export * from './serial/pty-pair.js';
export * from './locks/sim-lock.js';
export * from './locks/sim-radio.js';
