import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The e2e tests run the built binary; IRBOT_SKIP_BUILD=1 skips the build for a quick unit-only run.
    globalSetup: process.env.IRBOT_SKIP_BUILD ? [] : ['test/support/build.ts'],
    // Most of a run is e2e tests waiting on child processes: three files at a time keep both cores busy (two left
    // a quarter of them idle; four made the run slower again: measured on this 2-core machine).
    maxWorkers: 3,
    // Worker threads, each importing the sources once for all its files: no test mocks a module or shares global
    // state, and a fresh module graph per file cost more CPU than the tests themselves.
    pool: 'threads',
    isolate: false,
    testTimeout: 20_000,
    // The store reads every commit back from disk and checks it equals memory: a change its journal missed fails.
    env: { IRBOT_STORE_VERIFY: '1' },
    hookTimeout: 20_000,
  },
});
