/**
 * What the library itself costs, measured in dedicated workers:
 *
 * - `enter-split`: NOP (and 4 KiB read) loops with a stopwatch around every
 *   `io_uring_enter` (the worker runs with `enter-hook-register.js`, which swaps the
 *   syscall module for `timed-libc.js`). JS ns/op = (total time − time inside enter) / ops:
 *   our ring's JS, the builders and the loop itself; koffi's call overhead and the kernel
 *   are inside enter. Also the process's user/system CPU split per op.
 * - `rss`: RSS and heap after 10 million NOPs (batch 32) against after a 1-million-op warm-up,
 *   both after a full GC: growth means a leak.
 * - `alloc`: bytes allocated on the V8 heap per op. The young generation is made large
 *   (`--min/max-semi-space-size`) so no GC runs in the window (checked with a `gc`
 *   PerformanceObserver, retried with fewer ops if one did); then the growth of
 *   `used_heap_size` over N ops is what they allocated. The smallest heap object is 16
 *   bytes, so one allocation per op would show as at least 16 B/op; what remains below
 *   1 B/op is a fixed amount per window (compiled code, feedback), not per op.
 * - `sqpoll-enters`: a NOP loop on an SQPOLL ring (submit, then spin on the CQ) with the
 *   enter hook: how many `io_uring_enter` calls the library made after the warm-up, and
 *   how many of those woke a sleeping SQ thread (the only reason SQPOLL needs one).
 *
 * @module
 */
import { closeSync, openSync, fstatSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import type { IoUring } from '../../src/index.js';
import { benchRing, nopStep, type SqPollSettings } from './nop.js';
import { offsets, rawReadStep } from './reads.js';

/** Runs `step` until at least `ops` ops are done; returns how many. */
export function runOps(step: () => number, ops: number): number {
  let done = 0;
  while (done < ops) done += step();
  return done;
}

interface Loop {
  name: string;
  ring: IoUring;
  step: () => number;
  close: () => void;
}

function nopLoop(batch: number): Loop {
  const ring = benchRing();
  return { name: `raw NOP, batch ${batch}`, ring, step: nopStep(ring, batch), close: () => ring.close() };
}

function readLoop(file: string, depth: number): Loop {
  const fd = openSync(file, 'r');
  const blocks = Math.floor(fstatSync(fd).size / 4096);
  const memory = Buffer.allocUnsafeSlow(4096 * depth);
  const bufs = Array.from({ length: depth }, (_, i) => memory.subarray(i * 4096, (i + 1) * 4096));
  const ring = benchRing(Math.max(8, depth));
  return {
    name: `raw 4 KiB random read, qd ${depth}`,
    ring,
    step: rawReadStep(ring, fd, bufs, 4096, offsets('rand', blocks, 4096)),
    close: () => {
      ring.close();
      closeSync(fd);
    },
  };
}

export interface SplitRow {
  name: string;
  ops: number;
  totalNsPerOp: number;
  enterNsPerOp: number;
  jsNsPerOp: number;
  enterCallsPerOp: number;
  userNsPerOp: number;
  sysNsPerOp: number;
}

/** The enter hook's counters (`timed-libc.ts`), when the worker runs with it. */
function enterClock(): { ms: number; calls: number; wakeups: number } | undefined {
  return (globalThis as { __tsuringEnterClock?: { ms: number; calls: number; wakeups: number } }).__tsuringEnterClock;
}

export function enterSplit(params: { file: string; ops: number }): { rows: SplitRow[]; hooked: boolean } {
  const clock = enterClock();
  const loops = [() => nopLoop(32), () => nopLoop(1), () => readLoop(params.file, 32)];
  const rows: SplitRow[] = [];
  for (const make of loops) {
    const loop = make();
    try {
      runOps(loop.step, params.ops / 4);
      const ms0 = clock?.ms ?? 0;
      const calls0 = clock?.calls ?? 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const ops = runOps(loop.step, params.ops);
      const totalMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const enterMs = (clock?.ms ?? 0) - ms0;
      rows.push({
        name: loop.name,
        ops,
        totalNsPerOp: (totalMs * 1e6) / ops,
        enterNsPerOp: (enterMs * 1e6) / ops,
        jsNsPerOp: ((totalMs - enterMs) * 1e6) / ops,
        enterCallsPerOp: ((clock?.calls ?? 0) - calls0) / ops,
        userNsPerOp: (cpu.user * 1e3) / ops,
        sysNsPerOp: (cpu.system * 1e3) / ops,
      });
    } finally {
      loop.close();
    }
  }
  return { rows, hooked: clock !== undefined };
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
}

export function rssGrowth(params: { ops: number }): Record<string, number> {
  const loop = nopLoop(32);
  try {
    runOps(loop.step, Math.min(1_000_000, params.ops / 10));
    fullGc();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const ops = runOps(loop.step, params.ops);
    const seconds = (performance.now() - t0) / 1000;
    fullGc();
    const after = process.memoryUsage();
    if (loop.ring.inFlight !== 0) throw new Error(`${loop.ring.inFlight} ops still in flight`);
    const mib = (n: number): number => n / 2 ** 20;
    return {
      ops,
      seconds,
      rssBeforeMiB: mib(before.rss),
      rssAfterMiB: mib(after.rss),
      rssGrowthMiB: mib(after.rss - before.rss),
      heapUsedGrowthMiB: mib(after.heapUsed - before.heapUsed),
      externalGrowthMiB: mib(after.external - before.external),
    };
  } finally {
    loop.close();
  }
}

export interface AllocRow {
  name: string;
  ops: number;
  /** Growth of the V8 heap over the window. */
  bytes: number;
  bytesPerOp: number;
  gcsInWindow: number;
}

/** Heap bytes allocated per op by `run(ops)` (which must run exactly that many ops, roughly). */
async function measureAlloc(name: string, ops: number, run: (ops: number) => Promise<number> | number): Promise<AllocRow> {
  for (let attempt = 0; ; attempt++) {
    let gcs = 0;
    const observer = new PerformanceObserver((list) => {
      gcs += list.getEntries().length;
    });
    fullGc();
    await new Promise((resolve) => setImmediate(resolve)); // let the observer see the GCs above first
    observer.observe({ entryTypes: ['gc'] });
    const before = getHeapStatistics().used_heap_size;
    const done = await run(ops);
    const after = getHeapStatistics().used_heap_size;
    await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    if (gcs === 0 || attempt === 3) return { name, ops: done, bytes: after - before, bytesPerOp: (after - before) / done, gcsInWindow: gcs };
    ops = Math.max(1000, Math.floor(ops / 4));
  }
}

export async function allocations(params: { file: string; ops: number }): Promise<AllocRow[]> {
  const rows: AllocRow[] = [];
  for (const make of [() => nopLoop(32), () => nopLoop(1), () => readLoop(params.file, 32)]) {
    const loop = make();
    try {
      runOps(loop.step, params.ops); // warm-up: optimised code, caches filled
      rows.push(await measureAlloc(loop.name, params.ops, (n) => runOps(loop.step, n)));
    } finally {
      loop.close();
    }
  }
  // For comparison: the Promise API allocates by design (at least its promise per read).
  rows.push(await promiseReadAlloc(params.file, Math.max(1000, Math.floor(params.ops / 10)), 128));
  return rows;
}

/**
 * Heap bytes per `AsyncIoUring.read` of 4 KiB at random offsets with `depth` reads in flight
 * (after a warm-up of the same length). Also a bench row, measured in every round.
 */
export async function promiseReadAlloc(file: string, ops: number, depth: number): Promise<AllocRow> {
  const ring = new AsyncIoUring({ entries: Math.max(256, depth) });
  const fd = openSync(file, 'r');
  try {
    const blocks = Math.floor(fstatSync(fd).size / 4096);
    const next = offsets('rand', blocks, 4096);
    const memory = Buffer.allocUnsafeSlow(4096 * depth);
    const bufs = Array.from({ length: depth }, (_, i) => memory.subarray(i * 4096, (i + 1) * 4096));
    const run = async (n: number): Promise<number> => {
      let done = 0;
      await Promise.all(
        bufs.map(async (buf) => {
          while (done < n) {
            await ring.read(fd, buf, next());
            done++;
          }
        }),
      );
      return done;
    };
    await run(ops);
    return await measureAlloc(`Promise read 4 KiB, ${depth} in flight`, ops, run);
  } finally {
    await ring.close();
    closeSync(fd);
  }
}

/**
 * The floor of {@link promiseReadAlloc} for any Promise API on this Node: the same loop
 * (`depth` async functions, each awaiting one op at a time), where an "op" is only what a
 * Promise API cannot do without: a promise whose resolving functions are kept (one shared
 * executor, no closure of its own), resolved later from a batch (as a reap resolves them).
 * No I/O, no ring, no library. Measured on Node 20: ~220 B for the promise and its two
 * resolving functions, ~230 B for the `await`.
 */
export async function promiseFloorAlloc(ops: number, depth: number): Promise<AllocRow> {
  let nextResolve: (value: number) => void = () => {};
  const capture = (resolve: (value: number) => void): void => {
    nextResolve = resolve;
  };
  const pending: ((value: number) => void)[] = [];
  const flush = (): void => {
    for (let i = 0; i < pending.length; i++) pending[i]!(4096);
    pending.length = 0;
  };
  const op = (): Promise<number> => {
    const promise = new Promise<number>(capture);
    if (pending.push(nextResolve) === 1) setImmediate(flush);
    return promise;
  };
  const run = async (n: number): Promise<number> => {
    let done = 0;
    await Promise.all(
      Array.from({ length: depth }, async () => {
        while (done < n) {
          await op();
          done++;
        }
      }),
    );
    return done;
  };
  await run(ops);
  return await measureAlloc(`Promise floor (no I/O), ${depth} in flight`, ops, run);
}

/** What {@link sqPollEnters} found. */
export interface SqPollEnters {
  /** NOPs run after the warm-up. */
  ops: number;
  batch: number;
  /** `io_uring_enter` calls the library made for them (null: the worker ran without the hook). */
  enterCalls: number | null;
  /** Of those, calls that woke the SQ thread (`IORING_ENTER_SQ_WAKEUP`): it had gone to sleep. */
  wakeups: number | null;
  setupFlags: number;
}

/** NOPs on an SQPOLL ring (submit, spin on the CQ), counting the library's `io_uring_enter` calls. */
export function sqPollEnters(params: { batch: number; ops: number } & SqPollSettings): SqPollEnters {
  const clock = enterClock();
  const ring = benchRing(256, { sqPoll: { idleMs: params.idleMs, sqCpu: params.sqCpu } });
  try {
    const step = nopStep(ring, params.batch, true);
    runOps(step, params.ops / 4);
    const calls0 = clock?.calls ?? 0;
    const wakeups0 = clock?.wakeups ?? 0;
    const ops = runOps(step, params.ops);
    return {
      ops,
      batch: params.batch,
      enterCalls: clock === undefined ? null : clock.calls - calls0,
      wakeups: clock === undefined ? null : clock.wakeups - wakeups0,
      setupFlags: ring.params.setupFlags,
    };
  } finally {
    ring.close();
  }
}
