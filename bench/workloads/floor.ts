/**
 * The floors: the raw NOP loop of `nop.ts` and the raw 4 KiB read loop of `reads.ts`, written
 * in JavaScript over koffi with everything the library adds taken out. It sets up the same ring (`FAST_SETUP`, the
 * library's own memory and SQEs in place where the kernel allows) through the library's
 * internal setup, then writes each SQE's 64 bytes straight into the SQE array (opcode NOP,
 * fd -1, user_data = index), publishes the SQ tail with one `Atomics.store`, makes one
 * `io_uring_enter(to_submit, min_complete = batch, GETEVENTS)` through koffi, and reads the
 * CQEs in place (one `Atomics.load` of the CQ tail, one `Atomics.store` of the head).
 *
 * No op table, no `Sqe` handle, no pins, no liveness or re-entrancy bookkeeping, no checks:
 * unusable as an API (nothing stops a second reap or a use after close), and not exported
 * from the package. It exists to measure, in the same run as the other rows, how fast any
 * JavaScript binding on this Node and koffi could go: the `nop.*.floor` rows against liburing
 * show the ceiling for the NOP targets (issue 14).
 *
 * @module
 */
import { FAST_SETUP } from '../../src/index.js';
import { RingCore } from '../../src/ring/core.js';
import { teardown } from '../../src/ring/lifecycle.js';
import { openRing } from '../../src/ring/open.js';
import { Probe } from '../../src/ring/probe.js';
import { addressOf, ioUringEnter, ioUringRegister } from '../../src/sys/libc.js';
import { IORING_ENTER_GETEVENTS, IORING_OP_READ } from '../../generated/constants.js';
import { timedLoop, type Sample, type Timing } from './common.js';

const OPS_PER_STEP = 2048;

/** The ring's words and cursors, hoisted once into locals by each loop. */
interface FloorRing {
  /** The SQ ring (cursors) and the SQE array the kernel reads: in place, or (kernel-mapped
   * rings) the mapped array itself, so no loop here ever copies either way. */
  sqRing: Uint32Array;
  sqes: Uint32Array;
  words: number;
  mask: number;
  tailAt: number;
  cqRing: Uint32Array;
  cqTailAt: number;
  cqHeadAt: number;
  wordOf: (position: number) => number;
  enterFd: number;
  /** The ring's enter flags with GETEVENTS. */
  flags: number;
}

/**
 * Runs `loop` on the same ring as the library's raw workloads (set up through its
 * internals), and reports the ring's setup with the sample; the ring is torn down after.
 */
function withFloorRing(entries: number, loop: (ring: FloorRing) => Sample): Sample {
  const opened = openRing({ entries, prefer: FAST_SETUP });
  const register = (opcode: number, arg: ArrayBufferView, nrArgs: number): number =>
    ioUringRegister(opened.fd, opcode | (opened.ownsFd ? 0 : 1 << 31), arg, nrArgs);
  const core = new RingCore(opened, Probe.read(register));
  try {
    const { sq, cq } = core;
    const sample = loop({
      sqRing: sq.sq,
      sqes: sq.sqes,
      words: sq.sqeWords,
      mask: sq.mask,
      tailAt: sq.at.sqTail,
      cqRing: cq.ring,
      cqTailAt: cq.at.cqTail,
      cqHeadAt: cq.at.cqHead,
      wordOf: (position) => cq.wordOf(position),
      enterFd: core.enterFd,
      flags: core.enterFlags | IORING_ENTER_GETEVENTS,
    });
    sample.info = { setupFlags: core.params.setupFlags, mapping: core.params.mapping, sqeInPlace: core.params.sqeInPlace };
    return sample;
  } finally {
    teardown(core);
  }
}

/** The floor loop: `batch` NOPs per enter, for `timing`. */
export function runNopFloor(params: { batch: number }, timing: Timing): Sample {
  const batch = params.batch;
  return withFloorRing(Math.max(256, batch), ({ sqRing, sqes, words, mask, tailAt, cqRing, cqTailAt, cqHeadAt, wordOf, enterFd, flags }) => {
    let tail = sqRing[tailAt]!;
    let head = cqRing[cqHeadAt]!;
    let failed = 0;
    const batches = Math.max(1, Math.floor(OPS_PER_STEP / batch));
    return timedLoop(timing, () => {
      for (let k = 0; k < batches; k++) {
        for (let i = 0; i < batch; i++) {
          const w = (tail & mask) * words;
          sqes.fill(0, w, w + 16); // opcode NOP (0), flags 0, ...
          sqes[w + 1] = 0xffffffff; // fd -1
          sqes[w + 8] = i; // user_data (low word)
          tail = (tail + 1) >>> 0;
        }
        // Release: the SQEs above are written before the kernel can see the new tail.
        Atomics.store(sqRing, tailAt, tail);
        const r = ioUringEnter(enterFd, batch, batch, flags);
        if (r !== batch) throw new Error(`io_uring_enter returned ${r}`);
        // Acquire: the CQEs up to this tail are complete when it is seen.
        const t = Atomics.load(cqRing, cqTailAt);
        while (head !== t) {
          if ((cqRing[wordOf(head) + 2]! | 0) < 0) failed++;
          head = (head + 1) >>> 0;
        }
        Atomics.store(cqRing, cqHeadAt, head);
      }
      if (failed !== 0) throw new Error(`${failed} NOPs failed`);
      return batches * batch;
    });
  });
}

/**
 * The floor of the raw random-read loop (`rawReadStep` in reads.ts): `bufs.length` 4 KiB
 * reads in flight; each turn is one `io_uring_enter(to_submit, 1, GETEVENTS)`, then every
 * CQE ready re-arms its buffer's read at the next offset with an SQE written by hand (opcode
 * READ, fd, offset, address, length, user_data = buffer index).
 */
export function runReadFloor(fd: number, bufs: Buffer[], block: number, next: () => number, timing: Timing): Sample {
  const depth = bufs.length;
  return withFloorRing(Math.max(8, depth), ({ sqRing, sqes, words, mask, tailAt, cqRing, cqTailAt, cqHeadAt, wordOf, enterFd, flags }) => {
    // The buffers stay referenced by `bufs` for the whole run: their addresses hold.
    const lo = new Uint32Array(depth);
    const hi = new Uint32Array(depth);
    for (let i = 0; i < depth; i++) {
      const a = addressOf(bufs[i]!);
      lo[i] = a >>> 0;
      hi[i] = Math.floor(a / 0x100000000);
    }
    let tail = sqRing[tailAt]!;
    let head = cqRing[cqHeadAt]!;
    let toSubmit = 0;
    let bad = 0;
    const arm = (i: number): void => {
      const w = (tail & mask) * words;
      const off = next();
      sqes.fill(0, w, w + 16);
      sqes[w] = IORING_OP_READ;
      sqes[w + 1] = fd;
      sqes[w + 2] = off >>> 0;
      sqes[w + 3] = Math.floor(off / 0x100000000);
      sqes[w + 4] = lo[i]!;
      sqes[w + 5] = hi[i]!;
      sqes[w + 6] = block;
      sqes[w + 8] = i;
      tail = (tail + 1) >>> 0;
      toSubmit++;
    };
    for (let i = 0; i < depth; i++) arm(i);
    const turns = Math.max(1, Math.floor(OPS_PER_STEP / depth));
    return timedLoop(timing, () => {
      let done = 0;
      for (let k = 0; k < turns; k++) {
        // Release: the SQEs are written before the kernel can see the new tail.
        Atomics.store(sqRing, tailAt, tail);
        const n = toSubmit;
        toSubmit = 0;
        const r = ioUringEnter(enterFd, n, 1, flags);
        if (r !== n) throw new Error(`io_uring_enter submitted ${r} of ${n}`);
        // Acquire: the CQEs up to this tail are complete.
        const t = Atomics.load(cqRing, cqTailAt);
        while (head !== t) {
          const w = wordOf(head);
          if ((cqRing[w + 2]! | 0) !== block) bad++;
          const i = cqRing[w]!;
          head = (head + 1) >>> 0;
          arm(i);
          done++;
        }
        Atomics.store(cqRing, cqHeadAt, head);
      }
      if (bad !== 0) throw new Error(`${bad} reads returned less than ${block} bytes`);
      return done;
    });
  });
}

