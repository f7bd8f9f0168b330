// `npm test` inside this package uses the root configuration (timeouts, parallelism, excludes).
export { default } from '../vitest.config.js';
