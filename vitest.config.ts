import { readFileSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Which files a run takes (see scripts/test-kernels.sh):
 * - default (`npm test`): every test file except test/vm-only/, whose files change the
 *   kernel's own settings (sysctls) and must run alone, in a VM.
 * - `TSURING_VM_EXCLUSIVE=1`: only test/vm-only/ (the script runs it in each guest after the
 *   main suite, with nothing else running).
 * - `TSURING_TEST_SCOPE=kernel`: the default set minus test/host-only.txt, the files whose
 *   answer does not depend on the kernel (run once, on the host).
 */
const VM_ONLY = 'test/vm-only/**';
const hostOnly = readFileSync(new URL('./test/host-only.txt', import.meta.url), 'utf8')
  .split('\n')
  .map((line) => line.replace(/\s#.*$/, '').trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const exclusive = process.env.TSURING_VM_EXCLUSIVE === '1';
const kernelOnly = process.env.TSURING_TEST_SCOPE === 'kernel';

export default defineConfig({
  test: {
    include: exclusive ? [`${VM_ONLY}/*.test.ts`] : ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(exclusive ? [] : [VM_ONLY]), ...(kernelOnly ? hostOnly : [])],
    // Real rings and real child processes: keep files isolated, but do not
    // oversubscribe a 2-core machine.
    pool: 'forks',
    // A temporary directory per run, removed at the end (test/support/global-tmp.ts).
    globalSetup: ['test/support/global-tmp.ts'],
    maxWorkers: 2,
    // Leak checks force a full GC and let finalizers run (retired ring memory is unmapped
    // once no view can reach it: src/ring/region.ts).
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
