/**
 * Small header folders written by the tests themselves: `linux/io_uring.h` (plus any other
 * files given) and a `linux/version.h`, in a fresh temp dir.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';
import { hostAbi } from '../../codegen/extract/abi.js';
import { crossCheck, findCompilers, findHostCompiler } from '../../codegen/extract/c-check.js';
import type { Spec } from '../../codegen/spec/types.js';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export const VERSION_H = '#define LINUX_VERSION_CODE 393728\n#define KERNEL_VERSION(a,b,c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n';

/**
 * Writes a header folder and returns its path. `io_uring` is the text of linux/io_uring.h;
 * `others` maps further paths (relative to the folder) to their text (null: leave the file out,
 * e.g. `{ 'linux/version.h': null }`).
 */
export function headerDir(ioUring: string, others: Record<string, string | null> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-extract-'));
  made.push(dir);
  const files: Record<string, string | null> = { 'linux/version.h': VERSION_H, ...others, 'linux/io_uring.h': ioUring };
  for (const [path, text] of Object.entries(files)) {
    if (text === null) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** True when this machine has a C compiler for its own ABI ($CC, cc, gcc or clang). */
export const haveCompiler = findHostCompiler() !== null && hostAbi() !== undefined;

/**
 * Compiles the cross-check program for a spec extracted from `dir` with this machine's own
 * compiler and returns the keys where it disagrees with the spec (empty when all agree).
 */
export function compilerMismatches(spec: Spec, dir: string): string[] {
  const host = hostAbi();
  if (host === undefined) throw new Error(`no spec ABI for ${process.arch}`);
  return crossCheck(spec, dir, findCompilers([host])).flatMap((r) => ('mismatches' in r ? r.mismatches : [`${r.abi}: ${r.skipped}`]));
}
