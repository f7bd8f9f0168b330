export { createLockClient, LockError, type LockClient, type LockClientOptions, type LockErrorCode, type LockNotification, type LockStatus } from './lock-client.js';
export { openNobleCentral, type NobleCentralOptions } from './noble-central.js';
