/**
 * Re-entrancy (issue 12 §1): user code runs inside the library — `forEachCqe` callbacks,
 * `fill` functions of the Promise API — and calls back into it. Every public method has a
 * defined behaviour there (docs/guarantees.md, "Re-entrancy"): run, defer (close), or
 * refuse with a clear error (resize); and no user code ever sees a half-reaped CQ.
 *
 * - The crash reports, each in a child process: close / resize / nested reaps
 *   inside a callback, close on the last CQE, a timed wait inside a callback, a `fill` that
 *   closes the ring (now and later). Each asserts no signal, exit 0, and the exact outcome.
 * - A property-based test (fast-check): random rings of NOPs, timeouts and pipe reads, and
 *   inside random CQE callbacks (at random nesting depths) random calls of every public
 *   method. Checked: every op's final CQE is delivered exactly once (outer or nested), no
 *   CQE of an unknown op appears, the outer callback's `Cqe` is unchanged by nested calls,
 *   refused calls throw the documented error, and after a deferred close nothing more is
 *   delivered and every method throws ERR_RING_CLOSED.
 * - The same for the Promise API: `fill`s that call every AsyncIoUring method, close the
 *   ring, close the raw ring or throw; every promise settles exactly once and no Promise
 *   method throws synchronously.
 */
import { closeSync, writeSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prepNop, prepRead, prepTimeout } from '../../generated/ops.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import type { Cqe } from '../../src/ring/cqe.js';
import { RingStateError } from '../../src/ring/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { lastJson, runChild } from '../support/child.js';

const RUNS = Number(process.env.FC_RUNS ?? 150);

// ---------------------------------------------------------------------------------------
// The reported crashes, each in its own process (a crash must show as a signal, not kill vitest).

const SCENARIOS = String.raw`
import { IoUring, AsyncIoUring, prepNop, prepTimeout } from '@repo/src/index.js';
const out = {};
const attempt = (f) => { try { return 'ok:' + JSON.stringify(f() ?? null); } catch (e) { return 'throw:' + (e.code ?? e.name); } };

// close() inside the callback: deferred; no further CQE delivered; torn down after the loop.
{
  const ring = new IoUring({ entries: 8 });
  prepNop(ring.getSqe()); prepNop(ring.getSqe());
  ring.submitAndWait(2);
  const seen = [];
  const n = ring.forEachCqe((c) => { seen.push(c.res); ring.close(); seen.push(attempt(() => ring.getSqe())); seen.push(ring.closed); });
  out.closeInCallback = { seen, n, closed: ring.closed, after: attempt(() => ring.submit()) };
}
// close() on the last CQE
{
  const ring = new IoUring({ entries: 8 });
  prepNop(ring.getSqe()); prepNop(ring.getSqe());
  ring.submitAndWait(2);
  let i = 0;
  ring.forEachCqe(() => { if (++i === 2) ring.close(); });
  out.closeOnLast = { i, closed: ring.closed };
}
// resize() inside the callback: refused, the loop goes on.
{
  const ring = new IoUring({ entries: 8, singleIssuer: true, deferTaskrun: true });
  for (let k = 0; k < 3; k++) prepNop(ring.getSqe());
  ring.submitAndWait(3);
  const got = [];
  ring.forEachCqe(() => got.push(attempt(() => ring.resize({ cqEntries: 64 }))));
  out.resizeInCallback = got;
  ring.close();
}
// A nested forEachCqe: every CQE once, none with id -1, the outer Cqe untouched.
{
  const ring = new IoUring({ entries: 16 });
  const ids = [];
  for (let k = 0; k < 6; k++) { const s = ring.getSqe(); prepNop(s); s.userData = k; ids.push(s.id); }
  ring.submitAndWait(6);
  const delivered = [];
  let outerIntact = true;
  ring.forEachCqe((c) => {
    delivered.push(c.userData);
    const before = JSON.stringify(c);
    ring.forEachCqe((d) => delivered.push(d.userData));
    if (JSON.stringify(c) !== before) outerIntact = false;
  });
  out.nested = { delivered, outerIntact, phantom: delivered.filter((x) => x === undefined).length };
  ring.close();
}
// A timed wait inside a callback waits (it does not count the CQE being delivered).
{
  const ring = new IoUring({ entries: 8 });
  prepNop(ring.getSqe());
  const t = ring.getSqe(); prepTimeout(t, { sec: 0, nsec: 200_000_000 }, 0, 0); t.userData = 'timer';
  ring.submitAndWait(1);
  let waited = -1, timerSeen = false;
  ring.forEachCqe((c) => {
    if (c.userData === 'timer') { timerSeen = true; return; }
    const t0 = performance.now();
    ring.submitAndWait(1, 5000);
    waited = performance.now() - t0;
  });
  ring.forEachCqe((c) => { if (c.userData === 'timer') timerSeen = true; });
  out.waitInCallback = { waitedAtLeast150: waited >= 150, timerSeen };
  ring.close();
}
// Promise API: a fill that closes the ring, run at once and run later.
{
  const r = new AsyncIoUring({ entries: 4 });
  let sync = 'none';
  let p;
  try { p = r.submit((s) => { r.close(); prepNop(s); }); } catch (e) { sync = e.code ?? e.name; }
  out.fillClosesNow = { sync, result: await p.then(() => 'resolved', (e) => e.code ?? e.name) };
}
{
  const r = new AsyncIoUring({ entries: 4, maxInFlight: 1 });
  const first = r.timeout(20);
  const later = r.submit((s) => { r.close(); prepNop(s); });
  const results = await Promise.allSettled([first, later]);
  out.fillClosesLater = results.map((x) => x.status === 'fulfilled' ? 'fulfilled' : (x.reason.code ?? x.reason.name));
  await r.close();
}
{
  const r = new AsyncIoUring({ entries: 4, maxInFlight: 1 });
  const first = r.timeout(20);
  const later = r.submit((s) => { r.ring.close(); prepNop(s); });
  const third = r.nop();
  const results = await Promise.allSettled([first, later, third]);
  out.fillClosesRawRing = results.map((x) => x.status === 'fulfilled' ? 'fulfilled' : (x.reason.code ?? x.reason.name));
  await r.close();
}
console.log(JSON.stringify(out));
`;

describe('re-entrancy: the reported crashes', () => {
  it('close, resize, nested reaps, waits and fills that close: no signal, defined outcomes', async () => {
    const r = await runChild(SCENARIOS, { timeoutMs: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson<Record<string, unknown>>(r);
    // close() in a callback: the first CQE only; getSqe refused at once; closed reported.
    expect(out.closeInCallback).toEqual({ seen: [0, 'throw:ERR_RING_CLOSED', true], n: 1, closed: true, after: 'throw:ERR_RING_CLOSED' });
    expect(out.closeOnLast).toEqual({ i: 2, closed: true });
    expect(out.resizeInCallback).toEqual(['throw:ERR_RING_REENTRANT', 'throw:ERR_RING_REENTRANT', 'throw:ERR_RING_REENTRANT']);
    const nested = out.nested as { delivered: unknown[]; outerIntact: boolean; phantom: number };
    expect([...nested.delivered].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(nested.phantom).toBe(0);
    expect(nested.outerIntact).toBe(true);
    expect(out.waitInCallback).toEqual({ waitedAtLeast150: true, timerSeen: true });
    expect(out.fillClosesNow).toEqual({ sync: 'none', result: 'ERR_RING_CLOSED' });
    expect(out.fillClosesLater).toEqual(['fulfilled', 'ERR_RING_CLOSED']);
    expect(out.fillClosesRawRing).toEqual(['fulfilled', 'ERR_RING_CLOSED', 'ERR_RING_CLOSED']);
  });
});

// ---------------------------------------------------------------------------------------
// Property: every method from inside every callback, on the raw ring.

type Action =
  | 'getSqe-nop' | 'submit' | 'forEach' | 'peekSeen' | 'waitCqe0' | 'submitAndWait0' | 'timedWait'
  | 'close' | 'resize' | 'getters' | 'discard' | 'register' | 'enable' | 'toString';

const ACTIONS: readonly Action[] = ['getSqe-nop', 'submit', 'forEach', 'peekSeen', 'waitCqe0', 'submitAndWait0', 'timedWait', 'close', 'resize', 'getters', 'discard', 'register', 'enable', 'toString'];

interface Plan {
  ops: ('nop' | 'timeout0' | 'pipeRead')[];
  /** At the k-th callback invocation (any depth), do these actions. */
  hooks: { at: number; actions: Action[] }[];
  deferTaskrun: boolean;
}

const plan: fc.Arbitrary<Plan> = fc.record({
  ops: fc.array(fc.constantFrom('nop' as const, 'timeout0' as const, 'pipeRead' as const), { minLength: 1, maxLength: 12 }),
  hooks: fc.array(fc.record({ at: fc.nat({ max: 20 }), actions: fc.array(fc.constantFrom(...ACTIONS), { minLength: 1, maxLength: 4 }) }), { maxLength: 6 }),
  deferTaskrun: fc.boolean(),
});

function runPlan(p: Plan): void {
  const ring = new IoUring({ entries: 8, ...(p.deferTaskrun ? { singleIssuer: true, deferTaskrun: true } : {}) });
  const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
  /** Ops submitted whose final CQE has not been delivered: id → tag. */
  const expected = new Map<number, number>();
  const delivered = new Map<number, number>();
  let tag = 0;
  let calls = 0;
  let closedAt = -1;
  const start = (kind: Plan['ops'][number]): boolean => {
    const sqe = ring.getSqe();
    if (sqe === null) return false;
    const t = tag++;
    if (kind === 'nop') prepNop(sqe);
    else if (kind === 'timeout0') prepTimeout(sqe, { sec: 0, nsec: 0 }, 0, 0);
    else prepRead(sqe, pr, Buffer.alloc(1), 1, -1);
    sqe.userData = t;
    expected.set(sqe.id, t);
    return true;
  };
  const refusedWith = (f: () => unknown, code: string): void => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err, `expected ${code}`).toBeInstanceOf(RingStateError);
    expect((err as RingStateError).code).toBe(code);
  };
  const callback = (cqe: Cqe): void => {
    const k = calls++;
    if (closedAt >= 0) throw new Error(`a CQE was delivered after close() (call ${k})`);
    expect(cqe.id, 'a CQE of no op of this ring').toBeGreaterThanOrEqual(0);
    if (!cqe.more) {
      expect(delivered.has(cqe.id), `op ${cqe.id} delivered twice`).toBe(false);
      delivered.set(cqe.id, cqe.userData as number);
    }
    const snapshot = JSON.stringify(cqe);
    for (const hook of p.hooks) {
      if (hook.at !== k) continue;
      for (const action of hook.actions) {
        if (ring.closed) {
          refusedWith(() => ring.getSqe(), 'ERR_RING_CLOSED');
          continue;
        }
        switch (action) {
          case 'getSqe-nop':
            start('nop');
            break;
          case 'submit':
            ring.submit();
            break;
          case 'forEach':
            ring.forEachCqe(callback, 3);
            break;
          case 'peekSeen': {
            const c = ring.peekCqe();
            if (c !== null) {
              if (!c.more) {
                expect(delivered.has(c.id), `op ${c.id} peeked after delivery`).toBe(false);
                delivered.set(c.id, c.userData as number);
              }
              ring.cqeSeen();
            }
            break;
          }
          case 'waitCqe0': {
            const c = ring.waitCqe(0);
            if (c !== null) {
              if (!c.more) {
                expect(delivered.has(c.id)).toBe(false);
                delivered.set(c.id, c.userData as number);
              }
              ring.cqeSeen();
            }
            break;
          }
          case 'submitAndWait0':
            ring.submitAndWait(0);
            break;
          case 'timedWait':
            ring.submitAndWait(1, 1);
            break;
          case 'close':
            ring.close();
            expect(ring.closed).toBe(true);
            refusedWith(() => ring.submit(), 'ERR_RING_CLOSED');
            closedAt = calls;
            break;
          case 'resize':
            refusedWith(() => ring.resize({ cqEntries: 32 }), 'ERR_RING_REENTRANT');
            break;
          case 'getters':
            void ring.cqReady;
            void ring.sqSpaceLeft;
            void ring.sqReady;
            void ring.inFlight;
            void ring.staged;
            void ring.sqFlags;
            void ring.cqFlags;
            break;
          case 'discard': {
            const s = ring.getSqe();
            if (s !== null) {
              prepNop(s);
              expect(ring.discardSqe(s)).toBe(true);
            }
            break;
          }
          case 'register':
            void ring.probe.supports('NOP');
            break;
          case 'enable':
            ring.enable();
            break;
          case 'toString':
            void String(ring);
            break;
        }
      }
    }
    // Nothing a nested call did changed the Cqe this callback was handed.
    expect(JSON.stringify(cqe)).toBe(snapshot);
  };
  try {
    for (const op of p.ops) if (!start(op)) ring.submit() && start(op);
    writeSync(pw, Buffer.alloc(64, 1)); // every pipe read can complete
    for (let round = 0; round < 50 && !ring.closed && delivered.size < expected.size; round++) {
      ring.submitAndWait(1, 5);
      if (!ring.closed) ring.forEachCqe(callback);
    }
    if (!ring.closed) {
      // Everything was delivered exactly once, with its own tag.
      expect(delivered.size).toBe(expected.size);
      for (const [id, t] of expected) expect(delivered.get(id), `op ${id}`).toBe(t);
      expect(ring.inFlight).toBe(0);
    } else {
      // A deferred close tore the ring down after the outermost loop; what it had not
      // delivered was drained (not delivered): nothing twice, nothing after the close.
      expect(() => ring.getSqe()).toThrow(expect.objectContaining({ code: 'ERR_RING_CLOSED' }));
      for (const id of delivered.keys()) expect(expected.has(id)).toBe(true);
    }
  } finally {
    ring.close();
    closeSync(pr);
    closeSync(pw);
  }
}

describe('re-entrancy: every raw method from inside forEachCqe callbacks (property)', () => {
  it(`exactly-once delivery, no phantom CQEs, defined refusals (${RUNS} runs)`, () => {
    fc.assert(fc.property(plan, (p) => runPlan(p)), { numRuns: RUNS, verbose: 1 });
  });
});

// ---------------------------------------------------------------------------------------
// Property: the Promise API's fills calling back in.

type FillAction = 'nop' | 'read' | 'submit' | 'close' | 'closeRaw' | 'throw' | 'rawForEach' | 'timeout' | 'abortOwn';
const FILL_ACTIONS: readonly FillAction[] = ['nop', 'read', 'submit', 'close', 'closeRaw', 'throw', 'rawForEach', 'timeout', 'abortOwn'];

describe('re-entrancy: the Promise API from inside fill (property)', () => {
  it(`every promise settles exactly once, no method throws synchronously (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom(...FILL_ACTIONS), { maxLength: 3 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 4 }),
        async (fills, maxInFlight) => {
          const r = new AsyncIoUring({ entries: 4, maxInFlight });
          const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
          writeSync(pw, Buffer.alloc(256, 1));
          const promises: Promise<unknown>[] = [];
          const settled: number[] = [];
          const track = (make: () => Promise<unknown>): void => {
            let p: Promise<unknown>;
            try {
              p = make();
            } catch (err) {
              throw new Error(`a Promise method threw synchronously: ${String(err)}`);
            }
            const i = promises.length;
            settled.push(0);
            promises.push(p.then(() => { settled[i]!++; }, () => { settled[i]!++; }));
          };
          try {
            for (const actions of fills) {
              const ac = new AbortController();
              track(() =>
                r.submit((sqe) => {
                  for (const a of actions) {
                    switch (a) {
                      case 'nop': track(() => r.nop()); break;
                      case 'read': track(() => r.read(pr, Buffer.alloc(1), -1)); break;
                      case 'submit': track(() => r.submit((s) => prepNop(s))); break;
                      case 'close': track(() => r.close()); break;
                      case 'closeRaw': r.ring.close(); break;
                      case 'throw': throw new Error('fill refused');
                      case 'rawForEach': if (!r.ring.closed) r.ring.forEachCqe(); break;
                      case 'timeout': track(() => r.timeout(1)); break;
                      case 'abortOwn': ac.abort(); break;
                    }
                  }
                  prepNop(sqe);
                }, { signal: ac.signal }),
              );
            }
            // Every promise settles (a hang fails the test by its timeout), including those
            // fills started later...
            for (let seen = -1; seen !== promises.length; ) {
              seen = promises.length;
              await Promise.all(promises.slice());
            }
            // ...exactly once.
            for (const n of settled) expect(n).toBe(1);
          } finally {
            await r.close();
            closeSync(pr);
            closeSync(pw);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
