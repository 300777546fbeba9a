/**
 * `struct open_how` (`<linux/openat2.h>`) for `prepOpenat2` / `prepOpenat2Direct`, and the
 * `RESOLVE_*` path-resolution flags it carries. The struct is not part of io_uring.h, so it
 * is written here: three `__u64` (flags, mode, resolve), 24 bytes, the layout
 * `OPEN_HOW_SIZE_VER0` names and every kernel with openat2 (5.6) accepts.
 *
 * @module
 */
import { constants } from 'node:fs';
import { openFlagsOf, type OpenFlags } from '../async/open-flags.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { checkIntRange, setU64 } from './check.js';

/** Refuse to cross a mount point (including bind mounts) while resolving. */
export const RESOLVE_NO_XDEV = 0x01;
/** Refuse "magic links" such as `/proc/self/fd/N`. */
export const RESOLVE_NO_MAGICLINKS = 0x02;
/** Refuse every symbolic link (magic links included). */
export const RESOLVE_NO_SYMLINKS = 0x04;
/** Refuse to leave the directory `dirfd` names (`..` past it, absolute paths, symlinks out). */
export const RESOLVE_BENEATH = 0x08;
/** Resolve as if `dirfd` were the root directory (chroot-like, for this lookup only). */
export const RESOLVE_IN_ROOT = 0x10;
/** Only succeed if the lookup can be served from the dentry cache (EAGAIN otherwise; 5.12). */
export const RESOLVE_CACHED = 0x20;

/** Every `RESOLVE_*` bit this build knows. */
const KNOWN_RESOLVE = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;

/** `O_TMPFILE`: `__O_TMPFILE` (generic value, every architecture Node supports) | `O_DIRECTORY`. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/** Bytes in `struct open_how` (version 0). */
export const OPEN_HOW_SIZE = 24;

/** What {@link encodeOpenHow} encodes: the fields of `struct open_how`. */
export interface OpenHow {
  /** `O_*` bits, or one of Node's flag strings (`'r'`, `'w+'`, ...; `O_CLOEXEC` added). Default `'r'`. */
  flags?: OpenFlags;
  /** Permission bits of a created file (0 to 0o7777); only with `O_CREAT` or `O_TMPFILE`. Default 0. */
  mode?: number;
  /** `RESOLVE_*` bits. Default 0. */
  resolve?: number;
}

/**
 * Encodes `how` as a 24-byte `struct open_how` for `prepOpenat2`.
 *
 * ```ts
 * prepOpenat2(ring.getSqe()!, dirFd, 'user/supplied/path', encodeOpenHow({ flags: 'r', resolve: RESOLVE_BENEATH }));
 * ```
 *
 * @throws {@link ArgumentError} for unknown `RESOLVE_*` bits, a mode out of range, or a
 *   mode without `O_CREAT` / `O_TMPFILE` (the kernel refuses that with EINVAL).
 */
export function encodeOpenHow(how: OpenHow = {}): Uint8Array {
  const what = 'encodeOpenHow';
  if (how === null || typeof how !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: how`, `expected { flags?, mode?, resolve? }, received ${describeReceived(how)}`);
  }
  const { flags: flagsIn, mode: modeIn, resolve: resolveIn } = how;
  const flags = openFlagsOf(flagsIn ?? 'r', `${what}: how.flags`);
  const mode = modeIn === undefined ? 0 : checkIntRange(`${what}: how.mode`, modeIn, 0, 0o7777);
  const creates = (flags & constants.O_CREAT) !== 0 || (flags & O_TMPFILE) === O_TMPFILE;
  if (mode !== 0 && !creates) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: how.mode`, 'a mode is only meaningful with O_CREAT or O_TMPFILE (openat2 refuses it otherwise with EINVAL)');
  }
  const resolve = resolveIn === undefined ? 0 : checkIntRange(`${what}: how.resolve`, resolveIn, 0, 0xffffffff);
  if ((resolve & ~KNOWN_RESOLVE) !== 0) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: how.resolve`, `unknown RESOLVE_* bits 0x${(resolve & ~KNOWN_RESOLVE).toString(16)} (known: 0x${KNOWN_RESOLVE.toString(16)})`);
  }
  const bytes = new Uint8Array(OPEN_HOW_SIZE);
  const view = new DataView(bytes.buffer);
  setU64(view, 0, flags);
  setU64(view, 8, mode);
  setU64(view, 16, resolve);
  return bytes;
}
