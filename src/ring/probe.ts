/**
 * What the running kernel supports, from `IORING_REGISTER_PROBE`: never guessed from the
 * header version (the kernel may be older or newer than the header we were built from).
 *
 * @module
 */
import { IORING_REGISTER_PROBE, IO_URING_OP_SUPPORTED, IoringOp } from '../../generated/constants.js';
import { NOT_IN_HEADER_OPCODES, OPS } from '../../generated/ops.js';
import { IoUringProbe, SIZEOF_IO_URING_PROBE, SIZEOF_IO_URING_PROBE_OP } from '../../generated/structs.js';
import { IoUringError } from '../sys/errors.js';

/** Opcodes a probe can describe (`ops_len` is a u8). */
const PROBE_SLOTS = 256;

/** One opcode as the probe sees it. */
export interface ProbedOp {
  /** `IORING_OP_*` name from our header (`IORING_OP_READ`). */
  readonly name: string;
  /** The opcode number (`IoringOp.READ` is 22). */
  readonly opcode: number;
  /** Whether the running kernel reports the op as supported (`IO_URING_OP_SUPPORTED`). */
  readonly supported: boolean;
  /** The first kernel with the op, from spec/ops.json (undefined when no builder covers it). */
  readonly minKernel: string | undefined;
}

/** Which `IORING_OP_*` the running kernel supports. */
export class Probe {
  /** The highest opcode the kernel knows (`last_op`), or -1 when the probe was unavailable. */
  readonly lastOp: number;
  /** Index = opcode; 1 when the kernel lacks it. Shared with every SQE of the ring. */
  readonly unsupportedOps: Uint8Array | undefined;
  /** Whether the kernel answered the probe (Linux 5.6+). */
  readonly available: boolean;
  readonly #supported: Uint8Array;

  private constructor(supported: Uint8Array, lastOp: number, available: boolean) {
    this.#supported = supported;
    this.lastOp = lastOp;
    this.available = available;
    if (available) {
      const unsupported = new Uint8Array(PROBE_SLOTS);
      for (let op = 0; op < PROBE_SLOTS; op++) unsupported[op] = supported[op] === 1 ? 0 : 1;
      this.unsupportedOps = unsupported;
    } else {
      this.unsupportedOps = undefined;
    }
  }

  /**
   * Asks the kernel. `register` is the ring's io_uring_register; EINVAL (a kernel before
   * 5.6) leaves the probe unavailable, so nothing is refused on its account.
   */
  static read(register: (opcode: number, arg: ArrayBufferView, nrArgs: number) => number): Probe {
    const bytes = new Uint8Array(SIZEOF_IO_URING_PROBE + PROBE_SLOTS * SIZEOF_IO_URING_PROBE_OP);
    try {
      register(IORING_REGISTER_PROBE, bytes, PROBE_SLOTS);
    } catch (err) {
      if (err instanceof IoUringError && err.code === 'EINVAL') return new Probe(new Uint8Array(PROBE_SLOTS).fill(1), -1, false);
      throw err;
    }
    const probe = new IoUringProbe(bytes);
    const supported = new Uint8Array(PROBE_SLOTS);
    for (let i = 0; i < probe.opsLen; i++) {
      const entry = probe.getOps(i);
      if ((entry.flags & IO_URING_OP_SUPPORTED) !== 0) supported[entry.op] = 1;
    }
    // Opcodes this build's header lacked (a downgraded spec): their builders refuse, so the
    // probe says so too, whatever the kernel has.
    for (const name of NOT_IN_HEADER_OPCODES) {
      const opcode = opcodeOf(name);
      if (opcode >= 0) supported[opcode] = 0;
    }
    return new Probe(supported, probe.lastOp, true);
  }

  /** Whether the kernel supports `op`: an opcode number or an `IORING_OP_*` / `IoringOp` key name. */
  supports(op: number | string): boolean {
    const opcode = typeof op === 'number' ? op : opcodeOf(op);
    if (!Number.isInteger(opcode) || opcode < 0 || opcode >= PROBE_SLOTS) return false;
    return this.#supported[opcode] === 1;
  }

  /** Every opcode of our header with the kernel's answer, in opcode order. */
  ops(): ProbedOp[] {
    const minKernel = new Map<number, string>();
    for (const info of Object.values(OPS)) {
      const known = minKernel.get(info.opcode);
      if (known === undefined || compareVersions(info.minKernel, known) < 0) minKernel.set(info.opcode, info.minKernel);
    }
    return Object.entries(IoringOp)
      .filter(([key]) => key !== 'LAST')
      .map(([key, opcode]) => ({ name: `IORING_OP_${key}`, opcode, supported: this.supports(opcode), minKernel: minKernel.get(opcode) }))
      .sort((a, b) => a.opcode - b.opcode);
  }
}

function opcodeOf(name: string): number {
  const key = name.startsWith('IORING_OP_') ? name.slice('IORING_OP_'.length) : name;
  const value = (IoringOp as Record<string, number | undefined>)[key];
  return value === undefined || key === 'LAST' ? -1 : value;
}

function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}
