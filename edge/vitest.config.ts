import { mergeConfig } from 'vitest/config';
import root from '../vitest.config.js';

// `npm test` inside this package uses the root configuration; the package has no tests of its own yet.
export default mergeConfig(root, { test: { passWithNoTests: true } });
