/**
 * Fuzzing (issue 9, item 8): property-based runs of random op sequences on a small ring
 * (4 SQ entries, 8 CQ entries, at most 16 in flight: the CQ overflows) against a model of what must complete.
 *
 * Commands: NOP; READ of a block of a file whose every block holds its own number (the data
 * is checked); WRITE of a block to a scratch file; a short TIMEOUT (0-200 µs); a long
 * TIMEOUT (20-40 ms); ASYNC_CANCEL of a random op still pending; LINK (the next op is
 * linked to the one before); SUBMIT; REAP in three ways (forEachCqe, a 0-1 ms timed
 * submitAndWait, waitCqe + cqeSeen); and, rarely, CLOSE with whatever is in flight (a new
 * ring is then created). At random points `getSqe()` returns null: the model predicts
 * exactly when (SQ full, or `maxInFlight` reached).
 *
 * The model: every op prepared is pending until exactly one CQE names it (its `userData`);
 * a CQE for an op not pending (a duplicate, a stranger) fails the run; each result must be
 * one the op allows (its own result, or -ECANCELED: by a cancel, by a failed link
 * predecessor, or as the kernel's answer to a cancel of a cancel; cancels may also end with
 * 0, -ENOENT or -EALREADY); `staged` and `inFlight` match the model after every command. At
 * the end of a run every pending op must complete (close ends them without CQEs), and the
 * ring ends with nothing in flight.
 *
 * At least 10,000 ops (SQEs) per test run; the seed is printed, and fast-check prints the
 * seed and the shrunk counterexample on failure (re-run with FC_SEED=<seed>).
 */
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangAfter, stressCount } from '../support/slow.js';
import { prepCancel, prepNop, prepRead, prepTimeout, prepWrite } from '../../generated/ops.js';
import type { Cqe } from '../../src/ring/cqe.js';
import { IoUring } from '../../src/ring/ring.js';
import type { Sqe } from '../../src/ring/sqe.js';
import { makeTempDir } from '../ring/helpers.js';

const BLOCK = 32;
const BLOCKS = 256;
const ECANCELED = -125;
const ETIME = -62;
const ENOENT = -2;
const EALREADY = -114;
const SQ = 4;
const CQ = 8;
const MAX_IN_FLIGHT = 16;

type Command =
  | { t: 'nop' }
  | { t: 'read'; block: number }
  | { t: 'write'; block: number }
  | { t: 'shortTimeout'; ns: number }
  | { t: 'longTimeout'; ms: number }
  | { t: 'cancel'; pick: number }
  | { t: 'link' }
  | { t: 'submit' }
  | { t: 'reap'; how: 'peek' | 'wait' | 'waitCqe'; ms: number }
  | { t: 'close' };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 60, arbitrary: fc.constant({ t: 'nop' } as const) },
  { weight: 60, arbitrary: fc.integer({ min: 0, max: BLOCKS - 1 }).map((block) => ({ t: 'read', block }) as const) },
  { weight: 30, arbitrary: fc.integer({ min: 0, max: BLOCKS - 1 }).map((block) => ({ t: 'write', block }) as const) },
  { weight: 30, arbitrary: fc.integer({ min: 0, max: 200_000 }).map((ns) => ({ t: 'shortTimeout', ns }) as const) },
  { weight: 10, arbitrary: fc.integer({ min: 20, max: 40 }).map((ms) => ({ t: 'longTimeout', ms }) as const) },
  { weight: 30, arbitrary: fc.nat().map((pick) => ({ t: 'cancel', pick }) as const) },
  { weight: 30, arbitrary: fc.constant({ t: 'link' } as const) },
  { weight: 50, arbitrary: fc.constant({ t: 'submit' } as const) },
  {
    weight: 60,
    arbitrary: fc.record({ t: fc.constant('reap' as const), how: fc.constantFrom('peek' as const, 'wait' as const, 'waitCqe' as const), ms: fc.integer({ min: 0, max: 1 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'close' } as const) },
);

interface Pending {
  kind: Command['t'];
  id: number;
  /** Results the op may end with. */
  allowed: Set<number>;
  buf?: Buffer;
  block?: number;
}

let tmp: { dir: string; cleanup: () => void };
let readFd: number;
let writeFd: number;

function blockBytes(i: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let k = 0; k < BLOCK; k += 4) b.writeUInt32LE(i * 7919, k);
  return b;
}

beforeAll(() => {
  tmp = makeTempDir('tsuring-fuzz-');
  const data = join(tmp.dir, 'data');
  writeFileSync(data, Buffer.concat(Array.from({ length: BLOCKS }, (_, i) => blockBytes(i))));
  readFd = openSync(data, 'r');
  writeFd = openSync(join(tmp.dir, 'scratch'), 'w+');
});
afterAll(() => {
  closeSync(readFd);
  closeSync(writeFd);
  tmp.cleanup();
});

/** Everything one property run does, with its model. */
class Harness {
  ring: IoUring;
  /** Ops by tag: prepared (staged or in flight) and not yet completed. */
  readonly pending = new Map<number, Pending>();
  staged = 0;
  nextTag = 1;
  linkNext = false;
  ops = 0;
  completions = 0;
  lastSqe: Sqe | null = null;
  readonly failures: string[] = [];

  constructor() {
    this.ring = this.newRing();
  }

  newRing(): IoUring {
    return new IoUring({ entries: SQ, cqEntries: CQ, maxInFlight: MAX_IN_FLIGHT });
  }

  fail(message: string): never {
    throw new Error(message);
  }

  /** The next SQE, or null exactly when the model says there is no room. */
  sqe(): Sqe | null {
    const expectNull = this.staged >= SQ || this.pending.size >= MAX_IN_FLIGHT;
    const sqe = this.ring.getSqe();
    if ((sqe === null) !== expectNull) {
      // The SQ head moves only when the kernel consumes: staged counts what it has not.
      this.fail(`getSqe() returned ${sqe === null ? 'null' : 'an SQE'} with ${this.staged} staged and ${this.pending.size} pending`);
    }
    return sqe;
  }

  prepare(kind: Command['t'], fill: (sqe: Sqe) => void, allowed: number[], extra: Partial<Pending> = {}): void {
    const sqe = this.sqe();
    if (sqe === null) return;
    fill(sqe);
    const tag = this.nextTag++;
    sqe.userData = tag;
    if (this.linkNext && this.lastSqe !== null) {
      // Link the previous op (still staged: nothing was submitted since) to this one.
      this.lastSqe.link();
      allowed.push(ECANCELED);
    }
    this.linkNext = false;
    this.pending.set(tag, { kind, id: sqe.id, allowed: new Set([...allowed, ECANCELED]), ...extra });
    this.lastSqe = sqe;
    this.staged++;
    this.ops++;
  }

  onCqe = (cqe: Cqe): void => {
    const tag = cqe.userData as number;
    const op = this.pending.get(tag);
    if (op === undefined) this.fail(`a CQE for an op that is not pending: ${JSON.stringify(cqe)}`);
    this.pending.delete(tag);
    this.completions++;
    if (cqe.id !== op.id) this.fail(`op ${tag}: CQE id ${cqe.id}, expected ${op.id}`);
    if (cqe.more) this.fail(`op ${tag}: F_MORE on a single-shot op`);
    if (!op.allowed.has(cqe.res)) this.fail(`op ${tag} (${op.kind}) ended with ${cqe.res}; allowed ${[...op.allowed].join(', ')}`);
    if (op.kind === 'read' && cqe.res === BLOCK && !op.buf!.equals(blockBytes(op.block!))) this.fail(`read ${tag}: wrong data for block ${op.block}`);
  };

  run(c: Command): void {
    switch (c.t) {
      case 'nop':
        this.prepare('nop', (s) => prepNop(s), [0]);
        break;
      case 'read': {
        const buf = Buffer.alloc(BLOCK);
        this.prepare('read', (s) => prepRead(s, readFd, buf, BLOCK, c.block * BLOCK), [BLOCK], { buf, block: c.block });
        break;
      }
      case 'write':
        this.prepare('write', (s) => prepWrite(s, writeFd, blockBytes(c.block), BLOCK, c.block * BLOCK), [BLOCK]);
        break;
      case 'shortTimeout':
        this.prepare('shortTimeout', (s) => prepTimeout(s, { sec: 0, nsec: c.ns }, 0), [ETIME]);
        break;
      case 'longTimeout':
        this.prepare('longTimeout', (s) => prepTimeout(s, { sec: 0, nsec: c.ms * 1e6 }, 0), [ETIME]);
        break;
      case 'cancel': {
        const targets = [...this.pending.values()];
        if (targets.length === 0) break;
        const target = targets[c.pick % targets.length]!;
        this.prepare('cancel', (s) => prepCancel(s, target.id), [0, ENOENT, EALREADY]);
        break;
      }
      case 'link':
        this.linkNext = this.staged > 0;
        break;
      case 'submit':
        this.submit();
        break;
      case 'reap':
        this.reap(c.how, c.ms);
        break;
      case 'close': {
        this.ring.close();
        if (this.ring.inFlight !== 0) this.fail(`close left ${this.ring.inFlight} in flight`);
        // Everything in flight can be cancelled: a close that gave up on an op instead warns
        // TSURING_CLOSE_ABANDONED, which the test counts (warnings arrive on a later tick).
        this.pending.clear(); // ended by close: no CQE will name them
        this.staged = 0;
        this.lastSqe = null;
        this.linkNext = false;
        this.ring = this.newRing();
        break;
      }
    }
    this.check(c);
  }

  submit(): void {
    this.ring.submit();
    this.staged = 0;
    this.lastSqe = null;
    this.linkNext = false;
  }

  reap(how: 'peek' | 'wait' | 'waitCqe', ms: number): void {
    if (how === 'peek') {
      this.ring.forEachCqe(this.onCqe);
      return;
    }
    if (how === 'wait') {
      this.ring.submitAndWait(1, ms);
      this.staged = 0;
      this.lastSqe = null;
      this.linkNext = false;
      this.ring.forEachCqe(this.onCqe);
      return;
    }
    // waitCqe returns a CQE already there (one in the CQ, or held back by an overflow)
    // without submitting; otherwise it submits and waits (never long, with a timeout). An
    // op on io-wq or a timer may post between any check of ours and its look, so the model
    // accepts either, but nothing else: all still staged, or none.
    const cqe = this.ring.waitCqe(ms);
    const staged = this.ring.staged;
    if (staged !== this.staged && staged !== 0) this.fail(`waitCqe left ${staged} staged of ${this.staged}`);
    if (cqe === null && staged !== 0) this.fail(`waitCqe returned nothing without submitting ${staged} staged`);
    if (staged === 0) {
      this.staged = 0;
      this.lastSqe = null;
      this.linkNext = false;
    }
    if (cqe !== null) {
      this.onCqe(cqe);
      this.ring.cqeSeen();
    }
  }

  check(c: Command): void {
    if (this.ring.staged !== this.staged) this.fail(`after ${c.t}: ring.staged ${this.ring.staged}, model ${this.staged}`);
    // inFlight counts what was submitted; the model's pending ops include the staged ones.
    if (this.ring.inFlight !== this.pending.size - this.staged) this.fail(`after ${c.t}: ring.inFlight ${this.ring.inFlight}, model ${this.pending.size - this.staged}`);
  }

  /** Submits and reaps until every pending op completed. */
  drain(): void {
    this.submit();
    // Long timeouts would take up to 40 ms: cancel what is still pending (the model allows it).
    for (const op of [...this.pending.values()]) {
      if (op.kind !== 'longTimeout') continue;
      this.prepare('cancel', (s) => prepCancel(s, op.id), [0, ENOENT, EALREADY]);
      this.submit();
    }
    const deadline = performance.now() + hangAfter(5000);
    while (this.pending.size > 0) {
      if (performance.now() > deadline) this.fail(`ops never completed: ${JSON.stringify([...this.pending.values()].map((p) => p.kind))}`);
      this.ring.submitAndWait(1, 50);
      this.ring.forEachCqe(this.onCqe);
    }
    if (this.ring.inFlight !== 0) this.fail(`drained, but the ring says ${this.ring.inFlight} in flight`);
  }
}

describe('fuzzing: random op sequences against a model', () => {
  it(`at least ${stressCount(10_000)} ops complete exactly once, as the model allows; no close gives up on an op`, async () => {
    const abandoned: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => {
      if (w.code === 'TSURING_CLOSE_ABANDONED') abandoned.push(w.message);
    };
    process.on('warning', onWarning);
    const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() ^ (process.pid << 8);
    console.info(`[info] fast-check seed ${seed} (re-run with FC_SEED=${seed})`);
    let ops = 0;
    let completions = 0;
    let runs = 0;
    let closes = 0;
    fc.assert(
      fc.property(fc.array(command, { minLength: 100, maxLength: 400, size: 'max' }), (commands) => {
        const h = new Harness();
        try {
          for (const c of commands) {
            if (c.t === 'close') closes++;
            h.run(c);
          }
          h.drain();
        } finally {
          h.ring.close();
        }
        ops += h.ops;
        completions += h.completions;
        runs++;
      }),
      { seed, numRuns: stressCount(200), verbose: 1 },
    );
    console.info(`[info] fuzzing: ${runs} sequences, ${ops} ops, ${completions} completions checked, ${closes} closes with work in flight`);
    expect(ops).toBeGreaterThanOrEqual(stressCount(10_000));
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(abandoned, `seed ${seed}`).toEqual([]);
  }, hangAfter(120_000));
});
