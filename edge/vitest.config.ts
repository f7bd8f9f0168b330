import { mergeConfig } from 'vitest/config';
import root from '../vitest.config.js';

// `npm test` inside this package uses the root configuration.
export default mergeConfig(root, { test: {} });
