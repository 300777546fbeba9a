/**
 * The system-call layer: koffi bindings to libc, created once at module load, and the
 * checked wrappers the ring calls. Together with {@link ./uv.js} this is the only code
 * that touches koffi.
 *
 * Conventions:
 * - Addresses are plain numbers. User-space addresses on the supported 64-bit
 *   architectures are below 2^48 (2^57 only with 5-level paging *and* a high mmap
 *   hint, which we never give), so they fit a double exactly, and the hot path never
 *   creates a BigInt. Every address that comes back from the kernel is checked anyway.
 * - Failures throw {@link IoUringError} (`code`, negative `errno`, `syscall`, a hint).
 * - errno is read with `koffi.errno()` as the very next thing after a call returns -1.
 *   koffi does not save errno per call (it reads the thread's live `errno`), so nothing
 *   may run in between: no logging, no allocation-heavy code, no other koffi call.
 *   Between a koffi call's return and the next statement V8 runs no libc function that
 *   fails, and `test/sys/libc.test.ts` checks the value under GC pressure.
 * - `syscall(2)` is variadic in C. It is bound here with fixed prototypes, which is the
 *   same calling sequence for integer and pointer arguments on every architecture listed
 *   in {@link SYSCALL_NUMBERS}, and keeps koffi on its fixed-argument path.
 *
 * @module
 */
import koffi, { type LibraryHandle } from 'koffi';
import { ArgumentError, describeReceived } from '../errors.js';
import { errorFromErrno } from './errors.js';

/**
 * io_uring_setup, io_uring_enter and io_uring_register. Since Linux 5.1 (syscall 424
 * onwards) every architecture shares one numbering, except alpha, ia64 and mips, which
 * koffi does not run on. Only 64-bit ones are listed: mmap offsets and addresses are
 * passed as 64-bit values.
 */
export const SYSCALL_NUMBERS: Readonly<Record<string, readonly [setup: number, enter: number, register: number]>> = {
  x64: [425, 426, 427],
  arm64: [425, 426, 427],
  riscv64: [425, 426, 427],
  loong64: [425, 426, 427],
};

if (process.platform !== 'linux') {
  throw new Error(`tsuring needs Linux (io_uring is a Linux interface); this is ${process.platform}`);
}
const numbers = SYSCALL_NUMBERS[process.arch];
if (numbers === undefined) {
  throw new Error(
    `tsuring does not know the io_uring system call numbers for architecture '${process.arch}' ` +
      `(supported: ${Object.keys(SYSCALL_NUMBERS).join(', ')})`,
  );
}
const [NR_SETUP, NR_ENTER, NR_REGISTER] = numbers;

/**
 * Node's own process image exports libc's symbols (it links libc dynamically), so
 * `dlopen(NULL)` finds them whether the libc is glibc or musl. A fully static node
 * would not export them; then try the libc sonames by name.
 */
function loadLibc(): LibraryHandle {
  const candidates: Array<string | null> = [null, 'libc.so.6', `libc.musl-${process.arch === 'x64' ? 'x86_64' : 'aarch64'}.so.1`];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      const lib = koffi.load(name);
      lib.symbol('syscall');
      lib.symbol('eventfd');
      return lib;
    } catch (err) {
      failures.push(`${name ?? '(process image)'}: ${(err as Error).message}`);
    }
  }
  throw new Error(`tsuring could not find libc's syscall/mmap/eventfd: ${failures.join('; ')}`);
}

const libc = loadLibc();

/** @internal The libc handle, for sibling modules of the system-call layer (see `posix.ts`). */
export const libcHandle: LibraryHandle = libc;
/** @internal errno after a failed call; must be called straight after it. */
export const lastErrnoOf = (): number => koffi.errno();

// Setup and register take JS memory as `void *`, so koffi holds the view as a live call
// argument for the duration of the call (an address alone would not keep it alive).
const sysSetup = libc.func('long syscall(long nr, uint32_t entries, void *params)') as (
  nr: number,
  entries: number,
  params: ArrayBufferView,
) => number;
const sysEnter = libc.func(
  'long syscall(long nr, int fd, uint32_t to_submit, uint32_t min_complete, uint32_t flags, uintptr_t arg, size_t argsz)',
) as (nr: number, fd: number, toSubmit: number, minComplete: number, flags: number, arg: number, argsz: number) => number;
const sysRegisterAddr = libc.func('long syscall(long nr, int fd, uint32_t opcode, uintptr_t arg, uint32_t nr_args)') as (
  nr: number,
  fd: number,
  opcode: number,
  arg: number,
  nrArgs: number,
) => number;
const sysRegisterView = libc.func('long syscall(long nr, int fd, uint32_t opcode, void *arg, uint32_t nr_args)') as (
  nr: number,
  fd: number,
  opcode: number,
  arg: ArrayBufferView,
  nrArgs: number,
) => number;
const cMmap = libc.func('intptr_t mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
  addr: number,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
) => number;
const cMunmap = libc.func('int munmap(uintptr_t addr, size_t length)') as (addr: number, length: number) => number;
const cMadvise = libc.func('int madvise(uintptr_t addr, size_t length, int advice)') as (
  addr: number,
  length: number,
  advice: number,
) => number;
const cClose = libc.func('int close(int fd)') as (fd: number) => number;
const cEventfd = libc.func('int eventfd(uint32_t initval, int flags)') as (initval: number, flags: number) => number;
const cCalloc = libc.func('uintptr_t calloc(size_t count, size_t size)') as (count: number, size: number) => number;
const cFree = libc.func('void free(uintptr_t ptr)') as (ptr: number) => void;
const cRead = libc.func('intptr_t read(int fd, void *buf, size_t count)') as (fd: number, buf: ArrayBufferView, count: number) => number;
const cWrite = libc.func('intptr_t write(int fd, void *buf, size_t count)') as (fd: number, buf: ArrayBufferView, count: number) => number;

/** The thread's errno after a failed call. Must be called straight after the call. */
const lastErrno = (): number => koffi.errno();

const ERRNO_EINTR = 4;
const ERRNO_EAGAIN = 11;

// ---------------------------------------------------------------------------------------
// Constants used by the wrappers (values from linux/io_uring.h, sys/mman.h, sys/eventfd.h).

/** Bytes in `struct io_uring_params`. */
export const IO_URING_PARAMS_SIZE = 120;
/** `IORING_ENTER_GETEVENTS`: wait for `min_complete` completions. */
export const IORING_ENTER_GETEVENTS = 1 << 0;
/** `IORING_ENTER_EXT_ARG`: `arg` points to `struct io_uring_getevents_arg`. */
export const IORING_ENTER_EXT_ARG = 1 << 3;
/** `IORING_ENTER_ABS_TIMER` (Linux 6.12): the EXT_ARG timeout is an absolute time. */
export const IORING_ENTER_ABS_TIMER = 1 << 5;

/** `PROT_READ`. */
export const PROT_READ = 0x1;
/** `PROT_WRITE`. */
export const PROT_WRITE = 0x2;
/** `MAP_SHARED`. */
export const MAP_SHARED = 0x01;
/** `MAP_PRIVATE`. */
export const MAP_PRIVATE = 0x02;
/** `MAP_ANONYMOUS`. */
export const MAP_ANONYMOUS = 0x20;
/** `MAP_FIXED`: map at exactly the given address, replacing what is there. */
export const MAP_FIXED = 0x10;
/** `MAP_POPULATE`: fault the pages in now, so the kernel never faults on ring memory. */
export const MAP_POPULATE = 0x8000;
/** `MAP_HUGETLB`. */
export const MAP_HUGETLB = 0x40000;
/** `MADV_DONTFORK`: a forked child does not inherit the mapping. */
export const MADV_DONTFORK = 10;
/** `EFD_SEMAPHORE`. */
export const EFD_SEMAPHORE = 0o1;
/** `EFD_NONBLOCK`. */
export const EFD_NONBLOCK = 0o4000;
/** `EFD_CLOEXEC`. */
export const EFD_CLOEXEC = 0o2000000;

// ---------------------------------------------------------------------------------------
// io_uring system calls

/**
 * `io_uring_setup(2)`: creates a ring and returns its file descriptor.
 *
 * The kernel reads the request from `params` and writes the granted sizes, features
 * and ring offsets back into the same bytes: koffi passes the view's memory itself
 * (its `byteOffset` included), not a copy.
 *
 * @param entries - Requested SQ entries (the kernel rounds up to a power of two).
 * @param params - At least {@link IO_URING_PARAMS_SIZE} bytes holding `struct io_uring_params`.
 * @returns The ring's file descriptor (close-on-exec, as every io_uring fd is).
 * @throws {@link IoUringError} with `syscall: 'io_uring_setup'` and a hint telling apart
 *   EPERM from the sysctl and from seccomp, ENOSYS, EINVAL and memory limits.
 */
export function ioUringSetup(entries: number, params: Uint8Array): number {
  if (typeof entries !== 'number' || entries >>> 0 !== entries) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', 'ioUringSetup: entries', `expected an integer from 0 to 4294967295, received ${describeReceived(entries)}`);
  }
  if (!(params instanceof Uint8Array) || params.byteLength < IO_URING_PARAMS_SIZE) {
    throw new ArgumentError(
      'ERR_INVALID_ARG_TYPE',
      'ioUringSetup: params',
      `expected a Uint8Array of at least ${IO_URING_PARAMS_SIZE} bytes, received ${describeReceived(params)}`,
    );
  }
  const fd = sysSetup(NR_SETUP, entries, params);
  if (fd < 0) throw errorFromErrno(lastErrno(), 'io_uring_setup', `(${entries} entries)`);
  return fd;
}

/**
 * `io_uring_enter(2)`: submits `toSubmit` SQEs and/or waits for `minComplete` CQEs.
 *
 * The hot path: all arguments are numbers, no allocation when it succeeds.
 *
 * **EINTR.** A signal can interrupt a wait (`IORING_ENTER_GETEVENTS`). When the kernel
 * returns EINTR nothing was submitted in that call (it reports the submitted count
 * instead when there was one), so repeating the call is safe for submission. Whether
 * it is right for the wait is decided by {@link enterRetriesOnEintr}: the call is
 * repeated when there is no wait argument or the EXT_ARG timeout is absolute
 * (`IORING_ENTER_ABS_TIMER`); it is *not* repeated when `arg` is a signal mask (the
 * caller asked to be woken by signals) or an EXT_ARG with a relative timeout (repeating
 * would restart the whole timeout). In those cases `onEintr` decides: it may rewrite the
 * timeout at `argAddress` to the time remaining and return true to repeat the call, or
 * return false; without it the EINTR error is thrown.
 *
 * @param fd - Ring fd, or the registered ring index with `IORING_ENTER_REGISTERED_RING`.
 * @param argAddress - Address of the sigset or `struct io_uring_getevents_arg`, or 0.
 *   The memory must stay referenced by the caller.
 * @param argSize - Bytes at `argAddress` (`_NSIG / 8` for a sigset).
 * @returns The number of SQEs consumed (or 0 when only waiting).
 * @throws {@link IoUringError} with `syscall: 'io_uring_enter'`.
 */
export function ioUringEnter(
  fd: number,
  toSubmit: number,
  minComplete: number,
  flags: number,
  argAddress = 0,
  argSize = 0,
  onEintr?: () => boolean,
): number {
  const r = sysEnter(NR_ENTER, fd, toSubmit, minComplete, flags, argAddress, argSize);
  if (r >= 0) return r;
  return enterFailed(lastErrno(), fd, toSubmit, minComplete, flags, argAddress, argSize, onEintr);
}

function enterFailed(
  errno: number,
  fd: number,
  toSubmit: number,
  minComplete: number,
  flags: number,
  argAddress: number,
  argSize: number,
  onEintr: (() => boolean) | undefined,
): number {
  for (;;) {
    if (errno !== ERRNO_EINTR) throw errorFromErrno(errno, 'io_uring_enter', `(fd ${fd})`);
    const retry = enterRetriesOnEintr(flags, argAddress) || (onEintr !== undefined && onEintr());
    if (!retry) throw errorFromErrno(errno, 'io_uring_enter', `(fd ${fd})`);
    const r = sysEnter(NR_ENTER, fd, toSubmit, minComplete, flags, argAddress, argSize);
    if (r >= 0) return r;
    errno = lastErrno();
  }
}

/**
 * Whether an `io_uring_enter` that failed with EINTR may be repeated unchanged.
 *
 * - No wait requested: yes (EINTR then means nothing happened).
 * - Waiting with no argument: yes; the kernel measures `min_complete` against the CQ
 *   as it is, so the repeat waits for the same completions.
 * - Waiting with a signal mask (`arg` without `IORING_ENTER_EXT_ARG`): no; the caller
 *   set a mask to be interrupted, like `pselect`.
 * - `IORING_ENTER_EXT_ARG` with `IORING_ENTER_ABS_TIMER`: yes; the deadline is fixed.
 * - `IORING_ENTER_EXT_ARG` otherwise: no; the timeout is relative (repeating restarts it)
 *   and the argument may hold a signal mask. The caller must recompute and retry.
 */
export function enterRetriesOnEintr(flags: number, argAddress: number): boolean {
  if ((flags & IORING_ENTER_GETEVENTS) === 0) return true;
  if ((flags & IORING_ENTER_EXT_ARG) === 0) return argAddress === 0;
  return (flags & IORING_ENTER_ABS_TIMER) !== 0;
}

/**
 * `io_uring_register(2)`.
 *
 * @param arg - The argument: a view over JS memory (held for the duration of the call),
 *   a native address as a number, or null for opcodes without one.
 * @returns The kernel's result (0, or a count/id for some opcodes).
 * @throws {@link IoUringError} with `syscall: 'io_uring_register'`. EINTR (older kernels
 *   interrupting the quiesce some opcodes wait for) is retried: nothing was registered.
 */
export function ioUringRegister(fd: number, opcode: number, arg: ArrayBufferView | number | null, nrArgs: number): number {
  for (;;) {
    const r =
      arg === null || typeof arg === 'number'
        ? sysRegisterAddr(NR_REGISTER, fd, opcode, arg ?? 0, nrArgs)
        : sysRegisterView(NR_REGISTER, fd, opcode, arg, nrArgs);
    if (r >= 0) return r;
    const errno = lastErrno();
    if (errno !== ERRNO_EINTR) throw errorFromErrno(errno, 'io_uring_register', `(opcode ${opcode})`);
  }
}

// ---------------------------------------------------------------------------------------
// Memory

/**
 * `mmap(2)` with no address hint.
 *
 * @returns The address of the mapping.
 * @throws {@link IoUringError} with `syscall: 'mmap'`.
 */
export function mmapRegion(length: number, prot: number, flags: number, fd: number, offset: number): number {
  const addr = cMmap(0, length, prot, flags, fd, offset);
  if (addr === -1) throw errorFromErrno(lastErrno(), 'mmap', `(${length} bytes at offset 0x${offset.toString(16)} of fd ${fd})`);
  if (!Number.isSafeInteger(addr) || addr <= 0) {
    throw new Error(`mmap returned an address that does not fit a JS number exactly: ${String(addr)}`);
  }
  return addr;
}

/**
 * Replaces the pages of a private anonymous mapping with fresh zero pages, keeping the
 * address range mapped (`mmap` with `MAP_FIXED`). Views over the range stay valid and read
 * zeros; whoever still holds a reference to the old pages (the kernel, for memory it
 * pinned) keeps them, and its later writes land there, not in the new pages.
 *
 * @throws {@link IoUringError} with `syscall: 'mmap'`.
 */
export function replaceWithZeroPages(address: number, length: number): void {
  const addr = cMmap(address, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (addr === -1) throw errorFromErrno(lastErrno(), 'mmap', `(MAP_FIXED over ${length} bytes at 0x${address.toString(16)})`);
}

/**
 * `munmap(2)`. Afterwards any view over the range must never be touched again.
 *
 * @throws {@link IoUringError} with `syscall: 'munmap'`.
 */
export function munmapRegion(address: number, length: number): void {
  if (cMunmap(address, length) !== 0) throw errorFromErrno(lastErrno(), 'munmap', `(${length} bytes at 0x${address.toString(16)})`);
}

/**
 * `madvise(2)`, e.g. with {@link MADV_DONTFORK} so a forked child does not share ring memory.
 *
 * @throws {@link IoUringError} with `syscall: 'madvise'`.
 */
export function madviseRegion(address: number, length: number, advice: number): void {
  if (cMadvise(address, length, advice) !== 0) throw errorFromErrno(lastErrno(), 'madvise', `(advice ${advice})`);
}

/**
 * The native address of a view's first byte, its `byteOffset` included (pooled Node
 * Buffers share one ArrayBuffer, so the offset matters).
 *
 * A side effect matters too: V8 keeps typed arrays of 64 bytes or less inside its heap,
 * where the GC may move them; asking for the address moves the bytes off-heap to a fixed
 * place, where they stay until the last reference is dropped or the buffer is
 * transferred. So the address is valid exactly as long as the caller keeps `view`
 * referenced and does not transfer its buffer.
 *
 * @returns The address, or 0 for an empty view (no memory to point at).
 * @throws {@link ArgumentError} for a non-view or a detached buffer.
 */
export function addressOf(view: ArrayBufferView): number {
  const address = Number(koffi.address(view));
  if (address === 0 && view.byteLength === 0 && isDetached(view.buffer)) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'addressOf: view', 'the buffer has been detached (transferred)');
  }
  return address;
}

/** Addresses already asked for, by view; checked against the view's length on every hit. */
const addressCache = new WeakMap<ArrayBufferView, { address: number; length: number }>();

/**
 * {@link addressOf} with a per-view cache, for the hot path (a cache hit is about 18 ns
 * against 45 ns for koffi.address). Sound because a view's address never changes once
 * taken (it is off V8's heap from then on) except by detaching its buffer, which sets
 * its length to 0 and so misses the cache; the miss then re-asks koffi, which refuses a
 * detached buffer.
 */
export function cachedAddressOf(view: ArrayBufferView): number {
  const hit = addressCache.get(view);
  if (hit !== undefined && hit.length === view.byteLength && hit.length !== 0) return hit.address;
  const address = addressOf(view);
  addressCache.set(view, { address, length: view.byteLength });
  return address;
}

function isDetached(buffer: ArrayBufferLike): boolean {
  // `ArrayBuffer.prototype.detached` only exists from Node 22; before, constructing a
  // view over a detached buffer is what throws.
  const flag = (buffer as { detached?: boolean }).detached;
  if (typeof flag === 'boolean') return flag;
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/**
 * An ArrayBuffer over native memory: **for the ring's internal use only.**
 *
 * DANGER: nothing owns this memory on the JS side. After the region is unmapped, any
 * read or write through the returned buffer (or a view over it) kills the process with
 * SIGSEGV; transferring it does not detach it, and it cannot be neutered. Such a buffer
 * must never reach user code: the ring keeps it private and every public accessor checks
 * that the ring is still open before touching it.
 */
export function externalView(address: number, length: number): ArrayBuffer {
  if (!Number.isSafeInteger(address) || address <= 0) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'externalView: address', `expected a mapped address, received ${describeReceived(address)}`);
  }
  return koffi.view(address, length);
}

/**
 * Zeroed native memory from libc's `calloc`, for structures native code keeps a pointer
 * to beyond one call (libuv handles). Unlike a JS buffer it is never moved or collected,
 * so a handle libuv still lists at process teardown is leaked rather than freed under it.
 *
 * @returns The address; release it with {@link nativeFree}.
 */
export function nativeAlloc(size: number): number {
  const addr = cCalloc(1, size);
  if (addr === 0) throw errorFromErrno(lastErrno() || 12, 'calloc', `(${size} bytes)`);
  return addr;
}

/** Releases memory from {@link nativeAlloc}. */
export function nativeFree(address: number): void {
  cFree(address);
}

// ---------------------------------------------------------------------------------------
// File descriptors

/**
 * `close(2)`. Never retried: on Linux the descriptor is released even when close
 * reports EINTR, and a retry could close a descriptor another thread just opened.
 *
 * @throws {@link IoUringError} with `syscall: 'close'` (EBADF for a descriptor not open).
 */
export function closeFd(fd: number): void {
  if (cClose(fd) !== 0) {
    const errno = lastErrno();
    if (errno === ERRNO_EINTR) return;
    throw errorFromErrno(errno, 'close', `(fd ${fd})`);
  }
}

/**
 * `eventfd(2)`.
 *
 * @param flags - {@link EFD_CLOEXEC} (default), {@link EFD_NONBLOCK}, {@link EFD_SEMAPHORE}.
 * @throws {@link IoUringError} with `syscall: 'eventfd'`.
 */
export function createEventfd(initval = 0, flags = EFD_CLOEXEC): number {
  const fd = cEventfd(initval, flags);
  if (fd < 0) throw errorFromErrno(lastErrno(), 'eventfd');
  return fd;
}

// One 8-byte scratch word: the calls are synchronous and the value is copied out at once.
const counter = new Uint32Array(2);

/**
 * Reads (and so resets) an eventfd's counter.
 *
 * On a blocking eventfd this blocks the calling thread until the counter is non-zero;
 * on the main thread only use it with {@link EFD_NONBLOCK} descriptors.
 *
 * @returns The counter (exact below 2^53), or 0 when a non-blocking eventfd is at zero.
 * @throws {@link IoUringError} with `syscall: 'read'`.
 */
export function readEventfd(fd: number): number {
  for (;;) {
    const n = cRead(fd, counter, 8);
    if (n === 8) return (counter[1] as number) * 0x1_0000_0000 + (counter[0] as number);
    if (n >= 0) throw new Error(`eventfd read returned ${n} bytes instead of 8 (fd ${fd} is not an eventfd?)`);
    const errno = lastErrno();
    if (errno === ERRNO_EAGAIN) return 0;
    if (errno !== ERRNO_EINTR) throw errorFromErrno(errno, 'read', `(eventfd ${fd})`);
  }
}

/**
 * Adds `value` to an eventfd's counter, waking its readers and pollers.
 *
 * @throws {@link IoUringError} with `syscall: 'write'` (EAGAIN when a non-blocking
 *   eventfd's counter would overflow).
 */
export function writeEventfd(fd: number, value = 1): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', 'writeEventfd: value', `expected an integer from 1 to 2^53 - 1, received ${describeReceived(value)}`);
  }
  counter[0] = value >>> 0;
  counter[1] = Math.floor(value / 0x1_0000_0000);
  for (;;) {
    const n = cWrite(fd, counter, 8);
    if (n === 8) return;
    if (n >= 0) throw new Error(`eventfd write returned ${n} bytes instead of 8 (fd ${fd} is not an eventfd?)`);
    const errno = lastErrno();
    if (errno !== ERRNO_EINTR) throw errorFromErrno(errno, 'write', `(eventfd ${fd})`);
  }
}
