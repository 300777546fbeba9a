/**
 * Errors raised by the ring itself (not by the kernel): use after close, a full
 * submission queue, misuse of an SQE handle.
 *
 * @module
 */

/** Codes of {@link RingStateError}. */
export type RingStateErrorCode =
  | 'ERR_RING_CLOSED'
  | 'ERR_RING_SQ_FULL'
  | 'ERR_RING_SQE_STALE'
  | 'ERR_RING_NOT_ENABLED'
  | 'ERR_RING_WOULD_BLOCK'
  | 'ERR_RING_BUSY'
  /** The call cannot run from inside the ring's own callback (a `forEachCqe` callback); call it after the reap returns. */
  | 'ERR_RING_REENTRANT'
  /** An SQE with IOSQE_CQE_SKIP_SUCCESS pins memory but no later linked op posts a CQE for it. */
  | 'ERR_RING_SKIP_SUCCESS_UNLINKED';

/** The ring is in a state where the call cannot proceed; nothing was submitted or changed. */
export class RingStateError extends Error {
  /** Machine-readable reason. */
  readonly code: RingStateErrorCode;
  /**
   * An error with a machine-readable `code` (`name` is `RingStateError`).
   *
   * @param code - The reason, one of {@link RingStateErrorCode}.
   * @param message - What happened and what to do, naming the call that refused.
   */
  constructor(code: RingStateErrorCode, message: string) {
    super(message);
    this.name = 'RingStateError';
    this.code = code;
  }
}

/** The error every method throws after `close()`. */
export function ringClosedError(what: string): RingStateError {
  return new RingStateError(
    'ERR_RING_CLOSED',
    `${what}: the ring is closed (its memory is unmapped); create a new IoUring`,
  );
}
