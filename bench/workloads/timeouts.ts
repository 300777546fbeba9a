/**
 * 10,000 timeouts in flight (the speed half of test/async/event-loop.test.ts "stays responsive
 * with 10,000 timeouts in flight", which checks only that the loop keeps turning): 10,000
 * loops each awaiting a 1 ms timeout back to back, counting completions per second, with the
 * Promise API's `ring.timeout()` or, as the baseline, a Promise around Node's `setTimeout`.
 *
 * @module
 */
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { timedConcurrent, type Sample, type Timing } from './common.js';

export type TimeoutImpl = 'promise' | 'settimeout';
export const TIMEOUTS_IN_FLIGHT = 10_000;

export async function runTimeouts(params: { impl: TimeoutImpl }, timing: Timing): Promise<Sample> {
  if (params.impl === 'settimeout') {
    return timedConcurrent(timing, TIMEOUTS_IN_FLIGHT, () => new Promise<void>((resolve) => setTimeout(resolve, 1)));
  }
  const ring = new AsyncIoUring({ entries: 4096, cqEntries: 16384 });
  try {
    const sample = await timedConcurrent(timing, TIMEOUTS_IN_FLIGHT, () => ring.timeout(1));
    sample.info = { setupFlags: ring.ring.params.setupFlags, waker: ring.wakerBackend };
    return sample;
  } finally {
    await ring.close();
  }
}
