/**
 * `tsuring/fs` with io_uring disabled machine-wide: `kernel.io_uring_disabled = 2`.
 *
 * This flips a GLOBAL sysctl: every other process on the machine (other test files running in
 * parallel, other users) loses io_uring while it is set. So it runs only where it is alone:
 * the kernel VM script (test:kernels) runs test/vm-only/ by itself in the 6.12 guest with
 * TSURING_VM_EXCLUSIVE=1. Everywhere else this file skips, saying why.
 *
 * It sets the sysctl to 2, checks in a child that the module falls back to node:fs/promises
 * (backend 'node', one warning naming io_uring_disabled, every function working), and
 * restores the previous value whatever happens.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeExit, lastJson, runChild } from '../support/child.js';

const SYSCTL = '/proc/sys/kernel/io_uring_disabled';
const REASON = 'flips the global kernel.io_uring_disabled sysctl; runs only in the test:kernels VM';
const exclusive = process.env.TSURING_VM_EXCLUSIVE === '1';
if (!exclusive) console.warn(`[skip] test/vm-only/fs-fallback-sysctl.test.ts: ${REASON}`);

let previous: string | null = null;
afterAll(() => {
  if (previous !== null) writeFileSync(SYSCTL, previous);
});

describe('tsuring/fs with kernel.io_uring_disabled = 2', () => {
  it.skipIf(!exclusive)(`falls back to node:fs/promises with one warning naming the sysctl (skipped unless TSURING_VM_EXCLUSIVE=1: ${REASON})`, async (ctx) => {
    if (!existsSync(SYSCTL)) {
      ctx.skip(`this kernel has no ${SYSCTL} (it came in Linux 6.6)`);
    }
    previous = readFileSync(SYSCTL, 'utf8').trim();
    try {
      writeFileSync(SYSCTL, '2');
      expect(readFileSync(SYSCTL, 'utf8').trim()).toBe('2');
      const r = await runChild(
        String.raw`
const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
const fs = (await import('@repo/src/node/fs/index.js')).default;
const { mkdtempSync, rmSync } = await import('node:fs');
const { join } = await import('node:path');
const dir = mkdtempSync('/tmp/tsuring-sysctl-');
await fs.writeFile(join(dir, 'a'), 'disabled');
const text = await fs.readFile(join(dir, 'a'), 'utf8');
const h = await fs.open(join(dir, 'a'));
const { bytesRead } = await h.read(Buffer.alloc(3), 0, 3, 0);
await h.close();
const size = (await fs.stat(join(dir, 'a'))).size;
rmSync(dir, { recursive: true });
await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ backend: fs.backend, text, bytesRead, size, warnings }));
`,
        { timeoutMs: 120_000 },
      );
      expect(r.code, describeExit(r)).toBe(0);
      const out = lastJson<{ backend: string; text: string; bytesRead: number; size: number; warnings: { code: string; message: string }[] }>(r);
      expect(out.backend).toBe('node');
      expect({ text: out.text, bytesRead: out.bytesRead, size: out.size }).toEqual({ text: 'disabled', bytesRead: 3, size: 8 });
      expect(out.warnings.length, JSON.stringify(out.warnings)).toBe(1);
      expect(out.warnings[0]!.code).toBe('TSURING_FS_FALLBACK');
      expect(out.warnings[0]!.message).toMatch(/EPERM: .*io_uring_disabled is 2/);
    } finally {
      writeFileSync(SYSCTL, previous);
      previous = null;
    }
  }, 180_000);
});
