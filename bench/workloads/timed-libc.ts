/**
 * The syscall layer with a stopwatch around `io_uring_enter`: loaded in place of
 * `src/sys/libc.js` by `enter-hook.ts` (a module resolve hook), only in the per-op cost
 * worker. Everything else is the real module, re-exported unchanged.
 *
 * Time inside the wrapper covers koffi's call (argument conversion, the native call)
 * and the kernel's work; what the ring's JS does around it is everything else.
 *
 * @module
 */
import { IORING_ENTER_SQ_WAKEUP } from '../../generated/constants.js';
import { ioUringEnter as realEnter } from '../../src/sys/libc.js';

export * from '../../src/sys/libc.js';

/** Milliseconds spent inside `io_uring_enter` calls, how many calls, and how many woke an SQ thread. */
export const enterClock = { ms: 0, calls: 0, wakeups: 0 };
(globalThis as { __tsuringEnterClock?: typeof enterClock }).__tsuringEnterClock = enterClock;

export function ioUringEnter(
  fd: number,
  toSubmit: number,
  minComplete: number,
  flags: number,
  argAddress = 0,
  argSize = 0,
  onEintr?: () => boolean,
): number {
  const t0 = performance.now();
  const r = realEnter(fd, toSubmit, minComplete, flags, argAddress, argSize, onEintr);
  enterClock.ms += performance.now() - t0;
  enterClock.calls++;
  if ((flags & IORING_ENTER_SQ_WAKEUP) !== 0) enterClock.wakeups++;
  return r;
}
