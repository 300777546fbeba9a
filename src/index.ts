/**
 * tsuring: a TypeScript binding to Linux io_uring, generated from the kernel's own
 * `linux/io_uring.h`.
 *
 * - {@link IoUring}: the raw API — get an SQE, fill it with a `prep*` builder, submit, reap.
 * - `prep*` builders, struct accessors and every constant and flag set of the header, generated.
 *
 * @packageDocumentation
 */
export { IoUring, type RingParams } from './ring/ring.js';
export { FAST_SETUP, type IoUringOptions, type NoMmapOptions, type PreferableFlag, type SqPollOptions } from './ring/setup.js';
export { Sqe } from './ring/sqe.js';
export type { Cqe } from './ring/cqe.js';
export { Probe, type ProbedOp } from './ring/probe.js';
export { RingStateError, type RingStateErrorCode } from './ring/errors.js';
export { ArgumentError, type ArgumentErrorCode } from './errors.js';
export { IoUringError } from './sys/errors.js';
export { AT_FDCWD, FixedFile, type FdLike, type FileRef } from './abi/fd.js';
export { OwnedFd, FdClosedError } from './abi/owned-fd.js';
export * from './register/index.js';
export type { Timespec } from './abi/encode.js';
export type { SqeTarget } from './abi/sqe-target.js';
export * from '../generated/ops.js';
export * from '../generated/constants.js';
export * from '../generated/structs.js';
