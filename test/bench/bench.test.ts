/**
 * Smoke test of `npm run bench`: every workload runs for a few milliseconds and must produce
 * sane output (ops counted, bytes matching the block size, reports well-formed), the C
 * programs build and run, and the README generator is a pure function of the results.
 * Nothing here asserts a timing or a ratio: those are the bench's business, not the test
 * suite's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import { IORING_SETUP_SQPOLL } from '../../generated/constants.js';
import { IoUring } from '../../src/index.js';
import { makeRunner, parseResult, runProcess, runWorker, RunError, type Runner } from '../../bench/lib/exec.js';
import { buildPlan, SkipError, TARGETS, type Ctx } from '../../bench/lib/plan.js';
import { buildC, buildLoadGenerator, describeMissingTools, detectTools, type Tools } from '../../bench/lib/prepare.js';
import { parsePerfReport } from '../../bench/lib/perf.js';
import { MARKERS, performanceSection, rewriteReadme, summarySection, unfitReason } from '../../bench/lib/readme.js';
import { boundBy, consoleReport, markdownTable, median, networkMarkdown, svgChart, targetRows, targetsMarkdown, type MeasurementResult, type Results } from '../../bench/lib/report.js';
import { countEnters, parsePerfStat, parseStraceSummary, syscallCounter } from '../../bench/lib/syscalls.js';
import { enterSplit } from '../../bench/workloads/cost.js';
import type { Sample, Timing } from '../../bench/workloads/common.js';
import { runNop } from '../../bench/workloads/nop.js';
import { runNopFloor } from '../../bench/workloads/floor.js';
import { BLOCK, runReads, type ReadImpl } from '../../bench/workloads/reads.js';
import { runTimeouts } from '../../bench/workloads/timeouts.js';

const repo = resolve(import.meta.dirname, '../..');
const tiny: Timing = { warmup: 0.005, seconds: 0.02 };
const netTiming: Timing = { warmup: 0.2, seconds: 0.3 };
let dir = '';
let randFile = '';
let seqFile = '';
const runner: Runner = makeRunner('tsx', repo, '');
const tools: Tools = detectTools();

/** Whether this kernel and process may set up an SQPOLL ring (containers may forbid it). */
function sqPollWhy(): string | null {
  try {
    new IoUring({ entries: 8, sqPoll: { idleMs: 10 } }).close();
    return null;
  } catch (err) {
    return `SQPOLL rings cannot be set up here: ${(err as Error).message}`;
  }
}
const noSqPoll = sqPollWhy();

function ctxOf(extra: Partial<Ctx> = {}): Ctx {
  return {
    runner, cBinary: null, loadBinary: null, setupFlags: 0, sqPollFlags: 0, sqPoll: { idleMs: 50, sqCpu: -1 }, pin: null,
    randFile, seqFile, timing: tiny, tcpTiming: netTiming, serverStartMs: hangAfter(20_000), ...extra,
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsuring-bench-test-'));
  randFile = join(dir, 'rand.dat');
  seqFile = join(dir, 'seq.dat');
  writeFileSync(randFile, Buffer.alloc(1 << 20, 7));
  writeFileSync(seqFile, Buffer.alloc(4 << 20, 9));
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function expectSample(s: { ops: number; seconds: number; bytes: number; cpuUser: number; cpuSys: number }): void {
  expect(s.ops).toBeGreaterThan(0);
  expect(s.seconds).toBeGreaterThan(0);
  expect(Number.isFinite(s.cpuUser + s.cpuSys)).toBe(true);
}

describe('bench workloads (tiny runs)', () => {
  it.each([1, 8, 32, 256])('NOP loop, batch %i: whole batches, reaped', (batch) => {
    const s = runNop({ batch }, tiny);
    expectSample(s);
    expect(s.ops % batch).toBe(0);
    expect(typeof s.info?.setupFlags).toBe('number');
    expect(typeof s.info?.sqeInPlace).toBe('boolean');
  });

  it.each([1, 32])('floor NOP loop (no library bookkeeping), batch %i: every NOP completes, the ring is torn down', (batch) => {
    const fds = readdirSync('/proc/self/fd').length;
    const s = runNopFloor({ batch }, tiny);
    expectSample(s);
    expect(s.ops % batch).toBe(0);
    expect(typeof s.info?.setupFlags).toBe('number');
    expect(readdirSync('/proc/self/fd').length).toBe(fds);
  });

  it('NOP loop on kernel-mapped ring memory stages its SQEs (the path older kernels take)', () => {
    const s = runNop({ batch: 32, ringMemory: 'kernel' }, tiny);
    expectSample(s);
    expect(s.info?.sqeInPlace).toBe(false);
    expect(String(s.info?.mapping)).toMatch(/^kernel-/);
  });

  it.skipIf(noSqPoll !== null)(`NOP loop on an SQPOLL ring spins on the CQ ${noSqPoll ?? ''}`, () => {
    const s = runNop({ batch: 32, sqPoll: { idleMs: 50, sqCpu: -1 } }, tiny);
    expectSample(s);
    expect(s.ops % 32).toBe(0);
    expect(Number(s.info?.setupFlags) & IORING_SETUP_SQPOLL).toBe(IORING_SETUP_SQPOLL);
  });

  const impls: ReadImpl[] = ['raw', 'floor', 'promise', 'promise-fixedfile', 'promise-readfixed', 'fsp', 'readsync'];
  it.each(impls)('4 KiB random reads, %s', async (impl) => {
    const s = await runReads({ file: randFile, pattern: 'rand', impl, depth: 4 }, tiny);
    expectSample(s);
    expect(s.bytes).toBe(s.ops * BLOCK.rand);
  });


  it.skipIf(noSqPoll !== null)(`4 KiB random reads, 128 in flight, on an SQPOLL ring never run out of SQEs ${noSqPoll ?? ''}`, async () => {
    const s = await runReads({ file: randFile, pattern: 'rand', impl: 'raw', depth: 128, sqPoll: { idleMs: 50, sqCpu: -1 } }, tiny);
    expectSample(s);
    expect(s.bytes).toBe(s.ops * BLOCK.rand);
  });

  it.each(['raw', 'promise', 'fsp', 'readsync'] as ReadImpl[])('1 MiB sequential reads, %s', async (impl) => {
    const s = await runReads({ file: seqFile, pattern: 'seq', impl, depth: 2 }, tiny);
    expectSample(s);
    expect(s.bytes).toBe(s.ops * BLOCK.seq);
  });

  it.each(['promise', 'settimeout'] as const)('10,000 timeouts in flight, %s: completions counted', async (impl) => {
    const s = await runTimeouts({ impl }, { warmup: 0.05, seconds: 0.1 });
    expectSample(s);
  });

  it('the JS / io_uring_enter split without its hook still reports every loop', () => {
    const { rows, hooked } = enterSplit({ file: randFile, ops: 4096 });
    expect(hooked).toBe(false);
    expect(rows.map((r) => r.name)).toEqual(['raw NOP, batch 32', 'raw NOP, batch 1', 'raw 4 KiB random read, qd 32']);
    for (const r of rows) expect(r.ops).toBeGreaterThanOrEqual(4096);
  });
});

describe('bench workers (child processes)', () => {
  const hook = join(repo, 'bench', 'workloads', 'enter-hook-register.ts');

  it('cost-split with the enter hook times io_uring_enter', async () => {
    const out = parseResult<{ hooked: boolean; rows: { enterNsPerOp: number; enterCallsPerOp: number }[] }>(
      await runWorker(runner, 'cost-split', { file: randFile, ops: 8192 }, { timeoutMs: hangAfter(60_000), nodeArgs: ['--import', hook] }),
      'cost-split',
    );
    expect(out.hooked).toBe(true);
    expect(out.rows[0]!.enterCallsPerOp).toBeCloseTo(1 / 32, 5);
    expect(out.rows[1]!.enterCallsPerOp).toBeCloseTo(1, 5);
    for (const r of out.rows) expect(r.enterNsPerOp).toBeGreaterThan(0);
  });

  it('cost-rss and cost-alloc report finite figures', async () => {
    const rss = parseResult<{ ops: number; rssGrowthMiB: number }>(
      await runWorker(runner, 'cost-rss', { ops: 20_000 }, { timeoutMs: hangAfter(60_000), nodeArgs: ['--expose-gc'] }),
      'cost-rss',
    );
    expect(rss.ops).toBeGreaterThanOrEqual(20_000);
    expect(Number.isFinite(rss.rssGrowthMiB)).toBe(true);
    const alloc = parseResult<{ name: string; bytesPerOp: number; ops: number }[]>(
      await runWorker(runner, 'cost-alloc', { file: randFile, ops: 5000 }, { timeoutMs: hangAfter(60_000), nodeArgs: ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'] }),
      'cost-alloc',
    );
    expect(alloc).toHaveLength(4);
    for (const r of alloc) {
      expect(r.ops).toBeGreaterThan(0);
      expect(Number.isFinite(r.bytesPerOp)).toBe(true);
    }
  });

  it('the per-round allocation row measures at least a promise per Promise-API read', async () => {
    const spec = buildPlan().specs.find((s) => s.id === 'alloc.promise-read.qd128')!;
    const s = await runWorkerSpec(spec.id, ctxOf());
    // A promise is at least 16 bytes of heap: a figure below that would mean no measurement.
    expect(spec.value!(s)).toBeGreaterThan(16);
    expect(s.info?.gcsInWindow).toBe(0);
  });

  it('the allocation floor row (a promise and its await, no I/O) measures at least a promise per op', async () => {
    const floor = await runWorkerSpec('alloc.promise-floor.qd128', ctxOf());
    const spec = buildPlan().specs.find((s) => s.id === 'alloc.promise-floor.qd128')!;
    expect(spec.value!(floor)).toBeGreaterThan(16);
    expect(floor.info?.gcsInWindow).toBe(0);
  });

  it.skipIf(noSqPoll !== null)(`SQPOLL: the library enters the kernel only to wake a sleeping SQ thread ${noSqPoll ?? ''}`, async () => {
    const out = parseResult<{ ops: number; enterCalls: number | null; wakeups: number | null; setupFlags: number }>(
      await runWorker(runner, 'sqpoll-enters', { batch: 32, ops: 20_000, idleMs: 50, sqCpu: -1 }, { timeoutMs: 60_000, nodeArgs: ['--import', hook] }),
      'sqpoll-enters',
    );
    expect(out.ops).toBeGreaterThanOrEqual(20_000);
    expect(out.setupFlags & IORING_SETUP_SQPOLL).toBe(IORING_SETUP_SQPOLL);
    expect(out.enterCalls).not.toBeNull();
    // Without SQPOLL this loop makes one call per batch (625 here).
    expect(out.enterCalls! - out.wakeups!).toBe(0);
  });

  it('a worker that cannot measure says SKIP, and the bench turns that into a skip', async () => {
    // tsuring/net forced onto node:net: its server worker has nothing to compare, says so, exits.
    const out = await runWorker(runner, 'server', { impl: 'tsuring-net' }, { timeoutMs: hangAfter(60_000), prefix: ['env', 'TSURING_NET_BACKEND=node'] });
    expect(() => parseResult(out, 'server')).toThrow(SkipError);
    expect(() => parseResult(out, 'server')).toThrow(/tsuring\/net runs on node:net here \(TSURING_NET_BACKEND=node\)/);
  });
});

async function runWorkerSpec(id: string, ctx: Ctx): Promise<Sample> {
  return buildPlan().specs.find((s) => s.id === id)!.run(ctx);
}

describe('network rows: the C load generator against each server', () => {
  const load = buildLoadGenerator(repo, join(tmpdir(), `tsuring-bench-test-c-${process.pid}`));
  const loadWhy = load.ok ? null : load.reason;
  const ctx = (): Ctx => ctxOf({ loadBinary: load.ok ? load.binary : null });

  it.skipIf(loadWhy !== null)(`echo-load refuses bad arguments with its usage ${loadWhy ?? ''}`, async () => {
    const r = spawnSync((load as { binary: string }).binary, ['echo', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: echo-load echo PORT/);
    await expect(runProcess((load as { binary: string }).binary, ['echo', '1', '1', '1', '64', '0', '0.01', '-1', '0'], { timeoutMs: 10_000 })).rejects.toThrow(RunError);
  });

  it.skipIf(loadWhy !== null)(`echo and HTTP servers answer it, and the server's CPU is read from /proc ${loadWhy ?? ''}`, async () => {
    for (const id of ['tcp.64.net', 'tcp.64.tsuring', 'tcp.64.tsuring-tcp', 'tcp.4096.tsuring', 'http.net']) {
      try {
        const s = await runWorkerSpec(id, ctx());
        expectSample(s);
        if (id.startsWith('tcp.')) expect(s.bytes).toBeGreaterThanOrEqual(s.ops * Number(id.split('.')[1]));
        expect(typeof s.info?.serverCores).toBe('number');
        expect(s.info?.serverCores as number).toBeGreaterThan(0);
        expect(s.info?.pinned).toBe(false);
      } catch (err) {
        // The raw server and the TCP helper need IORING_OP_SOCKET/BIND/LISTEN (Linux 6.11).
        if (!(err instanceof SkipError) || !/6\.11/.test(err.message)) throw err;
        console.log(`${id} skipped: ${err.message}`);
      }
    }
  });

  it.skipIf(loadWhy !== null)(`the tsuring/net rows run, or skip where tsuring/net falls back to node:net ${loadWhy ?? ''}`, async () => {
    for (const id of ['tcp.64.tsuring-net', 'http.tsuring-net']) {
      try {
        expectSample(await runWorkerSpec(id, ctx()));
      } catch (err) {
        expect(err).toBeInstanceOf(SkipError);
        expect((err as Error).message).toMatch(/tsuring\/net/);
      }
    }
  });

  it.skipIf(loadWhy !== null || !tools.taskset)(`pinned: server and load generator run under taskset on their CPUs ${loadWhy ?? (tools.taskset ? '' : '(no taskset)')}`, async () => {
    const s = await runWorkerSpec('tcp.64.net', ctxOf({ loadBinary: (load as { binary: string }).binary, pin: { app: 0, other: 0 } }));
    expect(s.info?.pinned).toBe(true);
    expect(typeof s.info?.serverCores).toBe('number');
  });
});

describe('the liburing baseline', () => {
  const c = buildC(repo, join(tmpdir(), `tsuring-bench-test-c-${process.pid}`));
  const why = c.ok ? null : c.reason;

  it('builds, or says why not and how to install what is missing', () => {
    if (c.ok) expect(existsSync(c.binary)).toBe(true);
    else expect(c.reason).toMatch(/install-deps\.sh|cc failed/);
  });

  it.skipIf(why !== null)(`every C workload runs ${why ?? ''}`, async () => {
    const ring = new IoUring({ entries: 8 });
    const setupFlags = ring.params.setupFlags; // NO_MMAP included where granted: the baseline drops it
    ring.close();
    const { specs } = buildPlan();
    const ctx = ctxOf({ cBinary: (c as { binary: string }).binary, setupFlags });
    for (const id of ['nop.b8.liburing', 'rand.qd32.liburing', 'seq.liburing', 'rand.pread-c']) {
      expectSample(await specs.find((x) => x.id === id)!.run(ctx));
    }
  });

  it.skipIf(why !== null || noSqPoll !== null)(`the SQPOLL baselines run on the flags tsuring's SQPOLL ring got ${why ?? noSqPoll ?? ''}`, async () => {
    const ring = new IoUring({ entries: 8, sqPoll: { idleMs: 50 } });
    const sqPollFlags = ring.params.setupFlags;
    ring.close();
    const { specs } = buildPlan();
    const ctx = ctxOf({ cBinary: (c as { binary: string }).binary, sqPollFlags });
    for (const id of ['sqpoll.nop.b32.liburing', 'sqpoll.rand.qd128.liburing']) expectSample(await specs.find((x) => x.id === id)!.run(ctx));
  });

  const counter = syscallCounter(tools);
  it.skipIf(why !== null || counter === null)(`the syscall counter sees liburing's io_uring_enter calls ${why ?? (counter === null ? '(neither perf nor strace)' : `(${counter})`)}`, async () => {
    // Batch 1 without SQPOLL: one io_uring_enter per NOP.
    const { stdout, enters } = await countEnters(counter!, (c as { binary: string }).binary, ['nop', '1', '0', '0.01', '0'], 60_000);
    const { ops } = JSON.parse(stdout.trim().split('\n').pop()!) as { ops: number };
    expect(ops).toBeGreaterThan(0);
    expect(enters).toBeGreaterThanOrEqual(ops);
  });
});

describe('bench tools and parsers', () => {
  it('syscall counts are read from perf stat and strace output', () => {
    expect(parsePerfStat('# started on x\n\n12345,,syscalls:sys_enter_io_uring_enter,433151931,100.00,,\n')).toBe(12345);
    expect(parsePerfStat('<not supported>,,syscalls:sys_enter_io_uring_enter,0,100.00,,\n')).toBeNull();
    const strace = [
      '% time     seconds  usecs/call     calls    errors syscall',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    0.054226           5      9856           io_uring_enter',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    0.054226           5      9856           total',
    ].join('\n');
    expect(parseStraceSummary(strace)).toBe(9856);
    expect(parseStraceSummary(strace.replace(/.*io_uring_enter\n/, ''))).toBe(0);
    expect(parseStraceSummary('strace: exec failed')).toBeNull();
  });

  it('missing tools are reported with what they cost and how to install them', () => {
    const none: Tools = { taskset: false, perfSyscalls: false, strace: false, perfRecord: false, perfHardware: false };
    const lines = describeMissingTools(none, 1);
    expect(lines.join('\n')).toMatch(/taskset/);
    expect(lines.join('\n')).toMatch(/one CPU/);
    expect(lines.join('\n')).toMatch(/install-deps\.sh/);
    expect(describeMissingTools({ taskset: true, perfSyscalls: true, strace: true, perfRecord: true, perfHardware: true }, 2)).toEqual([]);
  });

  it('perf reports are summarised by symbol and by where the code lives', () => {
    const text = [
      '# Overhead  Shared Object  Symbol',
      '    15.35%  [JIT] tid 10370       [.] JS:*#flush file:///x/bench/results/tmp/js/src/ring/ring.js:416:11      -      -',
      '    14.30%  [kernel.kallsyms]     [k] io_submit_sqes',
      '     0.45%  node                  [.] napi_get_value_int64',
      '     0.13%  koffi.node            [.] 0x00000000000ab548',
      '     0.62%  libc.so.6             [.] syscall',
    ].join('\n');
    const { byPlace, top } = parsePerfReport(text, 3);
    expect(byPlace).toEqual({ 'JS (JIT)': 15.4, kernel: 14.3, 'V8/Node': 0.5, koffi: 0.1, libc: 0.6 });
    expect(top[0]).toEqual({ name: '#flush', where: 'src/ring/ring.ts', place: 'JS (JIT)', percent: 15.35 });
    expect(top.map((t) => t.name)).toEqual(['#flush', 'io_submit_sqes', 'syscall']);
  });
});

function measurement(id: string, unit: MeasurementResult['unit'], value: number | null, extra: Partial<MeasurementResult> = {}): MeasurementResult {
  return {
    id, workload: id, impl: id.split('.').pop()!, unit, samples: value === null ? [] : [value], median: value, min: value, max: value,
    cpuNsPerOp: null, others: 0.01, errors: [], runs: [], ...extra,
  };
}

describe('bench reports', () => {
  const results: Results = {
    version: 2,
    date: '2025-01-01T00:00:00.000Z',
    machine: { cpu: 'Test CPU <x>', cores: 2, memoryGiB: 4, kernel: '6.0', node: 'v20', liburing: '2.3', loadavgStart: [0.2, 0, 0], loadavgEnd: [1.1, 0, 0] },
    config: { rounds: 5, quick: false, only: null, runner: 'node', timing: tiny, tcpTiming: tiny, retries: 0, maxOthers: 0.25, setupFlags: 0, setupFlagNames: ['IORING_SETUP_SINGLE_ISSUER'], pin: { app: 0, other: 1 }, profiler: 'cpu-prof' },
    measurements: [
      measurement('nop.b32.tsuring', 'ops/s', 9e6),
      measurement('nop.b32.liburing', 'ops/s', 1e7),
      measurement('nop.b1.tsuring', 'ops/s', 1e6),
      measurement('nop.b1.liburing', 'ops/s', 2e6),
      measurement('nop.b1.floor', 'ops/s', 1.4e6),
      measurement('rand.qd128.liburing', 'ops/s', null, { skipped: 'liburing is not installed' }),
      measurement('rand.qd128.tsuring-promise', 'ops/s', 8e5),
      measurement('alloc.promise-read.qd128', 'B/op', 150),
      measurement('alloc.promise-floor.qd128', 'B/op', 120),
      measurement('tcp.64.tsuring', 'req/s', 2e5, { serverCores: 0.99, clientCores: 0.4, serverUserUsPerReq: 2, serverSysUsPerReq: 3 }),
      measurement('tcp.64.net', 'req/s', 1e5, { serverCores: 1, clientCores: 0.3, serverUserUsPerReq: 5, serverSysUsPerReq: 4 }),
    ],
    comparisons: [
      { ours: 'a', baseline: 'b', label: 'x', workload: 'NOP, batch 32', oursImpl: 'tsuring raw', baselineImpl: 'liburing (C)', unit: 'ops/s', oursMedian: 5e6, baselineMedian: 1e7, ratio: 0.5, target: 0.8, met: false, shortfall: 0.375 },
      { ours: 'c', baseline: 'd', label: 'y', workload: 'reads', oursImpl: 'tsuring Promise', baselineImpl: 'fs.promises', unit: 'ops/s', oursMedian: 7e5, baselineMedian: 1e5, ratio: 7, target: 1, met: true },
      { ours: 'e', baseline: 'f', label: 'z', workload: 'seq', oursImpl: 'tsuring raw', baselineImpl: 'fs.readSync', unit: 'GiB/s', oursMedian: 9, baselineMedian: 6, ratio: 1.5 },
      { ours: 'g', baseline: 'h', label: 'w', workload: 'not run', oursImpl: 'tsuring raw', baselineImpl: 'liburing (C)', unit: 'ops/s', oursMedian: 1, baselineMedian: null, ratio: null, target: 0.6 },
    ],
    sqpoll: { batch: 32, idleMs: 100, sqCpu: 1, appCpu: 0, counter: 'perf', tsuring: { ops: 100_000, enterCalls: 1, wakeups: 1, processEnters: 3 }, liburing: { ops: 8192, processEnters: 2 }, verdict: 'met' },
    profiles: { 'profile.nop-b32': { file: 'x', top: [{ name: 'ioUringEnter', where: 'src/sys/libc.ts', selfPercent: 93.5 }], perf: { unavailable: 'perf is not installed' } } },
    durationSeconds: 1,
  };
  results.targets = targetRows(results, TARGETS);

  it('median', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('the SVG chart has a bar per measured ratio, a tick per target, and escaped text', () => {
    const svg = svgChart(results);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Test CPU &lt;x&gt;');
    expect(svg.match(/<title>/g)).toHaveLength(3); // one per bar (the unmeasured row has none)
    expect(svg).toContain('0.50×');
    expect(svg).toContain('#c62828'); // missed
    expect(svg).toContain('#2e7d32'); // met
  });

  it('the tables say which targets were met and by how much one was missed', () => {
    const text = consoleReport(results);
    expect(text).toContain('MISSED by 38 %');
    expect(text).toContain('met');
    expect(text).toContain('not measured');
    const md = markdownTable(results);
    expect(md.split('\n')).toHaveLength(2 + results.comparisons.length);
    expect(md).toContain('❌ missed by 38 %');
    expect(md).toContain('✅ met');
  });

  it('every target of DESIGN.md gets a row: met, missed, or not measured with the reason', () => {
    const rows = results.targets!;
    expect(rows.map((r) => r.title)).toEqual(TARGETS.map((t) => t.title));
    const by = (title: RegExp) => rows.find((r) => title.test(r.title))!;
    expect(by(/NOP raw b32/)).toMatchObject({ value: 0.9, met: true, op: '≥' });
    expect(by(/NOP raw b1/)).toMatchObject({ value: 0.5, met: false, floor: 0.7 });
    expect(by(/NOP raw b32/).floor).toBeUndefined(); // its floor row is not in these results
    expect(by(/raw, qd 128/)).toMatchObject({ value: null, met: null, note: 'not in this run' });
    expect(by(/Promise API, 128 in flight \/ liburing/)).toMatchObject({ value: null, met: null, note: 'liburing is not installed' });
    expect(by(/TCP echo/)).toMatchObject({ value: 2, met: true });
    expect(by(/bytes allocated/)).toMatchObject({ kind: 'value', value: 150, op: '≤', target: 200, met: true });
    const md = targetsMarkdown(results);
    expect(md.split('\n')).toHaveLength(2 + TARGETS.length);
    expect(md).toContain('| Promise API bytes allocated per read | ~630 B | **150 B/op** | ≤ 200 B/op | 120 B/op | ✅ met |');
    expect(md).toContain('| NOP raw b1 / liburing | 0.50× | **0.50×** | ≥ 0.60× | 0.70× | ❌ missed |');
    expect(md).toContain('❌ missed');
    expect(md).toContain('– not measured (liburing is not installed)');
  });

  it('version-1 results (a Node load generator) never answer the server-bound target', () => {
    const old = targetRows({ ...results, version: 1 }, TARGETS).find((r) => /TCP echo/.test(r.title))!;
    expect(old).toMatchObject({ value: null, met: null });
    expect(old.note).toMatch(/predates/);
  });

  it("the network table gives the server's CPU per request and how busy each side was", () => {
    const md = networkMarkdown(results);
    expect(md).toContain('| tcp.64.tsuring | tsuring | 200k req/s | 2.00 | 3.00 | 0.99 | 0.40 | ✅ server |');
    expect(boundBy({ serverCores: 0.5, clientCores: 0.95 })).toMatch(/load generator/);
    expect(boundBy({ serverCores: 0.5, clientCores: 0.5 })).toMatch(/neither/);
    expect(networkMarkdown({ ...results, measurements: [] })).toMatch(/No server-bound network rows/);
  });
});

describe('the README generator', () => {
  const latest = JSON.parse(readFileSync(join(repo, 'bench', 'results', 'latest.json'), 'utf8')) as Results;
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');

  it('is a pure function of the results: same input, same text, and a second pass changes nothing', () => {
    const once = rewriteReadme(readme, latest);
    expect(rewriteReadme(readme, JSON.parse(JSON.stringify(latest)) as Results)).toBe(once);
    expect(rewriteReadme(once, latest)).toBe(once);
    // In a fresh process too (no state, locale or clock leaks in).
    const script = `import { rewriteReadme } from './bench/lib/readme.ts'; import { readFileSync } from 'node:fs';
      process.stdout.write(rewriteReadme(readFileSync('README.md', 'utf8'), JSON.parse(readFileSync('bench/results/latest.json', 'utf8'))));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8', env: { ...process.env, TZ: 'Pacific/Chatham', LANG: 'de_DE.UTF-8' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(once);
  });

  it('the committed README is what the committed results give (npm run bench:readme was run)', () => {
    expect(rewriteReadme(readme, latest)).toBe(readme);
  });

  it('touches only the text between its markers, and refuses a README without them', () => {
    const text = `# x\nbefore\n${MARKERS.summary[0]}\nold\n${MARKERS.summary[1]}\nmiddle\n${MARKERS.section[0]}\nold\n${MARKERS.section[1]}\nafter\n`;
    const out = rewriteReadme(text, latest);
    expect(out.startsWith('# x\nbefore\n<!-- bench:summary:begin -->\n')).toBe(true);
    expect(out).toContain('\n<!-- bench:summary:end -->\nmiddle\n<!-- bench:begin -->\n');
    expect(out.endsWith('\n<!-- bench:end -->\nafter\n')).toBe(true);
    expect(out).not.toContain('\nold\n');
    expect(() => rewriteReadme('# no markers\n', latest)).toThrow(/bench:summary:begin/);
    expect(() => rewriteReadme(text + text, latest)).toThrow(/twice/);
  });

  it('the section shows every target, the network and SQPOLL figures and the NOP b32 profile', () => {
    const v2: Results = { ...latest, version: 2, config: { ...latest.config, profiler: 'cpu-prof' }, sqpoll: { batch: 32, idleMs: 100, sqCpu: 1, appCpu: 0, counter: 'strace', tsuring: { ops: 2e6, enterCalls: 0, wakeups: 0, processEnters: 2 }, verdict: 'met' } };
    const text = performanceSection(v2);
    for (const t of TARGETS) expect(text).toContain(`| ${t.title} | ${t.before} |`);
    expect(text).toContain('**SQPOLL**');
    expect(text).toContain('tsuring made 0 `io_uring_enter` calls in 2,000,000 NOPs');
    expect(text).toContain('Where the time goes: NOP batch 32');
    expect(text).toMatch(/\| self % \| function \| where \|\n\|---:\|---\|---\|\n\| \d+\.\d \| `/);
    expect(summarySection(v2)).toMatch(/of 7 performance targets met/);
  });

  it('a smoke run or a disturbed run says it is no measurement', () => {
    expect(unfitReason(latest)).toBeNull();
    const quick: Results = { ...latest, config: { ...latest.config, quick: true, rounds: 1 } };
    expect(unfitReason(quick)).toMatch(/--quick/);
    expect(performanceSection(quick)).toMatch(/^> \*\*Not a measurement:\*\*/);
    const loaded: Results = { ...latest, measurements: latest.measurements.map((m) => ({ ...m, others: 1.4 })) };
    expect(unfitReason(loaded)).toMatch(/median 1\.40 cores/);
  });
});
