/**
 * Buffers whose memory starts at an aligned address, for `O_DIRECT` I/O (which needs the
 * buffer, the length and the file offset aligned to the device's logical block size, 512
 * or 4096 bytes) and anything else that wants page-aligned memory.
 *
 * @module
 */
import { constants } from 'node:buffer';
import { ArgumentError, describeReceived } from '../errors.js';
import { addressOf } from '../sys/libc.js';
import { checkIntRange } from './check.js';

/** The largest alignment {@link alignedBuffer} takes: 1 GiB (a gigantic page). */
const MAX_ALIGNMENT = 1 << 30;

/**
 * A zero-filled `Buffer` of `size` bytes whose first byte sits at an address that is a
 * multiple of `alignment` (liburing's tests use `posix_memalign` for the same purpose).
 *
 * It is a view into a slightly larger `ArrayBuffer` of its own (`size + alignment - 1`
 * bytes, never Node's shared pool). V8 never moves an `ArrayBuffer`'s memory, so the
 * address stays aligned for as long as the Buffer (or any view of its `.buffer`) is
 * referenced; like any buffer an op uses, keep it referenced until the op completes (the
 * ring pins it for you) and do not transfer it to a Worker while an op uses it.
 *
 * ```ts
 * const buf = alignedBuffer(64 * 1024);                 // 4096-aligned
 * prepRead(ring.getSqe()!, directFd, buf, buf.length, 0);
 * ```
 *
 * @param size - Bytes in the buffer (0 to `buffer.constants.MAX_LENGTH - alignment`).
 * @param alignment - A power of two from 1 to 2^30. Default 4096 (a page).
 */
export function alignedBuffer(size: number, alignment = 4096): Buffer {
  const what = 'alignedBuffer';
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment < 1 || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) !== 0) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: alignment`, `expected a power of two from 1 to 2^30, received ${describeReceived(alignment)}`);
  }
  checkIntRange(`${what}: size`, size, 0, constants.MAX_LENGTH - alignment);
  const backing = new ArrayBuffer(size + alignment - 1);
  if (backing.byteLength === 0) return Buffer.from(backing);
  // The ArrayBuffer's memory lives outside V8's heap and never moves: its address now is
  // its address for good, so the padding computed here keeps the view aligned.
  const base = addressOf(new Uint8Array(backing));
  const pad = (alignment - (base % alignment)) % alignment;
  return Buffer.from(backing, pad, size);
}
