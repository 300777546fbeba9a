/**
 * Vitest global setup: every run gets its own temporary directory, set as `TMPDIR` before the
 * test workers start (they inherit it, so `os.tmpdir()` in tests, helpers and the child
 * processes they spawn points into it), and removed with everything in it when the run ends.
 * Tests still clean up after themselves where they can; this catches what a failed or killed
 * test, a child process or a tool (the C compiler, tsc, typedoc) leaves behind, so a long-lived
 * machine's /tmp does not fill up run after run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}
