/**
 * What `npm run bench` measures: every measurement (ours and the baselines), the comparisons
 * between them, and the targets of DESIGN.md ("Performance targets", issue 14).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { Sample, Timing } from '../workloads/common.js';
import type { SqPollSettings } from '../workloads/nop.js';
import type { ServerImpl } from '../workloads/tcp-server.js';
import { RunError, runProcess, runSample, SkipError, workerCommand, type Runner } from './exec.js';

export { SkipError } from './exec.js';

export type Unit = 'ops/s' | 'GiB/s' | 'req/s' | 'B/op';

export interface Ctx {
  runner: Runner;
  /** The liburing baseline binary, or null (its rows are skipped). */
  cBinary: string | null;
  /** The network load generator (`bench/c/echo-load.c`), or null with the reason. */
  loadBinary: string | null;
  loadReason?: string;
  /** Setup flags the raw rings get on this kernel (the C baseline uses the same). */
  setupFlags: number;
  /** Setup flags of the raw SQPOLL ring (the C SQPOLL baseline uses the same). */
  sqPollFlags: number;
  /** SQPOLL settings of both sides. */
  sqPoll: SqPollSettings;
  /**
   * CPUs for the rows that separate two parties (server and load generator; SQPOLL app and
   * its SQ thread), or null when they cannot be pinned (one CPU, no taskset).
   */
  pin: { app: number; other: number } | null;
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
  /** The figure of a run (default: ops/s, or GiB/s from bytes). */
  value?: (s: Sample) => number;
  run(ctx: Ctx): Promise<Sample>;
}

/** A ratio the table reports: ours ÷ baseline (higher is better for us). */
export interface Comparison {
  ours: string;
  baseline: string;
  /** From DESIGN.md's targets; absent: reported for information. */
  target?: number;
}

/**
 * A target of DESIGN.md / issue 14: a ratio of medians (ours ÷ baseline ≥ atLeast), or a
 * measurement's own median (≤ atMost).
 */
export interface TargetDef {
  title: string;
  ours: string;
  baseline?: string;
  atLeast?: number;
  atMost?: number;
  /** Where issue 14 started (its "now" column). */
  before: string;
  /** The id of a measurement of the same work with no library (the floor), to show beside it. */
  floor?: string;
}

/** The targets, in the order of DESIGN.md's table. */
export const TARGETS: readonly TargetDef[] = [
  { title: 'NOP raw b32 / liburing', ours: 'nop.b32.tsuring', baseline: 'nop.b32.liburing', atLeast: 0.8, before: '0.55×', floor: 'nop.b32.floor' },
  { title: 'NOP raw b1 / liburing', ours: 'nop.b1.tsuring', baseline: 'nop.b1.liburing', atLeast: 0.6, before: '0.50×', floor: 'nop.b1.floor' },
  { title: '4 KiB reads, raw, qd 128 / liburing qd 128', ours: 'rand.qd128.tsuring-raw', baseline: 'rand.qd128.liburing', atLeast: 0.9, before: '0.83×', floor: 'rand.qd128.floor' },
  { title: '4 KiB reads, Promise API, 128 in flight / liburing qd 128', ours: 'rand.qd128.tsuring-promise', baseline: 'rand.qd128.liburing', atLeast: 0.85, before: '0.66×' },
  { title: '4 KiB reads, Promise API, 128 in flight / fs.readSync loop', ours: 'rand.qd128.tsuring-promise', baseline: 'rand.readsync', atLeast: 1.0, before: '0.76×' },
  { title: 'TCP echo, server-bound, raw server / net (req/s)', ours: 'tcp.64.tsuring', baseline: 'tcp.64.net', atLeast: 1.3, before: 'unmeasured' },
  { title: 'Promise API bytes allocated per read', ours: 'alloc.promise-read.qd128', atMost: 200, before: '~630 B', floor: 'alloc.promise-floor.qd128' },
];

/** The target of the ratio `ours ÷ baseline`, for the chart's ticks. */
function ratioTarget(ours: string, baseline: string): { target?: number } {
  const t = TARGETS.find((d) => d.ours === ours && d.baseline === baseline && d.atLeast !== undefined);
  return t === undefined ? {} : { target: t.atLeast! };
}

interface CJson {
  ops: number;
  seconds: number;
  bytes: number;
  user: number;
  sys: number;
  machine_busy: number;
  server_user?: number;
  server_sys?: number;
  cpu?: number;
}

/** Runs a C program that prints one JSON line (`bench/c/*.c`). */
async function cJson(binary: string, args: (string | number)[], prefix: string[] = []): Promise<CJson> {
  const all = [...prefix, binary, ...args.map(String)];
  const out = await runProcess(all[0]!, all.slice(1), { timeoutMs: 60_000, label: binary.split('/').pop()! });
  const line = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as CJson;
  } catch {
    throw new RunError(`${binary.split('/').pop()} printed ${JSON.stringify(line)}`);
  }
}

/** Runs the liburing baseline (`bench/c/uring-bench.c`). */
async function cRun(ctx: Ctx, args: (string | number)[], prefix: string[] = []): Promise<Sample> {
  if (ctx.cBinary === null) throw new SkipError('no C baseline');
  const r = await cJson(ctx.cBinary, args, prefix);
  const sample: Sample = { ops: r.ops, seconds: r.seconds, bytes: r.bytes, cpuUser: r.user, cpuSys: r.sys };
  if (r.machine_busy >= 0) sample.others = Math.max(0, (r.machine_busy - r.user - r.sys) / r.seconds);
  return sample;
}

/** `taskset -c CPU` when the bench pins, else nothing. */
export function pinTo(ctx: Ctx, which: 'app' | 'other'): string[] {
  return ctx.pin === null ? [] : ['taskset', '-c', String(ctx.pin[which])];
}

/** The SQ thread's CPU: the other one when pinning, else any (-1). */
function sqCpu(ctx: Ctx): number {
  return ctx.pin === null ? -1 : ctx.pin.other;
}

const timeoutMs = (t: Timing): number => 30_000 + (t.warmup + t.seconds) * 4000;

export const NOP_BATCHES = [1, 8, 32, 256] as const;
export const READ_DEPTHS = [1, 32, 128] as const;
export const SEQ_DEPTH = 4;
/** Network rows: connections, requests in flight per connection (pipelined), echo sizes. */
export const TCP_CONNECTIONS = 64;
export const TCP_DEPTH = 4;
export const TCP_SIZES = [64, 4096] as const;
/** Promise-API reads per allocation measurement (after as many to warm up). */
export const ALLOC_OPS = 100_000;

export function buildPlan(): { specs: Spec[]; comparisons: Comparison[] } {
  const specs: Spec[] = [];
  const comparisons: Comparison[] = [];
  const compare = (ours: string, baseline: string): void => {
    comparisons.push({ ours, baseline, ...ratioTarget(ours, baseline) });
  };

  // NOP submit+reap.
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
    compare(`nop.b${batch}.tsuring`, `nop.b${batch}.liburing`);
  }
  // The floor for any JS binding (bench/workloads/floor.ts): the same loop with the
  // library's bookkeeping taken out, SQEs written and CQEs read in place by hand.
  for (const batch of [1, 32]) {
    specs.push({
      id: `nop.b${batch}.floor`, workload: `NOP submit+reap, batch ${batch}`, impl: 'bare JS loop (floor)', unit: 'ops/s',
      run: (ctx) => runSample(ctx.runner, 'nop-floor', { batch, timing: ctx.timing }, timeoutMs(ctx.timing)),
    });
    compare(`nop.b${batch}.floor`, `nop.b${batch}.liburing`);
  }
  // The staging path (kernel-mapped ring memory, SQEs copied at submit), which kernels
  // without IORING_SETUP_NO_MMAP take: measured beside the in-place default.
  specs.push({
    id: 'nop.b32.tsuring-staged', workload: 'NOP submit+reap, batch 32', impl: 'tsuring raw, staged SQEs', unit: 'ops/s',
    run: (ctx) => runSample(ctx.runner, 'nop', { batch: 32, ringMemory: 'kernel', timing: ctx.timing }, timeoutMs(ctx.timing)),
  });
  compare('nop.b32.tsuring-staged', 'nop.b32.liburing');

  // SQPOLL: an SQ thread on the other CPU submits; both sides publish SQEs without a system
  // call and spin on the CQ (same sq_thread_idle).
  const sqWorkload = (what: string): string => `SQPOLL, ${what}`;
  specs.push({
    id: 'sqpoll.nop.b32.tsuring', workload: sqWorkload('NOP batch 32'), impl: 'tsuring raw', unit: 'ops/s',
    run: (ctx) =>
      runSample(ctx.runner, 'nop', { batch: 32, sqPoll: { ...ctx.sqPoll, sqCpu: sqCpu(ctx) }, timing: ctx.timing }, timeoutMs(ctx.timing), { prefix: pinTo(ctx, 'app') }),
  });
  specs.push({
    id: 'sqpoll.nop.b32.liburing', workload: sqWorkload('NOP batch 32'), impl: 'liburing (C)', unit: 'ops/s', needsC: true,
    run: (ctx) => cRun(ctx, ['nop', 32, ctx.timing.warmup, ctx.timing.seconds, ctx.sqPollFlags, ctx.sqPoll.idleMs, sqCpu(ctx)], pinTo(ctx, 'app')),
  });
  compare('sqpoll.nop.b32.tsuring', 'sqpoll.nop.b32.liburing');
  specs.push({
    id: 'sqpoll.rand.qd128.tsuring', workload: sqWorkload('4 KiB random read, 128 in flight'), impl: 'tsuring raw', unit: 'ops/s',
    run: (ctx) =>
      runSample(
        ctx.runner, 'reads',
        { file: ctx.randFile, pattern: 'rand', impl: 'raw', depth: 128, sqPoll: { ...ctx.sqPoll, sqCpu: sqCpu(ctx) }, timing: ctx.timing },
        timeoutMs(ctx.timing), { prefix: pinTo(ctx, 'app') },
      ),
  });
  specs.push({
    id: 'sqpoll.rand.qd128.liburing', workload: sqWorkload('4 KiB random read, 128 in flight'), impl: 'liburing (C)', unit: 'ops/s', needsC: true,
    run: (ctx) => cRun(ctx, ['rand', ctx.randFile, 128, ctx.timing.warmup, ctx.timing.seconds, ctx.sqPollFlags, ctx.sqPoll.idleMs, sqCpu(ctx)], pinTo(ctx, 'app')),
  });
  compare('sqpoll.rand.qd128.tsuring', 'sqpoll.rand.qd128.liburing');

  // 4 KiB random reads from the page cache.
  const reads = (impl: string, depth: number, extra: object = {}) => (ctx: Ctx) =>
    runSample(ctx.runner, 'reads', { file: ctx.randFile, pattern: 'rand', impl, depth, ...extra, timing: ctx.timing }, timeoutMs(ctx.timing));
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
  // The floor of the raw read loop (bench/workloads/floor.ts), for the qd 128 target.
  specs.push({ id: 'rand.qd128.floor', workload: '4 KiB random read, 128 in flight', impl: 'bare JS loop (floor)', unit: 'ops/s', run: reads('floor', 128) });
  compare('rand.qd128.floor', 'rand.qd128.liburing');
  const q128 = '4 KiB random read, 128 in flight';
  specs.push({ id: 'rand.qd128.tsuring-raw-staged', workload: q128, impl: 'tsuring raw, staged SQEs', unit: 'ops/s', run: reads('raw', 128, { ringMemory: 'kernel' }) });
  // Buffers and files the kernel already knows (issue 14 item 5).
  specs.push({ id: 'rand.qd128.tsuring-promise-fixedfile', workload: q128, impl: 'tsuring Promise, registered file', unit: 'ops/s', run: reads('promise-fixedfile', 128) });
  specs.push({ id: 'rand.qd128.tsuring-promise-readfixed', workload: q128, impl: 'tsuring Promise readFixed', unit: 'ops/s', run: reads('promise-readfixed', 128) });
  specs.push({ id: 'rand.readsync', workload: '4 KiB random read, sync loop', impl: 'fs.readSync', unit: 'ops/s', run: reads('readsync', 1) });
  specs.push({
    id: 'rand.pread-c', workload: '4 KiB random read, sync loop', impl: 'pread (C)', unit: 'ops/s', needsC: true,
    run: (ctx) => cRun(ctx, ['pread', ctx.randFile, ctx.timing.warmup, ctx.timing.seconds]),
  });
  for (const depth of READ_DEPTHS) compare(`rand.qd${depth}.tsuring-raw`, `rand.qd${depth}.liburing`);
  compare('rand.qd128.tsuring-raw-staged', 'rand.qd128.liburing');
  for (const depth of READ_DEPTHS) compare(`rand.qd${depth}.tsuring-promise`, `rand.qd${depth}.fs-promises`);
  for (const depth of READ_DEPTHS) compare(`rand.qd${depth}.tsuring-promise`, 'rand.readsync');
  compare('rand.qd128.tsuring-promise', 'rand.qd128.liburing');
  compare('rand.qd128.tsuring-promise-fixedfile', 'rand.qd128.liburing');
  compare('rand.qd128.tsuring-promise-readfixed', 'rand.qd128.liburing');

  // Heap allocated per Promise-API read (a figure with a ceiling, not a ratio).
  specs.push({
    id: 'alloc.promise-read.qd128', workload: 'Promise API heap per 4 KiB read, 128 in flight', impl: 'tsuring Promise', unit: 'B/op',
    value: (s) => Number(s.info?.bytesPerOp ?? NaN),
    run: (ctx) =>
      runSample(ctx.runner, 'alloc', { file: ctx.randFile, ops: ALLOC_OPS, depth: 128 }, 120_000, {
        // A young generation large enough that no GC runs in the window (checked, see cost.ts).
        nodeArgs: ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256'],
      }),
  });

  // Its floor: the same loop awaiting bare promises resolved in batches (no I/O, no library).
  specs.push({
    id: 'alloc.promise-floor.qd128', workload: 'Promise API heap per 4 KiB read, 128 in flight', impl: 'a promise and its await (floor)', unit: 'B/op',
    value: (s) => Number(s.info?.bytesPerOp ?? NaN),
    run: (ctx) =>
      runSample(ctx.runner, 'alloc-floor', { ops: ALLOC_OPS, depth: 128 }, 120_000, {
        nodeArgs: ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256'],
      }),
  });

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
  compare('seq.tsuring-raw', 'seq.liburing');
  compare('seq.tsuring-raw', 'seq.readsync');
  compare('seq.tsuring-promise', 'seq.fs-promises');
  compare('seq.tsuring-promise', 'seq.readsync');

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
    compare(`${id}.tsuring-fs`, `${id}.node-fs`);
  }
  // 10,000 timeouts in flight, 1 ms each, awaited back to back (moved here from a timed test).
  const timeoutsWorkload = '10,000 timeouts of 1 ms in flight';
  const timeouts = (impl: string) => (ctx: Ctx) => runSample(ctx.runner, 'timeouts', { impl, timing: ctx.timing }, timeoutMs(ctx.timing));
  specs.push({ id: 'timeouts.tsuring-promise', workload: timeoutsWorkload, impl: 'tsuring Promise', unit: 'ops/s', run: timeouts('promise') });
  specs.push({ id: 'timeouts.settimeout', workload: timeoutsWorkload, impl: 'setTimeout', unit: 'ops/s', run: timeouts('settimeout') });
  comparisons.push({ ours: 'timeouts.tsuring-promise', baseline: 'timeouts.settimeout' });

  // Network, server-bound: the server on one CPU, the C load generator on the other.
  const servers: [ServerImpl, string][] = [
    ['net', 'net server'],
    ['tsuring', 'tsuring raw server'],
    ['tsuring-tcp', 'tsuring TCP helper'],
    ['tsuring-net', 'tsuring/net server'],
  ];
  for (const size of TCP_SIZES) {
    const workload = `TCP echo, server-bound, ${TCP_CONNECTIONS} conns × ${TCP_DEPTH} pipelined, ${size === 4096 ? '4 KiB' : `${size} B`}`;
    for (const [impl, name] of servers) {
      specs.push({ id: `tcp.${size}.${impl}`, workload, impl: name, unit: 'req/s', run: (ctx) => runServerLoad(ctx, impl, ['echo', size]) });
    }
    for (const [impl] of servers.slice(1)) compare(`tcp.${size}.${impl}`, `tcp.${size}.net`);
  }
  const httpWorkload = `HTTP GET, server-bound, ${TCP_CONNECTIONS} conns × ${TCP_DEPTH} pipelined`;
  specs.push({ id: 'http.net', workload: httpWorkload, impl: 'node:http on net', unit: 'req/s', run: (ctx) => runServerLoad(ctx, 'http-net', ['http', '/']) });
  specs.push({ id: 'http.tsuring-net', workload: httpWorkload, impl: 'node:http on tsuring/net', unit: 'req/s', run: (ctx) => runServerLoad(ctx, 'http-tsuring-net', ['http', '/']) });
  compare('http.tsuring-net', 'http.net');
  return { specs, comparisons };
}

/**
 * One server-bound network measurement: starts the server (pinned to the app CPU), waits
 * for its port, runs the C load generator (pinned to the other CPU), which reads the
 * server's CPU time from /proc/PID/stat when its measured window opens and closes.
 */
async function runServerLoad(ctx: Ctx, impl: ServerImpl, load: ['echo', number] | ['http', string]): Promise<Sample> {
  if (ctx.loadBinary === null) throw new SkipError(ctx.loadReason ?? 'no load generator');
  const [command, args] = workerCommand(ctx.runner, 'server', { impl }, { prefix: pinTo(ctx, 'app') });
  const server = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let serverErr = '';
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (serverErr += d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new RunError(`server ${impl} did not start: ${serverErr.trim()}`)), ctx.serverStartMs ?? 20_000);
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
        reject(new RunError(`server ${impl} exited with ${code}: ${serverErr.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
    const t = ctx.tcpTiming;
    const clientCpu = ctx.pin === null ? -1 : ctx.pin.other;
    const r = await cJson(ctx.loadBinary, [load[0], port, TCP_CONNECTIONS, TCP_DEPTH, load[1], t.warmup, t.seconds, clientCpu, server.pid ?? 0]);
    const sample: Sample = { ops: r.ops, seconds: r.seconds, bytes: r.bytes, cpuUser: r.user, cpuSys: r.sys };
    const serverCpu = r.server_user !== undefined && r.server_user >= 0 ? r.server_user + r.server_sys! : null;
    if (r.machine_busy >= 0) sample.others = Math.max(0, (r.machine_busy - r.user - r.sys - (serverCpu ?? 0)) / r.seconds);
    sample.info = {
      serverCpuUser: serverCpu === null ? null : r.server_user,
      serverCpuSys: serverCpu === null ? null : r.server_sys,
      /** Cores the server used in the window: ~1 when it is the bottleneck. */
      serverCores: serverCpu === null ? null : serverCpu / r.seconds,
      clientCores: (r.user + r.sys) / r.seconds,
      pinned: ctx.pin !== null,
    };
    if (server.exitCode !== null) throw new RunError(`server ${impl} died during the run: ${serverErr.trim().split('\n').slice(-3).join(' | ')}`);
    return sample;
  } finally {
    server.kill('SIGTERM');
  }
}
