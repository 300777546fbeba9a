import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real rings and real child processes: keep files isolated, but do not
    // oversubscribe a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    // Leak checks force a full GC and let finalizers run (retired ring memory is unmapped
    // once no view can reach it: src/ring/region.ts).
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
