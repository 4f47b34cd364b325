import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    // Some suites train a small run in beforeAll; on a loaded machine that takes well over the 10 s default.
    hookTimeout: 120_000,
  },
});
