/** The edge gateway runtime; see edge/README.md. */
export { startGateway, GATEWAY_VERSION, type Gateway, type StartGatewayOptions, type ReadingCounters } from './gateway.js';
export { loadGatewayConfig, checkGatewayConfig, readEdgeEnvironment, applyConfigOverrides, GatewayConfigError, type ConfigOverrides, type EdgeEnvironment } from './config/load-config.js';
export { ConfigStore } from './config/config-store.js';
export { Outbox, OutboxFullError, type OutboxStats, type OutboxRecord } from './outbox/outbox.js';
export { OutboxPublisher } from './outbox/publisher.js';
export { openGatewayStore } from './outbox/store.js';
export { CloudLink, LinkDownError } from './link/cloud-link.js';
export { reconnectDelay, DEFAULT_BACKOFF, type BackoffOptions } from './link/backoff.js';
export { DriverHost, type DriverFactory, type DriverContext, type HostedDriver, type DriverReading, type DriverAvailability } from './drivers/host.js';
export { EventBus } from './event-bus.js';
export { createLogger, silentLogger, type Logger } from './log.js';
