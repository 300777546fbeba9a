/**
 * Overload (issue 9, item 4): far more work than the rings hold, and every op completes
 * exactly once, none lost or duplicated.
 *
 * - Raw API: each op's `userData` is its index; a completion count per index must end at
 *   exactly 1 (a second CQE for an op, or a CQE for an index never submitted, fails at once).
 *   Reads target distinct blocks of a file whose every block holds its own number, so a
 *   completion delivered to the wrong op, or data landing in the wrong buffer, is caught.
 * - Promise API: each promise settles once by construction, so the accounting is of values:
 *   every read resolves with its own block's bytes, and `pending` returns to 0.
 *
 * Cases: 20,000 ops through an 8-entry SQ; 4,096 ops in flight over a 4-entry CQ (the
 * kernel's overflow list holds the rest; `maxInFlight` raised), on a plain and a
 * DEFER_TASKRUN ring; the Promise API with 20,000 ops at once on an 8-entry ring and on a
 * 4-entry CQ; and a provided-buffer ring of 8 buffers serving 300 reads at once, which runs
 * dry (-ENOBUFS) and is refilled until every read got its block exactly once.
 */
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IORING_SQ_CQ_OVERFLOW } from '../../generated/constants.js';
import { prepNop, prepRead, prepTimeout } from '../../generated/ops.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { BufferRing } from '../../src/register/provided.js';
import type { Cqe } from '../../src/ring/cqe.js';
import { IoUring } from '../../src/ring/ring.js';
import type { IoUringOptions } from '../../src/ring/setup.js';
import { makeTempDir } from '../ring/helpers.js';

const BLOCK = 64;
const BLOCKS = 4096;
const ENOBUFS = -105;

let tmp: { dir: string; cleanup: () => void };
let fd: number;

/** Block `i` of the file: its number as a little-endian u32, repeated. */
function blockBytes(i: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let k = 0; k < BLOCK; k += 4) b.writeUInt32LE(i, k);
  return b;
}
function expectBlock(bytes: Uint8Array, i: number, what: string): void {
  expect(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(blockBytes(i)), `${what}: block ${i} holds the wrong bytes`).toBe(true);
}

beforeAll(() => {
  tmp = makeTempDir('tsuring-overload-');
  const path = join(tmp.dir, 'blocks');
  writeFileSync(path, Buffer.concat(Array.from({ length: BLOCKS }, (_, i) => blockBytes(i))));
  fd = openSync(path, 'r');
});
afterAll(() => {
  closeSync(fd);
  tmp.cleanup();
});

/** Counts completions per op index and checks reads' data. */
class Ledger {
  readonly seen: Uint8Array;
  readonly buffers: (Buffer | undefined)[];
  completions = 0;
  constructor(readonly n: number) {
    this.seen = new Uint8Array(n);
    this.buffers = new Array(n);
  }
  /** Op `i`: even ones read block i % BLOCKS, odd ones are NOPs (every 97th a 0-second timeout). */
  prepare(ring: IoUring, i: number): boolean {
    const sqe = ring.getSqe();
    if (sqe === null) return false;
    if (i % 2 === 0) {
      const buf = Buffer.alloc(BLOCK);
      this.buffers[i] = buf;
      prepRead(sqe, fd, buf, BLOCK, (i % BLOCKS) * BLOCK);
    } else if (i % 97 === 0) {
      prepTimeout(sqe, { sec: 0, nsec: 0 }, 0);
    } else {
      prepNop(sqe);
    }
    sqe.userData = i;
    return true;
  }
  complete(cqe: Cqe): void {
    const i = cqe.userData;
    if (typeof i !== 'number' || !(i >= 0 && i < this.n)) throw new Error(`a CQE for an op never submitted: ${JSON.stringify(cqe)}`);
    if (this.seen[i] !== 0) throw new Error(`op ${i} completed twice`);
    this.seen[i] = 1;
    this.completions++;
    if (i % 2 === 0) {
      if (cqe.res !== BLOCK) throw new Error(`read ${i}: res ${cqe.res}`);
      expectBlock(this.buffers[i]!, i % BLOCKS, `op ${i}`);
      this.buffers[i] = undefined;
    } else if (i % 97 === 0) {
      if (cqe.res !== -62) throw new Error(`timeout ${i}: res ${cqe.res}`);
    } else if (cqe.res !== 0) {
      throw new Error(`nop ${i}: res ${cqe.res}`);
    }
  }
  expectAllOnce(): void {
    expect(this.completions).toBe(this.n);
    expect(this.seen.every((s) => s === 1)).toBe(true);
  }
}

describe('far more ops than SQ entries', () => {
  it('raw API: 20,000 ops through an 8-entry SQ, each completed exactly once', () => {
    const ring = new IoUring({ entries: 8 });
    try {
      expect(ring.params.sqEntries).toBe(8);
      const ledger = new Ledger(20_000);
      let next = 0;
      let full = 0;
      while (ledger.completions < ledger.n) {
        while (next < ledger.n && ledger.prepare(ring, next)) next++;
        if (next < ledger.n) full++;
        ring.submitAndWait(1);
        ring.forEachCqe((c) => ledger.complete(c));
      }
      ledger.expectAllOnce();
      expect(full).toBeGreaterThan(1000); // the SQ (or maxInFlight) really was the limit
      expect(ring.inFlight).toBe(0);
    } finally {
      ring.close();
    }
  });

  it('Promise API: 20,000 ops at once on an 8-entry ring all settle with their own results', async () => {
    await using ring = new AsyncIoUring({ entries: 8 });
    const n = 20_000;
    const promises: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) {
        const buf = Buffer.alloc(BLOCK);
        const block = i % BLOCKS;
        promises.push(ring.read(fd, buf, block * BLOCK).then((res) => {
          expect(res).toBe(BLOCK);
          expectBlock(buf, block, `promise read ${i}`);
          return i;
        }));
      } else {
        promises.push(ring.nop().then((res) => (res === 0 ? i : -1)));
      }
    }
    const results = await Promise.all(promises);
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(ring.pending).toBe(0);
  });
});

describe('a CQ far smaller than the work (overflow, maxInFlight raised)', () => {
  const cases: [string, IoUringOptions][] = [
    ['plain ring', {}],
    ['DEFER_TASKRUN ring', { singleIssuer: true, deferTaskrun: true }],
  ];
  for (const [name, extra] of cases) {
    it(`raw API, ${name}: 4,096 ops in flight over a 4-entry CQ, none lost or duplicated`, () => {
      const ring = new IoUring({ entries: 4, cqEntries: 4, maxInFlight: 4096, ...extra });
      try {
        expect(ring.params.cqEntries).toBe(4);
        const ledger = new Ledger(4096);
        for (let i = 0; i < ledger.n; i++) {
          if (!ledger.prepare(ring, i)) {
            ring.submit();
            expect(ledger.prepare(ring, i)).toBe(true);
          }
        }
        ring.submit();
        // Nothing reaped yet: the CQ is full and the kernel holds the rest back.
        if (extra.deferTaskrun === true) ring.submitAndWait(4);
        expect(ring.cqReady).toBe(4);
        expect(ring.sqFlags & IORING_SQ_CQ_OVERFLOW).toBe(IORING_SQ_CQ_OVERFLOW);
        expect(ring.inFlight).toBe(4096);
        let rounds = 0;
        while (ledger.completions < ledger.n && rounds++ < 100_000) {
          if (ring.forEachCqe((c) => ledger.complete(c)) === 0) ring.submitAndWait(1);
        }
        ledger.expectAllOnce();
        expect(ring.cqOverflowCount).toBe(0); // held back, never dropped
        expect(ring.inFlight).toBe(0);
      } finally {
        ring.close();
      }
    });
  }

  it('Promise API: 20,000 ops at once over a 4-entry CQ with maxInFlight 2,048', async () => {
    await using ring = new AsyncIoUring({ entries: 4, cqEntries: 4, maxInFlight: 2048 });
    expect(ring.ring.params.cqEntries).toBe(4);
    const n = 20_000;
    const promises = Array.from({ length: n }, (_, i) => {
      if (i % 4 !== 0) return ring.nop().then((r) => (r === 0 ? i : -1));
      const buf = Buffer.alloc(BLOCK);
      const block = i % BLOCKS;
      return ring.read(fd, buf, block * BLOCK).then((r) => {
        expect(r).toBe(BLOCK);
        expectBlock(buf, block, `promise read ${i}`);
        return i;
      });
    });
    const results = await Promise.all(promises);
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(ring.pending).toBe(0);
    expect(ring.ring.cqOverflowCount).toBe(0);
  });
});

describe('a provided-buffer ring that runs dry', () => {
  const READS = 300;
  const BUFFERS = 8;

  it('raw API: 300 buffer-select reads over 8 buffers: -ENOBUFS, refill, retry, until each block was read exactly once', () => {
    const ring = new IoUring({ entries: 512 });
    try {
      const pool = BufferRing.register(ring, { entries: BUFFERS, bufferSize: BLOCK });
      const got = new Uint8Array(READS);
      let todo = Array.from({ length: READS }, (_, i) => i);
      let attempts = 0;
      let dry = 0;
      let rounds = 0;
      while (todo.length > 0) {
        rounds++;
        const tags = new Map<number, number>(); // op id -> block
        for (const block of todo) {
          const sqe = ring.getSqeOrThrow();
          pool.prepRead(sqe, fd, BLOCK, block * BLOCK);
          sqe.userData = block;
          tags.set(sqe.id, block);
          attempts++;
        }
        const failed: number[] = [];
        const taken: number[] = [];
        let seen = 0;
        ring.submit();
        while (seen < tags.size) {
          ring.submitAndWait(1);
          ring.forEachCqe((c) => {
            const block = tags.get(c.id);
            if (block === undefined || c.userData !== block) throw new Error(`unexpected CQE ${JSON.stringify(c)}`);
            tags.delete(c.id); // a second CQE for the same op would now be unexpected
            seen++;
            if (c.res === ENOBUFS) {
              expect(c.bufferId).toBe(-1);
              failed.push(block);
              dry++;
              return;
            }
            expect(c.res).toBe(BLOCK);
            expect(got[block]).toBe(0);
            got[block] = 1;
            expectBlock(pool.take(c), block, 'buffer-select read');
            taken.push(c.bufferId);
          });
        }
        expect(pool.inKernel + taken.length).toBe(BUFFERS); // no buffer lost
        pool.recycleMany(taken);
        todo = failed;
      }
      expect(got.every((g) => g === 1)).toBe(true);
      expect(dry).toBeGreaterThan(0);
      expect(attempts).toBe(READS + dry);
      expect(rounds).toBeGreaterThan(1);
      expect(pool.inKernel).toBe(BUFFERS);
      expect(ring.inFlight).toBe(0);
      console.info(`[info] dry buffer ring (raw): ${READS} reads over ${BUFFERS} buffers took ${rounds} rounds, ${dry} -ENOBUFS`);
    } finally {
      ring.close();
    }
  });

  it('Promise API: the same through submitCqe, each read resolving or rejecting with ENOBUFS once', async () => {
    await using ring = new AsyncIoUring({ entries: 64 });
    const pool = BufferRing.register(ring.ring, { entries: BUFFERS, bufferSize: BLOCK });
    const got = new Uint8Array(READS);
    let todo = Array.from({ length: READS }, (_, i) => i);
    let dry = 0;
    let rounds = 0;
    while (todo.length > 0) {
      rounds++;
      const settled = await Promise.allSettled(todo.map((block) => ring.submitCqe((s) => pool.prepRead(s, fd, BLOCK, block * BLOCK))));
      const failed: number[] = [];
      const taken: number[] = [];
      settled.forEach((r, k) => {
        const block = todo[k]!;
        if (r.status === 'rejected') {
          expect(r.reason).toMatchObject({ code: 'ENOBUFS', errno: ENOBUFS, syscall: 'read' });
          failed.push(block);
          dry++;
          return;
        }
        expect(r.value.res).toBe(BLOCK);
        expect(got[block]).toBe(0);
        got[block] = 1;
        expectBlock(pool.take(r.value), block, 'promise buffer-select read');
        taken.push(r.value.flags >>> 16);
      });
      expect(pool.inKernel + taken.length).toBe(BUFFERS);
      pool.recycleMany(taken);
      todo = failed;
    }
    expect(got.every((g) => g === 1)).toBe(true);
    expect(dry).toBeGreaterThan(0);
    expect(pool.inKernel).toBe(BUFFERS);
    expect(ring.pending).toBe(0);
    console.info(`[info] dry buffer ring (Promise): ${READS} reads over ${BUFFERS} buffers took ${rounds} rounds, ${dry} rejections with ENOBUFS`);
  });
});
