/**
 * NOP submit+reap on the raw API: `batch` NOPs per `submitAndWait(batch)`, reaped with one
 * hoisted `forEachCqe` callback. The loop is written as tightly as the API allows (no
 * allocation, no closures per op); `bench/c/uring-bench.c nop` is the same loop on liburing.
 *
 * @module
 */
import { FAST_SETUP, IoUring, prepNop, type Cqe } from '../../src/index.js';
import { timedLoop, type Sample, type Timing } from './common.js';

/** The ring every raw workload uses (and whose flags the C baseline copies). */
export function benchRing(entries = 256): IoUring {
  return new IoUring({ entries, prefer: FAST_SETUP });
}

/** Ops per clock check: enough that reading the clock costs nothing measurable. */
const OPS_PER_STEP = 2048;

/** A NOP loop on `ring`: returns a step function doing `OPS_PER_STEP` ops (rounded to batches). */
export function nopStep(ring: IoUring, batch: number): () => number {
  let failed = 0;
  const onCqe = (cqe: Cqe): void => {
    if (cqe.res < 0) failed++;
  };
  const batches = Math.max(1, Math.floor(OPS_PER_STEP / batch));
  return () => {
    for (let k = 0; k < batches; k++) {
      for (let i = 0; i < batch; i++) prepNop(ring.getSqe()!);
      ring.submitAndWait(batch);
      ring.forEachCqe(onCqe);
    }
    if (failed !== 0) throw new Error(`${failed} NOPs failed`);
    return batches * batch;
  };
}

export function runNop(params: { batch: number }, timing: Timing): Sample {
  const ring = benchRing(Math.max(256, params.batch));
  try {
    const sample = timedLoop(timing, nopStep(ring, params.batch));
    sample.info = { setupFlags: ring.params.setupFlags };
    return sample;
  } finally {
    ring.close();
  }
}
