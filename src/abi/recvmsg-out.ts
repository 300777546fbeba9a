/**
 * The layout a multishot `RECVMSG` (`prepRecvmsgMultishot`) writes into each provided
 * buffer, and liburing's `io_uring_recvmsg_*` helpers over it:
 *
 * ```
 * struct io_uring_recvmsg_out (16 bytes: namelen, controllen, payloadlen, flags)
 * name     msg_namelen bytes    (the size of the MsgHdr's name buffer, whatever was stored)
 * control  msg_controllen bytes (the size of the MsgHdr's control buffer)
 * payload  the rest of the CQE's bytes
 * ```
 *
 * The sizes of the name and control areas are the ones the `MsgHdr` given to the op had
 * (the kernel reads them once, at prep), so the same `MsgHdr` is needed to parse each
 * buffer. Every accessor returns a view into the buffer given, clamped to it: a lying or
 * short buffer gives short views or null, never bytes from outside it.
 *
 * @module
 */
import { IoUringRecvmsgOut, SIZEOF_IO_URING_RECVMSG_OUT } from '../../generated/structs.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { checkView } from './check.js';

/** `struct cmsghdr` on 64-bit Linux: `cmsg_len` (size_t), `cmsg_level`, `cmsg_type` (int). */
const CMSGHDR_SIZE = 16;
const CMSG_LEVEL = 8;
const CMSG_TYPE = 12;
/** CMSG_ALIGN: control messages are padded to `sizeof(size_t)`. */
const CMSG_ALIGN = 8;
const TWO_32 = 4294967296;
/** `MSG_TRUNC` from <sys/socket.h>. */
const MSG_TRUNC = 0x20;

/** The sizes a multishot recvmsg reserved for the name and control areas: its `MsgHdr`. */
export interface RecvmsgLayout {
  /** The op's peer-address buffer, or null (its byteLength is the name area's size). */
  readonly name: ArrayBufferView | null;
  /** The op's control buffer, or null (its byteLength is the control area's size). */
  readonly control: ArrayBufferView | null;
}

/** One control message (`struct cmsghdr` and its data) in a {@link RecvmsgOut}. */
export interface RecvmsgCmsg {
  /** `cmsg_level` (`SOL_SOCKET`, `IPPROTO_IP`, ...). */
  readonly level: number;
  /** `cmsg_type` (`SCM_RIGHTS`, `IP_PKTINFO`, ...). */
  readonly type: number;
  /** `cmsg_len`: header and data, unpadded. */
  readonly length: number;
  /** The data (`CMSG_DATA`), a view into the buffer. */
  readonly data: Uint8Array;
  /** Byte offset of the header within the buffer. */
  readonly offset: number;
}

function areaSize(argument: string, view: unknown): number {
  if (view === null || view === undefined) return 0;
  return checkView(argument, view).byteLength;
}

/**
 * One multishot `RECVMSG` completion's buffer, parsed (liburing's `io_uring_recvmsg_out`
 * and the helpers around it). The header fields are read once, by `validate`; `name()`,
 * `payload()` and the control messages are views into the buffer, so they show what the
 * kernel writes there next once the buffer is recycled: copy what you keep first.
 *
 * ```ts
 * const msg = new MsgHdr({ name: Buffer.alloc(16), control: Buffer.alloc(64), iov: [] });
 * prepRecvmsgMultishot(ring.getSqe()!, socket, msg, 0, pool.bgid);
 * // for each CQE with a buffer:
 * const out = RecvmsgOut.validate(pool.take(cqe), msg);
 * if (out !== null) handle(out.name(), [...out.cmsgs()], out.payload());
 * ```
 */
export class RecvmsgOut {
  /** The whole completion buffer (header included). */
  readonly buffer: Uint8Array;
  /** `namelen`: the peer address's length; more than {@link RecvmsgOut.name} holds when it was cut short. */
  readonly nameLength: number;
  /** `controllen`: bytes of control messages stored. */
  readonly controlLength: number;
  /**
   * `payloadlen`: the bytes the socket returned. When the op was prepared with `MSG_TRUNC`
   * in its flags this is the datagram's full length, more than {@link RecvmsgOut.payload}
   * holds if it was cut short; without it, what was stored.
   */
  readonly payloadLength: number;
  /** `flags`: the `msg_flags` of this message (`MSG_TRUNC`, `MSG_CTRUNC`, ...). */
  readonly flags: number;
  readonly #nameArea: number;
  readonly #controlArea: number;

  private constructor(buffer: Uint8Array, nameArea: number, controlArea: number) {
    this.buffer = buffer;
    this.#nameArea = nameArea;
    this.#controlArea = controlArea;
    const out = new IoUringRecvmsgOut(buffer);
    this.nameLength = out.namelen;
    this.controlLength = out.controllen;
    this.payloadLength = out.payloadlen;
    this.flags = out.flags;
  }

  /**
   * The parsed buffer, or null when it is too short to hold the header and the name and
   * control areas `layout` reserved (liburing's `io_uring_recvmsg_validate`).
   *
   * @param buffer - The completion's bytes: `cqe.res` bytes of its provided buffer (what
   *   `BufferRing.take(cqe)` returns).
   * @param layout - The `MsgHdr` the op was prepared with.
   */
  static validate(buffer: ArrayBufferView, layout: RecvmsgLayout): RecvmsgOut | null {
    const what = 'RecvmsgOut.validate';
    const view = checkView(`${what}: buffer`, buffer);
    if (layout === null || typeof layout !== 'object') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: layout`, `expected the MsgHdr the op was prepared with, received ${describeReceived(layout)}`);
    }
    const nameArea = areaSize(`${what}: layout.name`, layout.name);
    const controlArea = areaSize(`${what}: layout.control`, layout.control);
    // One snapshot of the bytes: a Uint8Array over exactly the view's range.
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (bytes.byteLength < SIZEOF_IO_URING_RECVMSG_OUT + nameArea + controlArea) return null;
    return new RecvmsgOut(bytes, nameArea, controlArea);
  }

  /** Where the payload starts in {@link RecvmsgOut.buffer}. */
  get payloadOffset(): number {
    return SIZEOF_IO_URING_RECVMSG_OUT + this.#nameArea + this.#controlArea;
  }

  /**
   * The peer address as stored (liburing's `io_uring_recvmsg_name`): the first
   * `min(nameLength, name area)` bytes of the name area.
   */
  name(): Uint8Array {
    const start = SIZEOF_IO_URING_RECVMSG_OUT;
    return this.buffer.subarray(start, start + Math.min(this.nameLength, this.#nameArea));
  }

  /**
   * The payload bytes this buffer holds (liburing's `io_uring_recvmsg_payload`, with
   * `io_uring_recvmsg_payload_length` as its length): everything after the control area.
   */
  payload(): Uint8Array {
    return this.buffer.subarray(this.payloadOffset);
  }

  /** Whether the message was longer than what this buffer holds (`MSG_TRUNC` in {@link RecvmsgOut.flags}). */
  get truncated(): boolean {
    return (this.flags & MSG_TRUNC) !== 0 || this.payloadLength > this.buffer.byteLength - this.payloadOffset;
  }

  /** End of the stored control messages within the buffer. */
  #controlEnd(): number {
    const first = SIZEOF_IO_URING_RECVMSG_OUT + this.#nameArea;
    return first + Math.min(this.controlLength, this.#controlArea);
  }

  #cmsgAt(offset: number): RecvmsgCmsg | null {
    const end = this.#controlEnd();
    if (offset + CMSGHDR_SIZE > end) return null;
    const dv = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    const length = dv.getUint32(offset + 4, true) * TWO_32 + dv.getUint32(offset, true);
    if (length < CMSGHDR_SIZE || offset + length > end) return null;
    return {
      level: dv.getInt32(offset + CMSG_LEVEL, true),
      type: dv.getInt32(offset + CMSG_TYPE, true),
      length,
      data: this.buffer.subarray(offset + CMSGHDR_SIZE, offset + length),
      offset,
    };
  }

  /** The first control message, or null (liburing's `io_uring_recvmsg_cmsg_firsthdr`). */
  firstCmsg(): RecvmsgCmsg | null {
    return this.#cmsgAt(SIZEOF_IO_URING_RECVMSG_OUT + this.#nameArea);
  }

  /** The control message after `cmsg`, or null (liburing's `io_uring_recvmsg_cmsg_nexthdr`). */
  nextCmsg(cmsg: RecvmsgCmsg): RecvmsgCmsg | null {
    if (cmsg === null || typeof cmsg !== 'object') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'RecvmsgOut.nextCmsg: cmsg', `expected a control message from this RecvmsgOut, received ${describeReceived(cmsg)}`);
    }
    // Re-read the header at the offset given rather than trust the object's length; an
    // offset that is not a control-message boundary of this buffer ends the walk.
    const offset = cmsg.offset;
    const first = SIZEOF_IO_URING_RECVMSG_OUT + this.#nameArea;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < first || (offset - first) % CMSG_ALIGN !== 0) return null;
    const current = this.#cmsgAt(offset);
    if (current === null) return null;
    const next = current.offset + Math.ceil(current.length / CMSG_ALIGN) * CMSG_ALIGN;
    return this.#cmsgAt(next);
  }

  /** Every control message, in order. */
  *cmsgs(): IterableIterator<RecvmsgCmsg> {
    for (let c = this.firstCmsg(); c !== null; c = this.nextCmsg(c)) yield c;
  }
}
