/**
 * tsuring: a TypeScript binding to Linux io_uring, generated from the kernel's own
 * `linux/io_uring.h`.
 *
 * - {@link IoUring}: the raw API — get an SQE, fill it with a `prep*` builder, submit, reap.
 * - {@link AsyncIoUring}: the Promise API on Node's event loop (`await ring.read(fd, buf, 0)`),
 *   multishot ops as async iterators, `fs.promises`-like file helpers ({@link readFile},
 *   {@link writeFile}, {@link copyFile}) and a TCP helper ({@link createServer}, {@link connect}).
 * - `prep*` builders, struct accessors and every constant and flag set of the header, generated.
 *
 * @packageDocumentation
 */
export { IoUring, type RingParams } from './ring/ring.js';
export type { WaitOptions } from './ring/wait-options.js';
export { FAST_SETUP, type IoUringOptions, type NoMmapOptions, type PreferableFlag, type SqPollOptions } from './ring/setup.js';
export { Sqe } from './ring/sqe.js';
export { CancelKey } from './ring/cancel-keys.js';
export type { Cqe } from './ring/cqe.js';
export { Probe, type ProbedOp } from './ring/probe.js';
export { RingStateError, type RingStateErrorCode } from './ring/errors.js';
export { ArgumentError, UnsupportedOpError, type ArgumentErrorCode } from './errors.js';
export type { AccessorMemory } from './abi/struct.js';
export { IoUringError } from './sys/errors.js';
export { AT_FDCWD, FixedFile, type FdLike, type FileRef } from './abi/fd.js';
export { OwnedFd, FdClosedError } from './abi/owned-fd.js';
export * from './register/index.js';
export {
  AsyncIoUring,
  AbortError,
  POLLIN,
  POLLPRI,
  POLLOUT,
  POLLERR,
  POLLHUP,
  POLLNVAL,
  POLLRDHUP,
  type AsyncIoUringOptions,
  type WakerKind,
  type OpOptions,
  type ReadWriteOptions,
  type SendRecvOptions,
  type MsgOptions,
  type FsyncOptions,
  type StatOptions,
  type AcceptOptions,
  type Accepted,
  type TimeoutOptions,
  type SpliceOptions,
  type ShutdownHow,
  type Completion,
} from './async/async-ring.js';
export {
  Multishot,
  AcceptMultishot,
  RecvMultishot,
  PollMultishot,
  type MultishotOptions,
  type AcceptMultishotOptions,
  type RecvMultishotOptions,
} from './async/multishot.js';
export { Stats, STATX_SIZE, STATX_BASIC_STATS, STATX_BTIME, AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, makedev } from './async/statx.js';
export { openFlagsOf, O_CLOEXEC, type OpenFlags } from './async/open-flags.js';
export { readFile, writeFile, copyFile, type PathOrFd, type ReadFileOptions, type WriteFileOptions, type CopyFileOptions } from './fs/index.js';
export { createServer, connect, Connection, TcpServer, type ServerOptions, type ConnectOptions, type ListenVia } from './net/tcp.js';
export {
  encodeSockaddr,
  decodeSockaddr,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  SOCK_STREAM,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_CLOEXEC,
  SHUT_RD,
  SHUT_WR,
  SHUT_RDWR,
  SOCKADDR_IN_SIZE,
  SOCKADDR_IN6_SIZE,
  SOCKADDR_STORAGE_SIZE,
  type SocketEndpoint,
  type DecodedAddress,
} from './net/sockaddr.js';
export { localAddress, remoteAddress } from './net/socket-names.js';
export type { Timespec } from './abi/encode.js';
export { alignedBuffer } from './abi/aligned.js';
export { RecvmsgOut, type RecvmsgCmsg, type RecvmsgLayout } from './abi/recvmsg-out.js';
export {
  encodeOpenHow,
  OPEN_HOW_SIZE,
  RESOLVE_NO_XDEV,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_BENEATH,
  RESOLVE_IN_ROOT,
  RESOLVE_CACHED,
  type OpenHow,
} from './abi/open-how.js';
export type { SqeTarget } from './abi/sqe-target.js';
export * from '../generated/ops.js';
export * from '../generated/constants.js';
export * from '../generated/structs.js';
