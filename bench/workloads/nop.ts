/**
 * NOP submit+reap on the raw API: `batch` NOPs per `submitAndWait(batch)`, reaped with one
 * hoisted `forEachCqe` callback. The loop is written as tightly as the API allows (no
 * allocation, no closures per op); `bench/c/uring-bench.c nop` is the same loop on liburing.
 *
 * Ring variants (the C baseline is set up the same way, from the flags this ring got):
 * - default: {@link FAST_SETUP}, ring memory where the library prefers it (its own memory
 *   with SQEs written in place where the kernel has `IORING_SETUP_NO_MMAP`);
 * - `ringMemory: 'kernel'`: the kernel's mapped pages, SQEs staged in JS and copied at
 *   submit (the path older kernels take);
 * - `sqPoll`: an SQ thread submits; the loop publishes SQEs without a system call and spins
 *   on the CQ instead of entering the kernel to wait (`spin`).
 *
 * @module
 */
import { FAST_SETUP, IoUring, prepNop, type Cqe } from '../../src/index.js';
import { timedLoop, type Sample, type Timing } from './common.js';

/** SQPOLL settings, the same for tsuring and the liburing baseline. */
export interface SqPollSettings {
  /** `sq_thread_idle`, ms. */
  idleMs: number;
  /** CPU of the SQ thread (`IORING_SETUP_SQ_AFF`), or -1 for any. */
  sqCpu: number;
}

/** How a raw workload's ring is set up. */
export interface RingVariant {
  /** `'kernel'`: mapped kernel memory, staged SQEs. Default: the library's choice. */
  ringMemory?: 'kernel';
  /** An SQPOLL ring (the workload then spins on the CQ). */
  sqPoll?: SqPollSettings;
}

/** The ring every raw workload uses (and whose flags the C baseline copies). */
export function benchRing(entries = 256, variant: RingVariant = {}): IoUring {
  const sq = variant.sqPoll;
  return new IoUring({
    entries,
    prefer: FAST_SETUP,
    ...(variant.ringMemory === undefined ? {} : { ringMemory: variant.ringMemory }),
    ...(sq === undefined ? {} : { sqPoll: sq.sqCpu >= 0 ? { idleMs: sq.idleMs, cpu: sq.sqCpu } : { idleMs: sq.idleMs } }),
  });
}

/** What a raw workload reports about its ring (sample.info). */
export function ringInfo(ring: IoUring): Record<string, unknown> {
  return { setupFlags: ring.params.setupFlags, mapping: ring.params.mapping, sqeInPlace: ring.params.sqeInPlace };
}

/**
 * Waits for `n` CQEs: `submitAndWait(n)`, or with `spin` (SQPOLL rings) `submit()`, which
 * makes no system call while the SQ thread is awake, then a spin on the CQ tail.
 */
export function submitWait(ring: IoUring, n: number, spin: boolean): void {
  if (!spin) {
    ring.submitAndWait(n);
    return;
  }
  ring.submit();
  while (ring.cqReady < n) {
    /* the SQ thread completes the work */
  }
}

/** Ops per clock check: enough that reading the clock costs nothing measurable. */
const OPS_PER_STEP = 2048;

/** A NOP loop on `ring`: returns a step function doing `OPS_PER_STEP` ops (rounded to batches). */
export function nopStep(ring: IoUring, batch: number, spin = false): () => number {
  let failed = 0;
  const onCqe = (cqe: Cqe): void => {
    if (cqe.res < 0) failed++;
  };
  const batches = Math.max(1, Math.floor(OPS_PER_STEP / batch));
  return () => {
    for (let k = 0; k < batches; k++) {
      for (let i = 0; i < batch; i++) prepNop(ring.getSqe()!);
      submitWait(ring, batch, spin);
      ring.forEachCqe(onCqe);
    }
    if (failed !== 0) throw new Error(`${failed} NOPs failed`);
    return batches * batch;
  };
}

export function runNop(params: { batch: number } & RingVariant, timing: Timing): Sample {
  const ring = benchRing(Math.max(256, params.batch), params);
  try {
    const sample = timedLoop(timing, nopStep(ring, params.batch, params.sqPoll !== undefined));
    sample.info = ringInfo(ring);
    return sample;
  } finally {
    ring.close();
  }
}
