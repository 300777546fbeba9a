/**
 * `struct msghdr` for the sendmsg and recvmsg ops, as an object that owns its bytes.
 *
 * recvmsg writes `msg_namelen`, `msg_controllen` and `msg_flags` back into the header it was
 * given, so the header has to outlive the op and stay readable afterwards: a {@link MsgHdr}
 * holds the 56-byte header and its iovec array in memory of its own, a builder pins both (and
 * every buffer they point at) on the SQE, and after the CQE {@link MsgHdr.nameLength},
 * {@link MsgHdr.controlLength} and {@link MsgHdr.flags} read what the kernel wrote.
 *
 * Each prep rewrites the whole header (addresses, the buffers' full lengths, the initial
 * `flags`), so one MsgHdr can be reused op after op. Not by two receives in flight at once:
 * both would write the same header.
 *
 * Layout on 64-bit Linux (checked against `<sys/socket.h>` by test/emit/msghdr.test.ts):
 * `msg_name` u64 @0, `msg_namelen` u32 @8, `msg_iov` u64 @16, `msg_iovlen` u64 @24,
 * `msg_control` u64 @32, `msg_controllen` u64 @40, `msg_flags` i32 @48; 56 bytes.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { checkIntRange, checkView, setU64 } from './check.js';
import { byteLengthOf, isArray, snapshotArray } from './intrinsics.js';
import { IOV_MAX, IOVEC_SIZE } from './encode.js';
import type { SqeTarget } from './sqe-target.js';

/** Bytes in `struct msghdr` on 64-bit Linux. */
export const MSGHDR_SIZE = 56;

/** Byte offset of each `struct msghdr` field on 64-bit Linux. */
export const MSGHDR_OFFSETS = Object.freeze({
  msg_name: 0,
  msg_namelen: 8,
  msg_iov: 16,
  msg_iovlen: 24,
  msg_control: 32,
  msg_controllen: 40,
  msg_flags: 48,
});

const TWO_32 = 4294967296;

/** What a {@link MsgHdr} is built from. */
export interface MsgHdrInit {
  /** Peer address: read by sends, written by receives (its byteLength is `msg_namelen`). */
  name?: ArrayBufferView | null;
  /** Data buffers, in order (0 to 1024 of them). */
  iov: readonly ArrayBufferView[];
  /** Ancillary data (control messages); its byteLength is `msg_controllen`. */
  control?: ArrayBufferView | null;
  /** Initial `msg_flags` (the kernel ignores it on input; recvmsg overwrites it). Default 0. */
  flags?: number;
}

// Set by MsgHdr's static block: the builder-side helpers below reach its private state
// without making it public API.
let checkImpl: (argument: string, msg: MsgHdr) => void;
let encodeImpl: (target: SqeTarget, msg: MsgHdr) => number;

/** A `struct msghdr` with its iovec array, owning both; see the module comment. */
export class MsgHdr {
  /** The peer-address buffer, or null. */
  readonly name: ArrayBufferView | null;
  /** The data buffers (a frozen copy of the array given). */
  readonly iov: readonly ArrayBufferView[];
  /** The control-message buffer, or null. */
  readonly control: ArrayBufferView | null;
  /** The `msg_flags` each prep writes before the kernel sees the header. */
  readonly initialFlags: number;
  readonly #header: Uint8Array;
  readonly #hv: DataView;
  readonly #iovecs: Uint8Array | null;
  readonly #iv: DataView | null;

  /** Validates `init` (every buffer a live view, at most 1024 of them, `flags` an i32). */
  constructor(init: MsgHdrInit) {
    const what = 'MsgHdr';
    if (init === null || typeof init !== 'object') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', what, `expected { name?, iov, control?, flags? }, received ${describeReceived(init)}`);
    }
    if (init.name != null) checkView(`${what}: name`, init.name);
    if (init.control != null) checkView(`${what}: control`, init.control);
    const flags = init.flags === undefined ? 0 : checkIntRange(`${what}: flags`, init.flags, -0x80000000, 0x7fffffff);
    const iovArg = init.iov;
    if (!isArray(iovArg)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: iov`, `expected an array of Buffers or TypedArrays, received ${describeReceived(iovArg)}`);
    }
    // One read of the array (a Proxy cannot change it after the checks), then the copy only.
    const iov = snapshotArray(iovArg, IOV_MAX);
    if (iov === undefined) checkIntRange(`${what}: iov.length`, iovArg.length, 0, IOV_MAX);
    for (let i = 0; i < iov!.length; i++) checkView(`${what}: iov[${i}]`, iov![i]);
    this.name = init.name ?? null;
    this.control = init.control ?? null;
    this.iov = Object.freeze(iov as ArrayBufferView[]);
    this.initialFlags = flags;
    this.#header = new Uint8Array(MSGHDR_SIZE);
    this.#hv = new DataView(this.#header.buffer);
    this.#iovecs = this.iov.length > 0 ? new Uint8Array(this.iov.length * IOVEC_SIZE) : null;
    this.#iv = this.#iovecs === null ? null : new DataView(this.#iovecs.buffer);
    this.#writeLengths();
  }

  /**
   * `msg_namelen`: the buffer's byteLength until a receive completes, then the length of the
   * address the kernel stored (it can exceed the buffer's size when the address was cut short).
   */
  get nameLength(): number {
    return this.#hv.getUint32(MSGHDR_OFFSETS.msg_namelen, true);
  }

  /** `msg_controllen`: the buffer's byteLength until a receive completes, then the bytes of control messages written. */
  get controlLength(): number {
    const hv = this.#hv;
    return hv.getUint32(MSGHDR_OFFSETS.msg_controllen + 4, true) * TWO_32 + hv.getUint32(MSGHDR_OFFSETS.msg_controllen, true);
  }

  /** `msg_flags`: {@link MsgHdr.initialFlags} until a receive completes, then what the kernel reported (`MSG_TRUNC`, `MSG_CTRUNC`, ...). */
  get flags(): number {
    return this.#hv.getInt32(MSGHDR_OFFSETS.msg_flags, true);
  }

  #writeLengths(): void {
    const hv = this.#hv;
    hv.setUint32(MSGHDR_OFFSETS.msg_namelen, this.name === null ? 0 : byteLengthOf(this.name), true);
    setU64(hv, MSGHDR_OFFSETS.msg_iovlen, this.iov.length);
    setU64(hv, MSGHDR_OFFSETS.msg_controllen, this.control === null ? 0 : byteLengthOf(this.control));
    hv.setInt32(MSGHDR_OFFSETS.msg_flags, this.initialFlags, true);
  }

  /** Builder side of {@link checkMsgHdr}: every buffer still attached. */
  static #check(argument: string, msg: MsgHdr): void {
    if (msg.name !== null) checkView(`${argument}.name`, msg.name);
    if (msg.control !== null) checkView(`${argument}.control`, msg.control);
    const iov = msg.iov;
    for (let i = 0; i < iov.length; i++) checkView(`${argument}.iov[${i}]`, iov[i]);
  }

  /** Builder side of {@link encodeMsgHdr}: pins everything and rewrites the header. */
  static #encode(target: SqeTarget, msg: MsgHdr): number {
    const hv = msg.#hv;
    setU64(hv, MSGHDR_OFFSETS.msg_name, msg.name === null ? 0 : target.pin(msg.name));
    const iovecs = msg.#iovecs;
    const iv = msg.#iv;
    if (iovecs !== null && iv !== null) {
      const iov = msg.iov;
      for (let i = 0; i < iov.length; i++) {
        const buf = iov[i] as ArrayBufferView;
        setU64(iv, i * IOVEC_SIZE, target.pin(buf));
        setU64(iv, i * IOVEC_SIZE + 8, byteLengthOf(buf));
      }
      setU64(hv, MSGHDR_OFFSETS.msg_iov, target.pin(iovecs));
    } else {
      setU64(hv, MSGHDR_OFFSETS.msg_iov, 0);
    }
    setU64(hv, MSGHDR_OFFSETS.msg_control, msg.control === null ? 0 : target.pin(msg.control));
    msg.#writeLengths();
    return target.pin(msg.#header);
  }

  static {
    checkImpl = MsgHdr.#check;
    encodeImpl = MsgHdr.#encode;
  }
}

/**
 * For builders: `value` must be a {@link MsgHdr} whose buffers are all still attached (one may
 * have been transferred since it was built). Writes nothing.
 */
export function checkMsgHdr(argument: string, value: unknown): MsgHdr {
  if (!(value instanceof MsgHdr)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected a MsgHdr (new MsgHdr({ name?, iov, control?, flags? })), received ${describeReceived(value)}`);
  }
  checkImpl(argument, value);
  return value;
}

/**
 * For builders, after every check: pins the name, data and control buffers, the iovec array
 * and the header, rewrites the header for this op and returns its address.
 */
export function encodeMsgHdr(target: SqeTarget, msg: MsgHdr): number {
  return encodeImpl(target, msg);
}
