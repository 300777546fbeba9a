import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IoUringSqe } from '../../generated/structs.js';
import { ArgumentError } from '../../src/errors.js';
import { RegisteredBuffers } from '../../src/register/buffers.js';
import { IoUring } from '../../src/ring/ring.js';
import { requireOp, run, waitUntil } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function setup(name: string): { ring: IoUring; fd: number; path: string } {
  const ring = new IoUring({ entries: 16 });
  const path = join(tmpdir(), `tsuring-bufs-${process.pid}-${name}`);
  const fd = openSync(path, 'w+');
  cleanups.push(() => {
    ring.close();
    closeSync(fd);
    rmSync(path, { force: true });
  });
  return { ring, fd, path };
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('RegisteredBuffers', () => {
  it('WRITE_FIXED then READ_FIXED round-trip through registered memory', () => {
    const { ring, fd, path } = setup('roundtrip');
    const mem = Buffer.alloc(64 * 1024);
    const other = new Uint8Array(8192);
    const bufs = RegisteredBuffers.register(ring, [mem, other]);
    expect(RegisteredBuffers.of(ring)).toBe(bufs);
    expect(bufs.count).toBe(2);
    expect(bufs.buffer(0)).toBe(mem);
    const data = pattern(4096, 7);
    data.copy(mem, 0);
    const sqe = ring.getSqeOrThrow();
    bufs.prepWriteFixed(sqe, fd, 0, mem.subarray(0, 4096), 4096, 0);
    expect(sqe.view.getUint16(sqe.offset + IoUringSqe.OFFSETS.bufIndex, true)).toBe(0);
    expect(sqe.view.getUint8(sqe.offset)).toBe(5); // IORING_OP_WRITE_FIXED
    ring.submitAndWait(1);
    const wrote = waitUntil(ring, (all) => all.length === 1)[0]!;
    expect(wrote.res).toBe(4096);
    expect(readFileSync(path).equals(data)).toBe(true);

    const dst = other.subarray(1000, 1000 + 4096);
    expect(bufs.contains(1, dst)).toBe(true);
    expect(bufs.contains(0, dst)).toBe(false);
    const read = run(ring, (s) => bufs.prepReadFixed(s, fd, 1, dst, 4096, 0));
    expect(read.res).toBe(4096);
    expect(Buffer.from(dst).equals(data)).toBe(true);
  });

  it('refuses memory outside the named buffer, bad indexes, empty slots and a second table before the kernel', () => {
    const { ring, fd } = setup('refuse');
    const backing = Buffer.alloc(8192);
    const mem = backing.subarray(0, 4096); // registered: the first half only
    const other = Buffer.alloc(4096);
    const bufs = RegisteredBuffers.register(ring, [mem, null, other]);
    const sqe = ring.getSqeOrThrow();
    const cases: [string, () => void][] = [
      ['unregistered memory', () => bufs.prepReadFixed(sqe, fd, 0, Buffer.alloc(64))],
      ['memory of another slot', () => bufs.prepReadFixed(sqe, fd, 0, other.subarray(0, 10))],
      ['runs past the end', () => bufs.prepWriteFixed(sqe, fd, 0, backing.subarray(4000, 4200))],
      ['index out of range', () => bufs.prepReadFixed(sqe, fd, 3, mem)],
      ['negative index', () => bufs.prepReadFixed(sqe, fd, -1, mem)],
      ['empty slot', () => bufs.prepReadFixed(sqe, fd, 1, mem)],
      ['not a view', () => bufs.prepReadFixed(sqe, fd, 0, 'abc' as unknown as Uint8Array)],
      ['nbytes past the view', () => bufs.prepReadFixed(sqe, fd, 0, mem.subarray(0, 10), 11)],
    ];
    for (const [what, fn] of cases) {
      expect(fn, what).toThrow(ArgumentError);
    }
    expect(() => bufs.prepReadFixed(sqe, fd, 0, Buffer.alloc(64))).toThrow(/not inside registered buffer 0/);
    expect(sqe.view.getUint8(sqe.offset)).toBe(0); // nothing written
    ring.discardSqe(sqe);
    expect(() => RegisteredBuffers.register(ring, [mem])).toThrow(/already has a registered buffer table/);
    bufs.unregister();
    expect(() => bufs.prepReadFixed(ring.getSqeOrThrow(), fd, 0, mem)).toThrow(/unregistered/);
    expect(() => RegisteredBuffers.register(ring, [new Uint8Array(0)])).toThrow(/1 byte to 1 GiB/);
    expect(() => RegisteredBuffers.register(ring, [])).toThrow(ArgumentError);
  });

  it('a sparse table is filled with update; a replaced tagged buffer posts its tag', () => {
    const { ring, fd, path } = setup('sparse');
    const bufs = RegisteredBuffers.sparse(ring, 4);
    const a = pattern(512, 1);
    const b = pattern(512, 2);
    expect(bufs.update(2, [a], [99])).toBe(1);
    expect(bufs.buffer(2)).toBe(a);
    expect(run(ring, (s) => bufs.prepWriteFixed(s, fd, 2, a, 512, 0)).res).toBe(512);
    expect(bufs.update(2, [b])).toBe(1);
    const tag = waitUntil(ring, (all) => all.some((c) => c.id === -1 && c.lo === 99));
    expect(tag.length).toBeGreaterThan(0);
    expect(() => bufs.prepWriteFixed(ring.getSqeOrThrow(), fd, 2, a)).toThrow(/not inside registered buffer 2/);
    ring.discardSqe(ring.getSqeOrThrow());
    expect(run(ring, (s) => bufs.prepWriteFixed(s, fd, 2, b, 512, 512)).res).toBe(512);
    expect(readFileSync(path).equals(Buffer.concat([a, b]))).toBe(true);
    expect(() => bufs.update(3, [a, b])).toThrow(ArgumentError);
  });

  it('READV_FIXED / WRITEV_FIXED use several pieces of one registered buffer', (ctx) => {
    const { ring, fd } = setup('vectored');
    requireOp(ctx, ring, 'READV_FIXED');
    requireOp(ctx, ring, 'WRITEV_FIXED');
    const mem = Buffer.alloc(16384);
    const bufs = RegisteredBuffers.register(ring, [mem]);
    pattern(1000, 3).copy(mem, 0);
    pattern(3000, 4).copy(mem, 5000);
    const w = run(ring, (s) => bufs.prepWritevFixed(s, fd, 0, [mem.subarray(0, 1000), mem.subarray(5000, 8000)], 0));
    expect(w.res).toBe(4000);
    const r = run(ring, (s) => bufs.prepReadvFixed(s, fd, 0, [mem.subarray(10000, 12000), mem.subarray(14000, 16000)], 0));
    expect(r.res).toBe(4000);
    expect(Buffer.concat([mem.subarray(10000, 12000), mem.subarray(14000, 16000)]).equals(Buffer.concat([pattern(1000, 3), pattern(3000, 4)]))).toBe(true);
    expect(() => bufs.prepReadvFixed(ring.getSqeOrThrow(), fd, 0, [mem.subarray(0, 10), Buffer.alloc(10)])).toThrow(/iovecs\[1\]/);
  });
});
