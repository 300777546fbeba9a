/**
 * Smoke test of `npm run bench`: every workload runs for a few milliseconds and must produce
 * sane output (ops counted, bytes matching the block size, reports well-formed). Nothing here
 * asserts a timing or a ratio: those are the bench's business, not the test suite's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import { makeRunner, parseResult, runWorker, type Runner } from '../../bench/lib/exec.js';
import { buildPlan, SkipError, type Ctx } from '../../bench/lib/plan.js';
import { buildC } from '../../bench/lib/prepare.js';
import { parsePerfReport } from '../../bench/lib/perf.js';
import { consoleReport, markdownTable, median, svgChart, type Results } from '../../bench/lib/report.js';
import { enterSplit } from '../../bench/workloads/cost.js';
import type { Timing } from '../../bench/workloads/common.js';
import { runNop } from '../../bench/workloads/nop.js';
import { BLOCK, runReads, type ReadImpl } from '../../bench/workloads/reads.js';
import { runTimeouts } from '../../bench/workloads/timeouts.js';

const repo = resolve(import.meta.dirname, '../..');
const tiny: Timing = { warmup: 0.005, seconds: 0.02 };
let dir = '';
let randFile = '';
let seqFile = '';
const runner: Runner = makeRunner('tsx', repo, '');

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
  });

  const impls: ReadImpl[] = ['raw', 'promise', 'fsp', 'readsync'];
  it.each(impls)('4 KiB random reads, %s', async (impl) => {
    const s = await runReads({ file: randFile, pattern: 'rand', impl, depth: 4 }, tiny);
    expectSample(s);
    expect(s.bytes).toBe(s.ops * BLOCK.rand);
  });

  it.each(impls)('1 MiB sequential reads, %s', async (impl) => {
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
  it('cost-split with the enter hook times io_uring_enter', async () => {
    const hook = join(repo, 'bench', 'workloads', 'enter-hook-register.ts');
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

  it('TCP echo: each server answers the load generator', async () => {
    const { specs } = buildPlan();
    const ctx: Ctx = { runner, cBinary: null, setupFlags: 0, randFile, seqFile, timing: tiny, tcpTiming: { warmup: 0.05, seconds: 0.1 }, serverStartMs: hangAfter(20_000) };
    for (const id of ['tcp.64.tsuring', 'tcp.64.tsuring-tcp', 'tcp.4096.net']) {
      const spec = specs.find((s) => s.id === id)!;
      try {
        const s = await spec.run(ctx);
        expectSample(s);
        expect(typeof s.info?.serverCpuUser).toBe('number');
      } catch (err) {
        if (!(err instanceof SkipError)) throw err;
        console.log(`${id} skipped: ${err.message}`);
      }
    }
  });

  it('the liburing baseline builds and runs, or says why not', async () => {
    const c = buildC(repo, join(dir, 'c'));
    if (!c.ok) {
      expect(c.reason).toMatch(/compiler|liburing|cc failed/);
      console.log(`liburing baseline unavailable here: ${c.reason}`);
      return;
    }
    const { specs } = buildPlan();
    const ctx: Ctx = { runner, cBinary: c.binary, setupFlags: 0, randFile, seqFile, timing: tiny, tcpTiming: tiny };
    for (const id of ['nop.b8.liburing', 'rand.qd32.liburing', 'seq.liburing', 'rand.pread-c']) {
      const s = await specs.find((x) => x.id === id)!.run(ctx);
      expectSample(s);
    }
  });
});

describe('bench reports', () => {
  const results: Results = {
    version: 1,
    date: '2025-01-01T00:00:00.000Z',
    machine: { cpu: 'Test CPU <x>', cores: 2, memoryGiB: 4, kernel: '6.0', node: 'v20', liburing: '2.3', loadavgStart: [0, 0, 0] },
    config: { rounds: 3, quick: true, only: null, runner: 'node', timing: tiny, tcpTiming: tiny, retries: 0, maxOthers: 0.25, setupFlags: 0, setupFlagNames: [] },
    measurements: [],
    comparisons: [
      { ours: 'a', baseline: 'b', label: 'x', workload: 'NOP, batch 32', oursImpl: 'tsuring raw', baselineImpl: 'liburing (C)', unit: 'ops/s', oursMedian: 5e6, baselineMedian: 1e7, ratio: 0.5, target: 0.8, met: false, shortfall: 0.375 },
      { ours: 'c', baseline: 'd', label: 'y', workload: 'reads', oursImpl: 'tsuring Promise', baselineImpl: 'fs.promises', unit: 'ops/s', oursMedian: 7e5, baselineMedian: 1e5, ratio: 7, target: 1, met: true },
      { ours: 'e', baseline: 'f', label: 'z', workload: 'seq', oursImpl: 'tsuring raw', baselineImpl: 'fs.readSync', unit: 'GiB/s', oursMedian: 9, baselineMedian: 6, ratio: 1.5 },
      { ours: 'g', baseline: 'h', label: 'w', workload: 'not run', oursImpl: 'tsuring raw', baselineImpl: 'liburing (C)', unit: 'ops/s', oursMedian: 1, baselineMedian: null, ratio: null, target: 0.6 },
    ],
    durationSeconds: 1,
  };

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
