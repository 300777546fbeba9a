/**
 * `io_uring_enter` for a ring: submitting what is published, waking the SQ thread, and
 * waiting for completions (with or without a timeout, resuming after signals).
 *
 * @module
 */
import {
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_NO_IOWAIT,
  IORING_ENTER_SQ_WAKEUP,
  IORING_FEAT_EXT_ARG,
  IORING_FEAT_MIN_TIMEOUT,
  IORING_FEAT_NO_IOWAIT,
  IORING_OP_TIMEOUT,
  IORING_SQ_NEED_WAKEUP,
} from '../../generated/constants.js';
import { IoUringGeteventsArg, SIZEOF_IO_URING_GETEVENTS_ARG } from '../../generated/structs.js';
import { checkIntRange } from '../abi/check.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { IoUringError } from '../sys/errors.js';
import { ioUringEnter } from '../sys/libc.js';
import type { RingCore } from './core.js';
import type { WaitOptions } from './wait-options.js';
import { CQE_USER_DATA_WORD } from './cqueue.js';

/**
 * Whether `core`'s waits count as I/O wait (the default) or pass `IORING_ENTER_NO_IOWAIT`
 * (Linux 6.15). The flag joins `core.enterFlags`, so every later enter carries it.
 */
export function setIowait(core: RingCore, enabled: boolean): void {
  if (typeof enabled !== 'boolean') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring.setIowait: enabled', `expected a boolean, received ${describeReceived(enabled)}`);
  }
  if (enabled) {
    core.enterFlags &= ~IORING_ENTER_NO_IOWAIT;
    return;
  }
  if ((core.params.features & IORING_FEAT_NO_IOWAIT) === 0) {
    throw new IoUringError(-95, 'io_uring_enter', '', 'Waiting without I/O-wait accounting needs IORING_FEAT_NO_IOWAIT (Linux 6.15 or newer); older kernels always account it');
  }
  core.enterFlags |= IORING_ENTER_NO_IOWAIT;
}

/** Lets the kernel post overflowed CQEs and run deferred completion work. */
export function flushCq(core: RingCore): void {
  ioUringEnter(core.enterFd, 0, 0, core.enterFlags | IORING_ENTER_GETEVENTS);
}

/**
 * Hands published SQEs to the kernel. With SQPOLL no system call is made unless the SQ
 * thread sleeps (`IORING_SQ_NEED_WAKEUP`): it picks the SQEs up by itself.
 * @returns SQEs the kernel consumed (with SQPOLL: `published`, the count just published).
 */
export function enterSubmit(core: RingCore, published: number): number {
  if (core.sqPoll) {
    // The SQ tail store (release) precedes this load of the flags: if the thread went to
    // sleep before seeing the new tail, it set NEED_WAKEUP first, and we see it here.
    if ((Atomics.load(core.sq.sq, core.sq.at.sqFlags) & IORING_SQ_NEED_WAKEUP) !== 0) {
      ioUringEnter(core.enterFd, 0, 0, core.enterFlags | IORING_ENTER_SQ_WAKEUP);
    }
    core.sq.releaseConsumed();
    return published;
  }
  const pending = core.sq.ready();
  if (pending === 0) return 0;
  const submitted = ioUringEnter(core.enterFd, pending, 0, core.enterFlags);
  core.sq.releaseConsumed();
  return submitted;
}

/**
 * Submits what is published and waits until `waitNr` CQEs are ready (or, with `timeoutMs`,
 * until the time runs out: the kernel's ETIME returns normally). Signals never end the
 * wait early. `options` (rare) takes a separate path, so the common wait is unchanged.
 * @returns SQEs the kernel consumed.
 */
export function enterAndWait(core: RingCore, toSubmit: number, waitNr: number, timeoutMs: number | undefined, options?: WaitOptions): number {
  if (options !== undefined) {
    const minWaitUs = minWaitOf(options);
    if (minWaitUs !== 0) return enterAndWaitMin(core, toSubmit, waitNr, timeoutMs, minWaitUs);
  }
  let flags = core.enterFlags | IORING_ENTER_GETEVENTS;
  if (core.sqPoll && (Atomics.load(core.sq.sq, core.sq.at.sqFlags) & IORING_SQ_NEED_WAKEUP) !== 0) flags |= IORING_ENTER_SQ_WAKEUP;
  // A signal cuts the kernel's wait short. With nothing submitted the call fails with EINTR
  // and ioUringEnter repeats it (or onEintr below does, with the time left); but a call that
  // submitted SQEs reports their count instead, exactly as if the wait had ended. So after a
  // call that got as far as waiting, wait again unless the wait really ended (waitEnded).
  const tailBefore = Atomics.load(core.cq.ring, core.cq.at.cqTail);
  if (timeoutMs === undefined) {
    const submitted = ioUringEnter(core.enterFd, toSubmit, waitNr, flags);
    core.sq.releaseConsumed();
    if (submitted === toSubmit) {
      while (!waitEnded(core, waitNr, tailBefore)) ioUringEnter(core.enterFd, 0, waitNr, flags);
    }
    return submitted;
  }
  checkWaitTimeout(core, timeoutMs);
  const deadline = performance.now() + timeoutMs;
  setWaitTimeout(core, timeoutMs);
  // A signal (a child's SIGCHLD is enough) interrupts the wait; resume with what remains.
  const onEintr = (): boolean => {
    setWaitTimeout(core, Math.max(0, deadline - performance.now()));
    return true;
  };
  let submitted = -1;
  for (;;) {
    let r: number;
    try {
      r = ioUringEnter(core.enterFd, toSubmit, waitNr, flags | IORING_ENTER_EXT_ARG, core.waitArgAddress, SIZEOF_IO_URING_GETEVENTS_ARG, onEintr);
    } catch (err) {
      // ETIME: the time ran out; a call that submitted anything returns its count instead.
      if (err instanceof IoUringError && err.code === 'ETIME') return Math.max(submitted, 0);
      throw err;
    }
    if (submitted < 0) submitted = r;
    core.sq.releaseConsumed();
    if (r !== toSubmit || waitEnded(core, waitNr, tailBefore)) return submitted;
    const left = deadline - performance.now();
    if (left <= 0) return submitted;
    setWaitTimeout(core, left);
    toSubmit = 0;
  }
}

/** Refuses a `timeoutMs` that is not a finite number ≥ 0, or a kernel that cannot time a wait. */
function checkWaitTimeout(core: RingCore, timeoutMs: number): void {
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs === Infinity) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', 'timeoutMs', `expected a finite number of milliseconds ≥ 0, received ${describeReceived(timeoutMs)}`);
  }
  if ((core.params.features & IORING_FEAT_EXT_ARG) === 0) {
    throw new IoUringError(-95, 'io_uring_enter', '', 'Waiting with a timeout needs IORING_FEAT_EXT_ARG (Linux 5.11 or newer)');
  }
}

/** `options.minWaitUs`, read once (a getter or Proxy cannot change it between check and use). */
function minWaitOf(options: WaitOptions): number {
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'options', `expected an object such as { minWaitUs: 1000 }, received ${describeReceived(options)}`);
  }
  const minWaitUs = options.minWaitUs;
  return minWaitUs === undefined ? 0 : checkIntRange('options.minWaitUs', minWaitUs, 0, 0xffffffff);
}

/**
 * A wait with a batching budget (`min_wait_usec`, Linux 6.12): the kernel returns once
 * `minWaitUs` has passed if any CQE is there, else at the first CQE (or the timeout).
 *
 * The kernel ends a min-wait with no timeout at the min-wait mark even with no CQE, so
 * without `timeoutMs` the wait passes a long timeout and repeats it until a CQE arrives.
 * A signal that cuts the wait short (see enterAndWait) resumes it with the budget left,
 * never 0 (0 would turn the budget off and wait for all `waitNr` again): 1 µs once it is
 * spent, which returns at once if a CQE is there and else at the next one.
 */
function enterAndWaitMin(core: RingCore, toSubmit: number, waitNr: number, timeoutMs: number | undefined, minWaitUs: number): number {
  if (timeoutMs !== undefined) checkWaitTimeout(core, timeoutMs);
  if ((core.params.features & IORING_FEAT_MIN_TIMEOUT) === 0) {
    throw new IoUringError(-95, 'io_uring_enter', '', 'A minimum wait (minWaitUs) needs IORING_FEAT_MIN_TIMEOUT (Linux 6.12 or newer)');
  }
  let flags = core.enterFlags | IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
  if (core.sqPoll && (Atomics.load(core.sq.sq, core.sq.at.sqFlags) & IORING_SQ_NEED_WAKEUP) !== 0) flags |= IORING_ENTER_SQ_WAKEUP;
  const tailBefore = Atomics.load(core.cq.ring, core.cq.at.cqTail);
  const start = performance.now();
  const minEnd = start + minWaitUs / 1000;
  const deadline = timeoutMs === undefined ? Infinity : start + timeoutMs;
  const arg = new IoUringGeteventsArg(core.waitArgBytes);
  const setArgs = (): void => {
    const now = performance.now();
    setWaitTimeout(core, deadline === Infinity ? UNBOUNDED_WAIT_MS : Math.max(0, deadline - now));
    arg.minWaitUsec = Math.max(1, Math.min(0xffffffff, Math.ceil((minEnd - now) * 1000)));
  };
  const onEintr = (): boolean => {
    setArgs();
    return true;
  };
  let submitted = -1;
  setArgs();
  try {
    for (;;) {
      let r: number;
      try {
        r = ioUringEnter(core.enterFd, toSubmit, waitNr, flags, core.waitArgAddress, SIZEOF_IO_URING_GETEVENTS_ARG, onEintr);
      } catch (err) {
        if (!(err instanceof IoUringError && err.code === 'ETIME')) throw err;
        // ETIME: the timeout ran out with no CQE (a call that submitted anything returns its
        // count instead). Without timeoutMs that was only the long stand-in: wait again.
        if (deadline !== Infinity) return Math.max(submitted, 0);
        r = toSubmit = 0;
      }
      if (submitted < 0) submitted = r;
      core.sq.releaseConsumed();
      if (r !== toSubmit || waitEnded(core, waitNr, tailBefore)) return submitted;
      const now = performance.now();
      // The budget is spent and a CQE is there: the kernel's own condition for returning.
      if (now >= minEnd && core.cq.ready() > 0) return submitted;
      if (now >= deadline) return submitted;
      setArgs();
      toSubmit = 0;
    }
  } finally {
    // The wait argument is shared with the plain timed wait, which never sets a min-wait.
    arg.minWaitUsec = 0;
  }
}

/** The stand-in timeout of a min-wait without `timeoutMs` (one day; repeated as needed). */
const UNBOUNDED_WAIT_MS = 86_400_000;

/**
 * Whether a wait for `waitNr` CQEs that started when the CQ tail was `tailBefore` is over:
 * enough CQEs are ready (the kernel caps the count at the CQ size), or a TIMEOUT op
 * completed meanwhile (which wakes every waiter early, by the kernel's design).
 */
function waitEnded(core: RingCore, waitNr: number, tailBefore: number): boolean {
  const cq = core.cq;
  const tail = Atomics.load(cq.ring, cq.at.cqTail);
  if (((tail - cq.head) >>> 0) >= Math.min(waitNr, cq.mask + 1)) return true;
  const table = core.table;
  for (let p = tailBefore; p !== tail; p = (p + 1) >>> 0) {
    const w = cq.wordOf(p);
    const slot = table.slotOf(cq.ring[w + CQE_USER_DATA_WORD]!, cq.ring[w + CQE_USER_DATA_WORD + 1]!);
    if (slot >= 0 && table.opcode[slot] === IORING_OP_TIMEOUT) return true;
  }
  return false;
}

function setWaitTimeout(core: RingCore, ms: number): void {
  const ns = Math.round(ms * 1e6);
  const sec = Math.floor(ns / 1e9);
  core.waitTs.tvSec = sec;
  core.waitTs.tvNsec = ns - sec * 1e9;
}
