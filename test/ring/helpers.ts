/**
 * Shared helpers of the ring tests: temp files, process-wide resource counts, and the
 * kernel's own answer to a setup request (asked directly, not through `IoUring`), so a
 * test can tell "this kernel lacks the flag" (skip, printing why) from "the library is
 * wrong" (fail).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { release } from 'node:os';
import { isAbsolute, join } from 'node:path';
export { fdCount, ioUringMappings, mapsLines, settleGc, vmSizeKiB } from '../support/proc.js';
import {
  IORING_SETUP_CQSIZE,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_UNREGISTER_RING_FDS,
  IORING_REGISTER_USE_REGISTERED_RING,
} from '../../generated/constants.js';
import { IoUringParams, IoUringRsrcUpdate, SIZEOF_IO_URING_PARAMS, SIZEOF_IO_URING_RSRC_UPDATE } from '../../generated/structs.js';
import type { Cqe } from '../../src/ring/cqe.js';
import type { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import {
  closeFd,
  ioUringRegister,
  ioUringSetup,
  MAP_ANONYMOUS,
  MAP_POPULATE,
  MAP_PRIVATE,
  mmapRegion,
  munmapRegion,
  PROT_READ,
  PROT_WRITE,
} from '../../src/sys/libc.js';

/** A temp directory (under the OS temp dir unless `prefix` is absolute) removed by the returned `cleanup`. */
export function makeTempDir(prefix = 'tsuring-ring-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(isAbsolute(prefix) ? prefix : join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `content` to `path` and opens it with `flags`; returns the fd. */
export function fileWith(path: string, content: string | Uint8Array, flags = 'r+'): number {
  writeFileSync(path, content);
  return openSync(path, flags);
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** Every CQE ready now, copied (the ring hands out one reused object). */
export function drain(ring: IoUring): Array<{ id: number; userData: unknown; res: number; flags: number; opcode: number; extra: number[] | null }> {
  const out: Array<{ id: number; userData: unknown; res: number; flags: number; opcode: number; extra: number[] | null }> = [];
  ring.forEachCqe((c: Cqe) => out.push({ id: c.id, userData: c.userData, res: c.res, flags: c.flags, opcode: c.opcode, extra: c.extra === null ? null : [...c.extra] }));
  return out;
}

/**
 * The kernel's answer to `io_uring_setup` with exactly `flags`, asked directly with a
 * hand-filled `struct io_uring_params` (NO_MMAP memory mapped here when needed).
 * Returns null when it accepts (the ring is torn down at once), else its error.
 */
export function kernelRefusal(flags: number, fill: (p: IoUringParams) => void = () => {}, entries = 8): IoUringError | null {
  const bytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
  const p = new IoUringParams(bytes);
  p.flags = flags;
  if ((flags & IORING_SETUP_CQSIZE) !== 0) p.cqEntries = entries * 2;
  fill(p);
  let mem = 0;
  const memBytes = 64 * 4096;
  if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
    mem = mmapRegion(memBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    p.sqOff.userAddr = mem;
    p.cqOff.userAddr = mem + 32 * 4096;
  }
  try {
    const fd = ioUringSetup(entries, bytes);
    if ((flags & IORING_SETUP_REGISTERED_FD_ONLY) !== 0) unregisterRingIndex(fd);
    else closeFd(fd);
    return null;
  } catch (err) {
    if (err instanceof IoUringError) return err;
    throw err;
  } finally {
    if (mem !== 0) munmapRegion(mem, memBytes);
  }
}

/** Drops a ring that exists only as a registered index (REGISTERED_FD_ONLY). */
export function unregisterRingIndex(index: number): void {
  const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
  new IoUringRsrcUpdate(bytes).offset = index;
  ioUringRegister(index, IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING, bytes, 1);
}

/** Milliseconds `fn` took, and its result. */
export function timed<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

/**
 * Skips the test, printing the kernel's own answer, when io_uring_setup refuses `flags`
 * (a setup flag newer than the running kernel: NO_MMAP and REGISTERED_FD_ONLY are Linux 6.5).
 */
export function requireSetupFlags(ctx: { skip(note?: string): void }, what: string, flags: number): void {
  const refusal = kernelRefusal(flags);
  if (refusal === null) return;
  const note = `${what}: kernel ${release()} refuses it in io_uring_setup: ${refusal.code}`;
  console.warn(`[skip] ${note}`);
  ctx.skip(note);
}
