/**
 * Registered buffers (`IORING_REGISTER_BUFFERS` / `BUFFERS2`, `BUFFERS_UPDATE`,
 * `UNREGISTER_BUFFERS`) for `READ_FIXED` / `WRITE_FIXED` (and `READV_FIXED` /
 * `WRITEV_FIXED`, 6.15).
 *
 * The buffers are your own JS memory (Buffers, typed arrays). The kernel pins their pages
 * once, at registration, instead of on every op. While registered, and until every op
 * submitted meanwhile has completed, the library keeps each buffer referenced, so the GC
 * can neither free nor reuse it under the kernel. (Do not transfer a registered buffer's
 * ArrayBuffer to a Worker: that detaches it here.)
 *
 * The `prep*Fixed` methods refuse memory that is not inside the registered buffer they
 * name, by comparing native addresses, before the kernel sees the SQE.
 *
 * @module
 */
import {
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_BUFFERS2,
  IORING_REGISTER_BUFFERS_UPDATE,
  IORING_REGISTER_CLONE_BUFFERS,
  IORING_REGISTER_SRC_REGISTERED,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_UNREGISTER_BUFFERS,
} from '../../generated/constants.js';
import { prepReadFixed, prepReadvFixed, prepWriteFixed, prepWritevFixed } from '../../generated/ops.js';
import {
  IoUringCloneBuffers,
  IoUringRsrcRegister,
  IoUringRsrcUpdate2,
  SIZEOF_IO_URING_CLONE_BUFFERS,
  SIZEOF_IO_URING_RSRC_REGISTER,
  SIZEOF_IO_URING_RSRC_UPDATE2,
} from '../../generated/structs.js';
import { checkIntRange, checkView, setU64 } from '../abi/check.js';
import { IOVEC_SIZE, IOV_MAX } from '../abi/encode.js';
import { byteLengthOf, isArray, isView, snapshotArray } from '../abi/intrinsics.js';
import type { FileRef } from '../abi/fd.js';
import type { SqeTarget } from '../abi/sqe-target.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { addressOf } from '../sys/libc.js';
import { registryOf, unregisteredError, type Releasable, type RingRegistry } from './registry.js';
import { encodeTags, olderOpcodeMayWork, registerKeeping, snapshotList, type ResourceTag } from './util.js';

/** The most buffers one table may hold (`IORING_MAX_REG_BUFFERS`). */
export const MAX_REGISTERED_BUFFERS = 1 << 14;
/** The largest single registered buffer (1 GiB). */
export const MAX_REGISTERED_BUFFER_BYTES = 1 << 30;

/** `struct iovec` on 64-bit Linux: `iov_base` then `iov_len`, each 8 bytes (as src/abi/encode.ts writes them). */
const IOV_BASE = 0;
const IOV_LEN = IOVEC_SIZE / 2;

/** Options of {@link RegisteredBuffers.register}. */
export interface RegisteredBuffersOptions {
  /**
   * One tag per buffer (0 = none): when a tagged buffer leaves the table and the kernel is
   * done with it, the ring posts a CQE whose `user_data` is the tag (`cqe.id === -1`).
   * Below 2^63. Needs `IORING_REGISTER_BUFFERS2` (5.13).
   */
  tags?: readonly ResourceTag[];
}

/** Options of {@link RegisteredBuffers.clone}: a range of the source table (Linux 6.13; 6.12 clones the whole table only). */
export interface CloneBuffersOptions {
  /** The first slot of the source table to clone (default 0). */
  srcOffset?: number;
  /** Where in the new table the first cloned slot goes (default 0); slots below it are empty. */
  dstOffset?: number;
  /** How many slots to clone (default: every slot from `srcOffset` on). */
  count?: number;
}

/** One registration's worth of memory: dropped only once the kernel cannot use it. */
class HeldMemory implements Releasable {
  memory: unknown[];
  constructor(memory: unknown[]) {
    this.memory = memory;
  }
  release(): void {
    this.memory = [];
  }
}

/**
 * The ring's registered buffer table (the kernel allows one per ring).
 *
 * ```ts
 * const mem = Buffer.alloc(64 * 1024);
 * using bufs = RegisteredBuffers.register(ring, [mem]);
 * bufs.prepWriteFixed(ring.getSqe()!, file, 0, mem.subarray(0, 4096), 4096, 0);
 * ```
 */
export class RegisteredBuffers implements Disposable {
  /** Slots in the table. */
  readonly count: number;
  /** The ring the table belongs to. */
  readonly ring: IoUring;
  readonly #registry: RingRegistry;
  readonly #views: (ArrayBufferView | null)[];
  readonly #address: Float64Array;
  readonly #length: Float64Array;
  /** Memory held per slot, each its own unit so an update can retire just that slot's. */
  readonly #held: (HeldMemory | undefined)[];
  #registered = true;

  private constructor(ring: IoUring, registry: RingRegistry, count: number) {
    this.ring = ring;
    this.#registry = registry;
    this.count = count;
    this.#views = new Array<ArrayBufferView | null>(count).fill(null);
    this.#address = new Float64Array(count);
    this.#length = new Float64Array(count);
    this.#held = new Array<HeldMemory | undefined>(count).fill(undefined);
  }

  /**
   * Registers `buffers` (null leaves a slot empty, for {@link RegisteredBuffers.update}).
   * Uses `BUFFERS2` (5.13) and falls back to `BUFFERS` (no tags then) when the kernel lacks
   * it, or when the ring is restricted to allow only `IORING_REGISTER_BUFFERS`.
   *
   * @throws {@link ArgumentError} for an empty or oversized buffer, too many buffers, or a
   *   ring that already has a buffer table; `IoUringError` from the kernel (ENOMEM when the
   *   pages cannot be pinned: see RLIMIT_MEMLOCK).
   */
  static register(ring: IoUring, list: readonly (ArrayBufferView | null)[], options: RegisteredBuffersOptions = {}): RegisteredBuffers {
    const what = 'RegisteredBuffers.register';
    const registry = registryOf(ring, what);
    checkNoBuffers(registry, what);
    const buffers = snapshotList(`${what}: buffers`, list, MAX_REGISTERED_BUFFERS, 'an array of Buffers or TypedArrays (null for an empty slot)');
    const table = new RegisteredBuffers(ring, registry, buffers.length);
    const iov = table.#encode(`${what}: buffers`, buffers);
    const tags = options.tags === undefined ? undefined : encodeTags(`${what}: options.tags`, options.tags, buffers.length);
    const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_REGISTER);
    const reg = new IoUringRsrcRegister(bytes);
    reg.nr = buffers.length;
    reg.data = addressOf(iov);
    if (tags !== undefined) reg.tags = addressOf(tags);
    try {
      registerKeeping(ring, IORING_REGISTER_BUFFERS2, bytes, SIZEOF_IO_URING_RSRC_REGISTER, [iov, tags, buffers]);
    } catch (err) {
      // An empty slot (iov_base 0) through the old opcode needs a kernel that has BUFFERS2
      // anyway: fine after EACCES (restricted ring), not after EINVAL (kernel lacks BUFFERS2).
      if (!olderOpcodeMayWork(err) || tags !== undefined || ((err as IoUringError).code === 'EINVAL' && buffers.includes(null))) throw err;
      registerKeeping(ring, IORING_REGISTER_BUFFERS, iov, buffers.length, [buffers]);
    }
    table.#adopt(0, buffers);
    registry.buffers = table;
    return table;
  }

  /**
   * Registers `count` empty slots (`IORING_RSRC_REGISTER_SPARSE`, 5.19), filled later with
   * {@link RegisteredBuffers.update}. On a ring restricted to `IORING_REGISTER_BUFFERS`, the
   * same empty slots are registered through it.
   */
  static sparse(ring: IoUring, count: number): RegisteredBuffers {
    const what = 'RegisteredBuffers.sparse';
    const registry = registryOf(ring, what);
    checkNoBuffers(registry, what);
    checkIntRange(`${what}: count`, count, 1, MAX_REGISTERED_BUFFERS);
    const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_REGISTER);
    const reg = new IoUringRsrcRegister(bytes);
    reg.nr = count;
    reg.flags = IORING_RSRC_REGISTER_SPARSE;
    try {
      ring.register(IORING_REGISTER_BUFFERS2, bytes, SIZEOF_IO_URING_RSRC_REGISTER);
    } catch (err) {
      if (!(err instanceof IoUringError && err.code === 'EACCES')) throw err;
      // iov_base 0 and iov_len 0 in every slot: an empty slot, as SPARSE makes.
      ring.register(IORING_REGISTER_BUFFERS, new Uint8Array(count * IOVEC_SIZE), count);
    }
    const table = new RegisteredBuffers(ring, registry, count);
    registry.buffers = table;
    return table;
  }

  /**
   * Gives `target` a buffer table that shares `source`'s registered buffers
   * (`IORING_REGISTER_CLONE_BUFFERS`, Linux 6.12; liburing's `io_uring_clone_buffers`):
   * the kernel reuses the pages `source` pinned instead of pinning them again. `target`
   * must have no buffer table yet.
   *
   * The clone is a table of its own: it holds each buffer referenced for as long as
   * `target` may use it, however `source` is unregistered or its ring closed, and it is
   * unregistered, updated and released like any other table.
   *
   * @param options - A range of slots (Linux 6.13): `srcOffset`, `dstOffset`, `count`.
   * @throws {@link ArgumentError} when `target` already has a buffer table, `source` is
   *   not a registered table, or the range falls outside it; `IoUringError` EINVAL from a
   *   kernel older than 6.12 (or 6.13 for a range; the message says so).
   */
  static clone(target: IoUring, source: RegisteredBuffers, options: CloneBuffersOptions = {}): RegisteredBuffers {
    const what = 'RegisteredBuffers.clone';
    const registry = registryOf(target, what);
    if (typeof source !== 'object' || source === null || !(#views in source)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: source`, `expected a RegisteredBuffers, received ${describeReceived(source)}`);
    }
    source.#check(what);
    checkNoBuffers(registry, what);
    if (typeof options !== 'object' || options === null) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected { srcOffset, dstOffset, count }, received ${describeReceived(options)}`);
    }
    const { srcOffset = 0, dstOffset = 0, count } = options; // each read once
    checkIntRange(`${what}: options.srcOffset`, srcOffset, 0, source.count - 1);
    const nr = count === undefined ? source.count - srcOffset : checkIntRange(`${what}: options.count`, count, 1, source.count - srcOffset);
    checkIntRange(`${what}: options.dstOffset`, dstOffset, 0, MAX_REGISTERED_BUFFERS - nr);
    const sourceRing = source.ring;
    const bytes = new Uint8Array(SIZEOF_IO_URING_CLONE_BUFFERS);
    const arg = new IoUringCloneBuffers(bytes);
    arg.srcFd = sourceRing.fd;
    // A ring that exists only as a registered index is named by that index.
    if ((sourceRing.params.setupFlags & IORING_SETUP_REGISTERED_FD_ONLY) !== 0) arg.flags = IORING_REGISTER_SRC_REGISTERED;
    // All 0 for a whole-table clone: Linux 6.12 knows only src_fd and flags (the rest was padding).
    const whole = srcOffset === 0 && dstOffset === 0 && nr === source.count;
    if (!whole) {
      arg.srcOff = srcOffset;
      arg.dstOff = dstOffset;
      arg.nr = nr;
    }
    try {
      target.register(IORING_REGISTER_CLONE_BUFFERS, bytes, 1);
    } catch (err) {
      if (err instanceof IoUringError && err.code === 'EINVAL') {
        const needs = whole ? 'Cloning a buffer table needs Linux 6.12 or newer' : 'Cloning part of a buffer table (srcOffset, dstOffset, count) needs Linux 6.13 or newer';
        throw new IoUringError(-22, 'io_uring_register', '(IORING_REGISTER_CLONE_BUFFERS)', needs);
      }
      throw err;
    }
    const table = new RegisteredBuffers(target, registry, dstOffset + nr);
    // The kernel's table now names the same memory: hold it in the target's registry too.
    table.#adopt(dstOffset, source.#views.slice(srcOffset, srcOffset + nr));
    registry.buffers = table;
    return table;
  }

  /** The table registered on `ring` through this class, or undefined. */
  static of(ring: IoUring): RegisteredBuffers | undefined {
    const buffers = registryOf(ring, 'RegisteredBuffers.of').buffers;
    return buffers instanceof RegisteredBuffers ? buffers : undefined;
  }

  /** Whether the table is still registered (not unregistered, ring not closed). */
  get registered(): boolean {
    return this.#registered && !this.ring.closed;
  }

  #check(what: string): void {
    if (!this.registered) throw unregisteredError(what, 'buffer table');
  }

  /** Validates `buffers` and writes their iovec array (the views' addresses are fixed from here on). */
  #encode(argument: string, buffers: readonly (ArrayBufferView | null)[]): Uint8Array {
    const iov = new Uint8Array(buffers.length * IOVEC_SIZE);
    const dv = new DataView(iov.buffer);
    for (let i = 0; i < buffers.length; i++) {
      if (buffers[i] === null) continue; // iov_base 0, iov_len 0: an empty slot
      const buf = checkView(`${argument}[${i}]`, buffers[i]);
      const length = byteLengthOf(buf); // the real length, not what a getter claims
      if (length === 0 || length > MAX_REGISTERED_BUFFER_BYTES) {
        throw new ArgumentError('ERR_OUT_OF_RANGE', `${argument}[${i}]`, `a registered buffer holds 1 byte to 1 GiB, received ${describeReceived(buf)}`);
      }
      setU64(dv, i * IOVEC_SIZE + IOV_BASE, addressOf(buf));
      setU64(dv, i * IOVEC_SIZE + IOV_LEN, length);
    }
    return iov;
  }

  /** Records what the kernel now holds in slots `offset...`, retiring what it held before. */
  #adopt(offset: number, buffers: readonly (ArrayBufferView | null)[]): void {
    for (let i = 0; i < buffers.length; i++) {
      const slot = offset + i;
      const old = this.#held[slot];
      if (old !== undefined) this.#registry.retire(old);
      const buf = buffers[i] ?? null;
      this.#views[slot] = buf;
      this.#address[slot] = buf === null ? 0 : addressOf(buf);
      this.#length[slot] = buf === null ? 0 : byteLengthOf(buf);
      if (buf !== null) {
        const held = new HeldMemory([buf]);
        this.#held[slot] = held;
        this.#registry.hold(held);
      } else {
        this.#held[slot] = undefined;
      }
    }
  }

  /** The buffer registered at `index`, or null for an empty slot. */
  buffer(index: number): ArrayBufferView | null {
    this.#check('RegisteredBuffers.buffer');
    checkIntRange('RegisteredBuffers.buffer: index', index, 0, this.count - 1);
    return this.#views[index]!;
  }

  /**
   * Replaces slots `offset...` with `buffers` (null empties a slot) with
   * `IORING_REGISTER_BUFFERS_UPDATE` (5.13). The memory of replaced buffers stays
   * referenced until the ring has nothing in flight.
   *
   * @returns How many slots were updated.
   */
  update(offset: number, list: readonly (ArrayBufferView | null)[], tags?: readonly ResourceTag[]): number {
    const what = 'RegisteredBuffers.update';
    this.#check(what);
    this.#registry.sweep();
    checkIntRange(`${what}: offset`, offset, 0, this.count - 1);
    const buffers = snapshotList(`${what}: buffers`, list, this.count - offset, 'an array of Buffers or TypedArrays (null to empty a slot)');
    const iov = this.#encode(`${what}: buffers`, buffers);
    const tagBytes = tags === undefined ? undefined : encodeTags(`${what}: tags`, tags, buffers.length);
    const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE2);
    const up = new IoUringRsrcUpdate2(bytes);
    up.offset = offset;
    up.data = addressOf(iov);
    if (tagBytes !== undefined) up.tags = addressOf(tagBytes);
    up.nr = buffers.length;
    const n = registerKeeping(this.ring, IORING_REGISTER_BUFFERS_UPDATE, bytes, SIZEOF_IO_URING_RSRC_UPDATE2, [iov, tagBytes, buffers]);
    this.#adopt(offset, buffers.slice(0, n));
    return n;
  }

  /** Whether `view` lies wholly inside the buffer registered at `index`. */
  contains(index: number, view: ArrayBufferView): boolean {
    if (!this.registered || typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= this.count) return false;
    if (!isView(view) || this.#views[index] === null) return false;
    const start = addressOf(view);
    const base = this.#address[index]!;
    return start >= base && start + byteLengthOf(view) <= base + this.#length[index]!;
  }

  /**
   * The index of the registered buffer that `view` lies inside, or -1: the table is not
   * registered, `view` is not a view, or its memory is outside every buffer (measured by
   * its real address and byteLength, not what an own `byteLength` claims). Where
   * registrations overlap, the lowest index.
   */
  indexOf(view: ArrayBufferView): number {
    if (!this.registered || !isView(view)) return -1;
    const start = addressOf(view);
    const end = start + byteLengthOf(view);
    for (let i = 0; i < this.count; i++) {
      if (this.#views[i] === null) continue;
      const base = this.#address[i]!;
      if (start >= base && end <= base + this.#length[i]!) return i;
    }
    return -1;
  }

  /** Refuses `view` unless it lies inside registered buffer `index`. */
  #within(builder: string, index: number, argument: string, view: unknown): void {
    this.#check(`RegisteredBuffers.${builder}`);
    checkIntRange(`RegisteredBuffers.${builder}: index`, index, 0, this.count - 1);
    if (this.#views[index] === null) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', `RegisteredBuffers.${builder}: index`, `slot ${index} of the buffer table is empty`);
    }
    checkView(`RegisteredBuffers.${builder}: ${argument}`, view);
    if (!this.contains(index, view as ArrayBufferView)) {
      throw new ArgumentError(
        'ERR_OUT_OF_RANGE',
        `RegisteredBuffers.${builder}: ${argument}`,
        `the memory is not inside registered buffer ${index} (${this.#length[index]} bytes); pass a subarray of bufs.buffer(${index})`,
      );
    }
  }

  /**
   * Prepares `READ_FIXED` into `buf`, which must lie inside registered buffer `index`
   * (a subarray of it).
   *
   * @param nbytes - Bytes to read (default `buf.byteLength`).
   * @param offset - File offset, or -1 (default) for the current position.
   */
  prepReadFixed(sqe: SqeTarget, fd: FileRef, index: number, buf: ArrayBufferView, nbytes?: number, offset: number | bigint = -1): void {
    this.#within('prepReadFixed', index, 'buf', buf);
    prepReadFixed(sqe, fd, buf, nbytes ?? byteLengthOf(buf), offset, index);
  }

  /** Prepares `WRITE_FIXED` from `buf`, which must lie inside registered buffer `index`. */
  prepWriteFixed(sqe: SqeTarget, fd: FileRef, index: number, buf: ArrayBufferView, nbytes?: number, offset: number | bigint = -1): void {
    this.#within('prepWriteFixed', index, 'buf', buf);
    prepWriteFixed(sqe, fd, buf, nbytes ?? byteLengthOf(buf), offset, index);
  }

  /** Prepares `READV_FIXED` (6.15) into `iovecs`, each inside registered buffer `index`. */
  prepReadvFixed(sqe: SqeTarget, fd: FileRef, index: number, list: readonly ArrayBufferView[], offset: number | bigint = -1, flags = 0): void {
    const iovecs = this.#eachWithin('prepReadvFixed', index, list);
    prepReadvFixed(sqe, fd, iovecs, offset, flags, index);
  }

  /** Prepares `WRITEV_FIXED` (6.15) from `iovecs`, each inside registered buffer `index`. */
  prepWritevFixed(sqe: SqeTarget, fd: FileRef, index: number, list: readonly ArrayBufferView[], offset: number | bigint = -1, flags = 0): void {
    const iovecs = this.#eachWithin('prepWritevFixed', index, list);
    prepWritevFixed(sqe, fd, iovecs, offset, flags, index);
  }

  /** Checks each iovec on one snapshot of the array, and returns that snapshot (what the builder must use). */
  #eachWithin(builder: string, index: number, list: readonly ArrayBufferView[]): ArrayBufferView[] {
    if (!isArray(list)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `RegisteredBuffers.${builder}: iovecs`, `expected an array of views into the registered buffer, received ${describeReceived(list)}`);
    }
    const iovecs = snapshotArray(list, IOV_MAX) as ArrayBufferView[] | undefined;
    if (iovecs === undefined) checkIntRange(`RegisteredBuffers.${builder}: iovecs.length`, list.length, 0, IOV_MAX);
    if (iovecs!.length === 0) this.#within(builder, index, 'iovecs', undefined);
    for (let i = 0; i < iovecs!.length; i++) this.#within(builder, index, `iovecs[${i}]`, iovecs![i]);
    return iovecs!;
  }

  /**
   * Unregisters the table. The buffers stay referenced until the ring has nothing in
   * flight (an op submitted earlier may still use them). Idempotent. When the kernel
   * refuses (EACCES on a restricted ring that does not allow `IORING_UNREGISTER_BUFFERS`),
   * it throws and the table stays registered, its buffers held: the kernel still has them
   * pinned and may still write into them.
   *
   * Before Linux 6.13 the kernel's unregister waits until every op using the table has
   * completed, blocking this thread: do not unregister while a fixed read waits for data
   * that only this thread would provide (a pipe it writes, a socket it answers).
   */
  unregister(): void {
    if (!this.#registered) return;
    const open = !this.ring.closed;
    // The kernel first: the buffers are let go only once it has let go of them.
    if (open) this.ring.register(IORING_UNREGISTER_BUFFERS, null, 0);
    this.#registered = false;
    if (this.#registry.buffers === this) this.#registry.buffers = undefined;
    for (let i = 0; i < this.count; i++) {
      const held = this.#held[i];
      if (held !== undefined && open) this.#registry.retire(held);
      this.#held[i] = undefined;
      this.#views[i] = null;
    }
  }

  /** Same as {@link RegisteredBuffers.unregister}, for `using`. */
  [Symbol.dispose](): void {
    this.unregister();
  }

  /** A one-line summary. */
  toString(): string {
    return `RegisteredBuffers(${this.count} slots${this.registered ? '' : ', unregistered'})`;
  }
}

function checkNoBuffers(registry: RingRegistry, what: string): void {
  if (registry.buffers !== undefined) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: ring`, 'the ring already has a registered buffer table (the kernel allows one); unregister it first or update its slots');
  }
}
