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
import { createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd } from '../sys/libc.js';
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

/**
 * Makes the kernel signal `eventfd` whenever a CQE is posted (`IORING_REGISTER_EVENTFD`,
 * or `_ASYNC`). One per ring (EBUSY otherwise; the Promise layer's threadpool waker uses
 * this slot too). The ring does not take ownership of the descriptor.
 */
export function registerEventfd(ring: IoUring, eventfd: number | FdLike, options: EventfdOptions = {}): void {
  const what = 'registerEventfd';
  registryOf(ring, what);
  const fd = fileNumber(`${what}: eventfd`, eventfd, false, false);
  const arg = new Int32Array([fd]);
  ring.register(options.async === true ? IORING_REGISTER_EVENTFD_ASYNC : IORING_REGISTER_EVENTFD, arg, 1);
}

/** Removes the ring's eventfd (`IORING_UNREGISTER_EVENTFD`); ENXIO when none is registered. */
export function unregisterEventfd(ring: IoUring): void {
  registryOf(ring, 'unregisterEventfd');
  ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
}

/**
 * A non-blocking eventfd of our own, registered with the ring: the simplest way to learn
 * of completions from code that polls descriptors.
 *
 * ```ts
 * using notify = RingEventfd.create(ring);
 * // ... after completions:
 * notify.read(); // how many CQEs were posted since the last read (0 if none)
 * ```
 */
export class RingEventfd implements Disposable {
  /** The eventfd (owned: closed by {@link RingEventfd.close}). */
  readonly fd: OwnedFd;
  readonly #ring: IoUring;
  #registered = true;

  private constructor(ring: IoUring, fd: OwnedFd) {
    this.#ring = ring;
    this.fd = fd;
  }

  /** Creates an `EFD_NONBLOCK | EFD_CLOEXEC` eventfd and registers it. */
  static create(ring: IoUring, options: EventfdOptions = {}): RingEventfd {
    registryOf(ring, 'RingEventfd.create');
    const fd = new OwnedFd(createEventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    try {
      registerEventfd(ring, fd, options);
    } catch (err) {
      fd.close();
      throw err;
    }
    return new RingEventfd(ring, fd);
  }

  /** Reads and resets the counter: CQEs signalled since the last read, 0 when none. */
  read(): number {
    return readEventfd(this.fd.fd);
  }

  /** Unregisters (if the ring is open) and closes the eventfd. Idempotent. */
  close(): void {
    if (this.#registered) {
      this.#registered = false;
      try {
        if (!this.#ring.closed) unregisterEventfd(this.#ring);
      } finally {
        this.fd.close();
      }
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
 * (`-EACCES` in its CQE) and register opcode (EACCES).
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
  if (entries.length === 0) throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: restrictions`, 'expected at least one restriction');
  const bytes = new Uint8Array(entries.length * SIZEOF_IO_URING_RESTRICTION);
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
