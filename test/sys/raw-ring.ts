/**
 * A minimal hand-built ring for testing the syscall layer and the waker: setup, the
 * three mappings, one-SQE submission and CQ reaping.
 *
 * The byte offsets below are confined to this test helper. The struct layouts are
 * those of linux/io_uring.h (`struct io_uring_params` is 120 bytes; the offsets inside
 * the rings come from the `struct io_sqring_offsets` / `struct io_cqring_offsets` the
 * kernel writes into params at 40 and 80). The library's real ring is built from the
 * generated struct accessors instead.
 */
import {
  addressOf,
  externalView,
  ioUringEnter,
  ioUringRegister,
  ioUringSetup,
  closeFd,
  MAP_POPULATE,
  MAP_SHARED,
  mmapRegion,
  munmapRegion,
  PROT_READ,
  PROT_WRITE,
  IORING_ENTER_GETEVENTS,
} from '../../src/sys/libc.js';

export const IORING_OFF_SQ_RING = 0;
export const IORING_OFF_CQ_RING = 0x8000000;
export const IORING_OFF_SQES = 0x10000000;
export const IORING_FEAT_SINGLE_MMAP = 1;
export const IORING_OP_NOP = 0;
export const IORING_OP_TIMEOUT = 11;
export const IORING_REGISTER_EVENTFD = 4;
export const IORING_UNREGISTER_EVENTFD = 5;
export const IORING_REGISTER_PROBE = 8;

export interface Cqe {
  userData: number;
  res: number;
  flags: number;
}

export interface RawRing {
  fd: number;
  params: Uint8Array;
  sqEntries: number;
  cqEntries: number;
  features: number;
  /** Queues one NOP and submits it. */
  nop(userData: number): void;
  /** Queues one relative timeout of `ms` milliseconds (completes with -ETIME) and submits it. */
  timeout(ms: number, userData: number): void;
  /** Completions posted and not yet reaped. */
  ready(): number;
  /** Reaps every posted completion. */
  reap(): Cqe[];
  /** Blocks until `n` completions are posted. */
  wait(n: number): void;
  registerEventfd(efd: number): void;
  unregisterEventfd(): void;
  close(): void;
}

interface Region {
  address: number;
  length: number;
}

export function createRawRing(entries = 8, flags = 0): RawRing {
  const params = new Uint8Array(120);
  const pv = new DataView(params.buffer);
  pv.setUint32(8, flags, true);
  const fd = ioUringSetup(entries, params);
  const u32 = (o: number): number => pv.getUint32(o, true);
  const sqEntries = u32(0);
  const cqEntries = u32(4);
  const features = u32(20);
  const sq = { head: u32(40), tail: u32(44), mask: u32(48), entries: u32(52), array: u32(64) };
  const cq = { head: u32(80), tail: u32(84), mask: u32(88), entries: u32(92), cqes: u32(100) };

  const regions: Region[] = [];
  let sqRing: ArrayBuffer;
  let cqRing: ArrayBuffer;
  let sqes: ArrayBuffer;
  try {
    let sqLen = sq.array + sqEntries * 4;
    let cqLen = cq.cqes + cqEntries * 16;
    const single = (features & IORING_FEAT_SINGLE_MMAP) !== 0;
    if (single) sqLen = cqLen = Math.max(sqLen, cqLen);
    const sqAddr = mmapRegion(sqLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    regions.push({ address: sqAddr, length: sqLen });
    sqRing = externalView(sqAddr, sqLen);
    if (single) {
      cqRing = sqRing;
    } else {
      const cqAddr = mmapRegion(cqLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
      regions.push({ address: cqAddr, length: cqLen });
      cqRing = externalView(cqAddr, cqLen);
    }
    const sqesLen = sqEntries * 64;
    const sqesAddr = mmapRegion(sqesLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    regions.push({ address: sqesAddr, length: sqesLen });
    sqes = externalView(sqesAddr, sqesLen);
  } catch (err) {
    for (const r of regions) munmapRegion(r.address, r.length);
    closeFd(fd);
    throw err;
  }

  const sq32 = new Uint32Array(sqRing);
  const cq32 = new Uint32Array(cqRing);
  // The offsets locate the masks; the masks themselves live in the ring.
  const sqMask = sq32[sq.mask / 4] as number;
  const cqMask = cq32[cq.mask / 4] as number;
  const sqeView = new DataView(sqes);
  const cqView = new DataView(cqRing);
  // Timespecs stay referenced until the ring closes; the kernel reads them at submit.
  const pinned: Uint8Array[] = [];
  let closed = false;

  const check = (): void => {
    if (closed) throw new Error('raw ring is closed');
  };

  const push = (fill: (o: number) => void): void => {
    check();
    const tail = Atomics.load(sq32, sq.tail / 4);
    const head = Atomics.load(sq32, sq.head / 4);
    if (tail - head >= sqEntries) throw new Error('SQ full');
    const index = tail & sqMask;
    const o = index * 64;
    for (let i = 0; i < 64; i += 4) sqeView.setUint32(o + i, 0, true);
    fill(o);
    sq32[sq.array / 4 + index] = index;
    Atomics.store(sq32, sq.tail / 4, (tail + 1) >>> 0);
    ioUringEnter(fd, 1, 0, 0);
  };

  const setUserData = (o: number, userData: number): void => {
    sqeView.setUint32(o + 32, userData >>> 0, true);
    sqeView.setUint32(o + 36, Math.floor(userData / 2 ** 32), true);
  };

  return {
    fd,
    params,
    sqEntries,
    cqEntries,
    features,
    nop(userData) {
      push((o) => {
        sqeView.setUint8(o, IORING_OP_NOP);
        setUserData(o, userData);
      });
    },
    timeout(ms, userData) {
      const ts = new Uint8Array(16);
      const tv = new DataView(ts.buffer);
      tv.setUint32(0, Math.floor(ms / 1000), true);
      tv.setUint32(8, (ms % 1000) * 1_000_000, true);
      pinned.push(ts);
      const addr = addressOf(ts);
      push((o) => {
        sqeView.setUint8(o, IORING_OP_TIMEOUT);
        sqeView.setInt32(o + 4, -1, true);
        sqeView.setUint32(o + 16, addr >>> 0, true);
        sqeView.setUint32(o + 20, Math.floor(addr / 2 ** 32), true);
        sqeView.setUint32(o + 24, 1, true);
        setUserData(o, userData);
      });
    },
    ready() {
      check();
      return (Atomics.load(cq32, cq.tail / 4) - Atomics.load(cq32, cq.head / 4)) >>> 0;
    },
    reap() {
      check();
      const out: Cqe[] = [];
      let head = Atomics.load(cq32, cq.head / 4);
      const tail = Atomics.load(cq32, cq.tail / 4);
      while (head !== tail) {
        const o = cq.cqes + (head & cqMask) * 16;
        out.push({
          userData: cqView.getUint32(o, true) + cqView.getUint32(o + 4, true) * 2 ** 32,
          res: cqView.getInt32(o + 8, true),
          flags: cqView.getUint32(o + 12, true),
        });
        head = (head + 1) >>> 0;
      }
      Atomics.store(cq32, cq.head / 4, head);
      return out;
    },
    wait(n) {
      check();
      ioUringEnter(fd, 0, n, IORING_ENTER_GETEVENTS);
    },
    registerEventfd(efd) {
      check();
      ioUringRegister(fd, IORING_REGISTER_EVENTFD, new Int32Array([efd]), 1);
    },
    unregisterEventfd() {
      check();
      ioUringRegister(fd, IORING_UNREGISTER_EVENTFD, null, 0);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const r of regions) munmapRegion(r.address, r.length);
      closeFd(fd);
      pinned.length = 0;
    },
  };
}
