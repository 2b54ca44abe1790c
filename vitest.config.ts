import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Test files share one Redis; each uses its own key prefix, so files may run in parallel.
    fileParallelism: true,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
