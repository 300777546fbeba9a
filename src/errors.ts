/**
 * Errors for arguments refused before anything reaches the kernel.
 *
 * They carry Node's `code` convention (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`,
 * `ERR_INVALID_ARG_VALUE`) so code that already handles Node's own argument errors
 * handles these too.
 *
 * @module
 */

/** Codes carried by {@link ArgumentError}, as in Node's own argument errors. */
export type ArgumentErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE';

/**
 * An argument was refused before anything was written or submitted.
 *
 * `argument` names the parameter (`"prepRead: buf"`), and the message says what was
 * expected and what was received.
 */
export class ArgumentError extends TypeError {
  /** Node-style error code. */
  readonly code: ArgumentErrorCode;
  /** The argument that was refused, prefixed by the function that refused it. */
  readonly argument: string;

  /**
   * An error naming the refused argument, shaped like Node's own argument errors.
   *
   * @param code - `ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE` (the error's `name` is then `RangeError`) or `ERR_INVALID_ARG_VALUE`.
   * @param argument - The refused parameter, prefixed by the function: `"prepRead: buf"`.
   * @param message - What was expected and what was received; the error's message is `argument: message`.
   */
  constructor(code: ArgumentErrorCode, argument: string, message: string) {
    super(`${argument}: ${message}`);
    this.name = code === 'ERR_OUT_OF_RANGE' ? 'RangeError' : 'TypeError';
    this.code = code;
    this.argument = argument;
  }
}

/** Describes a received value for an error message without dumping large objects. */
export function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? 'NaN' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'boolean':
    case 'symbol':
      return String(value);
    case 'function':
      return `function ${(value as { name?: string }).name || '(anonymous)'}`;
    default: {
      const ctor = (value as object).constructor?.name;
      if (ArrayBuffer.isView(value)) return `${ctor ?? 'view'} of ${value.byteLength} bytes`;
      return `an instance of ${ctor ?? 'Object'}`;
    }
  }
}

/**
 * An op builder was called for an opcode the running kernel does not support, as the ring's
 * probe reported it. Thrown before anything is written to the SQE or pinned.
 *
 * `code` is `ERR_IO_URING_OP_UNSUPPORTED`; `opcode` and `opName` name the `IORING_OP_*`,
 * `builder` the function that refused it, and `minKernel` the first Linux release with it
 * (null when the builder does not know, as for `prepRaw`).
 */
export class UnsupportedOpError extends Error {
  /** Node-style error code. */
  readonly code = 'ERR_IO_URING_OP_UNSUPPORTED' as const;
  /** The `IORING_OP_*` value. */
  readonly opcode: number;
  /** The `IORING_OP_*` name (`opcode N` for an opcode this build has no name for). */
  readonly opName: string;
  /** The builder that refused it (`prepPipe`). */
  readonly builder: string;
  /** First Linux release with the op, or null when unknown. */
  readonly minKernel: string | null;

  /**
   * The error a builder throws for an opcode the running kernel lacks.
   *
   * @param builder - The builder that refused the op (`prepPipe`).
   * @param opcode - The `IORING_OP_*` value.
   * @param opName - The `IORING_OP_*` name.
   * @param minKernel - First Linux release with the op, or null when unknown.
   */
  constructor(builder: string, opcode: number, opName: string, minKernel: string | null) {
    super(
      `${builder}: ${opName} is not supported by the running kernel (${minKernel === null ? '' : `it needs Linux ${minKernel} or newer; `}see \`ring.probe.supports(...)\`)`,
    );
    this.name = 'UnsupportedOpError';
    this.opcode = opcode;
    this.opName = opName;
    this.builder = builder;
    this.minKernel = minKernel;
  }
}
