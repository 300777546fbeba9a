/**
 * The Promise API: io_uring on Node's event loop. `AsyncIoUring` turns each op into a
 * Promise with Node-shaped results and errors; the machinery (batching, backpressure,
 * cancellation, waking, closing, and what user code may do from inside it) is the
 * `Submitter`'s, in `submitter.ts`; op records and how results become values are in
 * `pending-op.ts`; option types in `options.ts`.
 *
 * - **Arguments.** Every method checks its arguments with the generated builders before
 *   anything is staged: a bad one rejects the promise with the builder's `ArgumentError`
 *   and nothing reaches the kernel. No method throws synchronously.
 * - **Lifetime.** Buffers stay referenced by the ring until the op's final CQE (the ring's
 *   op table); `close()` cancels and waits out in-flight work without blocking the loop.
 * - **Errors** are Node-shaped and their stacks include the awaiting async functions of
 *   the caller (see `pending-op.ts`).
 *
 * The hot ops (`read`, `write`, `readv`, `writev`, `send`, `recv`, `accept`) allocate
 * nothing but their promise when called without a signal and nothing is waiting for room
 * (op records are pooled).
 *
 * @module
 */
import type { SocketAddress } from 'node:net';
import {
  IORING_FSYNC_DATASYNC,
  IORING_TIMEOUT_ABS,
  IORING_TIMEOUT_BOOTTIME,
  IORING_TIMEOUT_REALTIME,
  IoringOp,
} from '../../generated/constants.js';
import {
  prepAccept,
  prepClose,
  prepCloseDirect,
  prepConnect,
  prepFallocate,
  prepFsync,
  prepMkdirat,
  prepNop,
  prepOpenat,
  prepPipe,
  prepPollAdd,
  prepRead,
  prepReadFixed,
  prepReadv,
  prepRecv,
  prepRecvmsg,
  prepRenameat,
  prepSend,
  prepSendmsg,
  prepShutdown,
  prepSocket,
  prepSplice,
  prepStatx,
  prepTimeout,
  prepUnlinkat,
  prepWrite,
  prepWriteFixed,
  prepWritev,
} from '../../generated/ops.js';
import type { Timespec } from '../abi/encode.js';
import { byteLengthOf, isView } from '../abi/intrinsics.js';
import { AT_FDCWD, FixedFile, type FdLike, type FileRef } from '../abi/fd.js';
import type { MsgHdr } from '../abi/msghdr.js';
import { OwnedFd } from '../abi/owned-fd.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { decodeSockaddr, encodeSockaddr, SOCK_CLOEXEC, SOCKADDR_STORAGE_SIZE, type SocketEndpoint } from '../net/sockaddr.js';
import type { BufferRing } from '../register/provided.js';
import { RegisteredBuffers } from '../register/buffers.js';
import { pipe2Sync } from '../sys/posix.js';
import { ringClosedError } from '../ring/errors.js';
import { IoUring } from '../ring/ring.js';
import { FAST_SETUP } from '../ring/setup.js';
import type { Sqe } from '../ring/sqe.js';
import { AbortError } from './abort.js';
import { AcceptMultishot, PollMultishot, RecvMultishot, type AcceptMultishotOptions, type MultishotOptions, type RecvMultishotOptions } from './multishot.js';
import { openFlagsOf, type OpenFlags } from './open-flags.js';
import type {
  AcceptOptions,
  Accepted,
  AsyncIoUringOptions,
  Completion,
  FsyncOptions,
  MsgOptions,
  OpOptions,
  ReadWriteOptions,
  SendRecvOptions,
  ShutdownHow,
  SpliceOptions,
  StatOptions,
  TimeoutOptions,
  WakerKind,
} from './options.js';
import { closeQuietly, OpResult, type OpExtra, type OpResultKind, type Startable } from './pending-op.js';
import { AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STATX_BTIME, STATX_SIZE, Stats } from './statx.js';
import { Submitter } from './submitter.js';

export { AbortError };
export * from './options.js';

const ETIME = -62;
type Kind = OpResultKind;

const OP_READ = IoringOp.READ;
const OP_WRITE = IoringOp.WRITE;
const OP_READ_FIXED = IoringOp.READ_FIXED;
const OP_WRITE_FIXED = IoringOp.WRITE_FIXED;
const OP_READV = IoringOp.READV;
const OP_WRITEV = IoringOp.WRITEV;
const OP_SEND = IoringOp.SEND;
const OP_RECV = IoringOp.RECV;
const OP_ACCEPT = IoringOp.ACCEPT;

/** A builder taking up to four arguments after the SQE (the hot ops' shape). */
type Prep4<A, B, C, D> = (sqe: Sqe, a: A, b: B, c: C, d: D) => void;
type Prep5<A, B, C, D, E> = (sqe: Sqe, a: A, b: B, c: C, d: D, e: E) => void;

/** A path argument as text for error messages. */
function pathText(path: unknown): string | undefined {
  if (typeof path === 'string') return path;
  if (path instanceof Uint8Array) return Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString();
  return undefined;
}

/** A timespec from milliseconds or `{ sec, nsec }`. */
function timespecOf(time: unknown, argument: string): Timespec {
  if (typeof time === 'number') {
    if (!Number.isFinite(time) || time < 0) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', argument, `expected a finite number of milliseconds ≥ 0, received ${describeReceived(time)}`);
    }
    const sec = Math.floor(time / 1000);
    const nsec = Math.min(999_999_999, Math.round((time - sec * 1000) * 1e6));
    return { sec, nsec };
  }
  if (time !== null && typeof time === 'object') return time as Timespec;
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected milliseconds or { sec, nsec }, received ${describeReceived(time)}`);
}

function checkOptions(options: unknown, what: string): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected an options object, received ${describeReceived(options)}`);
  }
}

function checkBooleanOption(value: unknown, argument: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected a boolean, received ${describeReceived(value)}`);
  return value;
}

/**
 * An io_uring driven from Node's event loop: every method returns a Promise.
 *
 * ```ts
 * await using ring = new AsyncIoUring();
 * const fd = await ring.open('data.bin', 'r');
 * const n = await ring.read(fd, buf, 0);
 * await ring.closeFd(fd);
 * ```
 *
 * Descriptors: every method that takes a file takes a number, an {@link OwnedFd} (or any
 * `{ fd }` object) or, where the kernel allows it, a registered slot ({@link FixedFile}).
 *
 * **From inside the library** (a `fill` of {@link AsyncIoUring.submit} that runs later,
 * when its op waited for room): starting ops runs them; `close()` takes effect after the
 * `fill` returns; closing `ring` (the raw ring) rejects what waits with `ERR_RING_CLOSED`.
 */
export class AsyncIoUring implements AsyncDisposable {
  /**
   * The underlying ring, for the raw API and registration. Don't close it directly (it is
   * noticed: what waits rejects with `ERR_RING_CLOSED`).
   */
  readonly ring: IoUring;
  readonly #s: Submitter;

  /**
   * Creates the ring (by default with {@link FAST_SETUP} preferred: deferred task running
   * with a single issuer where the kernel has it) and its waker. `maxInFlight` (default:
   * the CQ size) bounds the ops in the kernel at once; more wait in a FIFO for room.
   */
  constructor(options: AsyncIoUringOptions = {}) {
    const { waker: backend, maxInFlight, ...ringOptions } = options;
    if (ringOptions.registeredFdOnly === true) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring: options.registeredFdOnly', 'a ring without an fd cannot wake the event loop; use IoUring directly');
    }
    if (ringOptions.sqPoll !== undefined && ringOptions.sqPoll !== false && ringOptions.prefer === undefined) {
      // SQPOLL excludes the task-run flags of FAST_SETUP; don't ask for them.
      ringOptions.prefer = ['submitAll', 'noSqArray'];
    }
    if (maxInFlight !== undefined && (typeof maxInFlight !== 'number' || !Number.isInteger(maxInFlight) || maxInFlight < 1)) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', 'AsyncIoUring: options.maxInFlight', `expected an integer ≥ 1, received ${describeReceived(maxInFlight)}`);
    }
    this.ring = new IoUring({ entries: 256, prefer: FAST_SETUP, ...ringOptions });
    this.#s = new Submitter(this.ring, backend, maxInFlight);
  }

  /** Which waker backend the ring uses. */
  get wakerBackend(): WakerKind {
    return this.#s.wakerBackend;
  }

  /** Ops submitted and not yet completed, plus those waiting for room. */
  get pending(): number {
    return this.#s.pending;
  }

  /** Ops waiting for room (backpressure): not yet handed to the kernel. */
  get waiting(): number {
    return this.#s.waiting;
  }

  /** Whether `close()` has been called (or the raw ring was closed). */
  get closed(): boolean {
    return this.#s.closed;
  }

  /** Most ops in the kernel at once; more wait for room. */
  get maxInFlight(): number {
    return this.#s.maxInFlight;
  }

  // -------------------------------------------------------------------------------------
  // Generic ops

  /**
   * Starts any op: `fill` gets the SQE and calls a `prep*` builder on it. Resolves with
   * `res` (a count, a descriptor, 0) or rejects with a Node-shaped error for a negative
   * `res`. For ops whose CQE flags matter (provided buffers), use {@link AsyncIoUring.submitCqe}.
   *
   * `fill` may run later than the call (when the op waits for room), and not at all if it
   * is aborted or the ring closes first. If it throws, the promise rejects with that error
   * and nothing is submitted. With `sqe.skipSuccess()` on an op no later linked op of the
   * same batch accounts for, the flag is dropped (the promise needs a CQE to settle); in a
   * linked chain, a skipped success resolves with 0 when the chain's next CQE arrives.
   */
  submit(fill: (sqe: Sqe) => void, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, -1, fill, options) as Promise<number>;
  }

  /** Like {@link AsyncIoUring.submit}, resolving with the whole completion (`res` and `flags`). */
  submitCqe(fill: (sqe: Sqe) => void, options?: OpOptions): Promise<Completion> {
    return this.start(OpResult.Cqe, -1, fill, options) as Promise<Completion>;
  }

  /**
   * Starts an op whose result is a new descriptor (open, accept, socket): on abort a
   * descriptor produced anyway is closed.
   */
  submitFd(fill: (sqe: Sqe) => void, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Fd, -1, fill, options) as Promise<number>;
  }

  /** A no-op round trip through the kernel (`IORING_OP_NOP`). Resolves with 0. */
  nop(options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, 0, prepNop, options) as Promise<number>;
  }

  // -------------------------------------------------------------------------------------
  // Reads and writes (hot)

  /**
   * Reads into `buffer` from `fd` at `position` (-1: the file's current position, which
   * advances), like `fs.promises` `FileHandle.read`. Resolves with the bytes read (0 at end
   * of file). `buffer` stays referenced until the read completes.
   */
  read(fd: FileRef, buffer: ArrayBufferView, position: number | bigint = -1, options?: ReadWriteOptions): Promise<number> {
    try {
      return this.#hot(OpResult.Res, OP_READ, prepRead, fd, buffer, options?.length ?? viewLength(buffer), position, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Writes `buffer` to `fd` at `position` (-1: the current position). Resolves with the
   * bytes written, which may be fewer than asked (as with write(2)).
   */
  write(fd: FileRef, buffer: ArrayBufferView, position: number | bigint = -1, options?: ReadWriteOptions): Promise<number> {
    try {
      return this.#hot(OpResult.Res, OP_WRITE, prepWrite, fd, buffer, options?.length ?? viewLength(buffer), position, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Reads into `buffer` with `READ_FIXED`: `buffer` must lie inside a buffer registered on
   * this ring ({@link RegisteredBuffers.register} on `asyncRing.ring`; any subarray of one),
   * so the kernel uses the pages it pinned at registration instead of mapping `buffer` for
   * every read. With a {@link FixedFile} (a {@link FileTable} slot) as `fd` as well, neither
   * the file nor the memory is looked up per read. Resolves with the bytes read, as
   * {@link AsyncIoUring.read} does.
   *
   * Rejects with `ERR_OUT_OF_RANGE` when `buffer` is not inside a registered buffer of
   * this ring (or the ring has none). The table must stay registered until the read
   * settles: unregistering it meanwhile is allowed (the kernel keeps its pages until the
   * read ends), and later reads reject.
   */
  readFixed(fd: FileRef, buffer: ArrayBufferView, position: number | bigint = -1, options?: ReadWriteOptions): Promise<number> {
    try {
      const index = this.#fixedIndex('AsyncIoUring.readFixed', buffer);
      return this.#hot(OpResult.Res, OP_READ_FIXED, prepReadFixed, fd, buffer, options?.length ?? viewLength(buffer), position, options?.signal, index);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Writes `buffer` with `WRITE_FIXED`; `buffer` must lie inside a buffer registered on this
   * ring, as for {@link AsyncIoUring.readFixed}. Resolves with the bytes written.
   */
  writeFixed(fd: FileRef, buffer: ArrayBufferView, position: number | bigint = -1, options?: ReadWriteOptions): Promise<number> {
    try {
      const index = this.#fixedIndex('AsyncIoUring.writeFixed', buffer);
      return this.#hot(OpResult.Res, OP_WRITE_FIXED, prepWriteFixed, fd, buffer, options?.length ?? viewLength(buffer), position, options?.signal, index);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The registered buffer `buffer` lies in, or a clear refusal. */
  #fixedIndex(what: string, buffer: ArrayBufferView): number {
    const table = RegisteredBuffers.of(this.ring);
    const index = table === undefined ? -1 : table.indexOf(buffer);
    if (index < 0) {
      throw new ArgumentError(
        'ERR_OUT_OF_RANGE',
        `${what}: buffer`,
        table === undefined
          ? 'this ring has no registered buffers: register them first (RegisteredBuffers.register(asyncRing.ring, [memory]))'
          : `the memory is not inside a buffer registered on this ring; pass a subarray of one (received ${describeReceived(buffer)})`,
      );
    }
    return index;
  }

  /**
   * Reads into several buffers in order (preadv) at `position` (-1: the current position).
   * Resolves with the total bytes read.
   */
  readv(fd: FileRef, buffers: readonly ArrayBufferView[], position: number | bigint = -1, options?: OpOptions): Promise<number> {
    try {
      return this.#hot(OpResult.Res, OP_READV, prepReadv, fd, buffers, position, undefined, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Writes several buffers in order (pwritev). Resolves with the total bytes written. */
  writev(fd: FileRef, buffers: readonly ArrayBufferView[], position: number | bigint = -1, options?: OpOptions): Promise<number> {
    try {
      return this.#hot(OpResult.Res, OP_WRITEV, prepWritev, fd, buffers, position, undefined, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // -------------------------------------------------------------------------------------
  // Sockets (hot: send, recv, accept)

  /** Sends `buffer` on a connected socket. Resolves with the bytes sent (maybe fewer than asked). */
  send(fd: FileRef, buffer: ArrayBufferView, options?: SendRecvOptions): Promise<number> {
    try {
      return this.#hot(OpResult.Res, OP_SEND, prepSend, fd, buffer, options?.length ?? viewLength(buffer), options?.flags ?? 0, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Receives into `buffer` from a socket. Resolves with the bytes received (0: the peer closed its side). */
  recv(fd: FileRef, buffer: ArrayBufferView, options?: SendRecvOptions): Promise<number> {
    try {
      return this.#hot(OpResult.Res, OP_RECV, prepRecv, fd, buffer, options?.length ?? viewLength(buffer), options?.flags ?? 0, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Accepts one connection on a listening socket. Resolves with the new descriptor (yours
   * to close), or with `{ fd, peer }` when `options.peer` is true. On abort a connection
   * accepted anyway is closed.
   */
  accept(fd: FileRef, options: AcceptOptions & { peer: true }): Promise<Accepted>;
  accept(fd: FileRef, options?: AcceptOptions): Promise<number>;
  accept(fd: FileRef, options?: AcceptOptions): Promise<number | Accepted> {
    try {
      const flags = options?.flags ?? SOCK_CLOEXEC;
      if (options?.peer === true) {
        const addr = new Uint8Array(SOCKADDR_STORAGE_SIZE);
        const extra: OpExtra = { map: (res) => ({ fd: res, peer: decodeSockaddr(addr) }) };
        return this.start(OpResult.Fd, OP_ACCEPT, (sqe) => prepAccept(sqe, fd, addr, flags), options, extra) as Promise<Accepted>;
      }
      return this.#hot(OpResult.Fd, OP_ACCEPT, prepAccept, fd, null, flags, undefined, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Connects a socket to `{ address, port }` (IPv4 or IPv6 text; no name resolution) or a
   * `net.SocketAddress`. Resolves once connected.
   */
  connect(fd: FileRef, address: SocketEndpoint | SocketAddress, options?: OpOptions): Promise<void> {
    let addr: Uint8Array;
    try {
      addr = encodeSockaddr(address, 'AsyncIoUring.connect: address');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Void, IoringOp.CONNECT, (sqe) => prepConnect(sqe, fd, addr), options) as Promise<never>;
  }

  /** Sends the buffers a {@link MsgHdr} describes (to its `name`, if any). Resolves with the bytes sent. */
  sendmsg(fd: FileRef, msg: MsgHdr, options?: MsgOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.SENDMSG, (sqe) => prepSendmsg(sqe, fd, msg, options?.flags ?? 0), options) as Promise<number>;
  }

  /**
   * Receives into the buffers a {@link MsgHdr} describes. Resolves with the bytes received;
   * then `msg.nameLength`, `msg.controlLength` and `msg.flags` hold what the kernel wrote.
   * Don't start two receives on one MsgHdr at once.
   */
  recvmsg(fd: FileRef, msg: MsgHdr, options?: MsgOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.RECVMSG, (sqe) => prepRecvmsg(sqe, fd, msg, options?.flags ?? 0), options) as Promise<number>;
  }

  /** Shuts down one or both directions of a connection (`'read'`, `'write'`, `'both'`, or SHUT_* numbers). */
  shutdown(fd: FileRef, how: ShutdownHow = 'both', options?: OpOptions): Promise<void> {
    const value = how === 'read' ? 0 : how === 'write' ? 1 : how === 'both' ? 2 : how;
    if (value !== 0 && value !== 1 && value !== 2) {
      return Promise.reject(new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring.shutdown: how', `expected 'read', 'write', 'both' or 0 to 2, received ${describeReceived(how)}`));
    }
    return this.start(OpResult.Void, IoringOp.SHUTDOWN, (sqe) => prepShutdown(sqe, fd, value), options) as Promise<never>;
  }

  /**
   * Creates a socket (socket(2): `AF_*`, `SOCK_*` with optional `SOCK_CLOEXEC` /
   * `SOCK_NONBLOCK` bits, protocol). Resolves with its descriptor (yours to close).
   */
  socket(domain: number, type: number, protocol = 0, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Fd, IoringOp.SOCKET, (sqe) => prepSocket(sqe, domain, type, protocol), options) as Promise<number>;
  }

  /**
   * Accepts connections as they come, as an async iterator of {@link OwnedFd}s (one
   * multishot `ACCEPT`, re-armed if the kernel ends it). See {@link AcceptMultishot} for
   * backpressure and how it ends.
   */
  acceptMultishot(fd: FileRef, options?: AcceptMultishotOptions): AcceptMultishot {
    return new AcceptMultishot(this, fd, options);
  }

  /**
   * Receives as data comes, as an async iterator of chunks, with one multishot `RECV`
   * picking buffers from `buffers` (a {@link BufferRing} on this ring). By default each
   * chunk is a copy you own (the provided buffer goes back to the ring at once); with
   * `{ borrow: true }` a chunk is a view into the buffer ring, valid until you ask for the
   * next chunk. See {@link RecvMultishot}. Ends (done) when the peer closes its side.
   */
  recvMultishot(fd: FileRef, buffers: BufferRing, options?: RecvMultishotOptions): RecvMultishot {
    return new RecvMultishot(this, fd, buffers, options);
  }

  // -------------------------------------------------------------------------------------
  // Files

  /** Flushes a file's data and metadata to storage (`{ datasync: true }`: fdatasync). */
  fsync(fd: FileRef, options?: FsyncOptions): Promise<void> {
    let flags: number;
    try {
      checkOptions(options, 'AsyncIoUring.fsync');
      flags = checkBooleanOption(options?.datasync, 'AsyncIoUring.fsync: options.datasync') ? IORING_FSYNC_DATASYNC : 0;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Void, IoringOp.FSYNC, (sqe) => prepFsync(sqe, fd, flags), options) as Promise<never>;
  }

  /** Allocates (or, with `FALLOC_FL_*` modes, punches or zeroes) a byte range of a file (fallocate(2)). */
  fallocate(fd: FileRef, mode: number, offset: number | bigint, length: number | bigint, options?: OpOptions): Promise<void> {
    return this.start(OpResult.Void, IoringOp.FALLOCATE, (sqe) => prepFallocate(sqe, fd, mode, offset, length), options) as Promise<never>;
  }

  /**
   * Opens `path` relative to the directory `dirfd` (`AT_FDCWD`: the current directory).
   * `flags` is one of Node's strings (`'r'`, `'w'`, `'a+'`, `'wx'`, ...; `O_CLOEXEC` is
   * added, as Node does) or `O_*` bits passed on as given. Resolves with the descriptor.
   */
  openat(dirfd: number | FdLike, path: string | Uint8Array, flags: OpenFlags = 'r', mode = 0o666, options?: OpOptions): Promise<number> {
    let oflags: number;
    try {
      oflags = openFlagsOf(flags, 'AsyncIoUring.open: flags');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Fd, IoringOp.OPENAT, (sqe) => prepOpenat(sqe, dirfd, path, oflags, mode), options, { path: pathText(path) }) as Promise<number>;
  }

  /** {@link AsyncIoUring.openat} from the current directory: like `fs.open`, resolving with the descriptor. */
  open(path: string | Uint8Array, flags: OpenFlags = 'r', mode = 0o666, options?: OpOptions): Promise<number> {
    return this.openat(AT_FDCWD, path, flags, mode, options);
  }

  /** {@link AsyncIoUring.open} resolving with an {@link OwnedFd}, which closes its descriptor once (`using`). */
  openOwned(path: string | Uint8Array, flags: OpenFlags = 'r', mode = 0o666, options?: OpOptions): Promise<OwnedFd> {
    let oflags: number;
    try {
      oflags = openFlagsOf(flags, 'AsyncIoUring.openOwned: flags');
    } catch (err) {
      return Promise.reject(err);
    }
    const extra: OpExtra = { path: pathText(path), map: (res) => new OwnedFd(res) };
    return this.start(OpResult.Fd, IoringOp.OPENAT, (sqe) => prepOpenat(sqe, AT_FDCWD, path, oflags, mode), options, extra) as Promise<OwnedFd>;
  }

  /**
   * Closes a descriptor through the ring: a number, an {@link OwnedFd} (marked closed at
   * once, so it is never closed twice), or a registered slot ({@link FixedFile}, emptied with
   * `close_direct`). Named `closeFd` because `close()` closes the ring.
   */
  closeFd(fd: number | FdLike | FixedFile, options?: OpOptions): Promise<void> {
    if (fd instanceof FixedFile) {
      const index = fd.index;
      return this.start(OpResult.Void, IoringOp.CLOSE, (sqe) => prepCloseDirect(sqe, index), options) as Promise<never>;
    }
    if (fd instanceof OwnedFd) {
      if (this.closed) return Promise.reject(ringClosedError('AsyncIoUring.closeFd'));
      let n: number;
      try {
        n = fd.release();
      } catch (err) {
        return Promise.reject(err);
      }
      return this.start(OpResult.Void, IoringOp.CLOSE, (sqe) => prepClose(sqe, n), options) as Promise<never>;
    }
    return this.start(OpResult.Void, IoringOp.CLOSE, (sqe) => prepClose(sqe, fd), options) as Promise<never>;
  }

  /**
   * `statx(2)`: the status of `path` relative to `dirfd`, as a {@link Stats}. `flags` are
   * `AT_*` bits, `mask` the `STATX_*` fields wanted (default: everything `stat` reports and
   * the birth time).
   */
  statx(dirfd: number | FdLike, path: string | Uint8Array, flags = 0, mask = STATX_BASIC_STATS | STATX_BTIME, options?: OpOptions): Promise<Stats> {
    const buf = new Uint8Array(STATX_SIZE);
    const extra: OpExtra = { path: pathText(path), map: () => new Stats(buf) };
    return this.start(OpResult.Res, IoringOp.STATX, (sqe) => prepStatx(sqe, dirfd, path, flags, mask, buf), options, extra) as Promise<Stats>;
  }

  /** Like `fs.promises.stat` (or `lstat` with `{ followSymlinks: false }`). */
  stat(path: string | Uint8Array, options?: StatOptions): Promise<Stats> {
    let flags: number;
    try {
      checkOptions(options, 'AsyncIoUring.stat');
      const follow = options?.followSymlinks;
      if (follow !== undefined && typeof follow !== 'boolean') {
        throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'AsyncIoUring.stat: options.followSymlinks', `expected a boolean, received ${describeReceived(follow)}`);
      }
      flags = follow === false ? AT_SYMLINK_NOFOLLOW : 0;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.statx(AT_FDCWD, path, flags, undefined, options);
  }

  /** Like `fs.promises.lstat`: a symbolic link reports itself. */
  lstat(path: string | Uint8Array, options?: OpOptions): Promise<Stats> {
    return this.statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, undefined, options);
  }

  /** Like `fs.fstat`: the status of an open descriptor (statx with `AT_EMPTY_PATH`). */
  fstat(fd: number | FdLike, options?: OpOptions): Promise<Stats> {
    const buf = new Uint8Array(STATX_SIZE);
    const extra: OpExtra = { map: () => new Stats(buf) };
    return this.start(OpResult.Res, IoringOp.STATX, (sqe) => prepStatx(sqe, fd, '', AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, buf), options, extra) as Promise<Stats>;
  }

  /** `unlinkat(2)`: removes a file, or with `AT_REMOVEDIR` an empty directory. */
  unlinkat(dirfd: number | FdLike, path: string | Uint8Array, flags = 0, options?: OpOptions): Promise<void> {
    return this.start(OpResult.Void, IoringOp.UNLINKAT, (sqe) => prepUnlinkat(sqe, dirfd, path, flags), options, { path: pathText(path) }) as Promise<never>;
  }

  /** Like `fs.promises.unlink`. */
  unlink(path: string | Uint8Array, options?: OpOptions): Promise<void> {
    return this.unlinkat(AT_FDCWD, path, 0, options);
  }

  /** Like `fs.promises.rmdir` (the directory must be empty). */
  rmdir(path: string | Uint8Array, options?: OpOptions): Promise<void> {
    return this.unlinkat(AT_FDCWD, path, AT_REMOVEDIR, options);
  }

  /** `renameat2(2)`; `flags`: `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, ... */
  renameat(oldDirfd: number | FdLike, oldPath: string | Uint8Array, newDirfd: number | FdLike, newPath: string | Uint8Array, flags = 0, options?: OpOptions): Promise<void> {
    const extra: OpExtra = { path: pathText(oldPath), dest: pathText(newPath) };
    return this.start(OpResult.Void, IoringOp.RENAMEAT, (sqe) => prepRenameat(sqe, oldDirfd, oldPath, newDirfd, newPath, flags), options, extra) as Promise<never>;
  }

  /** Like `fs.promises.rename`. */
  rename(oldPath: string | Uint8Array, newPath: string | Uint8Array, options?: OpOptions): Promise<void> {
    return this.renameat(AT_FDCWD, oldPath, AT_FDCWD, newPath, 0, options);
  }

  /** `mkdirat(2)`. */
  mkdirat(dirfd: number | FdLike, path: string | Uint8Array, mode = 0o777, options?: OpOptions): Promise<void> {
    return this.start(OpResult.Void, IoringOp.MKDIRAT, (sqe) => prepMkdirat(sqe, dirfd, path, mode), options, { path: pathText(path) }) as Promise<never>;
  }

  /** Like `fs.promises.mkdir` (one level; no `recursive`). */
  mkdir(path: string | Uint8Array, mode = 0o777, options?: OpOptions): Promise<void> {
    return this.mkdirat(AT_FDCWD, path, mode, options);
  }

  /**
   * Moves up to `nbytes` between two descriptors, one of them a pipe (splice(2)); an offset
   * of -1 uses (and advances) the file's position, and must be -1 for the pipe. Resolves with
   * the bytes moved (0 at the end of the input).
   */
  splice(fdIn: FileRef, offIn: number | bigint, fdOut: FileRef, offOut: number | bigint, nbytes: number, options?: SpliceOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.SPLICE, (sqe) => prepSplice(sqe, fdIn, offIn, fdOut, offOut, nbytes, options?.flags ?? 0), options) as Promise<number>;
  }

  /**
   * Creates a pipe (`IORING_OP_PIPE`, Linux 6.16; on older kernels `pipe2(2)`). Resolves with
   * `[readEnd, writeEnd]` (yours to close). `flags`: `O_CLOEXEC` (default), `O_NONBLOCK`, `O_DIRECT`.
   */
  pipe(flags = 0o2000000, options?: OpOptions): Promise<[number, number]> {
    // No IORING_OP_PIPE (before 6.16): pipe2(2), which never blocks, called when a NOP completes,
    // so the promise keeps an op's order, abort and closed-ring behaviour; an aborted one makes no pipe.
    if (!this.ring.probe.supports('PIPE')) return this.start(OpResult.Res, IoringOp.NOP, prepNop, options, { map: () => pipe2Sync(flags) }) as Promise<[number, number]>;
    const fds = new Int32Array(2);
    const extra: OpExtra = {
      map: () => [fds[0]!, fds[1]!],
      onAbandoned: () => {
        closeQuietly(fds[0]!);
        closeQuietly(fds[1]!);
      },
    };
    return this.start(OpResult.Res, IoringOp.PIPE, (sqe) => prepPipe(sqe, fds, flags), options, extra) as Promise<[number, number]>;
  }

  // -------------------------------------------------------------------------------------
  // Time and readiness

  /**
   * Resolves after `time` (milliseconds, or `{ sec, nsec }`): the kernel's `-ETIME`, the
   * expected end of a timeout, is success here. With `{ absolute: true }` the time is a
   * point on `clock` (`'monotonic'` by default: `CLOCK_MONOTONIC`'s reading, not the epoch).
   */
  timeout(time: number | Timespec, options?: TimeoutOptions): Promise<void> {
    let ts: Timespec;
    let flags = 0;
    try {
      checkOptions(options, 'AsyncIoUring.timeout');
      ts = timespecOf(time, 'AsyncIoUring.timeout: time');
      if (checkBooleanOption(options?.absolute, 'AsyncIoUring.timeout: options.absolute')) flags |= IORING_TIMEOUT_ABS;
      const clock = options?.clock;
      if (clock === 'boottime') flags |= IORING_TIMEOUT_BOOTTIME;
      else if (clock === 'realtime') flags |= IORING_TIMEOUT_REALTIME;
      else if (clock !== undefined && clock !== 'monotonic') {
        throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring.timeout: options.clock', `expected 'monotonic', 'boottime' or 'realtime', received ${describeReceived(clock)}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Res, IoringOp.TIMEOUT, (sqe) => prepTimeout(sqe, ts, 0, flags), options, TIMEOUT_EXTRA) as Promise<void>;
  }

  /**
   * Waits until `fd` is ready for `events` (`POLLIN`, `POLLOUT`, ... bits). Resolves with
   * the `revents` mask that fired (which may include `POLLERR` / `POLLHUP`).
   */
  poll(fd: FileRef, events: number, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.POLL_ADD, (sqe) => prepPollAdd(sqe, fd, events), options) as Promise<number>;
  }

  /**
   * Reports readiness as it happens, as an async iterator of `revents` masks (one multishot
   * `POLL_ADD`, level-triggered by the kernel's rules for multishot poll: one event per
   * wake-up of the file).
   */
  pollMultishot(fd: FileRef, events: number, options?: MultishotOptions): PollMultishot {
    return new PollMultishot(this, fd, events, options);
  }

  // -------------------------------------------------------------------------------------
  // The common path

  /**
   * The hot ops' path: an SQE now when there is room and no signal (no closure, no
   * allocation but the promise), else the common path with a closure.
   */
  #hot<A, B, C, D, E = undefined>(kind: Kind, opcode: number, prep: Prep4<A, B, C, D> | Prep5<A, B, C, D, E>, a: A, b: B, c: C, d: D, signal: AbortSignal | undefined, e?: E): Promise<number> {
    const s = this.#s;
    if (signal === undefined && !s.hasWaiting) {
      const sqe = s.acquire();
      if (sqe !== null) {
        try {
          (prep as Prep5<A, B, C, D, E | undefined>)(sqe, a, b, c, d, e);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = s.begin(kind, opcode);
        s.launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return s.start(kind, opcode, (sqe) => (prep as Prep5<A, B, C, D, E | undefined>)(sqe, a, b, c, d, e), signal, undefined) as Promise<number>;
  }

  /**
   * @internal The common path of every Promise method. `fill` writes the SQE and may
   * throw (bad arguments): the promise then rejects and nothing is submitted. Never throws.
   */
  start(kind: Kind, opcode: number, fill: (sqe: Sqe) => void, options: OpOptions | undefined, extra?: OpExtra): Promise<unknown> {
    try {
      return this.#s.start(kind, opcode, fill, options?.signal, extra);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * @internal Starts a long-lived handler (a multishot op): now if there is room, else
   * after the ops already waiting. Throws (synchronously) if the ring is closed or `fill`
   * refuses its arguments right away; a `fill` that fails later calls `handler.reject`.
   */
  launchHandler(handler: Startable, fill: (sqe: Sqe) => void): void {
    this.#s.launchHandler(handler, fill);
  }

  /**
   * @internal Stops a handler: withdraws it if it still waits for room (returns false: no
   * CQE will come), else cancels it by id (returns true: its final CQE will come).
   */
  cancelHandler(handler: Startable): boolean {
    return this.#s.cancelHandler(handler);
  }

  /** @internal Calls `hook` once when `close()` starts (until removed). */
  addCloseHook(hook: () => void): void {
    this.#s.addCloseHook(hook);
  }

  /** @internal */
  removeCloseHook(hook: () => void): void {
    this.#s.removeCloseHook(hook);
  }

  // -------------------------------------------------------------------------------------
  // Close

  /**
   * Rejects ops still waiting for room, cancels what is in flight and waits (without
   * blocking the event loop) until the kernel has finished with every buffer, then closes
   * the ring. In-flight ops settle first: cancelled ones reject with ECANCELED, ones that
   * completed meanwhile resolve normally; multishot iterators end (done). Idempotent;
   * resolves when done. Called from a `fill`, it takes effect after the `fill` returns.
   */
  close(): Promise<void> {
    return this.#s.close();
  }

  /** Same as {@link AsyncIoUring.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A timeout's expiry (-ETIME) is its success; it resolves with nothing. */
const TIMEOUT_EXTRA: OpExtra = Object.freeze({ okErr: ETIME, map: () => undefined });

/** The length a view really has (built-in getter; 0 for a non-view, which the builder then refuses). */
function viewLength(view: ArrayBufferView): number {
  return isView(view) ? byteLengthOf(view) : 0;
}
