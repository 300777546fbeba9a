/**
 * Everything the workloads need before the first round: the compiled bench, the C
 * baseline (when a compiler and liburing exist), the data files, and a description of
 * the machine.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

/** Compiles `src`, `generated` and `bench` with `bench/tsconfig.json` (incremental). */
export function compileBench(repo: string): { ok: true } | { ok: false; reason: string } {
  const tsc = createRequire(join(repo, 'package.json')).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(repo, 'bench', 'tsconfig.json')], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  return { ok: false, reason: `${r.stdout}${r.stderr}`.trim().split('\n').slice(0, 10).join('\n') };
}

/** The liburing baseline binary, or why there is none. */
export type CBaseline = { ok: true; binary: string; liburing: string } | { ok: false; reason: string };

/**
 * Builds `bench/c/uring-bench.c` into `outDir` when `cc` and liburing are there; rebuilt
 * only when the source is newer than the binary.
 */
export function buildC(repo: string, outDir: string): CBaseline {
  const source = join(repo, 'bench', 'c', 'uring-bench.c');
  const binary = join(outDir, 'uring-bench');
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.error !== undefined || cc.status !== 0) return { ok: false, reason: 'no C compiler (cc) on PATH' };
  const version = liburingVersion();
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(outDir, { recursive: true });
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', binary, source, '-luring'], { encoding: 'utf8' });
    if (r.status !== 0) {
      const text = `${r.stdout}${r.stderr}`;
      if (/liburing\.h|-luring|cannot find/.test(text)) return { ok: false, reason: 'liburing is not installed (apt-get install liburing-dev)' };
      return { ok: false, reason: `cc failed: ${text.trim().split('\n')[0]}` };
    }
  }
  return { ok: true, binary, liburing: version };
}

function liburingVersion(): string {
  const pc = spawnSync('pkg-config', ['--modversion', 'liburing'], { encoding: 'utf8' });
  if (pc.status === 0) return pc.stdout.trim();
  try {
    const header = readFileSync('/usr/include/liburing/io_uring_version.h', 'utf8');
    const major = /IO_URING_VERSION_MAJOR\s+(\d+)/.exec(header)?.[1];
    const minor = /IO_URING_VERSION_MINOR\s+(\d+)/.exec(header)?.[1];
    if (major !== undefined && minor !== undefined) return `${major}.${minor}`;
  } catch {
    /* unknown */
  }
  return 'unknown';
}

const MAGIC = 'tsuring-bench data v1 ';

/**
 * A file of `bytes` bytes in `dir`, created once and reused while it is valid (its size
 * and the header naming that size). Read through once so it sits in the page cache.
 */
export function dataFile(dir: string, name: string, bytes: number): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  const header = Buffer.from(`${MAGIC}${bytes}\n`);
  const chunk = Buffer.allocUnsafeSlow(1 << 20);
  let valid = false;
  if (existsSync(path)) {
    const fd = openSync(path, 'r');
    try {
      valid = fstatSync(fd).size === bytes && readSync(fd, chunk, 0, header.byteLength, 0) === header.byteLength && chunk.subarray(0, header.byteLength).equals(header);
    } finally {
      closeSync(fd);
    }
  }
  if (!valid) {
    const fd = openSync(path, 'w');
    try {
      randomFillSync(chunk);
      for (let at = 0; at < bytes; at += chunk.byteLength) {
        chunk.writeUInt32LE(at / chunk.byteLength, 64); // no two chunks alike
        writeSync(fd, chunk, 0, Math.min(chunk.byteLength, bytes - at), at);
      }
      writeSync(fd, header, 0, header.byteLength, 0); // last: a half-written file stays invalid
      fsyncSync(fd); // no writeback may run under the measurements
    } finally {
      closeSync(fd);
    }
  }
  // Warm the page cache: every workload reads from memory, never from the disk.
  const fd = openSync(path, 'r');
  try {
    for (let at = 0; at < bytes; at += chunk.byteLength) readSync(fd, chunk, 0, chunk.byteLength, at);
  } finally {
    closeSync(fd);
  }
  return path;
}

export function defaultDataDir(): string {
  return join(tmpdir(), 'tsuring-bench');
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  liburing: string | null;
  loadavgStart: number[];
  loadavgEnd?: number[];
}

export function describeMachine(liburing: string | null): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' });
  if (lscpu.status === 0) {
    const model = /^Model name:\s*(.+)$/m.exec(lscpu.stdout)?.[1];
    const hypervisor = /^Hypervisor vendor:\s*(.+)$/m.exec(lscpu.stdout)?.[1];
    if (model !== undefined) cpu = hypervisor !== undefined ? `${model.trim()} (${hypervisor.trim()} guest)` : model.trim();
  }
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    liburing,
    loadavgStart: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}
