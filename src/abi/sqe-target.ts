/**
 * The contract between the generated op builders (`generated/ops.ts`) and the runtime.
 *
 * A builder validates every argument first, then zeroes the SQE and writes its fields
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
}
