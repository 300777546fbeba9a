/**
 * `OwnedFd`: a plain file descriptor with one owner, closed exactly once.
 *
 * Descriptors are small integers that the kernel reuses at once: closing one twice can
 * close somebody else's file, and reading a closed one's number can target a file opened
 * since. `OwnedFd` makes both mistakes loud: its `fd` getter throws after `close()`, and a
 * second `close()` does nothing. It is an {@link FdLike}, so every op builder takes it
 * wherever it takes a descriptor number.
 *
 * It cannot be confused with a registered-file slot: those are only ever
 * {@link FixedFile} objects (a different class, which sets `IOSQE_FIXED_FILE`), and an
 * `OwnedFd` is never a `FixedFile`.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { errorFromCqeRes } from '../sys/errors.js';
import { closeFd } from '../sys/libc.js';
import { checkFdNumber } from './check.js';
import type { FdLike } from './fd.js';

/** Thrown when the descriptor of a closed (or released) {@link OwnedFd} is used. */
export class FdClosedError extends Error {
  /** Node-style error code. */
  readonly code = 'ERR_FD_CLOSED' as const;
  /**
   * The error for a use of a descriptor its `OwnedFd` no longer holds.
   *
   * @param what - The call that tried to use the descriptor.
   * @param fd - The descriptor number it had.
   * @param how - Whether it was closed or released (handed over) by its owner.
   */
  constructor(what: string, fd: number, how: 'closed' | 'released') {
    super(
      `${what}: descriptor ${fd} was already ${how} by this OwnedFd; its number may now belong to another file, so it is no longer handed out`,
    );
    this.name = 'FdClosedError';
  }
}

const CLOSED = -1;

/**
 * Owns one open file descriptor.
 *
 * ```ts
 * using sock = OwnedFd.fromResult(cqe.res, 'accept'); // throws IoUringError for a negative res
 * prepRecv(sqe, sock, buf);                           // any builder takes an OwnedFd
 * sock.close();                                       // closes once; later calls do nothing
 * ```
 */
export class OwnedFd implements FdLike, Disposable {
  #fd: number;
  /** The number it had, kept for messages after close. */
  readonly #was: number;
  #how: 'closed' | 'released' | undefined;

  /**
   * Takes ownership of `fd`: from now on this object closes it. Throws an
   * {@link ArgumentError} for anything but an integer from 0 to 2^31 - 1.
   */
  constructor(fd: number) {
    this.#fd = checkFdNumber('OwnedFd: fd', fd);
    this.#was = fd;
  }

  /**
   * The descriptor produced by an operation: `res` of an accept, open, socket or
   * `FIXED_FD_INSTALL` CQE. A negative `res` throws the operation's `IoUringError`
   * (`code` 'EMFILE', ...), so a failed op never turns into a bogus descriptor.
   *
   * @param opName - The op, for the error (`'accept'`).
   */
  static fromResult(res: number, opName = 'operation'): OwnedFd {
    if (typeof res === 'number' && Number.isInteger(res) && res < 0) throw errorFromCqeRes(res, opName);
    if (typeof res !== 'number' || !Number.isInteger(res)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'OwnedFd.fromResult: res', `expected a CQE result (an integer), received ${describeReceived(res)}`);
    }
    return new OwnedFd(res);
  }

  /** The descriptor. Throws {@link FdClosedError} once closed or released. */
  get fd(): number {
    if (this.#fd === CLOSED) throw new FdClosedError('OwnedFd.fd', this.#was, this.#how ?? 'closed');
    return this.#fd;
  }

  /** Whether `close()` or `release()` ran. */
  get closed(): boolean {
    return this.#fd === CLOSED;
  }

  /**
   * Closes the descriptor. The first call closes it (a close error such as EIO is thrown,
   * but the descriptor is gone either way, as Linux guarantees); later calls do nothing.
   */
  close(): void {
    const fd = this.#fd;
    if (fd === CLOSED) return;
    this.#fd = CLOSED;
    this.#how = 'closed';
    closeFd(fd);
  }

  /**
   * Gives up ownership without closing and returns the number: for handing the
   * descriptor to code that will close it (a `net.Socket({ fd })`, another OwnedFd).
   * Afterwards this object behaves as closed.
   */
  release(): number {
    const fd = this.fd;
    this.#fd = CLOSED;
    this.#how = 'released';
    return fd;
  }

  /** Same as {@link OwnedFd.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `fd:7`, or `fd:7(closed)`. */
  toString(): string {
    return this.#fd === CLOSED ? `fd:${this.#was}(${this.#how ?? 'closed'})` : `fd:${this.#fd}`;
  }

  /** Shown by `util.inspect` / `console.log`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `OwnedFd <${this.toString()}>`;
  }
}
