import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The Raycast extension's sources (test/raycast.test.ts) run against a test double of
    // @raycast/api, with the root's single copy of React.
    alias: { '@raycast/api': fileURLToPath(new URL('./test/raycast/raycast-api.ts', import.meta.url)) },
    dedupe: ['react', 'react-test-renderer'],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
