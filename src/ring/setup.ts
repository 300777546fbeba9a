/**
 * Ring setup options: what a caller may ask for, the checks that refuse contradictory
 * requests before the kernel sees them, and the translation into `io_uring_setup` flags.
 *
 * @module
 */
import {
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_CLAMP,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_HYBRID_IOPOLL,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_R_DISABLED,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQ_AFF,
  IORING_SETUP_SQE128,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
  SetupFlags,
} from '../../generated/constants.js';
import { isMainThread } from 'node:worker_threads';
import { checkIntRange } from '../abi/check.js';
import { ArgumentError, describeReceived } from '../errors.js';

/** The most SQ entries the kernel accepts (`IORING_MAX_ENTRIES`). */
export const MAX_SQ_ENTRIES = 32768;
/** The most CQ entries the kernel accepts (`IORING_MAX_CQ_ENTRIES`). */
export const MAX_CQ_ENTRIES = 2 * MAX_SQ_ENTRIES;

/** SQPOLL: a kernel thread polls the SQ, so submission needs no system call while it is awake. */
export interface SqPollOptions {
  /** Milliseconds the thread spins without work before it sleeps (`sq_thread_idle`). */
  idleMs?: number;
  /** Pin the thread to this CPU (`IORING_SETUP_SQ_AFF` + `sq_thread_cpu`). */
  cpu?: number;
}

/** `IORING_SETUP_NO_MMAP`: the library maps the ring memory itself. */
export interface NoMmapOptions {
  /**
   * Back the rings with huge pages (`MAP_HUGETLB`). `true` fails when none are available;
   * `'try'` falls back to normal pages, and the ring records which it got.
   */
  hugePages?: boolean | 'try';
}

/**
 * Options of `new IoUring(...)`. Each maps to one `IORING_SETUP_*` flag (or to a field of
 * `struct io_uring_params`); asking for a flag the kernel lacks fails with a clear error,
 * except flags listed in {@link IoUringOptions.prefer}, which are dropped when refused.
 */
export interface IoUringOptions {
  /** SQ entries (rounded up to a power of two by the kernel). Default 128. */
  entries?: number;
  /** CQ entries (`IORING_SETUP_CQSIZE`); at least `entries`. Default: twice the SQ. */
  cqEntries?: number;
  /** Clamp `entries`/`cqEntries` to the kernel's maximum instead of failing (`IORING_SETUP_CLAMP`). */
  clamp?: boolean;
  /** Busy-poll completions for O_DIRECT files on polled block devices (`IORING_SETUP_IOPOLL`). */
  iopoll?: boolean;
  /** With `iopoll`: sleep before polling (`IORING_SETUP_HYBRID_IOPOLL`, Linux 6.13). */
  hybridIopoll?: boolean;
  /** A kernel thread polls the SQ (`IORING_SETUP_SQPOLL`). `true` for the defaults. */
  sqPoll?: boolean | SqPollOptions;
  /** Share the async worker pool of another ring (`IORING_SETUP_ATTACH_WQ`): its fd. */
  attachWq?: number;
  /** Don't interrupt the task to run completion work (`IORING_SETUP_COOP_TASKRUN`). */
  coopTaskrun?: boolean;
  /** Set `IORING_SQ_TASKRUN` when completion work is pending (`IORING_SETUP_TASKRUN_FLAG`). */
  taskrunFlag?: boolean;
  /** Only this thread submits (`IORING_SETUP_SINGLE_ISSUER`). */
  singleIssuer?: boolean;
  /** Run completion work only when the ring waits (`IORING_SETUP_DEFER_TASKRUN`); needs `singleIssuer`. */
  deferTaskrun?: boolean;
  /** Keep submitting a batch after one SQE fails (`IORING_SETUP_SUBMIT_ALL`). */
  submitAll?: boolean;
  /** Start disabled (`IORING_SETUP_R_DISABLED`): register restrictions, then `enable()`. */
  disabled?: boolean;
  /** 128-byte SQEs (`IORING_SETUP_SQE128`), for URING_CMD payloads and NOP128. */
  sqe128?: boolean;
  /** 32-byte CQEs (`IORING_SETUP_CQE32`). */
  cqe32?: boolean;
  /** No SQ index array (`IORING_SETUP_NO_SQARRAY`, Linux 6.6). */
  noSqArray?: boolean;
  /** Ring memory mapped by the library (`IORING_SETUP_NO_MMAP`, Linux 6.5). */
  noMmap?: boolean | NoMmapOptions;
  /** The ring has no fd, only a registered index (`IORING_SETUP_REGISTERED_FD_ONLY`); needs `noMmap`. */
  registeredFdOnly?: boolean;
  /**
   * Setup flags to use when the kernel has them, each an option name or a group of names
   * granted together, tried in order. A refused group is dropped (the ring records what
   * was granted in `setupFlags`), so the same code runs best on new kernels and still
   * runs on old ones. {@link FAST_SETUP} is a good default for a ring used from one thread.
   */
  prefer?: readonly (PreferableFlag | readonly PreferableFlag[])[];
  /**
   * Most operations in flight at once (between `getSqe()` and their final CQE):
   * `getSqe()` returns null past it. Default: no limit, as in liburing (`getSqe()` returns
   * null only when the SQ is full; a CQ that overflows is buffered by the kernel,
   * `IORING_FEAT_NODROP`). Set it to the CQ size to make overflow impossible.
   */
  maxInFlight?: number;
  /**
   * Other rings post completions to this one (`IORING_OP_MSG_RING`): waiting with nothing in
   * flight (`submitAndWait(n)`, `waitCqe()` without a timeout) then blocks until one arrives,
   * instead of throwing `ERR_RING_WOULD_BLOCK`. Default false.
   */
  msgRingTarget?: boolean;
  /**
   * Register the ring fd with itself (`IORING_REGISTER_RING_FDS`, Linux 5.18), which
   * makes every `io_uring_enter` cheaper. Default true; skipped silently where the
   * kernel lacks it.
   */
  registerRingFd?: boolean;
  /**
   * Where the ring's SQ, CQ and SQE array live (`params.mapping` says which was used):
   * - `'auto'` (default): memory the library maps and the kernel pins
   *   (`IORING_SETUP_NO_MMAP`), so builders write SQEs in place and CQEs are read where the
   *   kernel wrote them, when the kernel accepts it for this size (Linux 6.5 for rings of
   *   one page each, about 6.13 for larger ones); otherwise `'kernel'`.
   * - `'user'`: the library's memory or an error (the same as `noMmap: true`).
   * - `'kernel'`: the kernel's own memory, mapped with `mmap`; SQEs are prepared in JS-owned
   *   staging memory and copied into the mapping at submit.
   */
  ringMemory?: 'auto' | 'user' | 'kernel';
}

/** Options that may appear in {@link IoUringOptions.prefer}. */
export type PreferableFlag = 'singleIssuer' | 'deferTaskrun' | 'coopTaskrun' | 'taskrunFlag' | 'submitAll' | 'noSqArray';

/**
 * The setup that suits a ring driven from one JS thread: deferred task running (which
 * needs a single issuer) with the task-run flag, else cooperative task running; keep
 * submitting past a failed SQE; no SQ index array.
 */
export const FAST_SETUP: readonly (PreferableFlag | readonly PreferableFlag[])[] = Object.freeze([
  Object.freeze(['singleIssuer', 'deferTaskrun', 'taskrunFlag'] as const),
  Object.freeze(['coopTaskrun', 'taskrunFlag'] as const),
  'submitAll',
  'noSqArray',
]);

const PREFERABLE: Record<PreferableFlag, number> = {
  singleIssuer: IORING_SETUP_SINGLE_ISSUER,
  deferTaskrun: IORING_SETUP_DEFER_TASKRUN,
  coopTaskrun: IORING_SETUP_COOP_TASKRUN,
  taskrunFlag: IORING_SETUP_TASKRUN_FLAG,
  submitAll: IORING_SETUP_SUBMIT_ALL,
  noSqArray: IORING_SETUP_NO_SQARRAY,
};

/** What {@link resolveSetup} derives from the options. */
export interface ResolvedSetup {
  entries: number;
  cqEntries: number;
  /** Flags the caller asked for outright: the kernel must grant them all. */
  required: number;
  /** Groups of flags to try, in order. */
  preferred: number[];
  sqThreadIdle: number;
  sqThreadCpu: number;
  wqFd: number;
  hugePages: boolean | 'try';
  maxInFlight: number | undefined;
  msgRingTarget: boolean;
  registerRingFd: boolean;
  /** {@link IoUringOptions.ringMemory}, resolved ('user' also when `noMmap` asked for it). */
  ringMemory: 'auto' | 'user' | 'kernel';
}

const KNOWN_OPTIONS = new Set<string>([
  'entries', 'cqEntries', 'clamp', 'iopoll', 'hybridIopoll', 'sqPoll', 'attachWq', 'coopTaskrun', 'taskrunFlag',
  'singleIssuer', 'deferTaskrun', 'submitAll', 'disabled', 'sqe128', 'cqe32', 'noSqArray', 'noMmap',
  'registeredFdOnly', 'prefer', 'maxInFlight', 'msgRingTarget', 'registerRingFd', 'ringMemory',
]);

function optionError(option: string, message: string): ArgumentError {
  return new ArgumentError('ERR_INVALID_ARG_VALUE', `IoUring: options.${option}`, message);
}

function flagOption(options: IoUringOptions, name: keyof IoUringOptions): boolean {
  const value = options[name];
  if (value === undefined || value === false) return false;
  if (value === true) return true;
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', `IoUring: options.${name}`, `expected a boolean, received ${describeReceived(value)}`);
}

/** The names of the set bits of a setup-flags word, for messages. */
export function setupFlagNames(flags: number): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(SetupFlags)) if ((flags & bit) !== 0) names.push(`IORING_SETUP_${name}`);
  return names;
}

/**
 * Checks the options and turns them into flags. Contradictions the kernel would answer
 * with a bare EINVAL are refused here, naming the options involved.
 */
export function resolveSetup(options: IoUringOptions): ResolvedSetup {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring: options', `expected an object, received ${describeReceived(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw optionError(key, `unknown option (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  }
  const clamp = flagOption(options, 'clamp');
  const maxSq = clamp ? Number.MAX_SAFE_INTEGER : MAX_SQ_ENTRIES;
  const entries = options.entries === undefined ? 128 : checkIntRange('IoUring: options.entries', options.entries, 1, maxSq);
  let required = 0;
  let cqEntries = 0;
  if (options.cqEntries !== undefined) {
    cqEntries = checkIntRange('IoUring: options.cqEntries', options.cqEntries, 1, clamp ? Number.MAX_SAFE_INTEGER : MAX_CQ_ENTRIES);
    if (cqEntries < entries) {
      throw optionError('cqEntries', `must be at least options.entries (${entries}); the kernel refuses a CQ smaller than the SQ`);
    }
    required |= IORING_SETUP_CQSIZE;
  }
  if (clamp) required |= IORING_SETUP_CLAMP;

  let sqThreadIdle = 0;
  let sqThreadCpu = 0;
  const sqPoll = options.sqPoll;
  if (sqPoll !== undefined && sqPoll !== false) {
    required |= IORING_SETUP_SQPOLL;
    if (sqPoll !== true) {
      if (sqPoll === null || typeof sqPoll !== 'object') {
        throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring: options.sqPoll', `expected a boolean or { idleMs, cpu }, received ${describeReceived(sqPoll)}`);
      }
      if (sqPoll.idleMs !== undefined) sqThreadIdle = checkIntRange('IoUring: options.sqPoll.idleMs', sqPoll.idleMs, 0, 0xffffffff);
      if (sqPoll.cpu !== undefined) {
        sqThreadCpu = checkIntRange('IoUring: options.sqPoll.cpu', sqPoll.cpu, 0, 0xffffffff);
        required |= IORING_SETUP_SQ_AFF;
      }
    }
  }
  let wqFd = 0;
  if (options.attachWq !== undefined) {
    wqFd = checkIntRange('IoUring: options.attachWq', options.attachWq, 0, 0x7fffffff);
    required |= IORING_SETUP_ATTACH_WQ;
  }
  if (flagOption(options, 'iopoll')) required |= IORING_SETUP_IOPOLL;
  if (flagOption(options, 'hybridIopoll')) required |= IORING_SETUP_HYBRID_IOPOLL;
  if (flagOption(options, 'coopTaskrun')) required |= IORING_SETUP_COOP_TASKRUN;
  if (flagOption(options, 'taskrunFlag')) required |= IORING_SETUP_TASKRUN_FLAG;
  if (flagOption(options, 'singleIssuer')) required |= IORING_SETUP_SINGLE_ISSUER;
  if (flagOption(options, 'deferTaskrun')) required |= IORING_SETUP_DEFER_TASKRUN;
  if (flagOption(options, 'submitAll')) required |= IORING_SETUP_SUBMIT_ALL;
  if (flagOption(options, 'disabled')) required |= IORING_SETUP_R_DISABLED;
  if (flagOption(options, 'sqe128')) required |= IORING_SETUP_SQE128;
  if (flagOption(options, 'cqe32')) required |= IORING_SETUP_CQE32;
  if (flagOption(options, 'noSqArray')) required |= IORING_SETUP_NO_SQARRAY;
  if (flagOption(options, 'registeredFdOnly')) required |= IORING_SETUP_REGISTERED_FD_ONLY;

  let hugePages: boolean | 'try' = false;
  const noMmap = options.noMmap;
  if (noMmap !== undefined && noMmap !== false) {
    required |= IORING_SETUP_NO_MMAP;
    if (noMmap !== true) {
      if (noMmap === null || typeof noMmap !== 'object') {
        throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring: options.noMmap', `expected a boolean or { hugePages }, received ${describeReceived(noMmap)}`);
      }
      const hp = noMmap.hugePages;
      if (hp !== undefined && hp !== true && hp !== false && hp !== 'try') {
        throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'IoUring: options.noMmap.hugePages', `expected true, false or 'try', received ${describeReceived(hp)}`);
      }
      hugePages = hp ?? false;
    }
  }

  const preferred: number[] = [];
  if (options.prefer !== undefined) {
    if (!Array.isArray(options.prefer)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring: options.prefer', `expected an array of flag names or groups, received ${describeReceived(options.prefer)}`);
    }
    for (const entry of options.prefer as readonly unknown[]) {
      const names = Array.isArray(entry) ? (entry as unknown[]) : [entry];
      let bits = 0;
      for (const name of names) {
        const bit = typeof name === 'string' ? PREFERABLE[name as PreferableFlag] : undefined;
        if (bit === undefined) {
          throw optionError('prefer', `unknown flag ${describeReceived(name)} (allowed: ${Object.keys(PREFERABLE).join(', ')})`);
        }
        bits |= bit;
      }
      preferred.push(bits);
    }
  }

  checkCombination(required, hugePages);

  let maxInFlight: number | undefined;
  if (options.maxInFlight !== undefined) maxInFlight = checkIntRange('IoUring: options.maxInFlight', options.maxInFlight, 1, 1 << 24);
  const registerRingFd = options.registerRingFd === undefined ? true : flagOption(options, 'registerRingFd');
  const ringMemory = resolveRingMemory(options.ringMemory, required | (options.ringMemory === 'user' ? IORING_SETUP_NO_MMAP : 0));
  if (ringMemory === 'user') required |= IORING_SETUP_NO_MMAP;
  const msgRingTarget = flagOption(options, 'msgRingTarget');
  return { entries, cqEntries, required, preferred, sqThreadIdle, sqThreadCpu, wqFd, hugePages, maxInFlight, msgRingTarget, registerRingFd, ringMemory };
}

/**
 * Where the ring memory may live (see {@link IoUringOptions.ringMemory}): 'auto' (try the
 * library's memory first), 'user' (NO_MMAP is required: `noMmap` or `ringMemory: 'user'`)
 * or 'kernel'. Refuses SQPOLL inside a Worker: the SQ thread keeps running after the
 * Worker's JavaScript is torn down and would complete reads into buffers the Worker's heap
 * no longer owns.
 */
function resolveRingMemory(value: unknown, required: number): 'auto' | 'user' | 'kernel' {
  if (value !== undefined && value !== 'auto' && value !== 'user' && value !== 'kernel') {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'IoUring: options.ringMemory', `expected 'auto', 'user' or 'kernel', received ${describeReceived(value)}`);
  }
  if ((required & IORING_SETUP_SQPOLL) !== 0 && !isMainThread) {
    throw optionError(
      'sqPoll',
      'SQPOLL is refused inside a Worker thread: its kernel thread would go on reading SQEs and completing I/O into the ' +
        "Worker's memory after worker.terminate() freed it. Create SQPOLL rings on the main thread",
    );
  }
  const noMmap = (required & IORING_SETUP_NO_MMAP) !== 0;
  if (value === 'kernel') {
    if (noMmap) throw optionError('ringMemory', "'kernel' contradicts noMmap / registeredFdOnly, which need the library's memory (NO_MMAP)");
    return 'kernel';
  }
  if (value === 'user' || noMmap) return 'user';
  return 'auto';
}

/**
 * Flag combinations the kernel refuses, each refused here with the reason. Also used on
 * each candidate while negotiating preferred flags, so a preferred group that would
 * contradict a required flag is skipped without asking the kernel.
 */
export function combinationProblem(flags: number): string | undefined {
  const has = (bit: number): boolean => (flags & bit) !== 0;
  if (has(IORING_SETUP_DEFER_TASKRUN) && !has(IORING_SETUP_SINGLE_ISSUER)) {
    return 'deferTaskrun needs singleIssuer (IORING_SETUP_DEFER_TASKRUN requires IORING_SETUP_SINGLE_ISSUER)';
  }
  if (has(IORING_SETUP_DEFER_TASKRUN) && has(IORING_SETUP_SQPOLL)) {
    return 'deferTaskrun cannot be combined with sqPoll (completion work would never run on the polling thread)';
  }
  if (has(IORING_SETUP_COOP_TASKRUN) && has(IORING_SETUP_SQPOLL)) {
    return 'coopTaskrun has no effect with sqPoll and the kernel refuses the combination';
  }
  if (has(IORING_SETUP_TASKRUN_FLAG) && !has(IORING_SETUP_COOP_TASKRUN) && !has(IORING_SETUP_DEFER_TASKRUN)) {
    return 'taskrunFlag needs coopTaskrun or deferTaskrun';
  }
  if (has(IORING_SETUP_SQ_AFF) && !has(IORING_SETUP_SQPOLL)) {
    return 'sqPoll.cpu (IORING_SETUP_SQ_AFF) needs sqPoll';
  }
  if (has(IORING_SETUP_HYBRID_IOPOLL) && !has(IORING_SETUP_IOPOLL)) {
    return 'hybridIopoll needs iopoll';
  }
  if (has(IORING_SETUP_REGISTERED_FD_ONLY) && !has(IORING_SETUP_NO_MMAP)) {
    return 'registeredFdOnly needs noMmap (without an fd there is nothing to mmap)';
  }
  return undefined;
}

function checkCombination(required: number, hugePages: boolean | 'try'): void {
  const problem = combinationProblem(required);
  if (problem !== undefined) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'IoUring: options', `contradictory options: ${problem}`);
  }
  if (hugePages !== false && (required & IORING_SETUP_NO_MMAP) === 0) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'IoUring: options', 'hugePages needs noMmap');
  }
}
