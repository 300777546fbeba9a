/**
 * File references accepted wherever an op takes a file: a plain descriptor number, an
 * object that owns a descriptor (`OwnedFd`), or a slot of the ring's registered file
 * table ({@link FixedFile}). The two kinds of number cannot be mixed up: a registered
 * slot is only ever a `FixedFile`, and passing one sets `IOSQE_FIXED_FILE` for you.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { checkFdNumber } from './check.js';

/** `AT_FDCWD`: resolve a relative path against the current working directory. */
export const AT_FDCWD = -100;

/**
 * A slot in a ring's registered file table (a "direct descriptor").
 * Created by the ring's file registration; only valid on that ring.
 */
export class FixedFile {
  /** Zero-based slot index in the registered file table. */
  readonly index: number;
  /**
   * Names slot `index` of a registered file table. {@link FileTable} hands these out; build
   * one yourself only for a slot you know is filled. Throws an {@link ArgumentError} for
   * anything but an integer from 0 to 2^31 - 1.
   */
  constructor(index: number) {
    if (!Number.isInteger(index) || index < 0 || index > 0x7fffffff) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', 'FixedFile: index', `expected a slot index from 0 to 2147483647, received ${describeReceived(index)}`);
    }
    this.index = index;
  }
  /** @returns `fixed:<index>`, so logs never show a slot as if it were a descriptor. */
  toString(): string {
    return `fixed:${this.index}`;
  }
}

/** Anything that owns an open descriptor and exposes it while open (reading `fd` after close throws). */
export interface FdLike {
  /** The descriptor number (an {@link OwnedFd} throws once closed). */
  readonly fd: number;
}

/** A file an op can target. */
export type FileRef = number | FdLike | FixedFile;

/**
 * The number to write for `file`: the descriptor, or the slot index of a {@link FixedFile}
 * (then the caller also sets the op's fixed-file bit: `file instanceof FixedFile`).
 * Allocates nothing, so it can sit on the hot path.
 */
export function fileNumber(name: string, file: unknown, allowAtFdcwd: boolean, allowFixed: boolean): number {
  if (typeof file === 'number') {
    if (allowAtFdcwd && file === AT_FDCWD) return file;
    return checkFdNumber(name, file);
  }
  if (file instanceof FixedFile) {
    if (!allowFixed) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, 'this argument takes a descriptor, not a registered file slot (FixedFile)');
    }
    return file.index;
  }
  if (file !== null && typeof file === 'object' && 'fd' in file) {
    return checkFdNumber(name, (file as FdLike).fd);
  }
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected a file descriptor number, an OwnedFd or a FixedFile, received ${describeReceived(file)}`);
}
