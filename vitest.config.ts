import os from 'node:os';
import { defineConfig } from 'vitest/config';

// One configuration for every package. Test files own their PostgreSQL schema and Redis prefix
// (cloud/test/harness.ts), so files run in parallel; they mostly wait on those services, so even a
// 2-core machine runs at least two at once (vitest's default would be cores - 1).
const workers = Math.max(2, os.availableParallelism() - 1);

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.data/**', 'cloud/drizzle/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    maxWorkers: workers,
  },
});
