/**
 * `statx(2)` through the ring, answered as Node's own `fs.Stats` / `fs.BigIntStats`
 * objects: built with Node's constructors (taken from one `statSync` result), so they are
 * the same classes, with the same own properties in the same order, the same `Date`s and the
 * same `is*()` methods as `node:fs/promises` gives. libuv asks statx for the same mask
 * (`STATX_BASIC_STATS | STATX_BTIME`) and computes every field the same way (`makedev` of
 * the major and minor numbers, milliseconds as `sec * 1e3 + nsec / 1e6`).
 *
 * @module
 */
import { statSync, type BigIntStats, type Stats } from 'node:fs';
import { prepStatx } from '../../../generated/ops.js';
import type { FdLike } from '../../abi/fd.js';
import type { AsyncIoUring, OpOptions } from '../../async/async-ring.js';
import { STATX_BASIC_STATS, STATX_BTIME, STATX_OFFSETS, STATX_SIZE } from '../../async/statx.js';

type StatsConstructor = new (...fields: unknown[]) => Stats;
type BigIntStatsConstructor = new (...fields: unknown[]) => BigIntStats;

let StatsClass: StatsConstructor | undefined;
let BigIntStatsClass: BigIntStatsConstructor | undefined;

const TWO_32 = 4294967296;
const O = STATX_OFFSETS;
/** The timestamps in the order Node's constructors take them: atime, mtime, ctime, birthtime. */
const TIMES = [O.stx_atime, O.stx_mtime, O.stx_ctime, O.stx_btime] as const;

/** glibc's `makedev(major, minor)` as its high and low 32-bit halves. */
function makedevHalves(major: number, minor: number): [high: number, low: number] {
  const low = (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
  const high = (((minor >>> 20) & 0xfff) | (major & 0xfffff000)) >>> 0;
  return [high, low];
}

function makedevNumber(major: number, minor: number): number {
  const [high, low] = makedevHalves(major, minor);
  return high * TWO_32 + low;
}

function makedevBigInt(major: number, minor: number): bigint {
  const [high, low] = makedevHalves(major, minor);
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Node's `Stats` (or `BigIntStats` with `bigint`) for a filled `struct statx`. */
export function nodeStats(buf: Uint8Array, bigint: boolean): Stats | BigIntStats {
  const dv = new DataView(buf.buffer, buf.byteOffset, STATX_SIZE);
  const u32 = (at: number): number => dv.getUint32(at, true);
  const devMajor = u32(O.stx_dev_major);
  const devMinor = u32(O.stx_dev_minor);
  const rdevMajor = u32(O.stx_rdev_major);
  const rdevMinor = u32(O.stx_rdev_minor);
  const mode = dv.getUint16(O.stx_mode, true);
  if (bigint) {
    BigIntStatsClass ??= statSync('/', { bigint: true }).constructor as BigIntStatsConstructor;
    const u64 = (at: number): bigint => dv.getBigUint64(at, true);
    const ns = TIMES.map((at) => dv.getBigInt64(at, true) * 1_000_000_000n + BigInt(dv.getUint32(at + 8, true)));
    return new BigIntStatsClass(
      makedevBigInt(devMajor, devMinor), BigInt(mode), BigInt(u32(O.stx_nlink)), BigInt(u32(O.stx_uid)), BigInt(u32(O.stx_gid)),
      makedevBigInt(rdevMajor, rdevMinor), BigInt(u32(O.stx_blksize)), u64(O.stx_ino), u64(O.stx_size), u64(O.stx_blocks),
      ...ns,
    );
  }
  StatsClass ??= statSync('/').constructor as StatsConstructor;
  const u64 = (at: number): number => dv.getUint32(at + 4, true) * TWO_32 + dv.getUint32(at, true);
  const ms = TIMES.map((at) => (dv.getInt32(at + 4, true) * TWO_32 + dv.getUint32(at, true)) * 1e3 + dv.getUint32(at + 8, true) / 1e6);
  return new StatsClass(
    makedevNumber(devMajor, devMinor), mode, u32(O.stx_nlink), u32(O.stx_uid), u32(O.stx_gid),
    makedevNumber(rdevMajor, rdevMinor), u32(O.stx_blksize), u64(O.stx_ino), u64(O.stx_size), u64(O.stx_blocks),
    ...ms,
  );
}

/**
 * `statx` of `path` relative to `dirfd` (or of the descriptor itself with `AT_EMPTY_PATH` and
 * an empty path), with libuv's mask. Resolves with Node's Stats; rejects with the ring's
 * error (the caller gives it Node's shape).
 */
export async function statxNode(ring: AsyncIoUring, dirfd: number | FdLike, path: string | Uint8Array, flags: number, bigint: boolean, options?: OpOptions): Promise<Stats | BigIntStats> {
  const buf = new Uint8Array(STATX_SIZE);
  await ring.submit((sqe) => prepStatx(sqe, dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, buf), options);
  return nodeStats(buf, bigint);
}
