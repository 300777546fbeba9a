/**
 * Waiting with a timeout: it returns on time, a TIMEOUT op fires with -ETIME, signals do
 * not cut a wait short, and a wait that could never end is refused instead of hanging.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { IORING_OP_TIMEOUT } from '../../generated/constants.js';
import { prepNop, prepTimeout } from '../../generated/ops.js';
import { RingStateError } from '../../src/ring/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import type { IoUringOptions } from '../../src/ring/setup.js';
import { hangAfter } from '../support/slow.js';
import { warningsDuring } from '../support/warnings.js';
import { drain, timed } from './helpers.js';

const configs: Array<[string, IoUringOptions]> = [
  ['plain', { entries: 8 }],
  ['DEFER_TASKRUN', { entries: 8, singleIssuer: true, deferTaskrun: true }],
];

describe.each(configs)('%s ring', (_name, options) => {
  it('waitCqe(50) with nothing in flight returns null, not before 50 ms', () => {
    using ring = new IoUring(options);
    const { ms, value } = timed(() => ring.waitCqe(50));
    expect(value).toBeNull();
    expect(ms).toBeGreaterThanOrEqual(45); // (a wait that never ended would be the test's timeout)
  });

  it('submitAndWait(1, long) returns when a 20 ms TIMEOUT fires, not at its own deadline; its CQE has res -ETIME', () => {
    using ring = new IoUring(options);
    const sqe = ring.getSqe()!;
    prepTimeout(sqe, { sec: 0, nsec: 20_000_000 }, 0);
    sqe.userData = 'timer';
    const waitMs = hangAfter(20_000);
    const { ms, value } = timed(() => ring.submitAndWait(1, waitMs));
    expect(value).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(15);
    expect(ms).toBeLessThan(waitMs); // woken by the CQE, before the wait's own deadline
    const cqes = drain(ring);
    expect(cqes).toHaveLength(1);
    expect(cqes[0]).toMatchObject({ userData: 'timer', res: -62, opcode: IORING_OP_TIMEOUT });
    expect(ring.inFlight).toBe(0); // the timespec pin is released
  });

  it('a wait that times out first leaves the op in flight, and a later wait gets it', () => {
    using ring = new IoUring(options);
    const sqe = ring.getSqe()!;
    const timerMs = hangAfter(300);
    prepTimeout(sqe, { sec: Math.floor(timerMs / 1000), nsec: (timerMs % 1000) * 1_000_000 }, 0);
    sqe.userData = 'slow timer';
    const first = timed(() => ring.submitAndWait(1, 30));
    expect(first.value).toBe(1); // submitted; the wait itself ran out
    expect(first.ms).toBeGreaterThanOrEqual(25);
    expect(ring.cqReady).toBe(0); // it ran out before the op: no CQE yet
    expect(ring.inFlight).toBe(1);
    const c = ring.waitCqe(hangAfter(20_000));
    expect(c).not.toBeNull();
    expect(c!.userData).toBe('slow timer');
    expect(c!.res).toBe(-62);
    expect(c!.error()!.code).toBe('ETIME');
    ring.cqeSeen();
    expect(ring.inFlight).toBe(0);
  });

  it('submitAndWait(n) / waitCqe() with nothing in flight throw ERR_RING_WOULD_BLOCK instead of hanging', () => {
    using ring = new IoUring(options);
    for (const call of [() => ring.submitAndWait(1), () => ring.submitAndWait(3), () => ring.waitCqe()]) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RingStateError);
      expect((caught as RingStateError).code).toBe('ERR_RING_WOULD_BLOCK');
      expect((caught as RingStateError).message).toMatch(/nothing in flight would block forever/);
    }
    // Ready CQEs satisfy the wait: no error, no block.
    prepNop(ring.getSqe()!);
    ring.submitAndWait(1);
    expect(ring.submitAndWait(1)).toBe(0);
    expect(ring.waitCqe()).not.toBeNull();
    ring.cqeSeen();
    expect(() => ring.submitAndWait(1)).toThrow(expect.objectContaining({ code: 'ERR_RING_WOULD_BLOCK' }));
    // A staged SQE counts as work: this submits and waits for it.
    prepNop(ring.getSqe()!);
    expect(ring.submitAndWait(1)).toBe(1);
    expect(ring.forEachCqe()).toBe(1);
  });

  it('submitAndWait(0) just submits', () => {
    using ring = new IoUring(options);
    prepNop(ring.getSqe()!);
    expect(ring.submitAndWait(0)).toBe(1);
    expect(ring.submitAndWait(0)).toBe(0);
    ring.submitAndWait(1, 1000);
    expect(ring.forEachCqe()).toBe(1);
  });
});

describe('timeouts: edges', () => {
  it('a zero timeout polls without blocking', () => {
    using ring = new IoUring({ entries: 4 });
    // An hour-long timer in flight: a zero-timeout wait that blocked would wait for it (and
    // fail as the test's timeout); close() cancels it.
    prepTimeout(ring.getSqe()!, { sec: 3600, nsec: 0 }, 0);
    ring.submit();
    expect(ring.waitCqe(0)).toBeNull();
    expect(ring.inFlight).toBe(1);
  });

  it('refuses bad timeouts and waitNr before waiting', async () => {
    using ring = new IoUring({ entries: 4 });
    prepTimeout(ring.getSqe()!, { sec: 3600, nsec: 0 }, 0);
    ring.submit();
    for (const bad of [-1, Number.NaN, Infinity, '5' as unknown as number]) {
      expect(() => ring.submitAndWait(1, bad)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(() => ring.submitAndWait(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => ring.submitAndWait(1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    // close() cancels the hour-long timer instead of waiting it out: it does not give up on it
    // after its drain time (which would warn TSURING_CLOSE_ABANDONED and keep its memory).
    expect(await warningsDuring(() => ring.close())).not.toContain('TSURING_CLOSE_ABANDONED');
  });

  it('a signal during the wait (SIGCHLD from exiting children) neither ends it early nor restarts it', async () => {
    using ring = new IoUring({ entries: 4 });
    // Children that exit while we block: each SIGCHLD interrupts io_uring_enter with EINTR
    // (seen with strace), and the ring resumes with the time that remains.
    // (Times scaled by the machine's slowdown, so the children still exit during the wait.)
    const children = [hangAfter(150), hangAfter(200)].map((ms) => spawn('sleep', [String(ms / 1000)], { stdio: 'ignore' }));
    const exited = Promise.all(children.map((c) => new Promise((resolve) => c.on('exit', resolve))));
    const wait = hangAfter(250);
    const { ms, value } = timed(() => ring.waitCqe(wait));
    expect(value).toBeNull();
    expect(ms).toBeGreaterThanOrEqual(wait - 5); // not cut short by the signal
    // Not restarted in full after it: that would end at the first signal (>= 150) + the whole wait.
    expect(ms).toBeLessThan(hangAfter(150) + wait);
    await exited;
  });
});
