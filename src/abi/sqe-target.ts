/**
 * The contract between the generated op builders (`generated/ops.ts`) and the runtime.
 *
 * A builder first refuses an opcode the kernel lacks ({@link SqeTarget.unsupportedOps}), then
 * validates every argument, then zeroes the SQE and writes its fields
 * through {@link SqeTarget.view}. Memory the kernel will read or write after submission
 * (buffers, iovec arrays, paths, timespecs) is handed to {@link SqeTarget.pin}, which keeps
 * it referenced until the operation's final CQE and returns its native address.
 *
 * The view is over JS-owned staging memory, never over the kernel's mapped SQ ring: the
 * ring copies each prepared SQE into the mapping when it submits, so no view of kernel
 * memory ever reaches user code.
 *
 * @module
 */

/** Where a builder writes one SQE. Implemented by the ring's `Sqe`; tests use plain buffers. */
export interface SqeTarget {
  /** A DataView over the memory holding this SQE. */
  readonly view: DataView;
  /** Byte offset of the SQE's first byte within {@link SqeTarget.view}. */
  readonly offset: number;
  /** Bytes in this SQE slot: 64, or 128 on rings set up with `IORING_SETUP_SQE128`. */
  readonly size: number;
  /**
   * Keeps `memory` referenced until the operation's final CQE and returns the native
   * address of its first byte (its `byteOffset` included).
   */
  pin(memory: ArrayBufferView): number;
  /**
   * Like {@link SqeTarget.pin}, for memory the kernel copies when it takes the SQE (a
   * timespec: TIMEOUT, LINK_TIMEOUT and timeout updates read it at prep): it is kept only
   * until the kernel has consumed the SQE, so an op that posts no CQE on success
   * (skip-success, e.g. on a LINK_TIMEOUT) does not hold it. Optional: without it, `pin`.
   */
  pinUntilConsumed?(memory: ArrayBufferView): number;
  /**
   * What the running kernel lacks, from the ring's probe: index = opcode, 1 = unsupported.
   * Every builder reads `unsupportedOps[opcode]` first and throws `UnsupportedOpError`
   * (writing and pinning nothing) when it is 1. Absent, or 0 / past its length: the builder
   * assumes support and leaves the verdict to the kernel. Size it to 256 so every opcode
   * a u8 can name is covered, and mark every opcode the probe did not report as supported.
   */
  readonly unsupportedOps?: Uint8Array | undefined;
  /**
   * What the ring has registered, so that a builder refuses a reference to something that
   * does not exist before writing anything: a `FixedFile` at or past the end of the
   * registered file table, or (for ops that pick a provided buffer) a buffer group the ring
   * does not have. Absent: no such check, the kernel decides.
   */
  readonly registered?:
    | {
        /** Slots in the ring's registered file table: 0 when none is registered, `Infinity` when unknown. */
        readonly fileSlots: number;
        /**
         * Whether provided-buffer group `bgid` exists on the ring: a registered buffer ring, a
         * legacy group provided by an SQE already submitted or staged before this one, or any
         * group when the ring cannot know (a registration it could not read).
         */
        hasBufferGroup(bgid: number): boolean;
      }
    | undefined;
}
