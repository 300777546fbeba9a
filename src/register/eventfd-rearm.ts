/**
 * A kernel bug the Promise layer works around: a ring's registered eventfd stops hearing
 * *deferred* signals after its first one.
 *
 * **The bug.** The kernel signals a ring's eventfd at once, except where that is not
 * allowed (`eventfd_signal_allowed()` false: inside another eventfd's wake-up, and on some
 * kernels in softirq context too, e.g. Debian's 6.12 when a socket's data arrives over
 * loopback). There it defers the signal to an RCU callback, and marks the registration
 * (`IO_EVENTFD_OP_SIGNAL_BIT`) so that one deferred signal is queued at a time. Linux 6.1
 * clears that mark when the callback runs (`io_eventfd_ops()`); the rewrite that moved
 * this code to `io_uring/eventfd.c` (`io_eventfd_do_signal()`) never clears it. From the
 * first deferred signal on, every later deferred signal of that registration is dropped.
 *
 * **Why it hangs.** On a `DEFER_TASKRUN` ring the eventfd is the only notice that
 * completion work is waiting (the ring fd is not made readable for epoll), and the kernel
 * signals it only when that work list goes from empty to non-empty. A dropped signal
 * leaves the work queued and `IORING_SQ_TASKRUN` set, with nobody told: the op never
 * completes until something else wakes the loop. Seen as a recv that never completed on
 * Debian's 6.12 (test/async/ops.test.ts, the second connection of its socket test), and
 * reproduced on 6.12 and this project's 6.18 by test/async/eventfd-rearm.test.ts with a
 * poll that another ring's eventfd wakes.
 *
 * **The workaround.** A new registration starts with the mark clear. So the Promise layer
 * re-registers its eventfd after each wake-up, *before* it reaps:
 * - the mark is only ever set by a deferred signal that is then delivered, and every
 *   delivered signal wakes the loop, which re-registers; so no registration keeps the mark
 *   past the next wake-up;
 * - a signal dropped in between was for work added while the mark was set; that work set
 *   `IORING_SQ_TASKRUN`, and the reap that follows the re-registration sees the flag and
 *   runs it (as it does for work added while no eventfd was registered, in the instant
 *   between unregistering and registering).
 *
 * It costs one unregister and one register per wake-up (about 1.3 µs here), so it is done
 * only on kernels that have the rewritten code: from {@link EVENTFD_REARM_SINCE} on (the
 * rewrite came in 6.11; 6.10 is included as a margin, 6.1 is known good).
 *
 * @module
 */
import { IORING_REGISTER_EVENTFD, IORING_UNREGISTER_EVENTFD } from '../../generated/constants.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { kernelAtLeast } from '../sys/kernel-version.js';

/** The first kernel version on which a registered eventfd is re-armed after each wake-up. */
export const EVENTFD_REARM_SINCE = Object.freeze([6, 10] as const);

let needed: boolean | undefined;

/** Whether the running kernel may drop deferred eventfd signals (see the module comment). */
export function eventfdRearmNeeded(): boolean {
  needed ??= kernelAtLeast(EVENTFD_REARM_SINCE[0], EVENTFD_REARM_SINCE[1]);
  return needed;
}

/** Why {@link rearmEventfd} could not re-register: the kernel's error, and whether the ring kept its old registration. */
export interface RearmFailure {
  /** The refused call's error (EACCES under restrictions; ENOMEM in principle). */
  readonly error: IoUringError;
  /** Whether the unregister went through and the register did not: the ring has no eventfd now. */
  readonly lost: boolean;
}

/**
 * Re-registers `fd` (held in `arg`, a one-element Int32Array) as the ring's eventfd.
 *
 * Returns null when done. A refusal is returned, not thrown (this runs in a wake-up
 * callback, where a throw would end the process): the caller must then watch the ring by
 * other means. Anything but an `IoUringError` is thrown.
 */
export function rearmEventfd(ring: IoUring, arg: Int32Array): RearmFailure | null {
  try {
    ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
  } catch (err) {
    if (err instanceof IoUringError) return { error: err, lost: false };
    throw err;
  }
  try {
    ring.register(IORING_REGISTER_EVENTFD, arg, 1);
  } catch (err) {
    if (err instanceof IoUringError) return { error: err, lost: true };
    throw err;
  }
  return null;
}
