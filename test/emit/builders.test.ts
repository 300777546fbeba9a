/**
 * The generated builders' refusals, by example (no C compiler needed): bits a builder excludes,
 * u64 values out of range, and opcodes the ring's probe marks unsupported. Every refusal
 * leaves the slot untouched and pins nothing. ops-vs-c.test.ts runs the same checks over every
 * builder of ops.json.
 */
import { describe, expect, it } from 'vitest';
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_ASYNC_CANCEL_FD,
  IORING_ASYNC_CANCEL_FD_FIXED,
  IORING_LINK_TIMEOUT_UPDATE,
  IORING_OP_PIPE,
  IORING_POLL_UPDATE_USER_DATA,
  IORING_TIMEOUT_ABS,
  IORING_TIMEOUT_BOOTTIME,
  IORING_TIMEOUT_IMMEDIATE_ARG,
  IORING_TIMEOUT_MULTISHOT,
  IORING_TIMEOUT_UPDATE,
  SPLICE_F_FD_IN_FIXED,
} from '../../generated/constants.js';
import * as ops from '../../generated/ops.js';
import { IoUringSqe } from '../../generated/structs.js';
import { FixedFile } from '../../src/abi/fd.js';
import type { SqeTarget } from '../../src/abi/sqe-target.js';
import { ArgumentError, UnsupportedOpError } from '../../src/errors.js';

const AT = 8;

class Target implements SqeTarget {
  readonly view: DataView;
  readonly offset = AT;
  readonly pins: ArrayBufferView[] = [];
  unsupportedOps: Uint8Array | undefined;
  constructor(readonly size = 64) {
    this.view = new DataView(new Uint8Array(AT + size + 8).fill(0xaa).buffer);
  }
  pin(memory: ArrayBufferView): number {
    this.pins.push(memory);
    return 0x10000 * this.pins.length;
  }
  bytes(): string {
    return Buffer.from(this.view.buffer).toString('hex');
  }
  sqe(): IoUringSqe {
    return new IoUringSqe(this.view, AT);
  }
}

/** Calls `fn`, expects it to throw, and checks that nothing was written or pinned. */
function refused(target: Target, fn: () => void): Error & { code?: string; argument?: string } {
  const before = target.bytes();
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(Error);
  expect(target.bytes()).toBe(before);
  expect(target.pins).toEqual([]);
  return error as Error & { code?: string; argument?: string };
}

const ts = { sec: 1, nsec: 0 };

describe('excluded flag bits', () => {
  it('prepTimeout refuses IORING_TIMEOUT_IMMEDIATE_ARG, naming the argument and the bit', () => {
    const t = new Target();
    const e = refused(t, () => ops.prepTimeout(t, ts, 0, IORING_TIMEOUT_IMMEDIATE_ARG));
    expect(e).toBeInstanceOf(ArgumentError);
    expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(e.argument).toBe('prepTimeout: flags');
    expect(e.message).toMatch(/^prepTimeout: flags: IORING_TIMEOUT_IMMEDIATE_ARG \(0x80\) is not accepted here: the builder writes a timespec's address in addr/);
  });

  it('names every excluded bit given, and only those', () => {
    const t = new Target();
    const e = refused(t, () => ops.prepLinkTimeout(t, ts, IORING_TIMEOUT_ABS | IORING_TIMEOUT_UPDATE | IORING_LINK_TIMEOUT_UPDATE));
    expect(e.message).toMatch(/^prepLinkTimeout: flags: IORING_TIMEOUT_UPDATE \| IORING_LINK_TIMEOUT_UPDATE \(0x12\) are not accepted here: /);
  });

  it('still takes the bits that are not excluded, and still refuses unknown ones', () => {
    const t = new Target();
    ops.prepTimeout(t, ts, 0, IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_MULTISHOT);
    expect(t.sqe().timeoutFlags).toBe(IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_MULTISHOT);
    const u = new Target();
    expect(refused(u, () => ops.prepTimeout(u, ts, 0, 0x100)).message).toMatch(/bits 0x100 are not TimeoutFlags known to this build \(allowed mask 0x6d\)/);
  });

  it('prepCancel refuses the fd keys; prepCancelFd is the fd form', () => {
    for (const bit of [IORING_ASYNC_CANCEL_FD, IORING_ASYNC_CANCEL_FD_FIXED]) {
      const t = new Target();
      const e = refused(t, () => ops.prepCancel(t, 5, bit));
      expect(e.message).toContain(bit === IORING_ASYNC_CANCEL_FD ? 'IORING_ASYNC_CANCEL_FD (0x2)' : 'IORING_ASYNC_CANCEL_FD_FIXED (0x8)');
      expect(e.message).toContain('prepCancelFd is the fd form');
    }
    const t = new Target();
    ops.prepCancel(t, 5, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
    expect(t.sqe().cancelFlags).toBe(IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
    // prepCancelFd: the fixed bit only through a FixedFile.
    const u = new Target();
    expect(refused(u, () => ops.prepCancelFd(u, 3, IORING_ASYNC_CANCEL_FD_FIXED)).argument).toBe('prepCancelFd: flags');
    ops.prepCancelFd(u, new FixedFile(3), IORING_ASYNC_CANCEL_ALL);
    expect(u.sqe().cancelFlags).toBe(IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED | IORING_ASYNC_CANCEL_ALL);
  });

  it('prepSplice and prepTee set SPLICE_F_FD_IN_FIXED only for a FixedFile fdIn', () => {
    const t = new Target();
    const e = refused(t, () => ops.prepSplice(t, 3, -1, 4, -1, 100, SPLICE_F_FD_IN_FIXED));
    expect(e.message).toBe('prepSplice: spliceFlags: SPLICE_F_FD_IN_FIXED (0x80000000) is not accepted here: it is set only when fdIn is a FixedFile; with a plain descriptor the kernel would read fdIn as a registered-file slot');
    const u = new Target();
    expect(refused(u, () => ops.prepTee(u, 3, 4, 100, SPLICE_F_FD_IN_FIXED)).argument).toBe('prepTee: spliceFlags');
    ops.prepTee(u, new FixedFile(2), 4, 100, 0x1);
    expect(u.sqe().spliceFlags).toBe((SPLICE_F_FD_IN_FIXED | 0x1) >>> 0);
    ops.prepTee(u, 2, 4, 100, 0x1);
    expect(u.sqe().spliceFlags).toBe(0x1);
  });

  it('prepPollUpdateEvents refuses IORING_POLL_UPDATE_USER_DATA; prepPollUpdate is gone', () => {
    const t = new Target();
    expect(refused(t, () => ops.prepPollUpdateEvents(t, 7, 1, IORING_POLL_UPDATE_USER_DATA)).message).toContain('IORING_POLL_UPDATE_USER_DATA (0x4) is not accepted here: the ring owns user_data');
    expect('prepPollUpdate' in ops).toBe(false);
  });
});

describe('MSG_RING data', () => {
  it('takes the full u64 range (liburing parity: bit 63 set is a valid payload) and refuses values outside it', () => {
    const t = new Target();
    const top = 2n ** 64n - 1n;
    for (const data of [1n << 63n, top, 0n]) {
      ops.prepMsgRing(t, 5, 0, data);
      expect(t.sqe().offBig).toBe(data);
      ops.prepMsgRingCqeFlags(t, 5, 0, data, 0);
      expect(t.sqe().offBig).toBe(data);
      ops.prepMsgRingFd(t, 5, 0, 1, data);
      expect(t.sqe().offBig).toBe(data);
      ops.prepMsgRingFdAlloc(t, 5, 0, data);
      expect(t.sqe().offBig).toBe(data);
    }
    expect(refused(t, () => ops.prepMsgRing(t, 5, 0, 2n ** 64n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(refused(t, () => ops.prepMsgRing(t, 5, 0, -1)).code).toBe('ERR_OUT_OF_RANGE');
    ops.prepMsgRing(t, 5, 0, Number.MAX_SAFE_INTEGER);
    expect(t.sqe().off).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('unsupported opcodes', () => {
  it('refuses an op the target marks unsupported before anything else, with a clear error', () => {
    const t = new Target();
    t.unsupportedOps = new Uint8Array(256);
    t.unsupportedOps[IORING_OP_PIPE] = 1;
    // Even a bad argument is not looked at: the opcode is refused first.
    const e = refused(t, () => ops.prepPipe(t, 'not a buffer' as unknown as Int32Array));
    expect(e).toBeInstanceOf(UnsupportedOpError);
    const u = e as UnsupportedOpError;
    expect(u.code).toBe('ERR_IO_URING_OP_UNSUPPORTED');
    expect(u.name).toBe('UnsupportedOpError');
    expect([u.opcode, u.opName, u.builder, u.minKernel]).toEqual([IORING_OP_PIPE, 'IORING_OP_PIPE', 'prepPipe', ops.OPS.prepPipe.minKernel]);
    expect(u.message).toBe(`prepPipe: IORING_OP_PIPE is not supported by the running kernel (it needs Linux ${ops.OPS.prepPipe.minKernel} or newer; see \`ring.probe.supports(...)\`)`);
  });

  it('checks only the op it builds, and nothing without unsupportedOps', () => {
    const t = new Target();
    t.unsupportedOps = new Uint8Array(256).fill(1);
    t.unsupportedOps[0] = 0;
    ops.prepNop(t);
    expect(t.sqe().opcode).toBe(0);
    t.unsupportedOps = undefined;
    ops.prepPipe(t, new Int32Array(2));
    expect(t.sqe().opcode).toBe(IORING_OP_PIPE);
  });

  it('prepRaw refuses a marked opcode too, by name when it has one', () => {
    const t = new Target();
    t.unsupportedOps = new Uint8Array(256);
    t.unsupportedOps[IORING_OP_PIPE] = 1;
    t.unsupportedOps[250] = 1;
    expect(refused(t, () => ops.prepRaw(t, IORING_OP_PIPE)).message).toBe('prepRaw: IORING_OP_PIPE is not supported by the running kernel (see `ring.probe.supports(...)`)');
    const e = refused(t, () => ops.prepRaw(t, 250)) as UnsupportedOpError;
    expect([e.opName, e.minKernel]).toEqual(['opcode 250', null]);
  });
});
