/**
 * `IoUring#setIowait` (IORING_ENTER_NO_IOWAIT, IORING_FEAT_NO_IOWAIT, Linux 6.15): waits
 * still end on completions and timeouts with it off, and the kernel's I/O-wait accounting
 * sees the difference: PSI `io` pressure (`/proc/pressure/io`, "some" total) grows while a
 * ring waits with a read in flight, and does not with `setIowait(false)`.
 */
import { existsSync, readFileSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IORING_FEAT_NO_IOWAIT } from '../../generated/constants.js';
import { prepNop, prepRead } from '../../generated/ops.js';
import { ArgumentError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { hangAfter } from '../support/slow.js';
import { closeQuietly, drain } from './helpers.js';

const HAS_NO_IOWAIT = (() => {
  using ring = new IoUring({ entries: 2 });
  return (ring.params.features & IORING_FEAT_NO_IOWAIT) !== 0;
})();
const NEEDS = HAS_NO_IOWAIT ? '' : ' (skipped: this kernel lacks IORING_FEAT_NO_IOWAIT, Linux 6.15)';
const PSI = '/proc/pressure/io';
const NO_PSI = existsSync(PSI) ? '' : ` (skipped: ${PSI} is absent: the kernel has no PSI accounting)`;

/** PSI io "some" total: microseconds during which at least one task was in I/O wait. */
function psiIoSome(): number {
  return Number(/^some .*total=(\d+)/m.exec(readFileSync(PSI, 'utf8'))![1]);
}

describe('IoUring#setIowait', () => {
  it.skipIf(!HAS_NO_IOWAIT)(`with I/O wait off, waits still end on a completion, and on their timeout${NEEDS}`, () => {
    using ring = new IoUring({ entries: 4 });
    ring.setIowait(false);
    const [r, w] = pipe2Sync();
    try {
      prepRead(ring.getSqe()!, r, new Uint8Array(8), 8, 0);
      ring.submitAndWait(1, 30); // times out: nothing written yet
      expect(ring.cqReady).toBe(0);
      writeSync(w, 'ab');
      ring.submitAndWait(1, hangAfter(10_000));
      expect(drain(ring).map((c) => c.res)).toEqual([2]);
      prepNop(ring.getSqe()!);
      ring.submitAndWait(1); // no timeout: the plain wait carries the flag too
      expect(drain(ring)).toHaveLength(1);
      ring.setIowait(true);
      prepNop(ring.getSqe()!);
      ring.submitAndWait(1);
      expect(drain(ring)).toHaveLength(1);
    } finally {
      closeQuietly(r);
      closeQuietly(w);
    }
  });

  it.skipIf(!HAS_NO_IOWAIT || NO_PSI !== '')(`a wait with a read in flight counts in PSI io pressure, and not with setIowait(false)${NEEDS}${NO_PSI}`, (ctx) => {
    using ring = new IoUring({ entries: 4 });
    const [r, w] = pipe2Sync();
    try {
      // The kernel marks a waiter as in I/O wait only while it has requests in flight.
      prepRead(ring.getSqe()!, r, new Uint8Array(8), 8, 0);
      ring.submit();
      const WAIT_MS = 300;
      // PSI is system-wide: another task's I/O wait covers ours. So each attempt first
      // watches an idle window of the same length, and is judged only when that window was
      // quiet; a machine busy with I/O in every attempt is said so, not failed.
      const idle = new Int32Array(new SharedArrayBuffer(4));
      const seen: string[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const base = psiIoSome();
        Atomics.wait(idle, 0, 0, WAIT_MS);
        const noise = (psiIoSome() - base) / 1000;
        const grew: Record<'on' | 'off', number[]> = { on: [], off: [] };
        for (let round = 0; round < 3; round++) {
          for (const mode of ['on', 'off'] as const) {
            ring.setIowait(mode === 'on');
            const before = psiIoSome();
            ring.submitAndWait(1, WAIT_MS); // times out: the read stays in flight
            grew[mode].push((psiIoSome() - before) / 1000);
          }
        }
        const line = `idle window ${noise.toFixed(1)} ms; waits with I/O wait on ${grew.on.map((ms) => ms.toFixed(1)).join(', ')} ms, off ${grew.off.map((ms) => ms.toFixed(1)).join(', ')} ms (${WAIT_MS} ms each)`;
        seen.push(line);
        if (noise > WAIT_MS / 20) continue; // others' I/O: this attempt cannot tell
        console.info(`PSI io some: ${line}`);
        // Other tasks' I/O only adds to either; the least growth of each is ours.
        const on = Math.min(...grew.on);
        const off = Math.min(...grew.off);
        expect(on).toBeGreaterThan(WAIT_MS / 10); // the control: this kernel does account our waits
        expect(off).toBeLessThan(on / 2);
        writeSync(w, 'x');
        ring.submitAndWait(1, hangAfter(10_000));
        expect(drain(ring).map((c) => c.res)).toEqual([1]);
        return;
      }
      const note = `PSI io pressure was busy with other tasks' I/O in every attempt, so our waits cannot be told apart: ${seen.join(' | ')}`;
      console.warn(`skipped: ${note}`);
      ctx.skip(note);
    } finally {
      closeQuietly(r);
      closeQuietly(w);
    }
  });

  it('refuses a non-boolean and a closed ring', () => {
    const ring = new IoUring({ entries: 2 });
    for (const bad of [0, 1, 'false', null, undefined]) {
      expect(() => ring.setIowait(bad as unknown as boolean)).toThrow(ArgumentError);
    }
    ring.setIowait(true); // the default, on every kernel
    ring.close();
    expect(() => ring.setIowait(true)).toThrow(expect.objectContaining({ code: 'ERR_RING_CLOSED' }));
  });

  it.skipIf(HAS_NO_IOWAIT)('a kernel without IORING_FEAT_NO_IOWAIT refuses setIowait(false), naming Linux 6.15 (skipped: this kernel has it)', () => {
    using ring = new IoUring({ entries: 2 });
    let caught: unknown;
    try {
      ring.setIowait(false);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IoUringError);
    expect((caught as IoUringError).code).toBe('EOPNOTSUPP');
    expect((caught as IoUringError).message).toMatch(/Linux 6\.15/);
    prepNop(ring.getSqe()!);
    expect(ring.submitAndWait(1)).toBe(1); // the ring still works, with the kernel's default
  });
});
