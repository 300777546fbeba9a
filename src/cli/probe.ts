/**
 * `tsuring probe`: what the running kernel supports, compared with the spec this build was
 * generated from. Everything is asked of the kernel; nothing is inferred from its version.
 *
 * - **Opcodes**: `IORING_REGISTER_PROBE` on a throwaway ring.
 * - **Setup flags**: each flag alone (plus the flags it cannot go without, named in the
 *   report) on a throwaway ring: accepted, or refused with the kernel's errno.
 * - **Features**: the `IORING_FEAT_*` bits `io_uring_setup` reported.
 * - **Register opcodes**: the kernel has no probe for these before `IORING_REGISTER_QUERY`
 *   (Linux 7.x). Each is called once, harmlessly, with arguments chosen so that an opcode
 *   the kernel knows answers something other than EINVAL (an unreadable pointer gives
 *   EFAULT; unregistering what was never registered gives ENXIO), while an opcode it does
 *   not know answers EINVAL. Where the kernel has `IORING_REGISTER_QUERY`, its count of
 *   register opcodes is reported too.
 * - **Availability**: the `kernel.io_uring_disabled` / `io_uring_group` sysctls and this
 *   process's seccomp state.
 *
 * @module
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import {
  FeatureFlags,
  IORING_REGISTER_PERSONALITY,
  IORING_REGISTER_QUERY,
  IORING_SETUP_CQE32,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_UNREGISTER_PERSONALITY,
  IO_URING_QUERY_OPCODES,
  IoUringRegisterOp,
  SetupFlags,
} from '../../generated/constants.js';
import {
  IoUringParams,
  IoUringQueryHdr,
  IoUringQueryOpcode,
  SIZEOF_IO_URING_PARAMS,
  SIZEOF_IO_URING_QUERY_HDR,
  SIZEOF_IO_URING_QUERY_OPCODE,
  SIZEOF_IO_URING_RSRC_REGISTER,
  SIZEOF_IO_URING_RSRC_UPDATE2,
} from '../../generated/structs.js';
import { Probe } from '../ring/probe.js';
import { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { readIoUringStatus, type IoUringStatus } from '../sys/iouring-status.js';
import { addressOf, closeFd, ioUringRegister, ioUringSetup } from '../sys/libc.js';
import { specProvenance } from './paths.js';

/** One opcode of the spec with the kernel's answer. */
export interface OpcodeRow {
  name: string;
  opcode: number;
  supported: boolean;
  /** First Linux release with the op (from spec/ops.json), if known. */
  minKernel: string | null;
}

/** One `IORING_SETUP_*` flag tried on a throwaway ring. */
export interface SetupFlagRow {
  name: string;
  value: number;
  /** `accepted`; `refused` (EINVAL: the kernel does not know the flag or refuses it here); `error` (another errno). */
  verdict: 'accepted' | 'refused' | 'error';
  /** The errno name when not accepted. */
  code: string | null;
  /** Flags it was tried together with, because the kernel refuses it without them. */
  with: string[];
}

/** One `IORING_FEAT_*` bit. */
export interface FeatureRow {
  name: string;
  value: number;
  reported: boolean;
}

/** One `IORING_(UN)REGISTER_*` opcode. */
export interface RegisterOpRow {
  name: string;
  opcode: number;
  /** `yes`: the kernel handled the opcode; `no`: EINVAL (unknown, or not built in); `not probed`. */
  verdict: 'yes' | 'no' | 'not probed';
  /** What the harmless call returned: `ok` or an errno name; null when not probed. */
  answer: string | null;
}

/** Everything `tsuring probe` reports. */
export interface ProbeReport {
  kernelRelease: string;
  arch: string;
  node: string;
  /** The kernel release of the header the spec was extracted from. */
  specRelease: string | null;
  status: Pick<IoUringStatus, 'disabled' | 'group' | 'inGroup' | 'seccompMode' | 'seccompFilters'>;
  /** Whether this process could create a ring. */
  available: boolean;
  /** Why not, when not available. */
  error: { code: string; message: string } | null;
  opcodes: OpcodeRow[];
  /** The kernel's `last_op`: opcodes past the spec's are ones this build has no name for. */
  kernelLastOp: number | null;
  setupFlags: SetupFlagRow[];
  features: FeatureRow[];
  /** `IORING_FEAT_*` bits the kernel reported that the spec does not name. */
  unknownFeatureBits: number;
  registerOps: RegisterOpRow[];
  /** `IORING_REGISTER_QUERY` answers, where the kernel has it. */
  query: {
    requestOpcodes: number;
    registerOpcodes: number;
    setupFlags: string;
    featureFlags: string;
    enterFlags: string;
    sqeFlags: string;
  } | null;
}

const EINVAL = 'EINVAL';

function codeOf(err: unknown): string {
  if (err instanceof IoUringError) return err.code;
  return (err as { code?: unknown } | null)?.code === undefined ? 'error' : String((err as { code: unknown }).code);
}

/** A raw ring: setup only, nothing mapped. Returns the fd and the params the kernel filled in. */
function rawRing(flags: number, fill?: (p: IoUringParams) => void): { fd: number; params: IoUringParams } {
  const bytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
  const params = new IoUringParams(bytes);
  params.flags = flags;
  fill?.(params);
  const fd = ioUringSetup(4, bytes);
  return { fd, params };
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    /* a probe ring; nothing else holds it */
  }
}

/** The first CPU this process may run on (for SQ_AFF), from /proc/self/status. */
function firstAllowedCpu(): number {
  try {
    const m = /^Cpus_allowed_list:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m !== null) return Number(m[1]);
  } catch {
    /* fall through */
  }
  return 0;
}

/** Flags a setup flag is refused without (the kernel answers EINVAL for it alone). */
const PREREQUISITES: Readonly<Record<string, readonly string[]>> = {
  SQ_AFF: ['SQPOLL'],
  TASKRUN_FLAG: ['COOP_TASKRUN'],
  DEFER_TASKRUN: ['SINGLE_ISSUER'],
  HYBRID_IOPOLL: ['IOPOLL'],
  REGISTERED_FD_ONLY: ['NO_MMAP'],
  SQ_REWIND: ['NO_SQARRAY'],
};

function trySetupFlag(name: string, bit: number): SetupFlagRow {
  const prereq = PREREQUISITES[name] ?? [];
  const flags = prereq.reduce((acc, n) => acc | ((SetupFlags as Record<string, number>)[n] ?? 0), bit);
  const row = (verdict: SetupFlagRow['verdict'], code: string | null): SetupFlagRow => ({ name: `IORING_SETUP_${name}`, value: bit, verdict, code, with: prereq.map((n) => `IORING_SETUP_${n}`) });
  try {
    if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
      // The ring memory must come from us: let IoUring map it.
      const ring = new IoUring({ entries: 4, noMmap: true, registeredFdOnly: name === 'REGISTERED_FD_ONLY', registerRingFd: false });
      ring.close();
      return row('accepted', null);
    }
    let wq: number | undefined;
    if (name === 'ATTACH_WQ') wq = rawRing(0).fd;
    try {
      const { fd } = rawRing(flags, (p) => {
        if (name === 'CQSIZE') p.cqEntries = 16;
        if (name === 'SQ_AFF') p.sqThreadCpu = firstAllowedCpu();
        if (wq !== undefined) p.wqFd = wq;
      });
      closeQuietly(fd);
    } finally {
      if (wq !== undefined) closeQuietly(wq);
    }
    return row('accepted', null);
  } catch (err) {
    const code = codeOf(err);
    return row(code === EINVAL ? 'refused' : 'error', code);
  }
}

/**
 * How each register opcode is probed: `arg` (null, or a deliberately unreadable address)
 * and `nr`. Known opcodes answer EFAULT (the address), ENXIO (nothing registered), EBADFD
 * (the ring is not disabled) or succeed without changing anything that outlives the
 * throwaway ring; unknown ones answer EINVAL.
 */
const BAD_ADDRESS = 8;
const REGISTER_PROBES: Readonly<Record<string, { arg: number | null; nr: number; blind?: boolean } | 'personality' | 'probe' | 'query'>> = {
  REGISTER_BUFFERS: { arg: BAD_ADDRESS, nr: 1 },
  UNREGISTER_BUFFERS: { arg: null, nr: 0 },
  REGISTER_FILES: { arg: BAD_ADDRESS, nr: 1 },
  UNREGISTER_FILES: { arg: null, nr: 0 },
  REGISTER_EVENTFD: { arg: BAD_ADDRESS, nr: 1 },
  UNREGISTER_EVENTFD: { arg: null, nr: 0 },
  REGISTER_FILES_UPDATE: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_EVENTFD_ASYNC: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_PROBE: 'probe',
  REGISTER_PERSONALITY: 'personality',
  UNREGISTER_PERSONALITY: 'personality',
  REGISTER_RESTRICTIONS: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_ENABLE_RINGS: { arg: null, nr: 0 },
  REGISTER_FILES2: { arg: BAD_ADDRESS, nr: SIZEOF_IO_URING_RSRC_REGISTER },
  REGISTER_FILES_UPDATE2: { arg: BAD_ADDRESS, nr: SIZEOF_IO_URING_RSRC_UPDATE2 },
  REGISTER_BUFFERS2: { arg: BAD_ADDRESS, nr: SIZEOF_IO_URING_RSRC_REGISTER },
  REGISTER_BUFFERS_UPDATE: { arg: BAD_ADDRESS, nr: SIZEOF_IO_URING_RSRC_UPDATE2 },
  REGISTER_IOWQ_AFF: { arg: BAD_ADDRESS, nr: 8 },
  // Resets the io-wq affinity of this (short-lived) process to the default: harmless.
  UNREGISTER_IOWQ_AFF: { arg: null, nr: 0 },
  REGISTER_IOWQ_MAX_WORKERS: { arg: BAD_ADDRESS, nr: 2 },
  REGISTER_RING_FDS: { arg: BAD_ADDRESS, nr: 1 },
  UNREGISTER_RING_FDS: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_PBUF_RING: { arg: BAD_ADDRESS, nr: 1 },
  UNREGISTER_PBUF_RING: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_SYNC_CANCEL: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_FILE_ALLOC_RANGE: { arg: BAD_ADDRESS, nr: 0 },
  REGISTER_PBUF_STATUS: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_NAPI: { arg: BAD_ADDRESS, nr: 1 },
  UNREGISTER_NAPI: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_CLOCK: { arg: BAD_ADDRESS, nr: 0 },
  REGISTER_CLONE_BUFFERS: { arg: BAD_ADDRESS, nr: 1 },
  // Works without a ring (fd -1); kernels before it answer EBADF for fd -1.
  REGISTER_SEND_MSG_RING: { arg: BAD_ADDRESS, nr: 1, blind: true },
  // Needs a DEFER_TASKRUN ring with 32-byte CQEs to get past its flag checks (and
  // CAP_NET_ADMIN; without it the answer is EPERM, which still shows the opcode is known).
  REGISTER_ZCRX_IFQ: { arg: BAD_ADDRESS, nr: 1 },
  // Needs a DEFER_TASKRUN ring.
  REGISTER_RESIZE_RINGS: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_MEM_REGION: { arg: BAD_ADDRESS, nr: 1 },
  REGISTER_QUERY: 'query',
  // nr_args must be 0; then the control struct is read (EFAULT).
  REGISTER_ZCRX_CTRL: { arg: BAD_ADDRESS, nr: 0 },
  REGISTER_BPF_FILTER: { arg: BAD_ADDRESS, nr: 1 },
};

function callRegister(fd: number, opcode: number, arg: number | null, nr: number): string {
  try {
    ioUringRegister(fd, opcode, arg, nr);
    return 'ok';
  } catch (err) {
    return codeOf(err);
  }
}

/** `IORING_REGISTER_QUERY` (no ring needed); null where the kernel lacks it. */
function queryOpcodes(): ProbeReport['query'] {
  const hdrBytes = new Uint8Array(SIZEOF_IO_URING_QUERY_HDR);
  const dataBytes = new Uint8Array(SIZEOF_IO_URING_QUERY_OPCODE);
  const hdr = new IoUringQueryHdr(hdrBytes);
  hdr.queryData = addressOf(dataBytes);
  hdr.queryOp = IO_URING_QUERY_OPCODES;
  hdr.size = SIZEOF_IO_URING_QUERY_OPCODE;
  try {
    ioUringRegister(-1, IORING_REGISTER_QUERY, hdrBytes, 1);
  } catch {
    return null;
  }
  if (hdr.result < 0) return null;
  const q = new IoUringQueryOpcode(dataBytes);
  const hex = (v: bigint): string => `0x${v.toString(16)}`;
  return {
    requestOpcodes: q.nrRequestOpcodes,
    registerOpcodes: q.nrRegisterOpcodes,
    setupFlags: hex(q.ringSetupFlagsBig),
    featureFlags: hex(q.featureFlagsBig),
    enterFlags: hex(q.enterFlagsBig),
    sqeFlags: hex(q.sqeFlagsBig),
  };
}

function probeRegisterOps(fd: number, query: ProbeReport['query']): RegisterOpRow[] {
  const rows: RegisterOpRow[] = [];
  for (const [key, opcode] of Object.entries(IoUringRegisterOp)) {
    if (key === 'REGISTER_LAST' || key === 'REGISTER_USE_REGISTERED_RING') continue;
    const name = `IORING_${key}`;
    const how = REGISTER_PROBES[key];
    let answer: string | null = null;
    if (how === 'probe') {
      answer = Probe.read((op, a, n) => ioUringRegister(fd, op, a, n)).available ? 'ok' : EINVAL;
    } else if (how === 'personality') {
      const id = (() => {
        try {
          return ioUringRegister(fd, IORING_REGISTER_PERSONALITY, null, 0);
        } catch (err) {
          return codeOf(err);
        }
      })();
      if (typeof id === 'number') {
        const undo = callRegister(fd, IORING_UNREGISTER_PERSONALITY, null, id);
        answer = key === 'REGISTER_PERSONALITY' ? 'ok' : undo;
      } else {
        answer = id;
      }
    } else if (how === 'query') {
      answer = query !== null ? 'ok' : callRegister(-1, opcode, BAD_ADDRESS, 1);
    } else if (how !== undefined) {
      answer = callRegister(how.blind === true ? -1 : fd, opcode, how.arg, how.nr);
      if (how.blind === true && answer === 'EBADF') answer = EINVAL; // no blind register at all
    }
    let verdict: RegisterOpRow['verdict'] = answer === null ? 'not probed' : answer === EINVAL ? 'no' : 'yes';
    // The kernel's own count, where it has one, settles every opcode below it.
    if (query !== null) verdict = opcode < query.registerOpcodes ? 'yes' : verdict === 'not probed' ? 'no' : verdict;
    rows.push({ name, opcode, verdict, answer });
  }
  return rows.sort((a, b) => a.opcode - b.opcode);
}

/** Runs every probe. Never throws for a kernel answer: an unusable io_uring is reported. */
export function runProbe(): ProbeReport {
  const status = readIoUringStatus();
  const report: ProbeReport = {
    kernelRelease: os.release(),
    arch: process.arch,
    node: process.version,
    specRelease: specProvenance()?.release ?? null,
    status: {
      disabled: status.disabled,
      group: status.group,
      inGroup: status.inGroup,
      seccompMode: status.seccompMode,
      seccompFilters: status.seccompFilters,
    },
    available: false,
    error: null,
    opcodes: [],
    kernelLastOp: null,
    setupFlags: [],
    features: [],
    unknownFeatureBits: 0,
    registerOps: [],
    query: null,
  };

  let ring: { fd: number; params: IoUringParams };
  try {
    ring = rawRing(0);
  } catch (err) {
    report.error = { code: codeOf(err), message: (err as Error).message };
    return report;
  }
  report.available = true;
  try {
    const probe = Probe.read((op, arg, nr) => ioUringRegister(ring.fd, op, arg, nr));
    report.kernelLastOp = probe.available ? probe.lastOp : null;
    report.opcodes = probe.ops().map((op) => ({ name: op.name, opcode: op.opcode, supported: op.supported, minKernel: op.minKernel ?? null }));
    const features = ring.params.features;
    let known = 0;
    for (const [key, bit] of Object.entries(FeatureFlags)) {
      known |= bit;
      report.features.push({ name: `IORING_FEAT_${key}`, value: bit, reported: (features & bit) !== 0 });
    }
    report.unknownFeatureBits = (features & ~known) >>> 0;
  } finally {
    closeQuietly(ring.fd);
  }

  for (const [key, bit] of Object.entries(SetupFlags)) report.setupFlags.push(trySetupFlag(key, bit));

  report.query = queryOpcodes();
  // Register opcodes: on the most capable ring the kernel grants, so RESIZE_RINGS and
  // ZCRX_IFQ get past their flag checks.
  const candidates = [
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32,
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    0,
  ];
  for (const flags of candidates) {
    let fd: number;
    try {
      fd = rawRing(flags).fd;
    } catch {
      continue;
    }
    try {
      report.registerOps = probeRegisterOps(fd, report.query);
    } finally {
      closeQuietly(fd);
    }
    break;
  }
  return report;
}
