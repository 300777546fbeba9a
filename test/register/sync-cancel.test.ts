/**
 * syncCancel (IORING_REGISTER_SYNC_CANCEL, liburing's io_uring_register_sync_cancel): by op
 * id, by fd, by opcode, by fd and op id together, every request; what it answers when
 * nothing matches or a match keeps running; and the refusals before the kernel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_OP_POLL_ADD, IORING_OP_READ } from '../../generated/constants.js';
import { prepPollAdd, prepRead } from '../../generated/ops.js';
import { FixedFile } from '../../src/abi/fd.js';
import { ArgumentError } from '../../src/errors.js';
import { FileTable } from '../../src/register/files.js';
import { cancelMatchSupport } from '../../src/register/cancel-support.js';
import { syncCancel } from '../../src/register/sync-cancel.js';
import { IoUring } from '../../src/ring/ring.js';
import { closeFd } from '../../src/sys/libc.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { codeOf, errorOf, kernelAtLeast, reapAll, requireRegister, waitUntil, type Done } from './helpers.js';

const ECANCELED = -125;
const POLLIN = 0x1;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(): IoUring {
  const ring = new IoUring({ entries: 32 });
  cleanups.push(() => ring.close());
  return ring;
}

function pipe(): { r: number; w: number } {
  const [r, w] = pipe2Sync();
  cleanups.push(() => {
    closeFd(r);
    closeFd(w);
  });
  return { r, w };
}

/** Submits a read of the (empty) pipe: it stays in flight. Returns its op id. */
function pendingRead(ring: IoUring, fd: number | FixedFile, async = false): number {
  const sqe = ring.getSqeOrThrow();
  prepRead(sqe, fd, Buffer.alloc(32), 32, -1);
  if (async) sqe.async();
  const id = sqe.id;
  ring.submit();
  return id;
}

function pendingPoll(ring: IoUring, fd: number): number {
  const sqe = ring.getSqeOrThrow();
  prepPollAdd(sqe, fd, POLLIN);
  const id = sqe.id;
  ring.submit();
  return id;
}


function cancelled(cqes: Done[], id: number): boolean {
  return cqes.some((c) => c.id === id && c.res === ECANCELED);
}

describe('syncCancel', () => {
  it('cancels one request by op id, synchronously; its CQE is -ECANCELED; a second try finds nothing (ENOENT)', (ctx) => {
    const ring = newRing();
    const { r } = pipe();
    const id = pendingRead(ring, r);
    const other = pendingRead(ring, r);
    expect(requireRegister(ctx, 'IORING_REGISTER_SYNC_CANCEL', [6, 0], () => syncCancel(ring, { id }))).toBe(0);
    const cqes = waitUntil(ring, (all) => cancelled(all, id));
    expect(cqes.some((c) => c.id === other)).toBe(false);
    expect(codeOf(() => syncCancel(ring, { id }))).toBe('ENOENT');
    expect(syncCancel(ring, { id: other })).toBe(0);
    waitUntil(ring, (all) => cancelled(all, other));
    expect(ring.inFlight).toBe(0);
  });

  it('by fd with all: every request on that file and none on another; a FixedFile sets FD_FIXED', (ctx) => {
    const ring = newRing();
    const a = pipe();
    const b = pipe();
    const onA = [pendingRead(ring, a.r), pendingRead(ring, a.r), pendingRead(ring, a.r)];
    const onB = pendingRead(ring, b.r);
    expect(requireRegister(ctx, 'IORING_REGISTER_SYNC_CANCEL', [6, 0], () => syncCancel(ring, { fd: a.r, all: true }))).toBe(3);
    const cqes = waitUntil(ring, (all) => onA.every((id) => cancelled(all, id)));
    expect(cqes.some((c) => c.id === onB)).toBe(false);
    expect(syncCancel(ring, { fd: { fd: b.r }, all: true })).toBe(1);
    waitUntil(ring, (all) => cancelled(all, onB));

    const table = FileTable.register(ring, [a.r, b.r]);
    cleanups.push(() => table.unregister());
    const fixed = pendingRead(ring, table.slot(1));
    const plain = pendingRead(ring, a.r);
    expect(syncCancel(ring, { fd: table.slot(1), all: true })).toBe(1);
    const after = waitUntil(ring, (all) => cancelled(all, fixed));
    expect(after.some((c) => c.id === plain)).toBe(false);
    expect(syncCancel(ring, { fd: a.r })).toBe(0);
    waitUntil(ring, (all) => cancelled(all, plain));
  });

  // Whether the kernel honours the keys decides which behaviour is right: the match, or a
  // refusal (a kernel that accepts the flag but ignores it would cancel the wrong request).
  const support = cancelMatchSupport();

  it('cancelMatchSupport: asked once per process; a 6.6+ kernel honours both keys', () => {
    expect(cancelMatchSupport()).toBe(support);
    // Kernels from 6.6 on implement both everywhere; older ones may carry the flags partially.
    if (kernelAtLeast(6, 6)) expect(support).toEqual({ fdAndUserData: true, opcode: true });
    else expect(typeof support.fdAndUserData).toBe('boolean');
  });

  it(`fd and op id together (FD | USERDATA): ${support.fdAndUserData ? 'both must match' : 'refused, this kernel does not honour it'}`, () => {
    const ring = newRing();
    const a = pipe();
    const b = pipe();
    const idA = pendingRead(ring, a.r);
    const idA2 = pendingRead(ring, a.r);
    const idB = pendingRead(ring, b.r);
    if (!support.fdAndUserData) {
      const err = errorOf(() => syncCancel(ring, { fd: a.r, id: idA2 }));
      expect(err?.code).toBe('EOPNOTSUPP');
      expect(err?.message).toMatch(/does not honour IORING_ASYNC_CANCEL_USERDATA/);
      expect(codeOf(() => syncCancel(ring, { opcode: IORING_OP_READ, id: idA2 }))).toBe('EOPNOTSUPP');
      // Nothing was cancelled: the refusal came before the kernel.
      expect(reapAll(ring)).toEqual([]);
      expect(ring.inFlight).toBe(3);
      return;
    }
    // B's read is not on A's pipe: nothing matches both.
    expect(codeOf(() => syncCancel(ring, { fd: a.r, id: idB }))).toBe('ENOENT');
    expect(reapAll(ring)).toEqual([]);
    // The second read on A, not the first.
    expect(syncCancel(ring, { fd: a.r, id: idA2 })).toBe(0);
    const cqes = waitUntil(ring, (all) => cancelled(all, idA2));
    expect(cqes.some((c) => c.id === idA || c.id === idB)).toBe(false);
    expect(syncCancel(ring, { id: idB, fd: b.r })).toBe(0);
    waitUntil(ring, (all) => cancelled(all, idB));
    expect(syncCancel(ring, { id: idA, fd: a.r })).toBe(0);
  });

  it(`by opcode (OP): ${support.opcode ? 'every READ goes, the POLL_ADD on the same pipe stays' : 'refused, this kernel does not honour it'}`, () => {
    const ring = newRing();
    const { r } = pipe();
    const reads = [pendingRead(ring, r), pendingRead(ring, r)];
    const poll = pendingPoll(ring, r);
    if (!support.opcode) {
      const err = errorOf(() => syncCancel(ring, { opcode: IORING_OP_READ, all: true }));
      expect(err?.code).toBe('EOPNOTSUPP');
      expect(err?.message).toMatch(/does not honour IORING_ASYNC_CANCEL_OP/);
      expect(reapAll(ring)).toEqual([]);
      return;
    }
    expect(syncCancel(ring, { opcode: IORING_OP_READ, all: true })).toBe(2);
    const cqes = waitUntil(ring, (all) => reads.every((id) => cancelled(all, id)));
    expect(cqes.some((c) => c.id === poll)).toBe(false);
    expect(syncCancel(ring, { opcode: IORING_OP_POLL_ADD, fd: r })).toBe(0);
    waitUntil(ring, (all) => cancelled(all, poll));
    expect(codeOf(() => syncCancel(ring, { opcode: IORING_OP_READ }))).toBe('ENOENT');
  });

  it('any: every request of the ring, whatever it is', (ctx) => {
    const ring = newRing();
    const a = pipe();
    const ids = [pendingRead(ring, a.r), pendingPoll(ring, a.r), pendingRead(ring, pipe().r)];
    expect(requireRegister(ctx, 'IORING_ASYNC_CANCEL_ANY', [6, 0], () => syncCancel(ring, { any: true, all: true }))).toBe(3);
    waitUntil(ring, (all) => ids.every((id) => cancelled(all, id)));
    expect(ring.inFlight).toBe(0);
  });

  it('a match already running in the worker pool: ETIME after timeoutMs (or 0 if it stopped in time), and its CQE still arrives', (ctx) => {
    const ring = newRing();
    const { r } = pipe();
    const id = pendingRead(ring, r, true);
    // Let the worker pick it up and block in read(2).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    let result: number | string;
    try {
      result = requireRegister(ctx, 'IORING_REGISTER_SYNC_CANCEL', [6, 0], () => syncCancel(ring, { id, timeoutMs: 0 }));
    } catch (err) {
      result = (err as { code: string }).code;
    }
    expect([0, 'ETIME']).toContain(result);
    const cqes = waitUntil(ring, (all) => all.some((c) => c.id === id));
    expect(cqes.find((c) => c.id === id)!.res).toBeLessThan(0);
  });

  it('called from inside a forEachCqe callback: each cancelled request is delivered exactly once', () => {
    const ring = newRing();
    const { r } = pipe();
    const reads = Array.from({ length: 6 }, () => pendingRead(ring, r));
    const trigger = ring.getSqeOrThrow();
    prepPollAdd(trigger, pipe().w, 4); // POLLOUT on an empty pipe: ready at once
    const triggerId = trigger.id;
    ring.submit();
    const seen: number[] = [];
    const deadline = Date.now() + 5000;
    while (seen.filter((id) => reads.includes(id)).length < reads.length && Date.now() < deadline) {
      ring.submitAndWait(1, 200);
      ring.forEachCqe((cqe) => {
        seen.push(cqe.id);
        // Cancel everything still in flight while the reap loop is running.
        if (cqe.id === triggerId) expect(syncCancel(ring, { fd: r, all: true })).toBe(reads.length);
      });
    }
    expect(seen.filter((id) => id === triggerId)).toHaveLength(1);
    expect([...seen].filter((id) => reads.includes(id)).sort()).toEqual([...reads].sort());
    expect(ring.inFlight).toBe(0);
  });

  it('refuses empty, contradictory and malformed targets before the kernel', () => {
    const ring = newRing();
    expect(() => syncCancel(ring, {})).toThrow(/at least one of id, fd, opcode/);
    expect(() => syncCancel(ring, { any: true, id: 1 })).toThrow(/cannot be combined/);
    expect(() => syncCancel(ring, null as unknown as {})).toThrow(ArgumentError);
    expect(() => syncCancel(ring, { id: -1 })).toThrow(ArgumentError);
    expect(() => syncCancel(ring, { opcode: 256 })).toThrow(ArgumentError);
    expect(() => syncCancel(ring, { fd: -5 })).toThrow(ArgumentError);
    expect(() => syncCancel(ring, { id: 1, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => syncCancel(ring, { id: 1, timeoutMs: NaN })).toThrow(/timeoutMs/);
    expect(() => syncCancel(ring, { id: 1, all: 'yes' as unknown as boolean })).toThrow(/all/);
    // A getter is read once: it cannot pass the check with one answer and encode another.
    let reads = 0;
    const lying = { get id(): number { reads++; return reads === 1 ? 1 : -1; } };
    expect(codeOf(() => syncCancel(ring, lying))).toBe('ENOENT');
    expect(reads).toBe(1);
    ring.close();
    expect(() => syncCancel(ring, { id: 1 })).toThrow(/closed/);
  });
});
