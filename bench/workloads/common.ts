/**
 * What every bench worker shares: the result shape, timed loops (a warm-up that is not
 * counted, then a measured window) and the random-offset generator the C baseline uses too.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** One measurement, as a worker prints it (`RESULT {...}` on its last stdout line). */
export interface Sample {
  /** Operations (or requests) completed inside the measured window. */
  ops: number;
  /** Length of the measured window. */
  seconds: number;
  /** Bytes transferred inside the window (reads), else 0. */
  bytes: number;
  /** CPU time of the worker process inside the window (all its threads), in seconds. */
  cpuUser: number;
  cpuSys: number;
  /**
   * CPU the rest of the machine used during the window, in cores (all CPUs' busy time from
   * /proc/stat, minus this process's): other work competing with the measurement.
   */
  others?: number;
  /** Anything else worth keeping (ring flags granted, server CPU, ...). */
  info?: Record<string, unknown>;
}

/** Busy and total CPU time of the whole machine so far, in seconds (from /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / TICKS, total: total / TICKS };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture Node runs on. */
const TICKS = 100;

/** Other processes' CPU (cores) between two machineCpu() readings, given our own CPU seconds. */
export function othersCores(a: { busy: number; total: number }, b: { busy: number; total: number }, seconds: number, ownCpu: number): number {
  return Math.max(0, (b.busy - a.busy - ownCpu) / seconds);
}

/** Timing of a measurement: warm-up first (not counted), then the measured window. */
export interface Timing {
  warmup: number;
  seconds: number;
}

/** Prints the result line the orchestrator reads. */
export function emit(sample: Sample): void {
  process.stdout.write(`RESULT ${JSON.stringify(sample)}\n`);
}

/**
 * Runs `step` (which does a chunk of work and returns how many ops it did) until the
 * warm-up and then the measured window have passed. The clock is read once per chunk.
 */
export function timedLoop(timing: Timing, step: () => number): Sample {
  const warmEnd = performance.now() + timing.warmup * 1000;
  while (performance.now() < warmEnd) step();
  let ops = 0;
  const m0 = machineCpu();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + timing.seconds * 1000;
  let t = t0;
  while (t < end) {
    ops += step();
    t = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = (t - t0) / 1000;
  const own = (cpu.user + cpu.system) / 1e6;
  return { ops, seconds, bytes: 0, cpuUser: cpu.user / 1e6, cpuSys: cpu.system / 1e6, others: othersCores(m0, machineCpu(), seconds, own) };
}

/**
 * Keeps `concurrency` async loops running `op(i)` back to back; counts completions inside
 * the measured window. The phases switch on the clock, read every 64 completions, not on
 * timers: a Promise API whose ops complete inline can keep the microtask queue busy for
 * the whole run, and timers would then fire late or never.
 */
export async function timedConcurrent(timing: Timing, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Sample> {
  let running = true;
  let completed = 0;
  let measuring = false;
  let ops0 = 0;
  let cpu0 = process.cpuUsage();
  let m0 = machineCpu();
  let t0 = 0;
  const warmEnd = performance.now() + timing.warmup * 1000;
  let end = Infinity;
  let result: Sample | undefined;
  const check = (): void => {
    const t = performance.now();
    if (!measuring) {
      if (t < warmEnd) return;
      measuring = true;
      ops0 = completed;
      m0 = machineCpu();
      cpu0 = process.cpuUsage();
      t0 = t;
      end = t + timing.seconds * 1000;
    } else if (t >= end) {
      const cpu = process.cpuUsage(cpu0);
      const seconds = (t - t0) / 1000;
      const own = (cpu.user + cpu.system) / 1e6;
      result = { ops: completed - ops0, seconds, bytes: 0, cpuUser: cpu.user / 1e6, cpuSys: cpu.system / 1e6, others: othersCores(m0, machineCpu(), seconds, own) };
      running = false;
    }
  };
  // Slow ops (a few per millisecond) would make the window long: read the clock on a timer too.
  const timer = setInterval(check, 5);
  const worker = async (i: number): Promise<void> => {
    while (running) {
      await op(i);
      if ((++completed & 63) === 0 && running) check();
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < concurrency; i++) loops.push(worker(i));
  await Promise.all(loops);
  clearInterval(timer);
  return result!;
}

/**
 * xorshift32 with the same seed and steps as `bench/c/uring-bench.c`, so both sides read
 * the same sequence of blocks. Returns an unsigned 32-bit value.
 */
export function makeRandom(seed = 0x9e3779b9): () => number {
  let s = seed | 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Throws when a read did not return what was asked (a short read would skew the figures). */
export function checkRead(res: number, want: number, what: string): void {
  if (res !== want) throw new Error(`${what}: read returned ${res}, expected ${want}`);
}
