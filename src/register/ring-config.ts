/**
 * Ring-level registration: completion notification through an eventfd, personalities,
 * the async worker pool's limits and CPU affinity, restrictions, and the clock waits use.
 *
 * Each function takes the ring first and maps to one `io_uring_register(2)` opcode; the
 * kernel's errors arrive as `IoUringError` with `syscall: 'io_uring_register'`.
 *
 * @module
 */
import {
  IORING_REGISTER_CLOCK,
  IORING_REGISTER_EVENTFD,
  IORING_REGISTER_EVENTFD_ASYNC,
  IORING_REGISTER_IOWQ_AFF,
  IORING_REGISTER_IOWQ_MAX_WORKERS,
  IORING_REGISTER_PERSONALITY,
  IORING_REGISTER_RESTRICTIONS,
  IORING_RESTRICTION_REGISTER_OP,
  IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
  IORING_RESTRICTION_SQE_FLAGS_REQUIRED,
  IORING_RESTRICTION_SQE_OP,
  IORING_UNREGISTER_EVENTFD,
  IORING_UNREGISTER_IOWQ_AFF,
  IORING_UNREGISTER_PERSONALITY,
} from '../../generated/constants.js';
import { IoUringClockRegister, IoUringRestriction, SIZEOF_IO_URING_CLOCK_REGISTER, SIZEOF_IO_URING_RESTRICTION } from '../../generated/structs.js';
import { checkIntRange, checkU8 } from '../abi/check.js';
import { fileNumber, type FdLike } from '../abi/fd.js';
import { OwnedFd } from '../abi/owned-fd.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { RingStateError } from '../ring/errors.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd } from '../sys/libc.js';
import { eventfdRearmNeeded } from './eventfd-rearm.js';
import { claimEventfdSlot, eventfdSlotHolder, releaseEventfdSlot } from './eventfd-slot.js';
import { registryOf } from './registry.js';

// ---------------------------------------------------------------------------------------
// eventfd

/** Options of {@link registerEventfd}. */
export interface EventfdOptions {
  /**
   * Signal only for completions that finished asynchronously, not for those completed
   * inline during submission (`IORING_REGISTER_EVENTFD_ASYNC`).
   */
  async?: boolean;
}

const EBUSY = 16;

/**
 * Makes the kernel signal `eventfd` when it posts CQEs (`IORING_REGISTER_EVENTFD`, or
 * `_ASYNC`). The ring does not take ownership of the descriptor.
 *
 * A ring has one eventfd slot. An {@link AsyncIoUring} whose ring was set up with
 * `DEFER_TASKRUN` (the default where the kernel has it) or uses the threadpool waker holds
 * that slot itself, to wake Node's event loop; registering another eventfd on such a ring
 * throws EBUSY saying so. (The slot is not shared: the waker reads and resets the eventfd's
 * counter on every wake-up, so a second reader would miss signals or steal them.) Use the
 * Promise API's own completions there, or a raw {@link IoUring} of your own.
 *
 * On a ring set up with `deferTaskrun`, Linux 6.11 and later can stop signalling a
 * registered eventfd (see {@link RingEventfd.rearm} and {@link eventfdRearmNeeded}).
 *
 * @throws `IoUringError` EBUSY when the slot is taken (the message names the holder).
 */
export function registerEventfd(ring: IoUring, eventfd: number | FdLike, options: EventfdOptions = {}): void {
  registerEventfdFor('registerEventfd', ring, eventfd, options, undefined);
}

function registerEventfdFor(what: string, ring: IoUring, eventfd: number | FdLike, options: EventfdOptions, owner: object | undefined): void {
  registryOf(ring, what);
  const fd = fileNumber(`${what}: eventfd`, eventfd, false, false);
  const holder = eventfdSlotHolder(ring);
  if (holder?.kind === 'async') {
    throw new IoUringError(
      EBUSY,
      'io_uring_register',
      '(IORING_REGISTER_EVENTFD)',
      `this ring's eventfd slot is held by its AsyncIoUring, which watches eventfd ${holder.fd} to wake the event loop (rings set up with DEFER_TASKRUN, or the threadpool waker); a ring has one slot and it cannot be shared. Await the Promise API's completions instead, or use a raw IoUring`,
    );
  }
  const arg = new Int32Array([fd]);
  try {
    ring.register(options.async === true ? IORING_REGISTER_EVENTFD_ASYNC : IORING_REGISTER_EVENTFD, arg, 1);
  } catch (err) {
    if (err instanceof IoUringError && err.code === 'EBUSY' && holder !== undefined) {
      throw new IoUringError(EBUSY, 'io_uring_register', '(IORING_REGISTER_EVENTFD)', `eventfd ${holder.fd} is already registered with this ring (a ring has one eventfd slot); unregister it first`);
    }
    throw err;
  }
  claimEventfdSlot(ring, owner === undefined ? { kind: 'user', fd } : { kind: 'user', fd, owner });
}

/**
 * Removes the ring's eventfd (`IORING_UNREGISTER_EVENTFD`); ENXIO when none is registered.
 *
 * @throws {@link RingStateError} (`ERR_RING_BUSY`) when the eventfd belongs to the ring's
 *   {@link AsyncIoUring}: without it the Promise ring would never wake the event loop again.
 *   It is unregistered by the AsyncIoUring's own `close()`.
 */
export function unregisterEventfd(ring: IoUring): void {
  const what = 'unregisterEventfd';
  registryOf(ring, what);
  const holder = eventfdSlotHolder(ring);
  if (holder?.kind === 'async') {
    throw new RingStateError(
      'ERR_RING_BUSY',
      `${what}: this ring's eventfd (${holder.fd}) belongs to its AsyncIoUring, which needs it to wake the event loop; it is unregistered when the AsyncIoUring closes`,
    );
  }
  ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
  releaseEventfdSlot(ring);
}

/**
 * A non-blocking eventfd of our own, registered with the ring: the simplest way to learn
 * of completions from code that polls descriptors.
 *
 * ```ts
 * using notify = RingEventfd.create(ring);
 * // ... when notify.fd polls readable:
 * if (notify.read() > 0) ring.forEachCqe((cqe) => { ... }); // reap them all
 * ```
 *
 * The counter counts the kernel's signals, not CQEs: the kernel signals once for a batch
 * of CQEs it posts together (and, with `async: true`, not for completions made inline),
 * so read it to learn *that* completions are waiting and reap the CQ to learn how many.
 */
export class RingEventfd implements Disposable {
  /** The eventfd (owned: closed by {@link RingEventfd.close}). */
  readonly fd: OwnedFd;
  readonly #ring: IoUring;
  #open = true;
  readonly #options: EventfdOptions;

  private constructor(ring: IoUring, fd: OwnedFd, options: EventfdOptions) {
    this.#ring = ring;
    this.fd = fd;
    this.#options = { ...options };
  }

  /**
   * Creates an `EFD_NONBLOCK | EFD_CLOEXEC` eventfd and registers it.
   *
   * @throws `IoUringError` EBUSY when the ring already has an eventfd: one of yours, or the
   *   one an {@link AsyncIoUring} holds to wake the event loop (see {@link registerEventfd}).
   */
  static create(ring: IoUring, options: EventfdOptions = {}): RingEventfd {
    registryOf(ring, 'RingEventfd.create');
    const fd = new OwnedFd(createEventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    const notify = new RingEventfd(ring, fd, options);
    try {
      registerEventfdFor('RingEventfd.create', ring, fd, options, notify);
    } catch (err) {
      fd.close();
      throw err;
    }
    return notify;
  }

  /** Whether this eventfd is still the one registered with the ring. */
  get registered(): boolean {
    return this.#open && !this.#ring.closed && eventfdSlotHolder(this.#ring)?.owner === this;
  }

  /**
   * Reads and resets the counter: how many times the kernel signalled since the last read
   * (0 when it did not). Not a count of CQEs: one signal may stand for several.
   */
  read(): number {
    return readEventfd(this.fd.fd);
  }

  /**
   * Registers this eventfd again (unregister, then register), so that it hears deferred
   * signals again.
   *
   * The kernel defers a signal it may not send at once (from inside another eventfd's
   * wake-up, or in softirq context on some kernels), and since Linux 6.11 a registration
   * that had one deferred signal drops every later one. On a ring set up with
   * `deferTaskrun` the eventfd is the only notice of waiting completion work, so an op can
   * then wait forever. Where {@link eventfdRearmNeeded} says so, call this after each
   * wake-up, *before* reaping: work whose signal was dropped has set `IORING_SQ_TASKRUN`,
   * and the reap runs it. {@link AsyncIoUring} does this itself.
   *
   * @throws {@link RingStateError} (`ERR_RING_BUSY`) when this eventfd is no longer the
   *   ring's; `IoUringError` EACCES when the ring's restrictions refuse the unregister
   *   (nothing changed) or the register (the ring then has no eventfd; this object reports
   *   `registered: false`).
   */
  rearm(): void {
    if (!this.registered) {
      throw new RingStateError('ERR_RING_BUSY', 'RingEventfd.rearm: this eventfd is no longer registered with the ring');
    }
    this.#ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
    releaseEventfdSlot(this.#ring);
    registerEventfdFor('RingEventfd.rearm', this.#ring, this.fd, this.#options, this);
  }

  /**
   * Unregisters the eventfd if it is still the ring's (never an eventfd someone registered
   * after this one was unregistered), then closes it. Idempotent.
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      if (!this.#ring.closed && eventfdSlotHolder(this.#ring)?.owner === this) {
        this.#ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
        releaseEventfdSlot(this.#ring);
      }
    } finally {
      this.fd.close();
    }
  }

  /** Same as {@link RingEventfd.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

// ---------------------------------------------------------------------------------------
// Personalities

/**
 * Registers the calling process's current credentials (`IORING_REGISTER_PERSONALITY`) and
 * returns their id. Ops run with them when `sqe.unsafeFields.personality = id`, even after the
 * process changes its own credentials.
 */
export function registerPersonality(ring: IoUring): number {
  registryOf(ring, 'registerPersonality');
  return ring.register(IORING_REGISTER_PERSONALITY, null, 0);
}

/** Forgets a personality id (`IORING_UNREGISTER_PERSONALITY`); EINVAL for an unknown id. */
export function unregisterPersonality(ring: IoUring, id: number): void {
  registryOf(ring, 'unregisterPersonality');
  ring.register(IORING_UNREGISTER_PERSONALITY, null, checkIntRange('unregisterPersonality: id', id, 1, 0xffff));
}

// ---------------------------------------------------------------------------------------
// io-wq: the async worker pool

/** Most workers the async pool may run: `bounded` for regular file and block I/O, `unbounded` for the rest. */
export interface IoWorkerLimits {
  /** Most workers for bounded work (regular files, block devices); 0 leaves the limit as it is. */
  bounded: number;
  /** Most workers for unbounded work (sockets, pipes, anything that may wait forever); 0 leaves it as it is. */
  unbounded: number;
}

/**
 * The async worker pool's limits (`IORING_REGISTER_IOWQ_MAX_WORKERS`, 5.15), and sets new
 * ones for the fields given (0 or absent leaves one unchanged). Without SQPOLL the pool
 * belongs to the calling thread and is shared by its rings.
 *
 * @returns The limits in force before the call.
 */
export function ioWorkerLimits(ring: IoUring, set: Partial<IoWorkerLimits> = {}): IoWorkerLimits {
  const what = 'ioWorkerLimits';
  registryOf(ring, what);
  const values = new Uint32Array(2);
  if (set.bounded !== undefined) values[0] = checkIntRange(`${what}: set.bounded`, set.bounded, 0, 0x7fffffff);
  if (set.unbounded !== undefined) values[1] = checkIntRange(`${what}: set.unbounded`, set.unbounded, 0, 0x7fffffff);
  ring.register(IORING_REGISTER_IOWQ_MAX_WORKERS, values, 2);
  return { bounded: values[0]!, unbounded: values[1]! };
}

/** Bits in the CPU masks we pass (the kernel ignores bytes past its own `cpumask_size()`). */
const MAX_CPUS = 4096;

/**
 * Pins the async worker pool to `cpus` (`IORING_REGISTER_IOWQ_AFF`, 5.14). EINVAL from the
 * kernel when none of them is online or allowed.
 */
export function setIoWorkerAffinity(ring: IoUring, cpus: Iterable<number>): void {
  const what = 'setIoWorkerAffinity';
  registryOf(ring, what);
  if (cpus === null || typeof cpus !== 'object' || typeof (cpus as Iterable<number>)[Symbol.iterator] !== 'function') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: cpus`, `expected an iterable of CPU numbers, received ${describeReceived(cpus)}`);
  }
  let highest = -1;
  const list: number[] = [];
  for (const cpu of cpus) {
    list.push(checkIntRange(`${what}: cpus[${list.length}]`, cpu, 0, MAX_CPUS - 1));
    highest = Math.max(highest, cpu);
  }
  if (highest < 0) throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: cpus`, 'expected at least one CPU');
  // A cpu_set_t-style bitmap of unsigned longs: whole 8-byte words.
  const mask = new Uint8Array(Math.ceil((highest + 1) / 64) * 8);
  for (const cpu of list) mask[cpu >>> 3]! |= 1 << (cpu & 7);
  ring.register(IORING_REGISTER_IOWQ_AFF, mask, mask.byteLength);
}

/** Lets the async worker pool run on any CPU again (`IORING_UNREGISTER_IOWQ_AFF`). */
export function clearIoWorkerAffinity(ring: IoUring): void {
  registryOf(ring, 'clearIoWorkerAffinity');
  ring.register(IORING_UNREGISTER_IOWQ_AFF, null, 0);
}

// ---------------------------------------------------------------------------------------
// Restrictions

/** What a restricted ring allows (`IORING_REGISTER_RESTRICTIONS`); everything else is refused. */
export interface RingRestrictions {
  /** `IORING_OP_*` opcodes SQEs may use; any other op completes with `-EACCES`. */
  sqeOps?: readonly number[];
  /** `IORING_REGISTER_*` opcodes `io_uring_register` may still use once enabled (EACCES otherwise). */
  registerOps?: readonly number[];
  /** `IOSQE_*` flags SQEs may carry (beyond the required ones). */
  sqeFlagsAllowed?: number;
  /** `IOSQE_*` flags every SQE must carry. */
  sqeFlagsRequired?: number;
}

/**
 * Restricts what a ring created with `disabled: true` (`IORING_SETUP_R_DISABLED`) may do,
 * before `ring.enable()`. Once per ring. The ring then refuses any other SQE opcode
 * (`-EACCES` in its CQE) and register opcode (EACCES). An empty set (`{}`) is accepted, as
 * the kernel accepts it: the enabled ring then allows no op at all.
 *
 * The registration helpers cope with a restricted ring: {@link RegisteredBuffers.register}
 * and {@link FileTable.register} / {@link FileTable.update} fall back to
 * `IORING_REGISTER_BUFFERS` / `FILES` / `FILES_UPDATE` when only those are allowed.
 */
export function registerRestrictions(ring: IoUring, restrictions: RingRestrictions): void {
  const what = 'registerRestrictions';
  registryOf(ring, what);
  if (!ring.disabled) {
    throw new RingStateError('ERR_RING_NOT_ENABLED', `${what}: restrictions can only be registered on a ring created with { disabled: true } and not yet enabled`);
  }
  if (restrictions === null || typeof restrictions !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: restrictions`, `expected { sqeOps?, registerOps?, sqeFlagsAllowed?, sqeFlagsRequired? }, received ${describeReceived(restrictions)}`);
  }
  const entries: [type: number, value: number][] = [];
  const list = (name: 'sqeOps' | 'registerOps', type: number): void => {
    const ops = restrictions[name];
    if (ops === undefined) return;
    if (!Array.isArray(ops)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: restrictions.${name}`, `expected an array of opcodes, received ${describeReceived(ops)}`);
    }
    ops.forEach((op, i) => entries.push([type, checkU8(`${what}: restrictions.${name}[${i}]`, op)]));
  };
  list('sqeOps', IORING_RESTRICTION_SQE_OP);
  list('registerOps', IORING_RESTRICTION_REGISTER_OP);
  if (restrictions.sqeFlagsAllowed !== undefined) {
    entries.push([IORING_RESTRICTION_SQE_FLAGS_ALLOWED, checkU8(`${what}: restrictions.sqeFlagsAllowed`, restrictions.sqeFlagsAllowed)]);
  }
  if (restrictions.sqeFlagsRequired !== undefined) {
    entries.push([IORING_RESTRICTION_SQE_FLAGS_REQUIRED, checkU8(`${what}: restrictions.sqeFlagsRequired`, restrictions.sqeFlagsRequired)]);
  }
  // An empty set is valid: once enabled, the ring allows no SQE op and no register op. The
  // kernel refuses a NULL array even for zero entries, so pass room for one.
  const bytes = new Uint8Array(Math.max(entries.length, 1) * SIZEOF_IO_URING_RESTRICTION);
  const r = new IoUringRestriction(bytes);
  entries.forEach(([type, value], i) => {
    r.at(i * SIZEOF_IO_URING_RESTRICTION);
    r.opcode = type;
    if (type === IORING_RESTRICTION_SQE_OP) r.sqeOp = value;
    else if (type === IORING_RESTRICTION_REGISTER_OP) r.registerOp = value;
    else r.sqeFlags = value;
  });
  ring.register(IORING_REGISTER_RESTRICTIONS, bytes, entries.length);
}

// ---------------------------------------------------------------------------------------
// Clock

/** `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` from <time.h>: the clocks `IORING_REGISTER_CLOCK` accepts. */
const CLOCK_IDS: Readonly<Record<RingClock, number>> = { monotonic: 1, boottime: 7 };

/** A clock waits can be measured on. */
export type RingClock = 'monotonic' | 'boottime';

/**
 * Sets the clock the ring's wait timeouts are measured on (`IORING_REGISTER_CLOCK`, 6.12):
 * `'monotonic'` (the default) or `'boottime'` (keeps counting during suspend).
 */
export function registerClock(ring: IoUring, clock: RingClock): void {
  const what = 'registerClock';
  registryOf(ring, what);
  const id = (CLOCK_IDS as Record<string, number | undefined>)[clock as string];
  if (typeof clock !== 'string' || id === undefined) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: clock`, `expected 'monotonic' or 'boottime', received ${describeReceived(clock)}`);
  }
  const bytes = new Uint8Array(SIZEOF_IO_URING_CLOCK_REGISTER);
  new IoUringClockRegister(bytes).clockid = id;
  ring.register(IORING_REGISTER_CLOCK, bytes, 0);
}
