/**
 * MSG_RING parity with liburing: payloads with bit 63 set (the full u64 range) through the
 * SQE builders, and synchronous MSG_RING with no ring of one's own (sendMsgRingSync,
 * IORING_REGISTER_SEND_MSG_RING, liburing's io_uring_register_sync_msg).
 */
import { release } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { prepMsgRing, prepMsgRingCqeFlags } from '../../generated/ops.js';
import { FixedFile } from '../../src/abi/fd.js';
import { ArgumentError } from '../../src/errors.js';
import { sendMsgRingSync } from '../../src/register/msg-ring.js';
import { IoUring } from '../../src/ring/ring.js';
import { FAST_SETUP, type IoUringOptions } from '../../src/ring/setup.js';
import { closeFd } from '../../src/sys/libc.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { kernelAtLeast, requireOp, requireRegister, run, waitCqes } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(options: IoUringOptions = { entries: 16 }): IoUring {
  const ring = new IoUring(options);
  cleanups.push(() => ring.close());
  return ring;
}

const words = (v: bigint): [lo: number, hi: number] => [Number(v & 0xffffffffn), Number(v >> 32n)];

describe('MSG_RING payloads with bit 63 set', () => {
  it('arrive on the target ring exactly, as CQEs it did not submit (id -1)', (ctx) => {
    const source = newRing();
    const target = newRing();
    requireOp(ctx, source, 'MSG_RING');
    const payloads = [2n ** 64n - 1n, (1n << 63n) | 5n, 1n << 63n];
    for (const data of payloads) expect(run(source, (s) => prepMsgRing(s, target, 7, data)).res).toBe(0);
    const got = waitCqes(target, payloads.length);
    expect(got.map((c) => [c.lo >>> 0, c.hi >>> 0])).toEqual(payloads.map(words));
    expect(got.every((c) => c.id === -1 && c.res === 7 && c.userData === undefined)).toBe(true);
  });

  it('with chosen CQE flags too (6.3)', (ctx) => {
    const source = newRing();
    const target = newRing();
    const res = run(source, (s) => prepMsgRingCqeFlags(s, target, 1, 2n ** 64n - 2n, 0x5a0000)).res;
    if (res === -22 && !kernelAtLeast(6, 3)) ctx.skip(`kernel ${release()} refuses IORING_MSG_RING_FLAGS_PASS (-EINVAL; needs Linux 6.3)`);
    expect(res).toBe(0);
    const [c] = waitCqes(target, 1);
    expect([c!.lo >>> 0, c!.hi >>> 0, c!.flags]).toEqual([...words(2n ** 64n - 2n), 0x5a0000]);
  });
});

describe('sendMsgRingSync', () => {
  for (const [name, options] of [
    ['a plain ring', { entries: 16 }],
    ['a DEFER_TASKRUN ring', { entries: 16, prefer: FAST_SETUP }],
  ] as const) {
    it(`posts (len, data) on ${name} with no ring of its own, the full u64 range included`, (ctx) => {
      const target = newRing(options as IoUringOptions);
      requireRegister(ctx, 'IORING_REGISTER_SEND_MSG_RING', [6, 13], () => sendMsgRingSync(target, 42, 2n ** 64n - 1n));
      sendMsgRingSync(target.fd, 0, 123);
      sendMsgRingSync({ fd: target.fd }, 3, 1n << 63n, { cqeFlags: 0x10000 });
      const got = waitCqes(target, 3);
      expect(got.map((c) => ({ res: c.res, data: [c.lo >>> 0, c.hi >>> 0], flags: c.flags, id: c.id }))).toEqual([
        { res: 42, data: words(2n ** 64n - 1n), flags: 0, id: -1 },
        { res: 0, data: [123, 0], flags: 0, id: -1 },
        { res: 3, data: words(1n << 63n), flags: 0x10000, id: -1 },
      ]);
    });
  }

  it('refuses what is not a ring (kernel: EBADFD), a closed descriptor (EBADF), a registered slot, and bad values', (ctx) => {
    const target = newRing();
    requireRegister(ctx, 'IORING_REGISTER_SEND_MSG_RING', [6, 13], () => sendMsgRingSync(target, 0, 0));
    waitCqes(target, 1);
    const [r, w] = pipe2Sync();
    cleanups.push(() => {
      closeFd(r);
      closeFd(w);
    });
    expect(() => sendMsgRingSync(r, 0, 0)).toThrow(expect.objectContaining({ code: 'EBADFD', syscall: 'io_uring_register' }));
    const closed = pipe2Sync();
    closeFd(closed[0]);
    closeFd(closed[1]);
    expect(() => sendMsgRingSync(closed[0], 0, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    // There is no source ring whose table a slot could name.
    expect(() => sendMsgRingSync(new FixedFile(0) as unknown as number, 0, 0)).toThrow(ArgumentError);
    expect(() => sendMsgRingSync(target, -1, 0)).toThrow(/len/);
    expect(() => sendMsgRingSync(target, 0, 2n ** 64n)).toThrow(/data/);
    expect(() => sendMsgRingSync(target, 0, 0, { cqeFlags: -1 })).toThrow(/cqeFlags/);
    expect(() => sendMsgRingSync(target, 0, 0, null as unknown as {})).toThrow(ArgumentError);
  });
});
