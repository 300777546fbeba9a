/**
 * Setup-flag negotiation: which of the flags a caller prefers the running kernel grants,
 * learned by trying throwaway rings and remembered for the life of the process.
 *
 * @module
 */
import { IORING_REGISTER_USE_REGISTERED_RING, IORING_SETUP_CQE32, IORING_SETUP_NO_MMAP, IORING_SETUP_REGISTERED_FD_ONLY, IORING_SETUP_SQE128, IORING_UNREGISTER_RING_FDS } from '../../generated/constants.js';
import { IoUringParams, IoUringRsrcUpdate, SIZEOF_IO_URING_PARAMS, SIZEOF_IO_URING_RSRC_UPDATE } from '../../generated/structs.js';
import { IoUringError } from '../sys/errors.js';
import { closeFd, ioUringRegister, ioUringSetup } from '../sys/libc.js';
import { fillParams, mapUserMemory, type UserMemory } from './memory.js';
import { combinationProblem, type ResolvedSetup } from './setup.js';

/** Setup outcomes already learned in this process: flags word → accepted by the kernel. */
const setupVerdicts = new Map<number, boolean>();

/** Records that the kernel accepted `flags` (a real setup succeeded with them). */
export function noteAccepted(flags: number): void {
  setupVerdicts.set(flags, true);
}

/**
 * The flags to create the ring with: the required ones plus each preferred group the
 * kernel accepts. Tries everything at once first (one setup on a kernel that has it
 * all); otherwise group by group, remembering verdicts for the life of the process.
 *
 * A refusal is blamed on the preferred flags only once the required flags alone are known
 * to pass with these arguments: an EINVAL caused by the arguments themselves (an
 * `sqPoll.cpu` the machine lacks, an `attachWq` fd that is no ring) must not be remembered
 * as "this kernel lacks submitAll", or later, valid rings would silently lose it.
 */
export function negotiateFlags(setup: ResolvedSetup): number {
  if (setup.preferred.length === 0) return setup.required;
  let all = setup.required;
  for (const group of setup.preferred) if (combinationProblem(all | group) === undefined) all |= group;
  if (all === setup.required || trySetup(setup, all)) return all;
  // The required flags alone refused too: the options are at fault. Let the real setup
  // report the kernel's answer, and remember nothing.
  if (!trySetup(setup, setup.required)) return setup.required;
  setupVerdicts.set(all, false);
  let flags = setup.required;
  for (const group of setup.preferred) {
    const candidate = flags | group;
    if (candidate === flags || combinationProblem(candidate) !== undefined) continue;
    if (trySetup(setup, candidate)) flags = candidate;
    else setupVerdicts.set(candidate, false);
  }
  return flags;
}

/**
 * Whether the kernel accepts `flags` with these options (a throwaway ring, torn down at
 * once). Acceptance is remembered; a refusal is not (the caller decides whom to blame).
 */
function trySetup(setup: ResolvedSetup, flags: number): boolean {
  const known = setupVerdicts.get(flags);
  if (known !== undefined) return known;
  let mem: UserMemory | undefined;
  try {
    if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
      mem = mapUserMemory(
        { ...setup, hugePages: setup.hugePages === true ? 'try' : setup.hugePages },
        flags,
        (flags & IORING_SETUP_SQE128) !== 0 ? 128 : 64,
        (flags & IORING_SETUP_CQE32) !== 0 ? 32 : 16,
      );
    }
    const bytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
    fillParams(new IoUringParams(bytes), setup, flags, mem);
    const fd = ioUringSetup(setup.entries, bytes);
    // A REGISTERED_FD_ONLY ring has no fd, only a slot in the task's table of registered
    // rings (16 of them): unregistering it is what frees it.
    if ((flags & IORING_SETUP_REGISTERED_FD_ONLY) === 0) closeFd(fd);
    else unregisterRingIndex(fd);
    setupVerdicts.set(flags, true);
    return true;
  } catch (err) {
    if (err instanceof IoUringError && err.code === 'EINVAL') return false;
    throw err;
  } finally {
    mem?.release();
  }
}

/** Frees a ring that exists only as registered index `index` (REGISTERED_FD_ONLY). */
export function unregisterRingIndex(index: number): void {
  const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
  new IoUringRsrcUpdate(bytes).offset = index;
  ioUringRegister(index, IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING, bytes, 1);
}

/** @internal Exposed for tests: forget what setup attempts taught. */
export function forgetSetupVerdicts(): void {
  setupVerdicts.clear();
  forgetSharedVerdicts();
}

/** Verdicts on library ring memory (NO_MMAP), by flags and whether a region spans pages. */
const userMemoryVerdicts = new Map<string, boolean>();

/** Whether library ring memory is known to be taken (or refused) for this shape; undefined: not tried. */
export function userMemoryVerdict(flags: number, multiPage: boolean): boolean | undefined {
  return userMemoryVerdicts.get(`${flags}:${multiPage ? 'm' : '1'}`);
}

/** Remembers whether the kernel took library ring memory for this shape. */
export function noteUserMemoryVerdict(flags: number, multiPage: boolean, accepted: boolean): void {
  userMemoryVerdicts.set(`${flags}:${multiPage ? 'm' : '1'}`, accepted);
}

function forgetSharedVerdicts(): void {
  userMemoryVerdicts.clear();
}
