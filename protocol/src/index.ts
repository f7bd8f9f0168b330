// The one package edge/ and cloud/ both import: shared contracts and pure domain logic, no I/O.
export * from './money.js';
export * from './mqtt/topics.js';
export * from './mqtt/messages.js';
export * from './meters/register-map.js';
export * from './meters/models.js';
export * from './gateway-config.js';
export * from './doors/virtual-key.js';
export * from './doors/lock-gatt.js';
export * from './doors/gatt-central.js';
