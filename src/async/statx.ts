/**
 * `struct statx` (from `<linux/stat.h>`, not part of the io_uring header) and a parser that
 * turns the kernel's 256 bytes into an object shaped like Node's `fs.Stats`.
 *
 * The offsets below are checked against the C compiler's `offsetof` on `<linux/stat.h>`, and
 * the parser against a C program's own `statx(2)` of the same file, by
 * test/async/statx.test.ts.
 *
 * @module
 */

/** Bytes in `struct statx`. */
export const STATX_SIZE = 256;

/**
 * Byte offset of each `struct statx` field used here (a `statx_timestamp` is `tv_sec` s64
 * at +0, `tv_nsec` u32 at +8, 16 bytes in all).
 */
export const STATX_OFFSETS = Object.freeze({
  stx_mask: 0x00,
  stx_blksize: 0x04,
  stx_attributes: 0x08,
  stx_nlink: 0x10,
  stx_uid: 0x14,
  stx_gid: 0x18,
  stx_mode: 0x1c,
  stx_ino: 0x20,
  stx_size: 0x28,
  stx_blocks: 0x30,
  stx_attributes_mask: 0x38,
  stx_atime: 0x40,
  stx_btime: 0x50,
  stx_ctime: 0x60,
  stx_mtime: 0x70,
  stx_rdev_major: 0x80,
  stx_rdev_minor: 0x84,
  stx_dev_major: 0x88,
  stx_dev_minor: 0x8c,
  stx_mnt_id: 0x90,
  stx_dio_mem_align: 0x98,
  stx_dio_offset_align: 0x9c,
});

/** `STATX_BASIC_STATS`: every field `stat(2)` reports (a `STATX_*` mask, `<linux/stat.h>`). */
export const STATX_BASIC_STATS = 0x7ff;
/** `STATX_BTIME`: the creation time. */
export const STATX_BTIME = 0x800;

/** `AT_SYMLINK_NOFOLLOW`: report a final symbolic link itself (`<fcntl.h>`). */
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** `AT_REMOVEDIR`: `unlinkat` removes a directory. */
export const AT_REMOVEDIR = 0x200;
/** `AT_EMPTY_PATH`: an empty path means the descriptor itself (`fstat`). */
export const AT_EMPTY_PATH = 0x1000;

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;

const TWO_32 = 4294967296;

/**
 * A file's status from `statx(2)`, shaped like Node's `fs.Stats`: the same numeric fields
 * (u64 fields as numbers, exact below 2^53, as in `fs.Stats`), the `*Ms` times, `Date`s,
 * the `is*()` predicates; plus nanosecond times as bigints (`atimeNs`, as in
 * `fs.BigIntStats`) and statx's own extras (`mask`, `attributes`, `mntId`, DIO alignment).
 */
export class Stats {
  /** Device of the file, `makedev(major, minor)` as glibc encodes it (the value Node reports). */
  dev: number;
  /** Inode number. */
  ino: number;
  /** File type and permission bits (`S_IF*` | `0o7777`). */
  mode: number;
  /** Hard links. */
  nlink: number;
  /** Owner's user id. */
  uid: number;
  /** Owner's group id. */
  gid: number;
  /** Device a special file stands for (0 otherwise), encoded like `dev`. */
  rdev: number;
  /** Size in bytes. */
  size: number;
  /** Preferred I/O block size. */
  blksize: number;
  /** 512-byte blocks allocated. */
  blocks: number;
  /** Last access, in milliseconds since the epoch (fractional, as Node's). */
  atimeMs: number;
  /** Last modification of the content, in milliseconds since the epoch. */
  mtimeMs: number;
  /** Last change of the inode, in milliseconds since the epoch. */
  ctimeMs: number;
  /** Creation time; 0 where the file system does not record it (`mask` lacks STATX_BTIME). */
  birthtimeMs: number;
  /** `STATX_*` bits of the fields the kernel filled in. */
  mask: number;
  /** `STATX_ATTR_*` bits (compressed, immutable, append-only, ...), valid where `attributesMask` has them. */
  attributes: number;
  /** Which `STATX_ATTR_*` bits this file system supports. */
  attributesMask: number;
  /** Mount id (`STATX_MNT_ID`). */
  mntId: number;
  /** Direct-I/O alignment of memory buffers (`STATX_DIOALIGN`), 0 when unsupported. */
  dioMemAlign: number;
  /** Direct-I/O alignment of file offsets and lengths, 0 when unsupported. */
  dioOffsetAlign: number;
  readonly #sec: Float64Array;
  readonly #nsec: Uint32Array;

  /** Parses the `struct statx` at `byteOffset` of `bytes`. */
  constructor(bytes: Uint8Array, byteOffset = 0) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, STATX_SIZE);
    const O = STATX_OFFSETS;
    const u32 = (at: number): number => dv.getUint32(at, true);
    const u64 = (at: number): number => dv.getUint32(at + 4, true) * TWO_32 + dv.getUint32(at, true);
    this.mask = u32(O.stx_mask);
    this.blksize = u32(O.stx_blksize);
    this.attributes = u64(O.stx_attributes);
    this.nlink = u32(O.stx_nlink);
    this.uid = u32(O.stx_uid);
    this.gid = u32(O.stx_gid);
    this.mode = dv.getUint16(O.stx_mode, true);
    this.ino = u64(O.stx_ino);
    this.size = u64(O.stx_size);
    this.blocks = u64(O.stx_blocks);
    this.attributesMask = u64(O.stx_attributes_mask);
    this.rdev = makedev(u32(O.stx_rdev_major), u32(O.stx_rdev_minor));
    this.dev = makedev(u32(O.stx_dev_major), u32(O.stx_dev_minor));
    this.mntId = u64(O.stx_mnt_id);
    this.dioMemAlign = u32(O.stx_dio_mem_align);
    this.dioOffsetAlign = u32(O.stx_dio_offset_align);
    // atime, birthtime, ctime, mtime in the struct's order.
    const sec = new Float64Array(4);
    const nsec = new Uint32Array(4);
    const at = [O.stx_atime, O.stx_btime, O.stx_ctime, O.stx_mtime];
    for (let i = 0; i < 4; i++) {
      sec[i] = dv.getInt32(at[i]! + 4, true) * TWO_32 + dv.getUint32(at[i]!, true);
      nsec[i] = dv.getUint32(at[i]! + 8, true);
    }
    this.#sec = sec;
    this.#nsec = nsec;
    this.atimeMs = sec[0]! * 1e3 + nsec[0]! / 1e6;
    this.birthtimeMs = sec[1]! * 1e3 + nsec[1]! / 1e6;
    this.ctimeMs = sec[2]! * 1e3 + nsec[2]! / 1e6;
    this.mtimeMs = sec[3]! * 1e3 + nsec[3]! / 1e6;
  }

  /** Last access, as a Date (milliseconds, rounded like Node's). */
  get atime(): Date {
    return new Date(Math.round(this.atimeMs));
  }
  /** Last modification of the content. */
  get mtime(): Date {
    return new Date(Math.round(this.mtimeMs));
  }
  /** Last change of the inode (content, owner, mode, links). */
  get ctime(): Date {
    return new Date(Math.round(this.ctimeMs));
  }
  /** Creation. */
  get birthtime(): Date {
    return new Date(Math.round(this.birthtimeMs));
  }
  /** Nanoseconds since the epoch, exact (as `fs.BigIntStats#atimeNs`). */
  get atimeNs(): bigint {
    return this.#ns(0);
  }
  /** Creation time in nanoseconds, exact. */
  get birthtimeNs(): bigint {
    return this.#ns(1);
  }
  /** Last inode change in nanoseconds, exact. */
  get ctimeNs(): bigint {
    return this.#ns(2);
  }
  /** Last content modification in nanoseconds, exact. */
  get mtimeNs(): bigint {
    return this.#ns(3);
  }
  #ns(i: number): bigint {
    return BigInt(this.#sec[i]!) * 1_000_000_000n + BigInt(this.#nsec[i]!);
  }

  /** A regular file. */
  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  /** A directory. */
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  /** A block device. */
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFBLK;
  }
  /** A character device. */
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }
  /** Only meaningful for `lstat` (`{ followSymlinks: false }`): `stat` follows links. */
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  /** A FIFO (named pipe) or pipe. */
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === S_IFIFO;
  }
  /** A socket. */
  isSocket(): boolean {
    return (this.mode & S_IFMT) === S_IFSOCK;
  }
}

/** glibc's `makedev(major, minor)` as a number (the 64-bit value is exact below 2^53). */
export function makedev(major: number, minor: number): number {
  const low = (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
  const high = (((minor >>> 20) & 0xfff) | (major & 0xfffff000)) >>> 0;
  return high * TWO_32 + low;
}
