/**
 * The options of a ring's wait ({@link IoUring.submitAndWait}), in a module of their own so
 * the public typings do not reach into the ring's internals.
 *
 * @module
 */
import type { IoUring } from './ring.js';

/**
 * Options of a wait ({@link IoUring.submitAndWait}).
 */
export interface WaitOptions {
  /**
   * A batching budget in microseconds (`io_uring_getevents_arg.min_wait_usec`, as
   * liburing's `io_uring_submit_and_wait_min_timeout`): the wait for `waitNr` CQEs lasts
   * at most this long if at least one CQE has arrived by then, and returns with what is
   * there. If none has, it goes on as a plain wait (up to `timeoutMs`, if given) that
   * ends at the first CQE. 0 or absent: no minimum wait (an ordinary wait).
   *
   * Needs `IORING_FEAT_MIN_TIMEOUT` (Linux 6.12); older kernels get an `IoUringError`
   * with code `EOPNOTSUPP` before anything is submitted.
   */
  minWaitUs?: number;
}
