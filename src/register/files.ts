/**
 * Registered files: the ring's file table (`IORING_REGISTER_FILES` / `FILES2`), its updates
 * (`FILES_UPDATE` / `FILES_UPDATE2`), the range the kernel allocates direct descriptors
 * from (`FILE_ALLOC_RANGE`), and the {@link FixedFile} slots ops target.
 *
 * A slot handed out by a table checks itself each time a builder reads it: a slot whose
 * table was unregistered, or whose ring closed, is refused before anything is written to
 * the SQE. Slots outside the table are refused when asked for (`table.slot(99)` on an
 * 8-slot table throws), so every `FixedFile` a table hands out names a slot that exists.
 * (A `FixedFile` built by hand with `new FixedFile(n)` is the raw escape hatch and is
 * passed on unchecked.)
 *
 * @module
 */
import {
  IORING_REGISTER_FILE_ALLOC_RANGE,
  IORING_REGISTER_FILES,
  IORING_REGISTER_FILES2,
  IORING_REGISTER_FILES_SKIP,
  IORING_REGISTER_FILES_UPDATE,
  IORING_REGISTER_FILES_UPDATE2,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_UNREGISTER_FILES,
} from '../../generated/constants.js';
import { prepCloseDirect, prepFixedFdInstall } from '../../generated/ops.js';
import {
  IoUringFileIndexRange,
  IoUringRsrcRegister,
  IoUringRsrcUpdate,
  IoUringRsrcUpdate2,
  SIZEOF_IO_URING_FILE_INDEX_RANGE,
  SIZEOF_IO_URING_RSRC_REGISTER,
  SIZEOF_IO_URING_RSRC_UPDATE,
  SIZEOF_IO_URING_RSRC_UPDATE2,
} from '../../generated/structs.js';
import { checkIntRange } from '../abi/check.js';
import { FixedFile, fileNumber, type FdLike } from '../abi/fd.js';
import type { SqeTarget } from '../abi/sqe-target.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { IoUring } from '../ring/ring.js';
import { errorFromCqeRes } from '../sys/errors.js';
import { addressOf } from '../sys/libc.js';
import { registryOf, unregisteredError, type RingRegistry } from './registry.js';
import { encodeTags, olderOpcodeMayWork, registerKeeping, snapshotList, type ResourceTag } from './util.js';

/** The most slots a file table may have (`IORING_MAX_FIXED_FILES`; RLIMIT_NOFILE also caps it). */
export const MAX_FILE_TABLE_SIZE = 1 << 20;

/**
 * What a slot is set to: a descriptor (number or {@link FdLike} such as an `OwnedFd`), or
 * null for empty. In {@link FileTable.update} only, `IORING_REGISTER_FILES_SKIP` (-2)
 * leaves the slot as it is.
 */
export type FileSlotValue = number | FdLike | null;

/** Options of {@link FileTable.register}. */
export interface FileTableOptions {
  /**
   * One tag per slot (0 = none): when a tagged file leaves the table (replaced, cleared or
   * unregistered) and the kernel is done with it, the ring posts a CQE whose `user_data`
   * is the tag (`cqe.id === -1`, the tag in `userDataLo`/`userDataHi`). Below 2^63, so it
   * is never mistaken for one of the ring's op ids. Needs `IORING_REGISTER_FILES2` (5.13).
   */
  tags?: readonly ResourceTag[];
}

/**
 * The ring's registered file table. Create one with {@link FileTable.register} (from
 * descriptors) or {@link FileTable.sparse} (empty slots, for direct descriptors); the
 * kernel allows one per ring.
 *
 * ```ts
 * using table = FileTable.sparse(ring, 64);
 * prepAcceptDirect(ring.getSqe()!, listener, null, 0, 'alloc');
 * // ... cqe.res is the slot the kernel picked:
 * const conn = table.fromResult(cqe.res, 'accept');   // a FixedFile
 * prepRecv(ring.getSqe()!, conn, buf);                // IOSQE_FIXED_FILE set for you
 * ```
 */
export class FileTable implements Disposable {
  /** Slots in the table. */
  readonly size: number;
  /** The ring the table belongs to. */
  readonly ring: IoUring;
  readonly #registry: RingRegistry;
  #registered = true;
  readonly #slots: (FixedFile | undefined)[] = [];
  #allocRange: { offset: number; length: number } | undefined;

  private constructor(ring: IoUring, registry: RingRegistry, size: number) {
    this.ring = ring;
    this.#registry = registry;
    this.size = size;
  }

  /**
   * Registers `files` as the ring's file table: slot `i` holds `files[i]` (null leaves it
   * empty). The table holds its own reference to each file: closing your descriptor
   * afterwards does not empty the slot.
   *
   * @throws {@link ArgumentError} for a bad descriptor or a ring that already has a table;
   *   `IoUringError` from the kernel (EMFILE past RLIMIT_NOFILE, EBADF for a closed fd).
   */
  static register(ring: IoUring, list: readonly FileSlotValue[], options: FileTableOptions = {}): FileTable {
    const what = 'FileTable.register';
    const registry = registryOf(ring, what);
    checkNoTable(registry, what);
    const files = snapshotList(`${what}: files`, list, MAX_FILE_TABLE_SIZE, 'an array of descriptors (or null for an empty slot)');
    const fds = encodeFds(`${what}: files`, files, false);
    const tags = options.tags === undefined ? undefined : encodeTags(`${what}: options.tags`, options.tags, files.length);
    registerFiles(ring, fds, files.length, tags, 0);
    return FileTable.#adopt(ring, registry, files.length);
  }

  /**
   * Registers a table of `size` empty slots (`IORING_RSRC_REGISTER_SPARSE`, 5.19; on older
   * kernels every slot is registered as -1, which 5.13+ accept), to be filled by direct
   * accept/open/socket ops or {@link FileTable.update}.
   */
  static sparse(ring: IoUring, size: number): FileTable {
    const what = 'FileTable.sparse';
    const registry = registryOf(ring, what);
    checkNoTable(registry, what);
    checkIntRange(`${what}: size`, size, 1, MAX_FILE_TABLE_SIZE);
    registerFiles(ring, undefined, size, undefined, IORING_RSRC_REGISTER_SPARSE);
    return FileTable.#adopt(ring, registry, size);
  }

  /** The table registered on `ring` through this class, or undefined. */
  static of(ring: IoUring): FileTable | undefined {
    const files = registryOf(ring, 'FileTable.of').files;
    return files instanceof FileTable ? files : undefined;
  }

  static #adopt(ring: IoUring, registry: RingRegistry, size: number): FileTable {
    const table = new FileTable(ring, registry, size);
    registry.files = table;
    return table;
  }

  /** Whether the table is still registered (not unregistered, ring not closed). */
  get registered(): boolean {
    return this.#registered && !this.ring.closed;
  }

  /** The range direct descriptors are allocated from, as last set by {@link FileTable.setAllocRange}. */
  get allocRange(): {
    /** First slot of the range. */
    readonly offset: number;
    /** Slots in the range. */
    readonly length: number;
  } {
    return this.#allocRange ?? { offset: 0, length: this.size };
  }

  #check(what: string): void {
    if (!this.registered) throw unregisteredError(what, 'file table');
  }

  /**
   * The {@link FixedFile} for slot `index`, to pass to any op that takes a file. The same
   * object is returned each time. It stays valid while the table is registered; after
   * that, builders refuse it.
   *
   * @throws {@link ArgumentError} (`ERR_OUT_OF_RANGE`) when `index` is outside the table.
   */
  slot(index: number): FixedFile {
    this.#check('FileTable.slot');
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', 'FileTable.slot: index', `expected a slot from 0 to ${this.size - 1} (the table has ${this.size} slots), received ${describeReceived(index)}`);
    }
    return (this.#slots[index] ??= makeSlot(this, index));
  }

  /**
   * The slot a direct op reported: `res` of an accept/open/socket with `'alloc'`. A
   * negative `res` throws that op's `IoUringError` (ENFILE when the table is full).
   *
   * @param opName - The op, for the error (`'accept'`).
   */
  fromResult(res: number, opName = 'operation'): FixedFile {
    if (typeof res === 'number' && Number.isInteger(res) && res < 0) throw errorFromCqeRes(res, opName);
    return this.slot(res);
  }

  /** Whether `file` is a slot handed out by this table. */
  owns(file: unknown): file is FixedFile {
    return file instanceof FixedFile && this.#slots[(file as { index: number }).index] === file;
  }

  /**
   * Replaces slots `offset`, `offset + 1`, ... with `files` (null empties a slot, closing
   * the table's reference; `IORING_REGISTER_FILES_SKIP` leaves a slot, and its tag, as they
   * are). Uses `FILES_UPDATE2` (with tags) where the kernel has it and the ring allows it,
   * else `FILES_UPDATE` (no tags): before 5.13, or on a restricted ring that allows only that.
   *
   * @returns How many slots were updated (skipped ones included).
   */
  update(offset: number, list: readonly FileSlotValue[], tags?: readonly ResourceTag[]): number {
    const what = 'FileTable.update';
    this.#check(what);
    this.#registry.sweep();
    checkIntRange(`${what}: offset`, offset, 0, this.size - 1);
    const files = snapshotList(`${what}: files`, list, this.size - offset, 'an array of descriptors (or null)');
    const fds = encodeFds(`${what}: files`, files, true);
    const tagBytes = tags === undefined ? undefined : encodeTags(`${what}: tags`, tags, files.length);
    const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE2);
    const up = new IoUringRsrcUpdate2(bytes);
    up.offset = offset;
    up.data = addressOf(fds);
    if (tagBytes !== undefined) up.tags = addressOf(tagBytes);
    up.nr = files.length;
    try {
      return registerKeeping(this.ring, IORING_REGISTER_FILES_UPDATE2, bytes, SIZEOF_IO_URING_RSRC_UPDATE2, [fds, tagBytes]);
    } catch (err) {
      if (!olderOpcodeMayWork(err) || tagBytes !== undefined) throw err;
    }
    // Before 5.13, or a restricted ring that allows only it: the original update, without tags.
    const old = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
    const up1 = new IoUringRsrcUpdate(old);
    up1.offset = offset;
    up1.data = addressOf(fds);
    return registerKeeping(this.ring, IORING_REGISTER_FILES_UPDATE, old, files.length, [fds]);
  }

  /** Puts `file` in slot `index` (replacing what was there). */
  set(index: number, file: number | FdLike): void {
    if (file === null) throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'FileTable.set: file', 'expected a descriptor; use clear(index) to empty a slot');
    this.update(index, [file]);
  }

  /** Empties slot `index` (the kernel drops its reference once in-flight ops are done with it). */
  clear(index: number): void {
    this.update(index, [null]);
  }

  /**
   * Limits the slots the kernel picks for `'alloc'` direct descriptors to
   * `[offset, offset + length)` (`IORING_REGISTER_FILE_ALLOC_RANGE`, 6.0), leaving the rest
   * for slots you choose yourself. An empty range (`length` 0, as the kernel allows) makes
   * every `'alloc'` op fail with `-ENFILE`.
   */
  setAllocRange(offset: number, length: number): void {
    const what = 'FileTable.setAllocRange';
    this.#check(what);
    checkIntRange(`${what}: offset`, offset, 0, this.size);
    checkIntRange(`${what}: length`, length, 0, this.size - offset);
    const bytes = new Uint8Array(SIZEOF_IO_URING_FILE_INDEX_RANGE);
    const range = new IoUringFileIndexRange(bytes);
    range.off = offset;
    range.len = length;
    this.ring.register(IORING_REGISTER_FILE_ALLOC_RANGE, bytes, 0);
    this.#allocRange = { offset, length };
  }

  /**
   * Prepares `IORING_OP_FIXED_FD_INSTALL` (6.8): a normal descriptor for the file in
   * `file`'s slot; wrap the CQE's `res` with `OwnedFd.fromResult(res)`.
   *
   * @param flags - `IORING_FIXED_FD_NO_CLOEXEC` to leave close-on-exec off.
   */
  prepInstall(sqe: SqeTarget, file: FixedFile, flags?: number): void {
    prepFixedFdInstall(sqe, this.#own('FileTable.prepInstall: file', file), flags);
  }

  /** Prepares `IORING_OP_CLOSE` of a slot (empties it, closing the table's reference). */
  prepClose(sqe: SqeTarget, file: FixedFile): void {
    prepCloseDirect(sqe, this.#own('FileTable.prepClose: file', file));
  }

  #own(argument: string, file: unknown): number {
    if (!this.owns(file)) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', argument, `expected a FixedFile from this table (table.slot(i) or table.fromResult(res)), received ${describeReceived(file)}`);
    }
    return file.index; // checks that the table is still registered
  }

  /**
   * Unregisters the table (`IORING_UNREGISTER_FILES`); the kernel closes its references
   * once in-flight ops are done with them. Every slot handed out becomes invalid.
   * Idempotent; a no-op once the ring is closed. When the kernel refuses (EACCES on a
   * restricted ring that does not allow `IORING_UNREGISTER_FILES`), it throws and the table
   * stays registered: the kernel still holds it, and so does this object.
   */
  unregister(): void {
    if (!this.#registered) return;
    // The kernel first: only once it has let go is the table marked gone.
    if (!this.ring.closed) this.ring.register(IORING_UNREGISTER_FILES, null, 0);
    this.#registered = false;
    if (this.#registry.files === this) this.#registry.files = undefined;
  }

  /** Same as {@link FileTable.unregister}, for `using`. */
  [Symbol.dispose](): void {
    this.unregister();
  }

  /** A one-line summary. */
  toString(): string {
    return `FileTable(${this.size} slots${this.registered ? '' : ', unregistered'})`;
  }
}

function checkNoTable(registry: RingRegistry, what: string): void {
  if (registry.files !== undefined) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: ring`, 'the ring already has a registered file table (the kernel allows one); unregister it first or update its slots');
  }
}

/** Int32 descriptors for the kernel: -1 for an empty slot, and with `allowSkip` -2 (`FILES_SKIP`) to leave one as it is. */
function encodeFds(argument: string, files: readonly FileSlotValue[], allowSkip: boolean): Int32Array {
  const fds = new Int32Array(Math.max(files.length, 1));
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    fds[i] =
      file === null || file === undefined ? -1 : allowSkip && file === IORING_REGISTER_FILES_SKIP ? IORING_REGISTER_FILES_SKIP : fileNumber(`${argument}[${i}]`, file, false, false);
  }
  return fds;
}

function registerFiles(ring: IoUring, fds: Int32Array | undefined, size: number, tags: Uint8Array | undefined, flags: number): void {
  const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_REGISTER);
  const reg = new IoUringRsrcRegister(bytes);
  reg.nr = size;
  reg.flags = flags;
  if (fds !== undefined) reg.data = addressOf(fds);
  if (tags !== undefined) reg.tags = addressOf(tags);
  try {
    registerKeeping(ring, IORING_REGISTER_FILES2, bytes, SIZEOF_IO_URING_RSRC_REGISTER, [fds, tags]);
    return;
  } catch (err) {
    if (!olderOpcodeMayWork(err) || tags !== undefined) throw err;
  }
  // Before 5.13 (no FILES2) or 5.19 (no SPARSE), or a restricted ring that allows only
  // IORING_REGISTER_FILES: the plain form, empty slots as -1.
  const plain = fds ?? new Int32Array(size).fill(-1);
  registerKeeping(ring, IORING_REGISTER_FILES, plain, size, []);
}

/**
 * A `FixedFile` whose `index` is read through a check: builders read `file.index` (in
 * `fileNumber`) before writing anything, so a slot of an unregistered table is refused
 * there. The base class stores `index` as a data property; it is redefined here as an
 * accessor on the instance.
 */
function makeSlot(table: FileTable, index: number): FixedFile {
  const slot = new FixedFile(index);
  Object.defineProperty(slot, 'index', {
    enumerable: true,
    configurable: false,
    get(): number {
      if (!table.registered) {
        throw new ArgumentError(
          'ERR_INVALID_ARG_VALUE',
          `FixedFile fixed:${index}`,
          'its file table was unregistered (or its ring closed), so the slot no longer names a file; get slots from the current table',
        );
      }
      return index;
    },
  });
  // Printing a stale slot must not throw: name it without the check.
  Object.defineProperty(slot, 'toString', { value: () => `fixed:${index}`, enumerable: false });
  return slot;
}
