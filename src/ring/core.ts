/**
 * The state of one ring, shared by the modules that act on it (`squeue.ts`, `cqueue.ts`,
 * `enter.ts`, `lifecycle.ts`, `resize.ts`) and owned by the public `IoUring` handle.
 *
 * **Liveness.** The core holds everything the kernel may still touch: the ring memory, the
 * op table with every pinned buffer, the attached registrations. It never references the
 * `IoUring` handle, so the handle can become unreachable while the core lives on: a
 * process-level registry keeps the core (see `lifecycle.ts`) and closes it when the handle
 * is collected, cancelling and draining what is in flight first. Nothing the kernel writes
 * into is freed before the kernel is done with it.
 *
 * @module
 */
import { IORING_ENTER_REGISTERED_RING, IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_R_DISABLED, IORING_SETUP_SQPOLL, IORING_SETUP_TASKRUN_FLAG } from '../../generated/constants.js';
import { IoUringGeteventsArg, KernelTimespec, SIZEOF_IO_URING_GETEVENTS_ARG, SIZEOF_KERNEL_TIMESPEC } from '../../generated/structs.js';
import { addressOf } from '../sys/libc.js';
import { CancelKeys } from './cancel-keys.js';
import { CqeSnapshot } from './cqe.js';
import { CompletionQueue } from './cqueue.js';
import type { RingViews } from './memory.js';
import { OpTable } from './op-table.js';
import type { OpenedRing } from './open.js';
import type { Probe } from './probe.js';
import { Registrations } from './registrations.js';
import { SubmissionQueue } from './squeue.js';

/** `_NSIG / 8`: the sigset size the kernel expects alongside a (null) signal mask. */
const SIGSET_SIZE = 8;

/** Something whose life is tied to a ring: see `IoUring.attach`. */
export interface RingResource {
  /** Frees what the resource holds; called once, after the ring's fd is closed. */
  release(): void;
}

/** What the kernel granted: sizes, flags and features, readable after setup. */
export interface RingParams {
  /** SQ entries granted (a power of two). */
  readonly sqEntries: number;
  /** CQ entries granted. */
  readonly cqEntries: number;
  /** `IORING_SETUP_*` flags the ring was created with (required plus granted preferred ones). */
  readonly setupFlags: number;
  /** `IORING_FEAT_*` bits the kernel reported. */
  readonly features: number;
  /** Bytes per SQE slot: 64 or 128. */
  readonly sqeSize: number;
  /** Bytes per CQE: 16 or 32. */
  readonly cqeSize: number;
  /** Whether the ring fd is registered with itself (enter uses the registered index). */
  readonly ringFdRegistered: boolean;
  /**
   * Where the ring memory lives: `'user'` / `'user-huge'` (`IORING_SETUP_NO_MMAP`: memory
   * the library mapped and the kernel pinned; SQEs are written in place, no copy) or
   * `'kernel-single'` / `'kernel-split'` (the kernel's pages, mapped in one region or two;
   * SQEs are staged in JS memory and copied at submit).
   */
  readonly mapping: 'kernel-single' | 'kernel-split' | 'user' | 'user-huge';
  /** Whether builders write SQEs straight into the kernel's SQE array (no staging copy). */
  readonly sqeInPlace: boolean;
  /** Most operations in flight at once (`Infinity`: no limit but the SQ's size per submission). */
  readonly maxInFlight: number;
}

/** Ring lifecycle states. */
export const OPEN = 0;
/** close() was called while a reap was running: it completes when the outermost reap returns. */
export const CLOSING = 1;
export const CLOSED = 2;

/** @internal */
export class RingCore {
  params: RingParams;
  /** Which opcodes the running kernel supports (`IORING_REGISTER_PROBE`). */
  readonly probe: Probe;
  readonly fd: number;
  enterFd: number;
  enterFlags: number;
  readonly ownsFd: boolean;
  /** {@link OPEN}, {@link CLOSING} or {@link CLOSED}. Public methods refuse anything but OPEN. */
  state = OPEN;
  disabled: boolean;
  readonly sqPoll: boolean;
  readonly deferTaskrun: boolean;
  readonly taskrunFlag: boolean;
  views: RingViews;
  readonly sq: SubmissionQueue;
  readonly cq: CompletionQueue;
  readonly table: OpTable;
  readonly maxInFlight: number;
  /** Resources tied to the ring's life (registered memory, buffer rings), released after teardown. */
  readonly resources = new Set<RingResource>();
  /** File-table size and buffer groups, as builders check them (`sqe.registered`). */
  readonly registered: Registrations;
  /** Cancel keys handed out by `ring.cancelKey()`. */
  readonly keys = new CancelKeys();
  /** Nesting depth of reap loops (user callbacks may reap again). */
  reapDepth = 0;
  /** Set when close() ran inside a reap: the outermost reap finishes the close. */
  closeDeferred = false;
  /** The kernel refused ASYNC_CANCEL with ANY|ALL (before 5.19): cancel op by op. */
  cancelAnyRefused = false;
  /** Reused CQE snapshots, one per reap nesting depth (a nested reap must not overwrite the outer one's). */
  readonly snapshots: CqeSnapshot[] = [];
  readonly peekSnapshots: CqeSnapshot[] = [];
  readonly bigCqe: boolean;

  // Wait arguments, JS-owned and referenced for the ring's life (addresses taken once).
  readonly waitArgBytes: Uint8Array;
  readonly waitArgAddress: number;
  readonly waitTs: KernelTimespec;
  readonly waitTsBytes: Uint8Array;

  constructor(opened: OpenedRing, probe: Probe) {
    const views = opened.views;
    this.probe = probe;
    const flags = opened.flags;
    this.fd = opened.fd;
    this.ownsFd = opened.ownsFd;
    this.enterFd = opened.fd;
    this.enterFlags = opened.ownsFd ? 0 : IORING_ENTER_REGISTERED_RING;
    this.views = views;
    this.sqPoll = (flags & IORING_SETUP_SQPOLL) !== 0;
    this.deferTaskrun = (flags & IORING_SETUP_DEFER_TASKRUN) !== 0;
    this.taskrunFlag = (flags & IORING_SETUP_TASKRUN_FLAG) !== 0;
    this.disabled = (flags & IORING_SETUP_R_DISABLED) !== 0;
    this.bigCqe = opened.cqeSize === 32;
    // No limit by default (as liburing: getSqe() fails only when the SQ is full); the table
    // grows as needed. With a limit, slots beyond it are reserved for the ring's own cancels
    // (close, abort): a cancel must never wait for room that only the ops it cancels can free.
    const maxInFlight = opened.setup.maxInFlight ?? Infinity;
    this.maxInFlight = maxInFlight;
    this.table = maxInFlight === Infinity
      ? new OpTable(opened.cqEntries + CANCEL_RESERVE, 1 << 24)
      : new OpTable(maxInFlight + CANCEL_RESERVE);
    this.registered = new Registrations((bgid) => this.sq.stagedProvides(bgid));
    this.sq = new SubmissionQueue(
      views.sq,
      views.sqes,
      views.sqesBuffer === null ? null : { buffer: views.sqesBuffer, byteOffset: views.sqesByteOffset },
      views.layout,
      opened.sqEntries,
      opened.sqeSize,
      this.table,
      this.registered,
      probe.unsupportedOps,
      this.keys,
    );
    this.cq = new CompletionQueue(views.cq, views.cqI32, views.layout, opened.cqEntries, opened.cqeSize);
    this.waitArgBytes = new Uint8Array(SIZEOF_IO_URING_GETEVENTS_ARG);
    this.waitTsBytes = new Uint8Array(SIZEOF_KERNEL_TIMESPEC);
    this.waitTs = new KernelTimespec(this.waitTsBytes);
    const waitArg = new IoUringGeteventsArg(this.waitArgBytes);
    waitArg.sigmaskSz = SIGSET_SIZE;
    waitArg.ts = addressOf(this.waitTsBytes);
    this.waitArgAddress = addressOf(this.waitArgBytes);
    this.params = Object.freeze({
      sqEntries: opened.sqEntries,
      cqEntries: opened.cqEntries,
      setupFlags: flags,
      features: opened.features,
      sqeSize: opened.sqeSize,
      cqeSize: opened.cqeSize,
      ringFdRegistered: !opened.ownsFd,
      mapping: views.mapping,
      sqeInPlace: views.sqesBuffer !== null,
      maxInFlight,
    });
  }

  /** The CQE snapshot for a reap at `depth` (created on first use). */
  snapshot(depth: number): CqeSnapshot {
    let s = this.snapshots[depth];
    if (s === undefined) {
      s = new CqeSnapshot(this.bigCqe);
      this.snapshots[depth] = s;
    }
    return s;
  }

  /** The snapshot `peekCqe()` fills at `depth`. */
  peekSnapshot(depth: number): CqeSnapshot {
    let s = this.peekSnapshots[depth];
    if (s === undefined) {
      s = new CqeSnapshot(this.bigCqe);
      this.peekSnapshots[depth] = s;
    }
    return s;
  }
}

/** Op-table slots reserved for the ring's own cancels beyond `maxInFlight`. */
export const CANCEL_RESERVE = 4;
