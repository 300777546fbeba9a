/**
 * The min-wait batching budget (`submitAndWait(n, timeoutMs, { minWaitUs })`, the kernel's
 * `min_wait_usec`, IORING_FEAT_MIN_TIMEOUT, Linux 6.12), after liburing's test/min-timeout.c:
 * reads on pipes that a Worker thread writes while the main thread blocks in the wait.
 *
 * - n CQEs within the budget: the wait returns as soon as they are all in;
 * - one CQE by the time the budget is spent: the wait returns with it (fewer than n);
 * - no CQE within the budget: the wait goes on and returns at the first one;
 * - a signal during the budget neither ends it early nor turns it off;
 * - the budget does not leak into later plain waits.
 *
 * Where the Worker's first write should end the wait, its later writes wait for the main
 * thread's release, with a long fallback: a wait that wrongly held on for all n would end
 * at the fallback with n CQEs, and fail the count (no timing bound decides the result).
 */
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_FEAT_MIN_TIMEOUT } from '../../generated/constants.js';
import { prepNop, prepRead } from '../../generated/ops.js';
import { ArgumentError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import type { IoUringOptions } from '../../src/ring/setup.js';
import { IoUringError } from '../../src/sys/errors.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { hangAfter } from '../support/slow.js';
import { closeQuietly, drain, timed } from './helpers.js';

const NPIPES = 8;

const hasMinTimeout = (() => {
  using ring = new IoUring({ entries: 2 });
  return (ring.params.features & IORING_FEAT_MIN_TIMEOUT) !== 0;
})();
const NEEDS = hasMinTimeout ? '' : ' (skipped: this kernel lacks IORING_FEAT_MIN_TIMEOUT, Linux 6.12)';

/** One step of the writer: sleep `sleepMs`, or wait for the main thread's release (with a fallback), then write one byte to pipe `pipe`. */
type Step = { pipe: number; sleepMs?: number; afterRelease?: true };

const WRITER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { fds, steps, flag, fallbackMs } = workerData;
const word = new Int32Array(flag);
for (const s of steps) {
  if (s.afterRelease) Atomics.wait(word, 0, 0, fallbackMs);
  else Atomics.wait(word, 1, 0, s.sleepMs ?? 0);
  writeSync(fds[s.pipe], 'x');
}
`;

interface Rig {
  ring: IoUring;
  /** Lets the Worker's `afterRelease` steps go ahead (run after the test has looked at the CQ), waits for the Worker, reaps every read, closes everything. */
  finish(): Promise<void>;
}

const open: Rig[] = [];
afterEach(async () => {
  for (const rig of open.splice(0)) await rig.finish();
});

/** A ring with a read queued (not yet submitted) on each of 8 pipes, and a Worker writing them as `steps` says. */
function rig(options: IoUringOptions, steps: Step[]): Rig {
  const ring = new IoUring({ entries: NPIPES, ...options });
  const pipes = Array.from({ length: NPIPES }, () => pipe2Sync());
  const bufs = pipes.map(() => new Uint8Array(32));
  pipes.forEach(([r], i) => {
    const sqe = ring.getSqe()!;
    prepRead(sqe, r, bufs[i]!, 32, 0);
    sqe.userData = i;
  });
  const flag = new SharedArrayBuffer(8);
  const word = new Int32Array(flag);
  const worker = new Worker(WRITER, { eval: true, workerData: { fds: pipes.map(([, w]) => w), steps, flag, fallbackMs: hangAfter(20_000) } });
  const exited = new Promise((resolve) => worker.on('exit', resolve));
  let done = false;
  const r: Rig = {
    ring,
    async finish() {
      if (done) return;
      done = true;
      Atomics.store(word, 0, 1);
      Atomics.notify(word, 0);
      await exited;
      // Every pipe was written once: every read completes.
      while (ring.inFlight > 0) {
        ring.submitAndWait(1, hangAfter(10_000));
        ring.forEachCqe();
      }
      ring.close();
      for (const [a, b] of pipes) {
        closeQuietly(a);
        closeQuietly(b);
      }
    },
  };
  open.push(r);
  return r;
}

const configs: Array<[string, IoUringOptions]> = [
  ['plain', {}],
  ['DEFER_TASKRUN', { singleIssuer: true, deferTaskrun: true }],
  ['SQPOLL', { sqPoll: true }],
];

describe.each(configs)('%s ring', (_name, options) => {
  // What submitAndWait reports as submitted: with SQPOLL the kernel thread takes the SQEs.
  const SUBMITTED = options.sqPoll ? 0 : NPIPES;
  it.skipIf(!hasMinTimeout)(`all n CQEs within the budget: returns as soon as they are in${NEEDS}`, () => {
    const { ring } = rig(options, Array.from({ length: NPIPES }, (_, pipe) => ({ pipe, sleepMs: 1 })));
    const budgetUs = hangAfter(20_000) * 1000;
    const { ms, value } = timed(() => ring.submitAndWait(NPIPES, hangAfter(60_000), { minWaitUs: budgetUs }));
    expect(value).toBe(SUBMITTED);
    expect(ring.cqReady).toBe(NPIPES);
    expect(ms).toBeLessThan(budgetUs / 1000); // (a hang detector: it did not sit out the budget)
  });

  it.skipIf(!hasMinTimeout)(`one CQE when the budget is spent: returns with it, fewer than n${NEEDS}`, () => {
    const steps: Step[] = [{ pipe: 0, sleepMs: 10 }];
    for (let pipe = 1; pipe < NPIPES; pipe++) steps.push({ pipe, afterRelease: true });
    const { ring } = rig(options, steps);
    const { ms, value } = timed(() => ring.submitAndWait(NPIPES, hangAfter(60_000), { minWaitUs: 50_000 }));
    expect(value).toBe(SUBMITTED);
    const cqes = drain(ring);
    expect(cqes.map((c) => [c.userData, c.res])).toEqual([[0, 1]]);
    expect(ms).toBeGreaterThanOrEqual(49); // not before the budget: it had 1 of 8
  });

  for (const [label, timeoutMs] of [['with a timeout', () => hangAfter(60_000)], ['without a timeout', () => undefined]] as const) {
    it.skipIf(!hasMinTimeout)(`no CQE within the budget, ${label}: goes on waiting and returns at the first${NEEDS}`, () => {
      const steps: Step[] = [{ pipe: 3, sleepMs: 100 }];
      for (let pipe = 0; pipe < NPIPES; pipe++) if (pipe !== 3) steps.push({ pipe, afterRelease: true });
      const { ring } = rig(options, steps);
      const { ms, value } = timed(() => ring.submitAndWait(NPIPES, timeoutMs(), { minWaitUs: 10_000 }));
        expect(value).toBe(SUBMITTED);
      expect(drain(ring).map((c) => c.userData)).toEqual([3]);
      expect(ms).toBeGreaterThanOrEqual(95); // it did not give up at the 10 ms budget with nothing
    });
  }

  it.skipIf(!hasMinTimeout)(`no CQE at all: the timeout still ends the wait, with nothing${NEEDS}`, () => {
    const { ring } = rig(options, Array.from({ length: NPIPES }, (_, pipe) => ({ pipe, afterRelease: true as const })));
    const { ms, value } = timed(() => ring.submitAndWait(NPIPES, 100, { minWaitUs: 10_000 }));
    expect(value).toBe(SUBMITTED);
    expect(ring.cqReady).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(95);
  });
});

describe('min-wait', () => {
  it.skipIf(!hasMinTimeout)(`a signal during the budget (SIGCHLD) neither ends it early nor turns it off${NEEDS}`, async () => {
    const steps: Step[] = [{ pipe: 0, sleepMs: 10 }];
    for (let pipe = 1; pipe < NPIPES; pipe++) steps.push({ pipe, afterRelease: true });
    const { ring } = rig({}, steps);
    // Children that exit while we block: each SIGCHLD interrupts io_uring_enter, which (having
    // submitted the reads) reports their count as if the wait were over.
    const children = [hangAfter(100), hangAfter(150)].map((ms) => spawn('sleep', [String(ms / 1000)], { stdio: 'ignore' }));
    const exited = Promise.all(children.map((c) => new Promise((resolve) => c.on('exit', resolve))));
    const budgetMs = hangAfter(400);
    const { ms, value } = timed(() => ring.submitAndWait(NPIPES, hangAfter(60_000), { minWaitUs: budgetMs * 1000 }));
    await exited;
    expect(value).toBe(NPIPES);
    expect(drain(ring).map((c) => c.userData)).toEqual([0]); // the budget was not turned off (that waits for all 8)
    expect(ms).toBeGreaterThanOrEqual(budgetMs - 1); // nor ended at the signal
  });

  it.skipIf(!hasMinTimeout)(`the budget does not leak into a later plain timed wait${NEEDS}`, () => {
    using ring = new IoUring({ entries: 4 });
    prepNop(ring.getSqe()!);
    ring.submitAndWait(2, 100, { minWaitUs: 1000 }); // one NOP: returns at the budget with 1 CQE
    expect(ring.cqReady).toBe(1);
    ring.forEachCqe();
    prepNop(ring.getSqe()!);
    // A plain wait for 2 with one NOP sits out its whole timeout; a leftover 1 ms budget would end it at 1 ms.
    const { ms } = timed(() => ring.submitAndWait(2, 150));
    expect(ring.cqReady).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(145);
  });

  it('refuses a bad minWaitUs or options before submitting anything, reading the option once', () => {
    using ring = new IoUring({ entries: 4 });
    prepNop(ring.getSqe()!);
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN, '10', 10n]) {
      expect(() => ring.submitAndWait(1, 10, { minWaitUs: bad as number })).toThrow(ArgumentError);
    }
    for (const bad of [null, 5, 'x']) {
      expect(() => ring.submitAndWait(1, 10, bad as never)).toThrow(ArgumentError);
    }
    expect(ring.cqReady).toBe(0); // nothing went to the kernel
    let reads = 0;
    const lying = {
      get minWaitUs(): number {
        reads++;
        return reads === 1 ? 0 : -5; // valid when checked, invalid if read again
      },
    };
    ring.submitAndWait(1, hangAfter(10_000), lying);
    expect(reads).toBe(1);
    expect(ring.cqReady).toBe(1);
  });

  it.skipIf(hasMinTimeout)('a kernel without IORING_FEAT_MIN_TIMEOUT refuses minWaitUs, naming Linux 6.12 (skipped: this kernel has it)', () => {
    using ring = new IoUring({ entries: 4 });
    prepNop(ring.getSqe()!);
    let caught: unknown;
    try {
      ring.submitAndWait(1, 100, { minWaitUs: 1000 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IoUringError);
    expect((caught as IoUringError).code).toBe('EOPNOTSUPP');
    expect((caught as IoUringError).message).toMatch(/Linux 6\.12/);
    // minWaitUs: 0 is an ordinary wait, on every kernel.
    expect(ring.submitAndWait(1, 100, { minWaitUs: 0 })).toBe(1);
  });
});
