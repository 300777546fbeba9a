/**
 * Small header folders written by the tests themselves: `linux/io_uring.h` (plus any other
 * files given) and a `linux/version.h`, in a fresh temp dir.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';
import type { Spec } from '../../codegen/spec/types.js';
import { buildCrossCheckProgram, parseCrossCheckOutput } from './c-program.js';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export const VERSION_H = '#define LINUX_VERSION_CODE 393728\n#define KERNEL_VERSION(a,b,c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n';

/**
 * Writes a header folder and returns its path. `io_uring` is the text of linux/io_uring.h;
 * `others` maps further paths (relative to the folder) to their text.
 */
export function headerDir(ioUring: string, others: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-extract-'));
  made.push(dir);
  const files: Record<string, string> = { 'linux/version.h': VERSION_H, ...others, 'linux/io_uring.h': ioUring };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** True when `cc` runs. */
export const haveCompiler = spawnSync('cc', ['--version']).status === 0;

/**
 * Compiles the cross-check program for a spec extracted from `dir` and returns the keys where
 * the compiler disagrees with the spec (empty when all agree).
 */
export function compilerMismatches(spec: Spec, dir: string): string[] {
  const program = buildCrossCheckProgram(spec);
  const work = mkdtempSync(join(tmpdir(), 'tsuring-cc-'));
  made.push(work);
  writeFileSync(join(work, 'check.c'), program.source);
  const build = spawnSync('cc', ['-std=gnu11', '-I', dir, join(work, 'check.c'), '-o', join(work, 'check')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`cc failed:\n${build.stderr}`);
  const run = spawnSync(join(work, 'check'), [], { encoding: 'utf8' });
  const actual = parseCrossCheckOutput(run.stdout);
  return [...program.expected].filter(([k, v]) => actual.get(k) !== v).map(([k, v]) => `${k}: spec ${v}, cc ${actual.get(k) ?? '(missing)'}`);
}
