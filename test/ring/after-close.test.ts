/**
 * Use after close throws, never crashes. In a child process (a SIGSEGV there fails the
 * test instead of killing the runner), every public method and getter of `IoUring` and
 * `Sqe` is called after `close()`, found by reflection so that a member added later is
 * covered too; CQE data is read through every path after the rings were unmapped (kernel
 * mapping, NO_MMAP memory, REGISTERED_FD_ONLY). The child must exit 0 and report
 * `ERR_RING_CLOSED` for each, except the members listed below that only read JS-side state.
 */
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { kernelAtLeast } from '../register/helpers.js';
import { lastJson, runChild } from '../support/child.js';
import { IoUring } from '../../src/ring/ring.js';

/** IoUring members that keep working after close: plain JS bookkeeping, no ring memory. */
const RING_ALLOWED: Record<string, string> = {
  closed: 'ok:true',
  params: 'ok:object',
  probe: 'ok:object',
  inFlight: 'ok:0',
  staged: 'ok:0',
  disabled: 'ok:false',
  toString: 'ok:IoUring(closed)',
  close: 'ok:undefined',
  [String(Symbol.dispose)]: 'ok:undefined', // 'Symbol(nodejs.dispose)' on Node 20
  // Resources release themselves during teardown (after the ring is marked closed).
  detach: 'ok:undefined',
};
/** Sqe members that are plain numbers/arrays describing the slot. */
const SQE_ALLOWED: Record<string, RegExp> = {
  offset: /^ok:\d+$/,
  size: /^ok:64$/,
  unsupportedOps: /^ok:object$/,
};

const CHILD = String.raw`
import { openSync } from 'node:fs';
import { IoUring, prepNop, prepRead } from '@repo/src/index.js';

const out = { ring: {}, sqe: {}, cqe: {}, builders: {}, rings: {}, refused: {}, misc: {} };
function describe(v) {
  if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return String(v);
  return typeof v;
}
function attempt(fn) {
  try {
    return 'ok:' + describe(fn());
  } catch (e) {
    return 'throw:' + e.name + ':' + e.code + ':' + e.message;
  }
}
/** Every own and prototype member of obj (getters read, methods called with args[name] or none). */
function sweep(obj, proto, args, into) {
  const names = new Set([...Reflect.ownKeys(proto), ...Reflect.ownKeys(obj)]);
  names.delete('constructor');
  for (const key of names) {
    const name = String(key);
    const desc = Reflect.getOwnPropertyDescriptor(proto, key) ?? Reflect.getOwnPropertyDescriptor(obj, key);
    if (desc.get) into[name] = attempt(() => obj[key]);
    else if (typeof desc.value === 'function') into[name] = attempt(() => obj[key](...(Object.hasOwn(args, name) ? args[name] : [])));
    else into[name] = attempt(() => obj[key]);
    if (desc.set) into[name + '='] = attempt(() => { obj[key] = obj[key]; });
  }
}

const fd = openSync(process.execPath, 'r'); // an ELF binary: starts with 0x7f 'E' 'L' 'F'

function exercise(options, label) {
  const ring = new IoUring(options);
  const nop = ring.getSqe();
  prepNop(nop);
  nop.userData = { label };
  const read = ring.getSqe();
  const buf = Buffer.alloc(4);
  prepRead(read, fd, buf, 4, 0);
  read.userData = 'read';
  ring.submitAndWait(2);
  let kept = null;
  ring.forEachCqe((c) => { kept = c; }); // the reused snapshot object, kept past close
  const seen = { id: kept.id, res: kept.res, userData: kept.userData, opName: kept.opName };
  // More CQEs waiting in the CQ at close, and an SQE staged but not submitted.
  for (let i = 0; i < 3; i++) prepNop(ring.getSqe());
  ring.submitAndWait(3);
  const staged = ring.getSqe();
  prepRead(staged, fd, Buffer.alloc(4), 4, 0);
  const fieldsBefore = staged.unsafeFields; // the generated accessor over JS memory (staging, or the shared SQE array)
  ring.close();
  return { ring, kept, seen, staged, buf, fieldsBefore };
}

const main = exercise({ entries: 8 }, 'default mapping');
out.misc.mainMapping = main.ring.params.mapping;
const stale = main.staged;
const handler = { complete() {} };
const resource = { release() {} };
sweep(main.ring, Object.getPrototypeOf(main.ring), {
  discardSqe: [stale], submitAndWait: [1], forEachCqe: [() => {}], waitCqe: [10], setHandler: [stale, handler],
  register: [8, null, 0], attach: [resource], detach: [resource], resize: [{ sqEntries: 16 }],
}, out.ring);
sweep(stale, Object.getPrototypeOf(stale), { pin: [Buffer.alloc(4)] }, out.sqe);
sweep(main.kept, Object.getPrototypeOf(main.kept), {}, out.cqe);
out.misc.cqeStillSays = { id: main.kept.id, res: main.kept.res, userData: main.kept.userData, opName: main.kept.opName, before: main.seen };
out.misc.readData = [...main.buf];
out.misc.staleFieldsOpcode = attempt(() => main.fieldsBefore.opcode);
out.builders.prepNop = attempt(() => prepNop(stale));
out.builders.prepRead = attempt(() => prepRead(stale, fd, Buffer.alloc(4), 4, 0));
out.misc.closeTwice = attempt(() => { main.ring.close(); main.ring.close(); main.ring[Symbol.dispose](); return 'fine'; });

for (const [label, options] of [
  ['kernel memory', { entries: 8, ringMemory: 'kernel' }],
  ['noMmap', { entries: 8, noMmap: true }],
  ['registeredFdOnly', { entries: 8, noMmap: true, registeredFdOnly: true }],
  ['cqe32', { entries: 8, cqe32: true }],
]) {
  let r;
  try {
    r = exercise(options, label);
  } catch (e) {
    // NO_MMAP (and REGISTERED_FD_ONLY) are Linux 6.5: older kernels refuse them with EINVAL.
    if (e.code !== 'EINVAL' || e.syscall !== 'io_uring_setup') throw e;
    out.refused[label] = e.code;
    continue;
  }
  const got = {};
  for (const m of ['peekCqe', 'waitCqe', 'forEachCqe', 'cqeSeen', 'cqReady', 'cqOverflowCount', 'sqFlags', 'sqDropped', 'sqSpaceLeft', 'getSqe', 'submit']) {
    got[m] = attempt(() => (typeof r.ring[m] === 'function' ? r.ring[m](m === 'forEachCqe' ? () => {} : undefined) : r.ring[m]));
  }
  got.keptExtra = attempt(() => (r.kept.extra === null ? 'null' : [...r.kept.extra].join(',')));
  got.keptRes = r.kept.res;
  out.rings[label] = got;
}

let inner;
{
  using scoped = new IoUring({ entries: 4 });
  inner = scoped;
  prepNop(scoped.getSqe());
  scoped.submit();
}
out.misc.usingClosed = inner.closed;
out.misc.usingThrows = attempt(() => inner.getSqe());

console.log(JSON.stringify(out));
`;

interface ChildReport {
  ring: Record<string, string>;
  sqe: Record<string, string>;
  cqe: Record<string, string>;
  builders: Record<string, string>;
  rings: Record<string, Record<string, unknown>>;
  refused: Record<string, string>;
  misc: Record<string, unknown>;
}

const CLOSED = /^throw:RingStateError:ERR_RING_CLOSED:.+: the ring is closed \(its memory is unmapped\); create a new IoUring$/;

describe('after close()', () => {
  it('every IoUring and Sqe member throws ERR_RING_CLOSED, CQE data is only ever a copy, and the process never crashes', async () => {
    const result = await runChild(CHILD, { timeoutMs: 30_000 });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const report = lastJson<ChildReport>(result);

    // IoUring: reflection found the public surface (a sanity floor), and each member behaves.
    expect(Object.keys(report.ring).length).toBeGreaterThanOrEqual(25);
    for (const [name, outcome] of Object.entries(report.ring)) {
      const allowed = RING_ALLOWED[name];
      if (allowed !== undefined) expect(outcome, `IoUring.${name}`).toBe(allowed);
      else expect(outcome, `IoUring.${name}`).toMatch(CLOSED);
    }
    for (const name of ['getSqe', 'getSqeOrThrow', 'submit', 'submitAndWait', 'forEachCqe', 'waitCqe', 'peekCqe', 'cqeSeen', 'fd', 'cqReady', 'sqSpaceLeft', 'register', 'enable']) {
      expect(report.ring[name], `IoUring.${name} was not swept`).toMatch(CLOSED);
    }

    // Sqe: everything but the slot's plain numbers.
    expect(Object.keys(report.sqe)).toEqual(expect.arrayContaining(['view', 'id', 'userData', 'userData=', 'flags', 'flags=', 'unsafeFields', 'pin', 'link', 'skipSuccess']));
    for (const [name, outcome] of Object.entries(report.sqe)) {
      const allowed = SQE_ALLOWED[name];
      if (allowed !== undefined) expect(outcome, `Sqe.${name}`).toMatch(allowed);
      else expect(outcome, `Sqe.${name}`).toMatch(CLOSED);
    }
    // Builders on a handle of a closed ring fail before writing.
    expect(report.builders.prepNop).toMatch(CLOSED);
    expect(report.builders.prepRead).toMatch(CLOSED);

    // Cqe: a JS-owned snapshot; reading it after close is safe and says what it said before.
    for (const [name, outcome] of Object.entries(report.cqe)) expect(outcome, `Cqe.${name}`).toMatch(/^ok:/);
    const still = report.misc.cqeStillSays as Record<string, unknown>;
    expect({ ...still, before: undefined }).toEqual({ ...(still.before as object), before: undefined });
    expect(still.userData).toBe('read');
    expect(still.res).toBe(4);
    expect(report.misc.readData).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    // The generated accessor fetched before close reads JS memory (staging, or the shared
    // SQE array, which stays ordinary JS memory after close): harmless.
    expect(report.misc.staleFieldsOpcode).toMatch(/^ok:\d+$/);
    expect(['user', 'kernel-single', 'kernel-split']).toContain(report.misc.mainMapping);

    // Rings in unmapped user memory or without an fd: every CQ/SQ read throws. Setup refusing
    // them is right only on a kernel older than 6.5 (NO_MMAP, REGISTERED_FD_ONLY).
    if (Object.keys(report.refused).length > 0) {
      expect(kernelAtLeast(6, 5), `refused ${JSON.stringify(report.refused)}`).toBe(false);
      console.warn(`[note] kernel ${release()} refuses ${Object.keys(report.refused).join(' and ')} rings (NO_MMAP needs Linux 6.5): not exercised`);
    }
    expect(Object.keys(report.refused).every((label) => ['noMmap', 'registeredFdOnly'].includes(label)), JSON.stringify(report.refused)).toBe(true);
    expect(Object.keys(report.rings)).toEqual(expect.arrayContaining(['kernel memory', 'cqe32']));
    for (const [label, got] of Object.entries(report.rings)) {
      for (const [m, outcome] of Object.entries(got)) {
        if (m === 'keptExtra' || m === 'keptRes') continue;
        expect(outcome, `${label}: ${m}`).toMatch(CLOSED);
      }
      expect(got.keptRes, label).toBe(4);
      expect(got.keptExtra, label).toBe(label === 'cqe32' ? 'ok:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0' : 'ok:null');
    }

    expect(report.misc.closeTwice).toBe('ok:fine');
    expect(report.misc.usingClosed).toBe(true);
    expect(report.misc.usingThrows).toMatch(CLOSED);
  });

  it('in process too: close() twice, Symbol.dispose, and `using`', () => {
    let outer: IoUring | undefined;
    {
      using ring = new IoUring({ entries: 4 });
      outer = ring;
      expect(ring.closed).toBe(false);
    }
    expect(outer.closed).toBe(true);
    expect(() => outer!.close()).not.toThrow();
    expect(() => outer![Symbol.dispose]()).not.toThrow();
    expect(() => outer!.submit()).toThrow(expect.objectContaining({ name: 'RingStateError', code: 'ERR_RING_CLOSED' }));
  });
});
