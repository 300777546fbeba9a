/**
 * Everything the workloads need before the first round: the compiled bench, the C
 * baseline (when a compiler and liburing exist), the data files, and a description of
 * the machine.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
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

/** A C program of bench/c, built, or why it is not. */
export type CProgram = { ok: true; binary: string } | { ok: false; reason: string };

/** The liburing baseline binary, or why there is none. */
export type CBaseline = { ok: true; binary: string; liburing: string } | { ok: false; reason: string };

/** How to get what a C program needs, for the skip reasons. */
export const INSTALL_HINT = 'run `bash bench/install-deps.sh` (Debian/Ubuntu, as root or with sudo)';

function hasCc(): boolean {
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  return cc.error === undefined && cc.status === 0;
}

/**
 * Compiles `bench/c/NAME.c` into `outDir/NAME` with the system `cc`, linking `libs`; rebuilt
 * only when the source is newer than the binary.
 */
export function buildProgram(repo: string, outDir: string, name: string, libs: string[]): CProgram {
  const source = join(repo, 'bench', 'c', `${name}.c`);
  const binary = join(outDir, name);
  if (!hasCc()) return { ok: false, reason: `no C compiler (cc) on PATH: ${INSTALL_HINT} (package gcc)` };
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(outDir, { recursive: true });
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', binary, source, ...libs], { encoding: 'utf8' });
    if (r.status !== 0) {
      const text = `${r.stdout}${r.stderr}`;
      if (libs.includes('-luring') && /liburing\.h|-luring|cannot find/.test(text)) {
        return { ok: false, reason: `liburing is not installed (Debian package liburing-dev): ${INSTALL_HINT}` };
      }
      return { ok: false, reason: `cc failed on bench/c/${name}.c: ${text.trim().split('\n')[0]}` };
    }
  }
  return { ok: true, binary };
}

/** Builds `bench/c/uring-bench.c` (the liburing baselines) when `cc` and liburing are there. */
export function buildC(repo: string, outDir: string): CBaseline {
  const built = buildProgram(repo, outDir, 'uring-bench', ['-luring']);
  return built.ok ? { ...built, liburing: liburingVersion() } : built;
}

/** Builds `bench/c/echo-load.c` (the network load generator: epoll, needs only `cc`). */
export function buildLoadGenerator(repo: string, outDir: string): CProgram {
  return buildProgram(repo, outDir, 'echo-load', []);
}

/** Optional tools the bench uses when they are there, and what each is for. */
export interface Tools {
  /** util-linux `taskset`: pins servers and SQPOLL workers to a CPU. */
  taskset: boolean;
  /** `perf stat -e syscalls:sys_enter_io_uring_enter` works: exact syscall counts. */
  perfSyscalls: boolean;
  /** `strace`: syscall counts when perf cannot count them. */
  strace: boolean;
  /** `perf record` works (with hardware cycles, or falling back to the cpu-clock software event). */
  perfRecord: boolean;
  /** `perf stat -e instructions` works (hardware counters): perf is the README's profiler. */
  perfHardware: boolean;
}

function runs(command: string, args: string[], bad?: RegExp): boolean {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  return r.error === undefined && r.status === 0 && (bad === undefined || !bad.test(`${r.stdout}${r.stderr}`));
}

function perfRecordWorks(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-bench-perf-'));
  try {
    return runs('perf', ['record', '-q', '-o', join(dir, 'perf.data'), '--', 'true']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function detectTools(): Tools {
  const perf = runs('perf', ['--version']);
  return {
    taskset: runs('taskset', ['-c', '0', 'true']),
    perfSyscalls: perf && runs('perf', ['stat', '-x,', '-e', 'syscalls:sys_enter_io_uring_enter', 'true'], /not supported|not counted|<not/),
    strace: runs('strace', ['-V']),
    perfRecord: perf && perfRecordWorks(),
    perfHardware: perf && runs('perf', ['stat', '-x,', '-e', 'instructions', 'true'], /not supported|not counted|<not/),
  };
}

/** One line per missing tool: what it costs and how to get it. */
export function describeMissingTools(tools: Tools, cores: number): string[] {
  const out: string[] = [];
  if (!tools.taskset) out.push(`no taskset: servers, load generator and SQPOLL workers run unpinned (package util-linux; ${INSTALL_HINT})`);
  if (cores < 2) out.push('one CPU: the server-bound network rows and SQPOLL need two (server and client, or app and SQ thread, on separate CPUs)');
  if (!tools.perfSyscalls && !tools.strace) out.push(`neither perf (syscall tracepoints) nor strace: the SQPOLL syscall check counts only io_uring_enter calls made through the library (packages linux-perf, strace; ${INSTALL_HINT})`);
  if (!tools.perfRecord) out.push('no perf: profiles come from node --cpu-prof only, which charges time inside system calls to the JS caller (package linux-perf)');
  return out;
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
