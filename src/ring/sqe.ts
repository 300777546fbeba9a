/**
 * The SQE handle `ring.getSqe()` returns.
 *
 * Builders write through {@link Sqe.view}: on a ring in shared memory (`params.mapping`
 * `'shared'`) that is the kernel's SQE array itself, a `SharedArrayBuffer` that stays
 * ordinary JS memory after the ring closes; on a mapped ring it is JS-owned staging memory
 * that the ring copies into the kernel's array when it submits. Either way no view of
 * memory that can be unmapped is ever reachable from a handle.
 *
 * A handle belongs to one SQ position and is reused: it is yours from `getSqe()` until
 * `submit()`. Writing or pinning through a handle that was already submitted throws.
 *
 * @module
 */
import {
  IOSQE_ASYNC,
  IOSQE_CQE_SKIP_SUCCESS,
  IOSQE_IO_DRAIN,
  IOSQE_IO_HARDLINK,
  IOSQE_IO_LINK,
} from '../../generated/constants.js';
import { IoUringSqe } from '../../generated/structs.js';
import { checkU8 } from '../abi/check.js';
import { isView } from '../abi/intrinsics.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { SqeTarget } from '../abi/sqe-target.js';
import { cachedAddressOf } from '../sys/libc.js';
import { RingStateError, ringClosedError } from './errors.js';
import { CancelKeys, type CancelKey } from './cancel-keys.js';
import type { OpTable } from './op-table.js';

/** What an {@link Sqe} needs from its ring. */
export interface SqeOwner {
  readonly table: OpTable;
  /** Op-table slot staged at each SQ position, or -1. */
  readonly stagedSlot: Int32Array;
  readonly closed: boolean;
  /** What the ring has registered (file table size, buffer groups), for the builders' checks. */
  readonly registered: NonNullable<SqeTarget['registered']>;
  /** The ring's cancel keys. */
  readonly keys: CancelKeys;
}

/** One submission queue entry being prepared. Fill it with a `prep*` builder. */
export class Sqe implements SqeTarget {
  readonly #view: DataView;
  /** Byte offset of this SQE within {@link Sqe.view}. */
  readonly offset: number;
  /** 64, or 128 on rings with 128-byte SQEs. */
  readonly size: number;
  /** Opcodes the running kernel lacks (1 = unsupported), from the ring's probe. */
  readonly unsupportedOps: Uint8Array | undefined;
  readonly #owner: SqeOwner;
  readonly #position: number;
  #fields: IoUringSqe | undefined;

  /** @internal Created by the ring, one per SQ position. */
  constructor(owner: SqeOwner, view: DataView, position: number, size: number, unsupportedOps: Uint8Array | undefined) {
    this.#owner = owner;
    this.#view = view;
    this.#position = position;
    this.offset = position * size;
    this.size = size;
    this.unsupportedOps = unsupportedOps;
  }

  #slot(what: string): number {
    if (this.#owner.closed) throw ringClosedError(what);
    const slot = this.#owner.stagedSlot[this.#position]!;
    if (slot < 0) {
      throw new RingStateError('ERR_RING_SQE_STALE', `${what}: this SQE was already submitted; get a new one with ring.getSqe()`);
    }
    return slot;
  }

  /**
   * The memory this SQE is prepared in, for builders (`prep*` functions): the SQE's bytes
   * start at {@link Sqe.offset}. Like {@link Sqe.unsafeFields}, writes here are not checked;
   * use a builder. Throws once the SQE was submitted (or withdrawn) or the ring closed, so a
   * builder called on a stale handle fails instead of writing into a slot no one submits.
   */
  get view(): DataView {
    this.#slot('Sqe.view');
    return this.#view;
  }

  /**
   * Keeps `memory` referenced until this op's final CQE and returns its native address.
   * Builders call it for every buffer the kernel will touch; call it yourself for memory
   * you point the SQE at by hand.
   */
  pin(memory: ArrayBufferView): number {
    const slot = this.#slot('Sqe.pin');
    if (!isView(memory)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'Sqe.pin: memory', `expected a Buffer, TypedArray or DataView, received ${describeReceived(memory)}`);
    }
    const address = cachedAddressOf(memory);
    this.#owner.table.pins[slot]!.push(memory);
    return address;
  }

  /**
   * Keeps `memory` referenced until the kernel has consumed this SQE (not until its CQE),
   * for memory the kernel copies when it prepares the op; see `SqeTarget.pinUntilConsumed`.
   */
  pinUntilConsumed(memory: ArrayBufferView): number {
    const slot = this.#slot('Sqe.pinUntilConsumed');
    if (!isView(memory)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'Sqe.pinUntilConsumed: memory', `expected a Buffer, TypedArray or DataView, received ${describeReceived(memory)}`);
    }
    const address = cachedAddressOf(memory);
    this.#owner.table.prepPins[slot]!.push(memory);
    return address;
  }

  /**
   * The op id the ring writes into `user_data`: unique among live ops, reported back as
   * `cqe.id`, and what cancel and timeout-remove builders take to name this op.
   */
  get id(): number {
    return this.#owner.table.idOf(this.#slot('Sqe.id'));
  }

  /**
   * What the ring has registered (its file table's size, its provided-buffer groups): builders
   * read it to refuse a `FixedFile` past the table or a group that does not exist.
   */
  get registered(): NonNullable<SqeTarget['registered']> {
    this.#slot('Sqe.registered');
    return this.#owner.registered;
  }

  /** Any value of yours, handed back as `cqe.userData` with each of this op's CQEs. */
  get userData(): unknown {
    return this.#owner.table.tag[this.#slot('Sqe.userData')];
  }

  /** Sets the value handed back as `cqe.userData`; the ring keeps it referenced until the op's final CQE. */
  set userData(value: unknown) {
    this.#owner.table.tag[this.#slot('Sqe.userData')] = value;
  }

  /** The `IOSQE_*` flags byte. Builders reset it, so set flags after the `prep*` call. */
  get flags(): number {
    this.#slot('Sqe.flags');
    return this.#view.getUint8(this.offset + 1);
  }

  /** Sets the `IOSQE_*` flags byte (after the `prep*` call, which resets it). */
  set flags(value: number) {
    this.#slot('Sqe.flags');
    this.#view.setUint8(this.offset + 1, checkU8('Sqe.flags', value));
  }

  /**
   * The {@link CancelKey} this op goes to the kernel under (from `ring.cancelKey()`), so that
   * one cancel of the key reaches every op using it; undefined for an op under its own id.
   * A keyed op's CQEs report the key (`cqe.id`, `cqe.userData`); it may not be linked or
   * skip-success, and the Promise API does not take keys.
   */
  get cancelKey(): CancelKey | undefined {
    return this.#owner.table.keyObject[this.#slot('Sqe.cancelKey')] as CancelKey | undefined;
  }

  set cancelKey(key: CancelKey | undefined) {
    const slot = this.#slot('Sqe.cancelKey');
    const table = this.#owner.table;
    if (key === undefined) {
      table.keyOf[slot] = -1;
      table.keyObject[slot] = undefined;
      return;
    }
    table.keyOf[slot] = CancelKeys.check(this.#owner.keys, key, 'Sqe.cancelKey');
    table.keyObject[slot] = key;
  }

  /** ORs `IOSQE_IO_LINK`: the next SQE starts only after this one succeeds. */
  link(): this {
    this.flags = this.flags | IOSQE_IO_LINK;
    return this;
  }

  /** ORs `IOSQE_IO_HARDLINK`: the next SQE starts after this one, even if it fails. */
  hardlink(): this {
    this.flags = this.flags | IOSQE_IO_HARDLINK;
    return this;
  }

  /** ORs `IOSQE_IO_DRAIN`: starts only after everything submitted before it completed. */
  drain(): this {
    this.flags = this.flags | IOSQE_IO_DRAIN;
    return this;
  }

  /** ORs `IOSQE_ASYNC`: always run from the async worker pool. */
  async(): this {
    this.flags = this.flags | IOSQE_ASYNC;
    return this;
  }

  /**
   * ORs `IOSQE_CQE_SKIP_SUCCESS`: post no CQE if the op succeeds. Allowed on an op
   * linked to a later one (the chain's last CQE then also releases this op's memory)
   * or on an op that pins nothing; checked when the ring submits.
   */
  skipSuccess(): this {
    this.flags = this.flags | IOSQE_CQE_SKIP_SUCCESS;
    return this;
  }

  /**
   * **Unsafe.** The raw SQE fields through the generated accessor, for fields no builder
   * sets (`personality`, `ioprio`, `nopFlags`, ...). Nothing written here is checked: the
   * kernel trusts `addr`, `len` and every other field as written, so raising a length past
   * the buffer a builder pinned, or pointing `addr` at memory nothing keeps alive, lets the
   * kernel read or write outside your buffers. Set only fields whose meaning you know, after
   * the `prep*` call (which zeroes the slot). `userData` here is overwritten at submit: the
   * ring owns `user_data` (use {@link Sqe.userData}).
   */
  get unsafeFields(): IoUringSqe {
    this.#slot('Sqe.unsafeFields');
    this.#fields ??= new IoUringSqe(this.#view, this.offset);
    return this.#fields;
  }
}
