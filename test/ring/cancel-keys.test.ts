/**
 * Cancel keys (liburing parity, issue 17): several requests sharing one `user_data`, so one
 * cancel reaches them all — with the ring still owning `user_data`. Real pipe reads on the
 * running kernel; the keyed ops' memory stays pinned until the last of them ends.
 */
import { closeSync, readSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IORING_ASYNC_CANCEL_ALL, IOSQE_IO_LINK } from '../../generated/constants.js';
import { prepCancel, prepNop, prepRead } from '../../generated/ops.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { CancelKey } from '../../src/ring/cancel-keys.js';
import { IoUring } from '../../src/ring/ring.js';
import { pipe2Sync } from '../../src/sys/posix.js';

const ECANCELED = -125;

describe('cancel keys', () => {
  it('one ASYNC_CANCEL with IORING_ASYNC_CANCEL_ALL on the key cancels every op under it, and only those', () => {
    using ring = new IoUring({ entries: 16 });
    const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
    try {
      const key = ring.cancelKey('group');
      expect(key).toBeInstanceOf(CancelKey);
      for (let i = 0; i < 3; i++) {
        const sqe = ring.getSqe()!;
        prepRead(sqe, pr, new Uint8Array(8), 8, -1);
        sqe.cancelKey = key;
        expect(sqe.cancelKey).toBe(key);
      }
      const other = ring.getSqe()!;
      prepRead(other, pr, new Uint8Array(8), 8, -1);
      other.userData = 'not keyed';
      ring.submit();
      expect(key.inFlight).toBe(3);
      const cancel = ring.getSqe()!;
      prepCancel(cancel, key.id, IORING_ASYNC_CANCEL_ALL);
      cancel.userData = 'cancel';
      ring.submitAndWait(4, 2000);
      const got: { id: number; userData: unknown; res: number }[] = [];
      ring.forEachCqe((c) => got.push({ id: c.id, userData: c.userData, res: c.res }));
      const keyed = got.filter((c) => c.userData === 'group');
      expect(keyed).toHaveLength(3);
      for (const c of keyed) expect(c).toEqual({ id: key.id, userData: 'group', res: ECANCELED });
      expect(got.find((c) => c.userData === 'cancel')!.res).toBe(3); // the kernel counts what ALL cancelled
      expect(key.inFlight).toBe(0);
      // The unkeyed read is untouched: it gets the next byte.
      writeSync(pw, 'z');
      ring.submitAndWait(1, 2000);
      const rest: unknown[] = [];
      ring.forEachCqe((c) => rest.push([c.userData, c.res]));
      expect(rest).toEqual([['not keyed', 1]]);
      expect(ring.inFlight).toBe(0);
      key.release();
      expect(() => { const s = ring.getSqe()!; try { s.cancelKey = key; } finally { ring.discardSqe(s); } }).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    } finally {
      closeSync(pr);
      closeSync(pw);
    }
  });

  it('keyed ops that complete normally: one CQE each under the key, memory released after the last', () => {
    using ring = new IoUring({ entries: 8 });
    const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
    try {
      const key = ring.cancelKey({ batch: 1 });
      const bufs = [new Uint8Array(1), new Uint8Array(1)];
      for (const b of bufs) {
        const sqe = ring.getSqe()!;
        prepRead(sqe, pr, b, 1, -1);
        sqe.cancelKey = key;
      }
      ring.submit();
      writeSync(pw, 'ab');
      ring.submitAndWait(2, 2000);
      const got: unknown[] = [];
      ring.forEachCqe((c) => got.push([c.id === key.id, c.userData, c.res]));
      expect(got).toEqual([[true, { batch: 1 }, 1], [true, { batch: 1 }, 1]]);
      expect(String.fromCharCode(bufs[0]![0]!, bufs[1]![0]!).split('').sort().join('')).toBe('ab');
      expect(ring.inFlight).toBe(0);
      expect(readSync(pr, Buffer.alloc(4), 0, 4, null)).toBeLessThanOrEqual(0);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EAGAIN') throw err;
    } finally {
      closeSync(pr);
      closeSync(pw);
    }
  });

  it('refused where the bookkeeping could not follow: in a linked chain, with skip-success, through the Promise API', async () => {
    using ring = new IoUring({ entries: 8 });
    const key = ring.cancelKey();
    const a = ring.getSqe()!;
    prepNop(a);
    a.cancelKey = key;
    a.flags = IOSQE_IO_LINK;
    prepNop(ring.getSqe()!);
    expect(() => ring.submit()).toThrow(expect.objectContaining({ code: 'ERR_RING_BUSY' }));
    await using r = new AsyncIoUring({ entries: 4 });
    const k2 = r.ring.cancelKey();
    await expect(r.submit((s) => { prepNop(s); s.cancelKey = k2; })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    const other = new IoUring({ entries: 2 });
    const s = other.getSqe()!;
    expect(() => { s.cancelKey = key; }).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    other.close();
  });
});
