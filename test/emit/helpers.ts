/**
 * Shared by the emitter tests: where things are, the mini fixtures, and a C compiler probe.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostAbi } from '../../codegen/extract/abi.js';
import { loadSpec } from '../../codegen/spec/load.js';
import { specHeaderDir } from '../extract/repo.js';
import { findCCompiler } from '../support/cc.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'emit');
export const MINI_SPEC = join(FIXTURES, 'mini-spec.json');
export const MINI_OPS = join(FIXTURES, 'mini-ops.json');
export const GOLDEN_DIR = join(FIXTURES, 'golden');
export const HEADERS = resolve(REPO_ROOT, '..', 'shared', 'headers');
/** The spec the C cross-checks read: spec/io_uring.json, or TSURING_SPEC while working on generated/ from another one. */
export const REAL_SPEC = process.env.TSURING_SPEC ?? join(REPO_ROOT, 'spec', 'io_uring.json');
export const REAL_OPS = join(REPO_ROOT, 'spec', 'ops.json');
export const GENERATED = join(REPO_ROOT, 'generated');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tsuring-${prefix}-`));
}

/**
 * The C compiler and the header folder the spec under test came from (found from its
 * provenance, so these tests follow an upgraded spec), or why the C comparisons cannot run here.
 * They compile and run programs, so they need this machine's own compiler and ABI.
 */
export function cCompiler(): { cc: string; headerDir: string } | { skip: string } {
  const where = specHeaderDir(loadSpec(REAL_SPEC));
  if ('skip' in where) return where;
  if (hostAbi() === undefined) return { skip: `no spec ABI for this machine (${process.arch})` };
  const cc = findCCompiler();
  if (cc !== null) return { cc, headerDir: where.dir };
  return { skip: 'no C compiler ($CC, cc, gcc or clang) on PATH' };
}

/** Compiles `source` against a header folder and returns what the program prints. */
export function compileAndRun(cc: string, source: string, headerDir: string, dir: string, name: string): string {
  const src = join(dir, `${name}.c`);
  const exe = join(dir, name);
  writeFileSync(src, source);
  execFileSync(cc, ['-std=gnu11', '-O0', '-Wall', '-Werror', '-Wno-unused-variable', '-I', headerDir, '-o', exe, src], { stdio: ['ignore', 'pipe', 'pipe'] });
  return execFileSync(exe, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}



export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
