/**
 * Cancel keys: one `user_data` value shared by several ops, so that one cancel
 * (`prepCancel(sqe, key.id, IORING_ASYNC_CANCEL_ALL)` or `syncCancel`) reaches them all, as
 * liburing programs do by giving requests the same `user_data`.
 *
 * The ring owns `user_data`, so a key is a value the ring hands out: it encodes a key-table
 * index (with bit 31 of the low word set, which no op-table slot ever has) and a generation,
 * tagged like op ids. A CQE carrying a key cannot say which member op it is for, so the
 * ring keeps the members as a group: each member's final CQE counts down, and the memory of
 * every member stays pinned until the last member has ended (then all of it is released at
 * once). The CQEs reach `forEachCqe` with `cqe.id` = the key's id and `cqe.userData` = the
 * key's `userData`.
 *
 * Restrictions (refused when the SQE is submitted): a keyed op may not be part of a linked
 * chain or use skip-success (the chain bookkeeping needs to know which op a CQE ends), and
 * the Promise API does not take keys (its promises need to know which op ended).
 *
 * @module
 */
import { OP_ID_TAG } from '../abi/op-id.js';
import { ArgumentError } from '../errors.js';

const TWO_32 = 4294967296;
/** Low-word bit that marks a key (slots stay far below 2^31). */
export const KEY_LO_BIT = 0x80000000;
const GEN_MASK = 0x1fffff;

/** A cancel key from `ring.cancelKey()`; see the module documentation. */
export class CancelKey {
  /** The key as an op id: pass it to `prepCancel` / `syncCancel` to reach every op using it. */
  readonly id: number;
  /** Handed back as `cqe.userData` with the CQEs of the key's ops. */
  readonly userData: unknown;
  readonly #keys: CancelKeys;
  readonly #index: number;

  /** @internal */
  constructor(keys: CancelKeys, index: number, gen: number, userData: unknown) {
    this.#keys = keys;
    this.#index = index;
    this.id = gen * TWO_32 + ((KEY_LO_BIT | index) >>> 0);
    this.userData = userData;
  }

  /** Ops submitted with this key whose final CQE has not arrived. */
  get inFlight(): number {
    return this.#keys.liveOf(this.#index, this.id);
  }

  /**
   * Gives the key's table entry back once nothing of it is in flight (ops still in flight
   * keep it until they end). A released key may not be given to new ops.
   */
  release(): void {
    this.#keys.release(this.#index, this.id);
  }

  /** Same as {@link CancelKey.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal The key-table index, if this key belongs to `keys` and is live. */
  indexIn(keys: CancelKeys): number {
    return keys === this.#keys && this.#keys.isLive(this.#index, this.id) ? this.#index : -1;
  }
}

/** @internal The ring's table of cancel keys. */
export class CancelKeys {
  #gen = new Uint32Array(8);
  #live = new Int32Array(8);
  #released = new Uint8Array(8);
  #inUse = new Uint8Array(8);
  #members: number[][] = Array.from({ length: 8 }, () => []);
  #userData: unknown[] = new Array<unknown>(8).fill(undefined);
  #free: number[] = [7, 6, 5, 4, 3, 2, 1, 0];

  /** A new key. */
  create(userData: unknown): CancelKey {
    if (this.#free.length === 0) this.#grow();
    const index = this.#free.pop()!;
    this.#gen[index] = (this.#gen[index]! + 1) & GEN_MASK;
    this.#inUse[index] = 1;
    this.#released[index] = 0;
    this.#live[index] = 0;
    this.#userData[index] = userData;
    return new CancelKey(this, index, this.#gen[index]!, userData);
  }

  #grow(): void {
    const old = this.#gen.length;
    const next = old * 2;
    const widen = <T extends Uint8Array | Int32Array | Uint32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(next);
      b.set(a);
      return b;
    };
    this.#gen = widen(this.#gen);
    this.#live = widen(this.#live);
    this.#released = widen(this.#released);
    this.#inUse = widen(this.#inUse);
    for (let i = old; i < next; i++) {
      this.#members.push([]);
      this.#userData.push(undefined);
    }
    for (let i = next - 1; i >= old; i--) this.#free.push(i);
  }

  #matches(index: number, id: number): boolean {
    return index < this.#gen.length && this.#inUse[index] === 1 && this.#gen[index]! * TWO_32 + ((KEY_LO_BIT | index) >>> 0) === id;
  }

  isLive(index: number, id: number): boolean {
    return this.#matches(index, id) && this.#released[index] === 0;
  }

  liveOf(index: number, id: number): number {
    return this.#matches(index, id) ? this.#live[index]! : 0;
  }

  /** The key's user_data words, for commit: low word, high word. */
  words(index: number): [number, number] {
    return [(KEY_LO_BIT | index) >>> 0, (OP_ID_TAG | this.#gen[index]!) >>> 0];
  }

  /** A member op (`slot`) goes to the kernel under key `index`. */
  addMember(index: number, slot: number): void {
    this.#members[index]!.push(slot);
    this.#live[index]!++;
  }

  /**
   * The key a CQE's user_data names (-1: none of ours). `lo` has {@link KEY_LO_BIT} set.
   */
  indexOf(lo: number, hi: number): number {
    if ((hi & OP_ID_TAG) === 0 || (lo & KEY_LO_BIT) === 0) return -1;
    const index = lo & ~KEY_LO_BIT;
    if (index >= this.#gen.length || this.#inUse[index] !== 1 || (hi & GEN_MASK) !== this.#gen[index]) return -1;
    return this.#live[index]! > 0 ? index : -1;
  }

  /** The key's id and userData, for the CQE snapshot. */
  idOf(index: number): number {
    return this.#gen[index]! * TWO_32 + ((KEY_LO_BIT | index) >>> 0);
  }

  userDataOf(index: number): unknown {
    return this.#userData[index];
  }

  /**
   * One member's final CQE arrived. Returns the member slots to release once the last one
   * has ended (their memory could belong to any of them), else null.
   */
  memberEnded(index: number): number[] | null {
    if (--this.#live[index]! > 0) return null;
    const members = this.#members[index]!;
    this.#members[index] = [];
    if (this.#released[index] === 1) this.#recycle(index);
    return members;
  }

  release(index: number, id: number): void {
    if (!this.#matches(index, id) || this.#released[index] === 1) return;
    this.#released[index] = 1;
    if (this.#live[index] === 0) this.#recycle(index);
  }

  #recycle(index: number): void {
    this.#inUse[index] = 0;
    this.#userData[index] = undefined;
    this.#free.push(index);
  }

  /** Refuses a key that is not one of this ring's live keys. */
  static check(keys: CancelKeys, key: unknown, what: string): number {
    if (!(key instanceof CancelKey)) {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', what, 'expected a CancelKey from ring.cancelKey()');
    }
    const index = key.indexIn(keys);
    if (index < 0) throw new ArgumentError('ERR_INVALID_ARG_VALUE', what, 'this CancelKey belongs to another ring or was released');
    return index;
  }
}
