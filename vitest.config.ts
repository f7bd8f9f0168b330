import os from 'node:os';
import { defineConfig } from 'vitest/config';

// One configuration for every package. Test files own their PostgreSQL schema and Redis prefix
// (cloud/test/harness.ts), so files run in parallel. They mostly wait on those services, so more files
// run at once than there are cores: on 2 cores the suite took roughly 78 s with vitest's default (cores - 1 = 1
// worker), 50 s with 2 and 41 s with 3.
const workers = Math.max(3, os.availableParallelism());

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
