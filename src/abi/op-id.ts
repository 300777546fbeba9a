/**
 * Operation ids: what the ring writes into `sqe->user_data`.
 *
 * The ring owns `user_data`. It encodes an in-flight table slot and a generation, with
 * bit 63 set so that its own completions can be told apart from values another ring
 * posts with `IORING_OP_MSG_RING` (which must keep bit 63 clear). User code sees the id
 * as a plain number below 2^53 and passes it to cancel, timeout-remove and poll-update
 * builders, which write it back with {@link setOpId}.
 *
 * @module
 */

/** High word bit that marks a user_data value as one of this library's op ids. */
export const OP_ID_TAG = 0x80000000;
const TWO_32 = 4294967296;
/** Ids use the high word below the tag bit; keep them below 2^53 as numbers. */
export const OP_ID_MAX = 2 ** 53 - 1;

/** Writes op id `id` as a tagged 64-bit user_data at `byteOffset`. */
export function setOpId(view: DataView, byteOffset: number, id: number): void {
  const lo = id >>> 0;
  view.setUint32(byteOffset, lo, true);
  view.setUint32(byteOffset + 4, (OP_ID_TAG | ((id - lo) / TWO_32)) >>> 0, true);
}

/** Reads a 64-bit user_data and returns the op id, or -1 when it is not tagged as ours. */
export function getOpId(view: DataView, byteOffset: number): number {
  const hi = view.getUint32(byteOffset + 4, true);
  if ((hi & OP_ID_TAG) === 0) return -1;
  return (hi & 0x7fffffff) * TWO_32 + view.getUint32(byteOffset, true);
}
