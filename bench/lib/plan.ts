/**
 * What `npm run bench` measures: every measurement (ours and the baselines) and the
 * comparisons between them, with the targets of DESIGN.md ("Performance targets").
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { Sample, Timing } from '../workloads/common.js';
import type { ServerImpl } from '../workloads/tcp-server.js';
import { parseResult, runProcess, runSample, RunError, type Runner } from './exec.js';

export type Unit = 'ops/s' | 'GiB/s' | 'req/s';

export interface Ctx {
  runner: Runner;
  /** The liburing baseline binary, or null (its rows are skipped). */
  cBinary: string | null;
  /** Setup flags the raw rings get on this kernel (the C baseline uses the same). */
  setupFlags: number;
  randFile: string;
  seqFile: string;
  timing: Timing;
  tcpTiming: Timing;
  /** How long an echo server may take to start before the run fails (default 20 s; tests on slow machines give more). */
  serverStartMs?: number;
}

/** A measurement the rounds repeat. */
export interface Spec {
  /** Unique; `--only` matches it. */
  id: string;
  /** Short name of the workload, e.g. 'NOP, batch 32'. */
  workload: string;
  /** Who does the work, e.g. 'tsuring raw', 'liburing (C)'. */
  impl: string;
  unit: Unit;
  /** Needs the C baseline: skipped without it. */
  needsC?: boolean;
  run(ctx: Ctx): Promise<Sample>;
}

/** A ratio the table reports: ours ÷ baseline (higher is better for us). */
export interface Comparison {
  ours: string;
  baseline: string;
  /** From DESIGN.md's targets; absent: reported for information. */
  target?: number;
}

/** Thrown by a run that cannot happen on this machine (it is skipped with the reason). */
export class SkipError extends Error {}

/** Runs the liburing baseline (`bench/c/uring-bench.c`), which prints one JSON line. */
async function cRun(ctx: Ctx, args: (string | number)[]): Promise<Sample> {
  if (ctx.cBinary === null) throw new SkipError('no C baseline');
  const out = await runProcess(ctx.cBinary, args.map(String), { timeoutMs: 60_000 });
  const line = out.trim().split('\n').pop() ?? '';
  let r: { ops: number; seconds: number; bytes: number; user: number; sys: number; machine_busy: number };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    throw new RunError(`uring-bench printed ${JSON.stringify(line)}`);
  }
  const sample: Sample = { ops: r.ops, seconds: r.seconds, bytes: r.bytes, cpuUser: r.user, cpuSys: r.sys };
  if (r.machine_busy >= 0) sample.others = Math.max(0, (r.machine_busy - r.user - r.sys) / r.seconds);
  return sample;
}

const timeoutMs = (t: Timing): number => 30_000 + (t.warmup + t.seconds) * 4000;

export const NOP_BATCHES = [1, 8, 32, 256] as const;
export const READ_DEPTHS = [1, 32, 128] as const;
export const SEQ_DEPTH = 4;
export const TCP_CONNECTIONS = 64;
export const TCP_SIZES = [64, 4096] as const;

export function buildPlan(): { specs: Spec[]; comparisons: Comparison[] } {
  const specs: Spec[] = [];
  const comparisons: Comparison[] = [];

  // NOP submit+reap.
  const nopTargets: Record<number, number> = { 1: 0.6, 32: 0.8 };
  for (const batch of NOP_BATCHES) {
    const workload = `NOP submit+reap, batch ${batch}`;
    specs.push({
      id: `nop.b${batch}.tsuring`, workload, impl: 'tsuring raw', unit: 'ops/s',
      run: (ctx) => runSample(ctx.runner, 'nop', { batch, timing: ctx.timing }, timeoutMs(ctx.timing)),
    });
    specs.push({
      id: `nop.b${batch}.liburing`, workload, impl: 'liburing (C)', unit: 'ops/s', needsC: true,
      run: (ctx) => cRun(ctx, ['nop', batch, ctx.timing.warmup, ctx.timing.seconds, ctx.setupFlags]),
    });
    comparisons.push({ ours: `nop.b${batch}.tsuring`, baseline: `nop.b${batch}.liburing`, ...(nopTargets[batch] === undefined ? {} : { target: nopTargets[batch] }) });
  }

  // 4 KiB random reads from the page cache.
  const reads = (impl: string, depth: number) => (ctx: Ctx) =>
    runSample(ctx.runner, 'reads', { file: ctx.randFile, pattern: 'rand', impl, depth, timing: ctx.timing }, timeoutMs(ctx.timing));
  for (const depth of READ_DEPTHS) {
    const workload = `4 KiB random read, ${depth} in flight`;
    specs.push({ id: `rand.qd${depth}.tsuring-raw`, workload, impl: 'tsuring raw', unit: 'ops/s', run: reads('raw', depth) });
    specs.push({ id: `rand.qd${depth}.tsuring-promise`, workload, impl: 'tsuring Promise', unit: 'ops/s', run: reads('promise', depth) });
    specs.push({
      id: `rand.qd${depth}.liburing`, workload, impl: 'liburing (C)', unit: 'ops/s', needsC: true,
      run: (ctx) => cRun(ctx, ['rand', ctx.randFile, depth, ctx.timing.warmup, ctx.timing.seconds, ctx.setupFlags]),
    });
    specs.push({ id: `rand.qd${depth}.fs-promises`, workload, impl: 'fs.promises', unit: 'ops/s', run: reads('fsp', depth) });
  }
  specs.push({ id: 'rand.readsync', workload: '4 KiB random read, sync loop', impl: 'fs.readSync', unit: 'ops/s', run: reads('readsync', 1) });
  specs.push({
    id: 'rand.pread-c', workload: '4 KiB random read, sync loop', impl: 'pread (C)', unit: 'ops/s', needsC: true,
    run: (ctx) => cRun(ctx, ['pread', ctx.randFile, ctx.timing.warmup, ctx.timing.seconds]),
  });
  for (const depth of READ_DEPTHS) {
    comparisons.push({ ours: `rand.qd${depth}.tsuring-raw`, baseline: `rand.qd${depth}.liburing`, ...(depth === 32 ? { target: 0.75 } : {}) });
  }
  for (const depth of READ_DEPTHS) {
    comparisons.push({ ours: `rand.qd${depth}.tsuring-promise`, baseline: `rand.qd${depth}.fs-promises`, ...(depth === 128 ? { target: 8 } : {}) });
  }
  for (const depth of READ_DEPTHS) {
    comparisons.push({ ours: `rand.qd${depth}.tsuring-promise`, baseline: 'rand.readsync', ...(depth === 128 ? { target: 1 } : {}) });
  }
  comparisons.push({ ours: 'rand.qd128.tsuring-promise', baseline: 'rand.qd128.liburing' });

  // Sequential 1 MiB reads.
  const seq = (impl: string) => (ctx: Ctx) =>
    runSample(ctx.runner, 'reads', { file: ctx.seqFile, pattern: 'seq', impl, depth: SEQ_DEPTH, timing: ctx.timing }, timeoutMs(ctx.timing));
  const seqWorkload = `1 MiB sequential read, ${SEQ_DEPTH} in flight`;
  specs.push({ id: 'seq.tsuring-raw', workload: seqWorkload, impl: 'tsuring raw', unit: 'GiB/s', run: seq('raw') });
  specs.push({ id: 'seq.tsuring-promise', workload: seqWorkload, impl: 'tsuring Promise', unit: 'GiB/s', run: seq('promise') });
  specs.push({
    id: 'seq.liburing', workload: seqWorkload, impl: 'liburing (C)', unit: 'GiB/s', needsC: true,
    run: (ctx) => cRun(ctx, ['seq', ctx.seqFile, SEQ_DEPTH, ctx.timing.warmup, ctx.timing.seconds, ctx.setupFlags]),
  });
  specs.push({ id: 'seq.fs-promises', workload: seqWorkload, impl: 'fs.promises', unit: 'GiB/s', run: seq('fsp') });
  specs.push({ id: 'seq.readsync', workload: '1 MiB sequential read, sync loop', impl: 'fs.readSync', unit: 'GiB/s', run: seq('readsync') });
  comparisons.push({ ours: 'seq.tsuring-raw', baseline: 'seq.liburing' });
  comparisons.push({ ours: 'seq.tsuring-raw', baseline: 'seq.readsync' });
  comparisons.push({ ours: 'seq.tsuring-promise', baseline: 'seq.fs-promises' });
  comparisons.push({ ours: 'seq.tsuring-promise', baseline: 'seq.readsync' });

  // tsuring/fs against node:fs/promises (bench/workloads/node-fs.ts).
  const nodeFsRun = (impl: string, params: object) => (ctx: Ctx) =>
    runSample(ctx.runner, 'node-fs', { ...params, impl, file: ctx.randFile, timing: ctx.timing }, timeoutMs(ctx.timing));
  const NODE_FS_ROWS = [
    ['fsreadfile.4k', 'fs readFile, 4 KiB file, 16 in flight', { kind: 'readfile', size: 4096, depth: 16 }],
    ['fsreadfile.1m', 'fs readFile, 1 MiB file, 4 in flight', { kind: 'readfile', size: 1 << 20, depth: 4 }],
    ['rand.fshandle.qd128', 'FileHandle.read 4 KiB random, 128 in flight', { kind: 'rand', depth: 128 }],
  ] as const;
  for (const [id, workload, params] of NODE_FS_ROWS) {
    specs.push({ id: `${id}.tsuring-fs`, workload, impl: 'tsuring/fs', unit: 'ops/s', run: nodeFsRun('tsuring', params) });
    specs.push({ id: `${id}.node-fs`, workload, impl: 'node:fs/promises', unit: 'ops/s', run: nodeFsRun('node', params) });
    comparisons.push({ ours: `${id}.tsuring-fs`, baseline: `${id}.node-fs` });
  }
  // 10,000 timeouts in flight, 1 ms each, awaited back to back (moved here from a timed test).
  const timeoutsWorkload = '10,000 timeouts of 1 ms in flight';
  const timeouts = (impl: string) => (ctx: Ctx) => runSample(ctx.runner, 'timeouts', { impl, timing: ctx.timing }, timeoutMs(ctx.timing));
  specs.push({ id: 'timeouts.tsuring-promise', workload: timeoutsWorkload, impl: 'tsuring Promise', unit: 'ops/s', run: timeouts('promise') });
  specs.push({ id: 'timeouts.settimeout', workload: timeoutsWorkload, impl: 'setTimeout', unit: 'ops/s', run: timeouts('settimeout') });
  comparisons.push({ ours: 'timeouts.tsuring-promise', baseline: 'timeouts.settimeout' });

  // TCP echo.
  for (const size of TCP_SIZES) {
    const workload = `TCP echo, ${TCP_CONNECTIONS} connections, ${size === 4096 ? '4 KiB' : `${size} B`} messages`;
    const impls = { 'tsuring-tcp': 'tsuring TCP helper', tsuring: 'tsuring raw server', net: 'net server' } as const;
    for (const [impl, name] of Object.entries(impls) as [ServerImpl, string][]) {
      specs.push({ id: `tcp.${size}.${impl}`, workload, impl: name, unit: 'req/s', run: (ctx) => runEcho(ctx, impl, size) });
    }
    comparisons.push({ ours: `tcp.${size}.tsuring-tcp`, baseline: `tcp.${size}.net`, target: 1.5 });
    comparisons.push({ ours: `tcp.${size}.tsuring`, baseline: `tcp.${size}.net`, target: 1.5 });
  }
  return { specs, comparisons };
}

/**
 * One TCP echo measurement: starts the server process, waits for its port, runs the load
 * generator (another process), and reads the server's CPU time when the client's window
 * opens and closes.
 */
async function runEcho(ctx: Ctx, impl: ServerImpl, size: number): Promise<Sample> {
  const server = spawn(process.execPath, [...ctx.runner.nodeArgs, ctx.runner.worker, 'tcp-server', JSON.stringify({ impl })], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let serverErr = '';
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (serverErr += d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new RunError(`echo server (${impl}) did not start: ${serverErr.trim()}`)), ctx.serverStartMs ?? 20_000);
      server.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const skip = /^SKIP (.*)$/m.exec(out);
        if (skip) {
          clearTimeout(timer);
          reject(new SkipError(skip[1]!));
        }
        const m = /^PORT (\d+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new RunError(`echo server (${impl}) exited with ${code}: ${serverErr.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
    const cpuAt: { user: number; system: number }[] = [];
    const askCpu = (): Promise<void> =>
      new Promise((resolve) => {
        server.once('message', (m: unknown) => {
          cpuAt.push((m as { cpu: { user: number; system: number } }).cpu);
          resolve();
        });
        server.send({ cmd: 'cpu' });
      });
    const out = await runProcess(
      process.execPath,
      [...ctx.runner.nodeArgs, ctx.runner.worker, 'tcp-client', JSON.stringify({ port, connections: TCP_CONNECTIONS, size, timing: ctx.tcpTiming })],
      {
        timeoutMs: timeoutMs(ctx.tcpTiming),
        label: 'tcp-client',
        ipc: (client: ChildProcess) => {
          client.on('message', (m: unknown) => {
            void askCpu().then(() => client.send({ ack: (m as { phase: string }).phase }));
          });
        },
      },
    );
    const sample = parseResult<Sample>(out, 'tcp-client');
    if (cpuAt.length === 2) {
      const [a, b] = cpuAt as [{ user: number; system: number }, { user: number; system: number }];
      sample.info = { serverCpuUser: (b.user - a.user) / 1e6, serverCpuSys: (b.system - a.system) / 1e6 };
      if (sample.others !== undefined) sample.others = Math.max(0, sample.others - ((b.user - a.user + b.system - a.system) / 1e6) / sample.seconds);
    }
    return sample;
  } finally {
    server.kill('SIGTERM');
  }
}
