/**
 * Opcode names for messages.
 *
 * @module
 */
import { OPCODE_NAMES } from '../../generated/ops.js';

/** The opcode name for messages: `IORING_OP_READ`. */
export function opcodeName(opcode: number): string {
  return (OPCODE_NAMES as Record<number, string | undefined>)[opcode] ?? `opcode ${opcode}`;
}
