/**
 * Progress (issue 12 §5): every op ends, every close returns.
 *
 * - `AsyncIoUring.close()` with every slot taken by reads that never complete: the cancel
 *   needs no room (sync cancel), so close resolves without its 10 s fallback timer — shown
 *   with that timer faked (vitest fake `setTimeout`): a close that needed it would hang.
 * - A Promise-API `submit()` whose SQE has skip-success settles: alone (the flag is dropped,
 *   the CQE is needed), and inside a linked chain (it resolves with 0 when the chain's next
 *   CQE proves it succeeded; a failure rejects it with its own error).
 * - A raw skip-success op that fails keeps its identity (id, userData, opcode).
 * - Closing a restricted ring (no cancel allowed at all) with a read in flight: close sees
 *   that nothing can cancel it and closes at once, keeping the buffer (no 10 s wait), with
 *   the warning that says why.
 */
import { closeSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IORING_NOP_INJECT_RESULT, IORING_OP_NOP, IORING_OP_READ, IORING_REGISTER_ENABLE_RINGS } from '../../generated/constants.js';
import { prepNop } from '../../generated/ops.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { IoUring } from '../../src/ring/ring.js';
import type { Sqe } from '../../src/ring/sqe.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { describeExit, lastJson, runChild } from '../support/child.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Whether NOP honours IORING_NOP_INJECT_RESULT (6.10); older kernels refuse its flags with -EINVAL, a failure too. */
function failingNop(sqe: Sqe, res: number): void {
  prepNop(sqe);
  sqe.unsafeFields.nopFlags = IORING_NOP_INJECT_RESULT;
  sqe.unsafeFields.len = res >>> 0;
}

describe('progress', () => {
  it('close() of an AsyncIoUring whose every slot holds a read that never completes needs no timer', async () => {
    const r = new AsyncIoUring({ entries: 4, maxInFlight: 4 });
    const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
    try {
      const reads = Array.from({ length: 6 }, () => r.read(pr, Buffer.alloc(1), -1));
      const outcomes = Promise.allSettled(reads);
      await new Promise((res) => setImmediate(res));
      expect(r.ring.inFlight).toBe(4);
      expect(r.waiting).toBe(2);
      // From here a setTimeout never fires: a close that fell back to its 10 s timer hangs.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      await r.close();
      vi.useRealTimers();
      const results = await outcomes;
      expect(results.map((x) => (x.status === 'rejected' ? (x.reason as { code?: string }).code : 'fulfilled'))).toEqual([
        'ECANCELED', 'ECANCELED', 'ECANCELED', 'ECANCELED', 'ERR_RING_CLOSED', 'ERR_RING_CLOSED',
      ]);
      // Nothing was read: the pipe gives back all that is written now.
      writeSync(pw, 'xyz');
    } finally {
      closeSync(pr);
      closeSync(pw);
    }
  });

  it('a Promise op with skipSuccess() and nothing after it settles (the flag is dropped: its CQE is needed)', async () => {
    await using r = new AsyncIoUring({ entries: 4 });
    const res = await r.submit((sqe) => {
      prepNop(sqe);
      sqe.skipSuccess();
    });
    expect(res).toBe(0);
  });

  it('a Promise op with skipSuccess() in a linked chain resolves with 0 when the chain proves it succeeded, and rejects with its own error when it fails', async () => {
    await using r = new AsyncIoUring({ entries: 8 });
    // Succeeding: NOP (skip) -> NOP, both in one batch.
    const skipped = r.submit((sqe) => {
      prepNop(sqe);
      sqe.skipSuccess().link();
    });
    const last = r.submit((sqe) => prepNop(sqe));
    expect(await Promise.all([skipped, last])).toEqual([0, 0]);
    // Failing: the skip op posts its own error; the op linked after it is cancelled.
    const failing = r.submit((sqe) => {
      failingNop(sqe, -5);
      sqe.skipSuccess().link();
    });
    const after = r.submit((sqe) => prepNop(sqe));
    const [a, b] = await Promise.allSettled([failing, after]);
    expect(a.status).toBe('rejected');
    expect(['EIO', 'EINVAL']).toContain((a as PromiseRejectedResult).reason.code);
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason.code).toBe('ECANCELED');
  });

  it('a raw skip-success op that fails still names itself: id, userData, opcode', () => {
    using ring = new IoUring({ entries: 8 });
    const sqe = ring.getSqe()!;
    failingNop(sqe, -5);
    sqe.skipSuccess();
    sqe.userData = { mine: true };
    const id = sqe.id;
    ring.submitAndWait(1, 2000);
    const got: { id: number; userData: unknown; opcode: number; res: number }[] = [];
    ring.forEachCqe((c) => got.push({ id: c.id, userData: c.userData, opcode: c.opcode, res: c.res }));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ id, userData: { mine: true }, opcode: IORING_OP_NOP });
    expect(got[0]!.res).toBeLessThan(0);
  });

  it('closing a restricted ring that may not cancel, with a read in flight, closes at once and keeps the buffer', async () => {
    const child = String.raw`
import { IoUring, prepRead, registerRestrictions } from '@repo/src/index.js';
import { pipe2Sync } from '@repo/src/sys/posix.js';
const warnings = [];
process.on('warning', (w) => warnings.push(w.message));
const ring = new IoUring({ entries: 4, disabled: true });
// Only READ may be submitted; only ENABLE_RINGS may be registered: no way to cancel.
registerRestrictions(ring, { sqeOps: [${IORING_OP_READ}], registerOps: [${IORING_REGISTER_ENABLE_RINGS}] });
ring.enable();
const [pr] = pipe2Sync(0o2000000 | 0o4000);
prepRead(ring.getSqe(), pr, new Uint8Array(16), 16, -1);
ring.submit();
ring.close();
await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ closed: ring.closed, warnings }));
`;
    const r = await runChild(child, { timeoutMs: 60_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ closed: boolean; warnings: string[] }>(r);
    expect(out.closed).toBe(true);
    // The uncancellable path (not the 10 s drain that gives up): its own warning says so.
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toMatch(/could not be cancelled \(the ring's restrictions refuse both IORING_REGISTER_SYNC_CANCEL and IORING_OP_ASYNC_CANCEL\)/);
  });
});
