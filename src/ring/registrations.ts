/**
 * What a ring has registered, as far as builders need to know to refuse a reference to
 * nothing before the kernel sees it: the size of the registered file table, and which
 * provided-buffer groups exist.
 *
 * The ring keeps it up to date by watching its own `io_uring_register` calls (every
 * registration, the `register` module's and any made by hand, goes through
 * `IoUring.register`) and the `PROVIDE_BUFFERS` SQEs it submits. What it cannot read (a
 * registration argument passed as a raw address) makes it answer "unknown", which turns the
 * check off rather than refuse something the kernel would accept.
 *
 * @module
 */
import {
  IORING_REGISTER_FILES,
  IORING_REGISTER_FILES2,
  IORING_REGISTER_PBUF_RING,
  IORING_UNREGISTER_FILES,
  IORING_UNREGISTER_PBUF_RING,
} from '../../generated/constants.js';
import { IoUringBufReg, IoUringRsrcRegister, SIZEOF_IO_URING_BUF_REG, SIZEOF_IO_URING_RSRC_REGISTER } from '../../generated/structs.js';
import type { SqeTarget } from '../abi/sqe-target.js';

/** @internal The ring's view of its registrations; handed to builders as `sqe.registered`. */
export class Registrations implements NonNullable<SqeTarget['registered']> {
  /** Slots in the registered file table: 0 = none, Infinity = unknown. */
  fileSlots = 0;
  readonly #bufferRings = new Set<number>();
  /** Legacy (`PROVIDE_BUFFERS`) groups: the kernel keeps them until the ring is torn down. */
  readonly #legacy = new Set<number>();
  #groupsUnknown = false;
  readonly #stagedProvides: (bgid: number) => boolean;

  /** @param stagedProvides - Whether an SQE staged but not yet submitted provides buffers to `bgid`. */
  constructor(stagedProvides: (bgid: number) => boolean) {
    this.#stagedProvides = stagedProvides;
  }

  hasBufferGroup(bgid: number): boolean {
    return this.#bufferRings.has(bgid) || this.#legacy.has(bgid) || this.#groupsUnknown || this.#stagedProvides(bgid);
  }

  /** A `PROVIDE_BUFFERS` SQE for `bgid` was submitted: the kernel creates the group if needed. */
  noteProvided(bgid: number): void {
    this.#legacy.add(bgid);
  }

  /** Called after each successful `io_uring_register` of the ring (opcode without flag bits). */
  noteRegister(opcode: number, arg: ArrayBufferView | number | null, nrArgs: number): void {
    switch (opcode) {
      case IORING_REGISTER_FILES:
        this.fileSlots = nrArgs;
        break;
      case IORING_REGISTER_FILES2:
        this.fileSlots = readable(arg, SIZEOF_IO_URING_RSRC_REGISTER) ? new IoUringRsrcRegister(arg).nr : Infinity;
        break;
      case IORING_UNREGISTER_FILES:
        this.fileSlots = 0;
        break;
      case IORING_REGISTER_PBUF_RING:
        if (readable(arg, SIZEOF_IO_URING_BUF_REG)) this.#bufferRings.add(new IoUringBufReg(arg).bgid);
        else this.#groupsUnknown = true;
        break;
      case IORING_UNREGISTER_PBUF_RING:
        if (readable(arg, SIZEOF_IO_URING_BUF_REG)) this.#bufferRings.delete(new IoUringBufReg(arg).bgid);
        break;
      default:
        break;
    }
  }

  /** The ring closed: nothing is registered any more. */
  clear(): void {
    this.fileSlots = 0;
    this.#bufferRings.clear();
    this.#legacy.clear();
    this.#groupsUnknown = false;
  }
}

function readable(arg: ArrayBufferView | number | null, size: number): arg is ArrayBufferView {
  return arg !== null && typeof arg === 'object' && arg.byteLength >= size;
}
