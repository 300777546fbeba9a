/**
 * Node's `AbortError`, as the Promise API rejects with it.
 *
 * @module
 */

/**
 * Node's `AbortError` shape (`name` 'AbortError', `code` 'ABORT_ERR'), with the signal's
 * reason as `cause`.
 */
export class AbortError extends Error {
  /** Node's code for aborted operations. */
  readonly code = 'ABORT_ERR';
  /** An AbortError; `options.cause` is the signal's `reason`. */
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}
