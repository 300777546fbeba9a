/**
 * ASYNC_CANCEL SQEs by opcode (prepCancelOpcode, IORING_ASYNC_CANCEL_OP) and by fd and op id
 * together (prepCancelFdId, IORING_ASYNC_CANCEL_FD | USERDATA), on the real kernel, and the
 * flag bits those builders refuse.
 */
import { release } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_ASYNC_CANCEL_FD, IORING_ASYNC_CANCEL_OP, IORING_OP_POLL_ADD, IORING_OP_READ } from '../../generated/constants.js';
import { prepCancelFdId, prepCancelOpcode, prepPollAdd, prepRead } from '../../generated/ops.js';
import { ArgumentError } from '../../src/errors.js';
import { cancelMatchSupport } from '../../src/register/cancel-support.js';
import { FileTable } from '../../src/register/files.js';
import { IoUring } from '../../src/ring/ring.js';
import { closeFd } from '../../src/sys/libc.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { waitUntil, type Done } from '../register/helpers.js';

const ECANCELED = -125;
const ENOENT = -2;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function setup(): { ring: IoUring; a: number; b: number } {
  const ring = new IoUring({ entries: 32 });
  cleanups.push(() => ring.close());
  const [a, aw] = pipe2Sync();
  const [b, bw] = pipe2Sync();
  cleanups.push(() => [a, aw, b, bw].forEach(closeFd));
  return { ring, a, b };
}

function pending(ring: IoUring, fill: (sqe: ReturnType<IoUring['getSqeOrThrow']>) => void): number {
  const sqe = ring.getSqeOrThrow();
  fill(sqe);
  return sqe.id;
}

/** Submits a cancel SQE and waits for its own CQE and for `targets` to end; returns the cancel's res and every CQE. */
function cancel(ring: IoUring, fill: (sqe: ReturnType<IoUring['getSqeOrThrow']>) => void, targets: number[]): { res: number; cqes: Done[] } {
  const id = pending(ring, fill);
  const cqes = waitUntil(ring, (all) => all.some((c) => c.id === id) && (all.find((c) => c.id === id)!.res < 0 || targets.every((t) => all.some((c) => c.id === t))));
  return { res: cqes.find((c) => c.id === id)!.res, cqes };
}

/** Skips (printing why) unless the kernel honours the key: builders cannot refuse it on their own. */
function requireHonoured(ctx: { skip(note?: string): void }, key: keyof ReturnType<typeof cancelMatchSupport>, what: string): void {
  if (cancelMatchSupport()[key]) return;
  const note = `kernel ${release()} does not honour ${what} for requests waiting on poll (cancelMatchSupport().${key} is false; Linux 6.6 does)`;
  console.warn(`skipped: ${note}`);
  ctx.skip(note);
}

describe('prepCancelOpcode', () => {
  it('cancels the requests with that opcode (every one with ALL) and leaves the others', (ctx) => {
    requireHonoured(ctx, 'opcode', 'IORING_ASYNC_CANCEL_OP');
    const { ring, a, b } = setup();
    const reads = [pending(ring, (s) => prepRead(s, a, Buffer.alloc(8), 8, -1)), pending(ring, (s) => prepRead(s, b, Buffer.alloc(8), 8, -1))];
    const poll = pending(ring, (s) => prepPollAdd(s, a, 1));
    ring.submit();
    const first = cancel(ring, (s) => prepCancelOpcode(s, IORING_OP_READ, IORING_ASYNC_CANCEL_ALL), reads);
    expect(first.res).toBe(2);
    expect(reads.every((id) => first.cqes.some((c) => c.id === id && c.res === ECANCELED))).toBe(true);
    expect(first.cqes.some((c) => c.id === poll)).toBe(false);
    // Without ALL: the first match only, and 0 for success.
    const second = cancel(ring, (s) => prepCancelOpcode(s, IORING_OP_POLL_ADD), [poll]);
    expect(second.res).toBe(0);
    expect(second.cqes.some((c) => c.id === poll && c.res === ECANCELED)).toBe(true);
    expect(cancel(ring, (s) => prepCancelOpcode(s, IORING_OP_READ), []).res).toBe(ENOENT);
  });

  it('refuses bits that would match on something it does not write, and opcodes past a u8', () => {
    const { ring } = setup();
    const sqe = ring.getSqeOrThrow();
    for (const bit of [IORING_ASYNC_CANCEL_FD, IORING_ASYNC_CANCEL_ANY, 0x10]) {
      expect(() => prepCancelOpcode(sqe, IORING_OP_READ, bit)).toThrow(ArgumentError);
    }
    expect(() => prepCancelOpcode(sqe, 256)).toThrow(ArgumentError);
    prepCancelOpcode(sqe, IORING_OP_READ);
    expect(sqe.view.getUint32(sqe.offset + 28, true)).toBe(IORING_ASYNC_CANCEL_OP);
    expect(sqe.view.getUint32(sqe.offset + 24, true)).toBe(IORING_OP_READ);
    ring.discardSqe(sqe);
  });
});

describe('prepCancelFdId', () => {
  it('cancels the request only when both its file and its op id match', (ctx) => {
    requireHonoured(ctx, 'fdAndUserData', 'IORING_ASYNC_CANCEL_USERDATA with IORING_ASYNC_CANCEL_FD');
    const { ring, a, b } = setup();
    const onA = pending(ring, (s) => prepRead(s, a, Buffer.alloc(8), 8, -1));
    const onB = pending(ring, (s) => prepRead(s, b, Buffer.alloc(8), 8, -1));
    ring.submit();
    const miss = cancel(ring, (s) => prepCancelFdId(s, a, onB), []);
    expect(miss.res).toBe(ENOENT);
    const hit = cancel(ring, (s) => prepCancelFdId(s, b, onB), [onB]);
    expect(hit.res).toBe(0);
    expect(hit.cqes.some((c) => c.id === onB && c.res === ECANCELED)).toBe(true);
    expect(hit.cqes.some((c) => c.id === onA)).toBe(false);

    // A registered slot: IORING_ASYNC_CANCEL_FD_FIXED is set for it.
    const table = FileTable.register(ring, [a]);
    const fixed = pending(ring, (s) => prepRead(s, table.slot(0), Buffer.alloc(8), 8, -1));
    ring.submit();
    const viaSlot = cancel(ring, (s) => prepCancelFdId(s, table.slot(0), fixed), [fixed]);
    expect(viaSlot.res).toBe(0);
    // The plain-fd read on the same pipe is another request: untouched by an id that is not its own.
    expect(viaSlot.cqes.some((c) => c.id === onA)).toBe(false);
    expect(cancel(ring, (s) => prepCancelFdId(s, a, onA, IORING_ASYNC_CANCEL_ALL), [onA]).res).toBe(1);
  });

  it('refuses FD_FIXED, OP and ANY in its flags', () => {
    const { ring, a } = setup();
    const sqe = ring.getSqeOrThrow();
    for (const bit of [0x8, IORING_ASYNC_CANCEL_OP, IORING_ASYNC_CANCEL_ANY]) expect(() => prepCancelFdId(sqe, a, 1, bit)).toThrow(ArgumentError);
    ring.discardSqe(sqe);
  });
});
