/**
 * `prefer` negotiation and option checking: FAST_SETUP gets exactly the groups this kernel
 * accepts; contradictory or malformed options are refused before the kernel, with a
 * message naming the options; and a ring refused for its own arguments (a bad CPU, a bad
 * wq fd) does not teach the negotiation that the preferred flags are unsupported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_HYBRID_IOPOLL,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQ_AFF,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
} from '../../generated/constants.js';
import { prepNop } from '../../generated/ops.js';
import { ArgumentError } from '../../src/errors.js';
import { forgetSetupVerdicts } from '../../src/ring/negotiate.js';
import { IoUring } from '../../src/ring/ring.js';
import { combinationProblem, FAST_SETUP, setupFlagNames, type IoUringOptions, type PreferableFlag } from '../../src/ring/setup.js';
import { IoUringError } from '../../src/sys/errors.js';
import { drain, fdCount, kernelRefusal } from './helpers.js';

const BITS: Record<PreferableFlag, number> = {
  singleIssuer: IORING_SETUP_SINGLE_ISSUER,
  deferTaskrun: IORING_SETUP_DEFER_TASKRUN,
  coopTaskrun: IORING_SETUP_COOP_TASKRUN,
  taskrunFlag: IORING_SETUP_TASKRUN_FLAG,
  submitAll: IORING_SETUP_SUBMIT_ALL,
  noSqArray: IORING_SETUP_NO_SQARRAY,
};

function groupBits(group: PreferableFlag | readonly PreferableFlag[]): number {
  return (typeof group === 'string' ? [group] : group).reduce((bits, name) => bits | BITS[name], 0);
}

/** What negotiation should grant: each group in order that the kernel accepts on top of the ones before. */
function expectedGrant(required: number, prefer: readonly (PreferableFlag | readonly PreferableFlag[])[], fill?: Parameters<typeof kernelRefusal>[1]): number {
  let flags = required;
  for (const group of prefer) {
    const candidate = flags | groupBits(group);
    if (combinationProblem(candidate) === undefined && kernelRefusal(candidate, fill) === null) flags = candidate;
  }
  return flags;
}

/** The flags negotiation granted: `setupFlags` without the NO_MMAP that library ring memory (the default where the kernel has it) adds. */
function negotiated(ring: IoUring): number {
  return ring.params.mapping === 'user' ? ring.params.setupFlags & ~IORING_SETUP_NO_MMAP : ring.params.setupFlags;
}

function nopWorks(ring: IoUring): void {
  const sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 'nop';
  ring.submitAndWait(1);
  expect(drain(ring)).toMatchObject([{ userData: 'nop', res: 0 }]);
}

beforeEach(() => forgetSetupVerdicts());

describe('prefer negotiation', () => {
  it('FAST_SETUP grants every group this kernel accepts, and the ring works', () => {
    const want = expectedGrant(0, FAST_SETUP);
    console.info(`[info] FAST_SETUP on this kernel: ${setupFlagNames(want).join(' | ') || 'nothing'}`);
    using ring = new IoUring({ entries: 8, prefer: FAST_SETUP });
    expect(setupFlagNames(negotiated(ring))).toEqual(setupFlagNames(want));
    nopWorks(ring);
    // Learned verdicts give the same answer without asking again.
    using again = new IoUring({ entries: 8, prefer: FAST_SETUP });
    expect(negotiated(again)).toBe(negotiated(ring));
  });

  it('preferred groups that contradict a required option are skipped, not sent', () => {
    // sqPoll rules out deferTaskrun and coopTaskrun: only submitAll and noSqArray can be added.
    const want = expectedGrant(IORING_SETUP_SQPOLL, FAST_SETUP);
    expect(want & (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN)).toBe(0);
    using ring = new IoUring({ entries: 8, sqPoll: { idleMs: 10 }, prefer: FAST_SETUP });
    expect(setupFlagNames(negotiated(ring))).toEqual(setupFlagNames(want));
    nopWorks(ring);
  });

  it('required flags stay required: a preferred group never replaces them', () => {
    using ring = new IoUring({ entries: 8, singleIssuer: true, prefer: ['submitAll'] });
    expect(ring.params.setupFlags & IORING_SETUP_SINGLE_ISSUER).not.toBe(0);
    expect(ring.params.setupFlags & IORING_SETUP_SUBMIT_ALL).toBe(kernelRefusal(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_SUBMIT_ALL) === null ? IORING_SETUP_SUBMIT_ALL : 0);
  });

  it('a ring refused for its own arguments (bad CPU) reports the kernel error and does not spoil later negotiation', () => {
    const prefer = ['submitAll', 'noSqArray'] as const;
    const fds = fdCount();
    let caught: unknown;
    try {
      new IoUring({ entries: 8, sqPoll: { cpu: 4095 }, prefer });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IoUringError);
    expect((caught as IoUringError).code).toBe('EINVAL');
    expect(fdCount()).toBe(fds);
    // Same flags, a valid CPU: the preferred flags the kernel has must be granted.
    const fill = (p: { sqThreadCpu: number }): void => void (p.sqThreadCpu = 0);
    const want = expectedGrant(IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF, prefer, fill);
    using ring = new IoUring({ entries: 8, sqPoll: { cpu: 0 }, prefer });
    expect(setupFlagNames(negotiated(ring))).toEqual(setupFlagNames(want));
  });

  it('the same holds for a bad attachWq fd (not an io_uring)', () => {
    const prefer = ['submitAll'] as const;
    expect(() => new IoUring({ entries: 8, attachWq: 0, prefer })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    using other = new IoUring({ entries: 4 });
    const fill = (p: { wqFd: number }): void => void (p.wqFd = other.fd);
    const want = expectedGrant(IORING_SETUP_ATTACH_WQ, prefer, fill);
    using ring = new IoUring({ entries: 8, attachWq: other.fd, prefer });
    expect(setupFlagNames(negotiated(ring))).toEqual(setupFlagNames(want));
  });

  it('negotiating a registeredFdOnly ring leaves no throwaway ring registered (20 rounds, 16 slots)', (ctx) => {
    const refusal = kernelRefusal(IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_MMAP);
    if (refusal !== null) {
      const note = `REGISTERED_FD_ONLY (Linux 6.5): the running kernel refuses it (${refusal.code}); nothing to negotiate`;
      console.warn(`[skip] ${note}`);
      ctx.skip(note);
    }
    // The task's table of registered rings has 16 slots: a throwaway ring left in it per
    // negotiation would make the 17th setup fail.
    for (let i = 0; i < 20; i++) {
      forgetSetupVerdicts();
      const ring = new IoUring({ entries: 4, noMmap: true, registeredFdOnly: true, prefer: ['submitAll', 'noSqArray'] });
      nopWorks(ring);
      ring.close();
    }
    // And the table is empty enough for a normal ring to register itself.
    using ring = new IoUring({ entries: 4 });
    expect(ring.params.ringFdRegistered).toBe(true);
  });
});

describe('options refused before the kernel', () => {
  let fds: number;
  beforeEach(() => {
    fds = fdCount();
  });
  afterEach(() => {
    expect(fdCount()).toBe(fds);
  });

  /** Expects an ArgumentError (never an IoUringError: the kernel was not asked). */
  function refused(options: unknown, code: string, ...mentions: (string | RegExp)[]): void {
    let caught: unknown;
    try {
      new IoUring(options as IoUringOptions);
    } catch (err) {
      caught = err;
    }
    expect(caught, `options ${JSON.stringify(options)} were accepted`).toBeInstanceOf(ArgumentError);
    const err = caught as ArgumentError;
    expect(err.code).toBe(code);
    for (const m of mentions) expect(err.message).toMatch(m);
  }

  it('deferTaskrun without singleIssuer', () => {
    refused({ deferTaskrun: true }, 'ERR_INVALID_ARG_VALUE', /deferTaskrun needs singleIssuer/, 'IORING_SETUP_SINGLE_ISSUER');
  });
  it('taskrunFlag alone', () => {
    refused({ taskrunFlag: true }, 'ERR_INVALID_ARG_VALUE', /taskrunFlag needs coopTaskrun or deferTaskrun/);
  });
  it('deferTaskrun or coopTaskrun with sqPoll', () => {
    refused({ singleIssuer: true, deferTaskrun: true, sqPoll: true }, 'ERR_INVALID_ARG_VALUE', /deferTaskrun cannot be combined with sqPoll/);
    refused({ coopTaskrun: true, sqPoll: { idleMs: 5 } }, 'ERR_INVALID_ARG_VALUE', /coopTaskrun/, /sqPoll/);
  });
  it('SQ_AFF without SQPOLL (not expressible as options: sqPoll.cpu implies sqPoll; the rule itself)', () => {
    expect(combinationProblem(IORING_SETUP_SQ_AFF)).toMatch(/sqPoll\.cpu .*needs sqPoll/);
    expect(combinationProblem(IORING_SETUP_SQ_AFF | IORING_SETUP_SQPOLL)).toBeUndefined();
    refused({ sqPoll: false, cpu: 1 }, 'ERR_INVALID_ARG_VALUE', /options\.cpu/, /unknown option/);
  });
  it('hybridIopoll without iopoll', () => {
    refused({ hybridIopoll: true }, 'ERR_INVALID_ARG_VALUE', /hybridIopoll needs iopoll/);
  });
  it('registeredFdOnly without noMmap', () => {
    refused({ registeredFdOnly: true }, 'ERR_INVALID_ARG_VALUE', /registeredFdOnly needs noMmap/);
  });
  it('cqEntries < entries', () => {
    refused({ entries: 16, cqEntries: 8 }, 'ERR_INVALID_ARG_VALUE', /options\.cqEntries/, /at least options\.entries \(16\)/);
  });
  it('unknown option names', () => {
    refused({ entriez: 8 }, 'ERR_INVALID_ARG_VALUE', /options\.entriez/, /unknown option/, /entries/);
    refused({ prefer: ['singleIssuer', 'turbo'] }, 'ERR_INVALID_ARG_VALUE', /options\.prefer/, /"turbo"/, /submitAll/);
    refused({ prefer: [['coopTaskrun', 'sqPoll']] }, 'ERR_INVALID_ARG_VALUE', /"sqPoll"/);
  });
  it('wrong types and out-of-range numbers', () => {
    refused(null, 'ERR_INVALID_ARG_TYPE', /options/, /null/);
    refused({ entries: '8' }, 'ERR_INVALID_ARG_TYPE', /options\.entries/, /"8"/);
    refused({ entries: 0 }, 'ERR_OUT_OF_RANGE', /options\.entries/);
    refused({ entries: 8.5 }, 'ERR_OUT_OF_RANGE', /options\.entries/);
    refused({ entries: 65536 }, 'ERR_OUT_OF_RANGE', /options\.entries/, /32768/);
    refused({ entries: 8, cqEntries: 1 << 20 }, 'ERR_OUT_OF_RANGE', /options\.cqEntries/);
    refused({ clamp: 1 }, 'ERR_INVALID_ARG_TYPE', /options\.clamp/, /boolean/);
    refused({ sqPoll: 'yes' }, 'ERR_INVALID_ARG_TYPE', /options\.sqPoll/);
    refused({ sqPoll: { idleMs: -1 } }, 'ERR_OUT_OF_RANGE', /options\.sqPoll\.idleMs/);
    refused({ sqPoll: { cpu: 1.5 } }, 'ERR_OUT_OF_RANGE', /options\.sqPoll\.cpu/);
    refused({ attachWq: -1 }, 'ERR_OUT_OF_RANGE', /options\.attachWq/);
    refused({ noMmap: 'yes' }, 'ERR_INVALID_ARG_TYPE', /options\.noMmap/);
    refused({ noMmap: { hugePages: 'maybe' } }, 'ERR_INVALID_ARG_VALUE', /hugePages/, /'try'/);
    refused({ prefer: 'singleIssuer' }, 'ERR_INVALID_ARG_TYPE', /options\.prefer/, /array/);
    refused({ maxInFlight: 0 }, 'ERR_OUT_OF_RANGE', /options\.maxInFlight/);
    refused({ registerRingFd: 'no' }, 'ERR_INVALID_ARG_TYPE', /options\.registerRingFd/);
  });

  it('every combination the library refuses is one the kernel refuses too (the rules are not stricter than Linux)', () => {
    const rules = [
      IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_SQPOLL,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SQPOLL,
      IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_SQ_AFF,
      IORING_SETUP_HYBRID_IOPOLL,
      IORING_SETUP_REGISTERED_FD_ONLY,
    ];
    for (const flags of rules) {
      expect(combinationProblem(flags), setupFlagNames(flags).join('|')).toBeDefined();
      const kernel = kernelRefusal(flags);
      expect(kernel?.code, `the kernel accepts ${setupFlagNames(flags).join('|')}`).toBe('EINVAL');
    }
    // And the fixed combinations pass both.
    for (const flags of [
      IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
      IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_MMAP,
    ]) {
      expect(combinationProblem(flags)).toBeUndefined();
    }
  });
});
