/**
 * Plain POSIX system calls through koffi, for what io_uring lacks on older kernels
 * (`IORING_OP_BIND` / `IORING_OP_LISTEN` are Linux 6.11, `IORING_OP_PIPE` 6.16) and for
 * what it has no opcode for at all (`getsockopt`, `fcntl`). Every call here is instant
 * (none blocks), so running it on the JS thread costs what Node's own `net` pays.
 *
 * Errors are {@link IoUringError}s with `syscall` set to the call's name, as everywhere.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { errorFromErrno } from './errors.js';
import { lastErrnoOf, libcHandle } from './libc.js';

type Fn<A extends unknown[]> = (...args: A) => number;

const cSocket = libcHandle.func('int socket(int domain, int type, int protocol)') as Fn<[number, number, number]>;
const cBind = libcHandle.func('int bind(int fd, void *addr, uint32_t len)') as Fn<[number, Uint8Array, number]>;
const cListen = libcHandle.func('int listen(int fd, int backlog)') as Fn<[number, number]>;
const cPipe2 = libcHandle.func('int pipe2(void *fds, int flags)') as Fn<[Int32Array, number]>;
const cSetsockopt = libcHandle.func('int setsockopt(int fd, int level, int name, void *value, uint32_t len)') as Fn<[number, number, number, Uint8Array, number]>;
const cGetsockopt = libcHandle.func('int getsockopt(int fd, int level, int name, void *value, void *len)') as Fn<[number, number, number, Uint8Array, Uint32Array]>;
const cShutdown = libcHandle.func('int shutdown(int fd, int how)') as Fn<[number, number]>;
const cFcntl = libcHandle.func('int fcntl(int fd, int cmd, int arg)') as Fn<[number, number, number]>;

const ERRNO_EINTR = 4;

function checkFd(what: string, fd: unknown): number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: fd`, `expected a descriptor (an integer ≥ 0), received ${describeReceived(fd)}`);
  }
  return fd;
}

function checkInt(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', what, `expected a 32-bit integer, received ${describeReceived(value)}`);
  }
  return value;
}

/** `socket(2)`: a new socket's descriptor. `type` may include `SOCK_CLOEXEC` / `SOCK_NONBLOCK`. */
export function socketSync(domain: number, type: number, protocol = 0): number {
  const fd = cSocket(checkInt('socketSync: domain', domain), checkInt('socketSync: type', type), checkInt('socketSync: protocol', protocol));
  if (fd < 0) throw errorFromErrno(lastErrnoOf(), 'socket');
  return fd;
}

/** `bind(2)` to an encoded `sockaddr` (see `encodeSockaddr`). */
export function bindSync(fd: number, sockaddr: Uint8Array): void {
  checkFd('bindSync', fd);
  if (!(sockaddr instanceof Uint8Array)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'bindSync: sockaddr', `expected a Uint8Array, received ${describeReceived(sockaddr)}`);
  }
  const length = Uint8ArrayByteLength(sockaddr);
  if (cBind(fd, sockaddr, length) !== 0) throw errorFromErrno(lastErrnoOf(), 'bind', `(fd ${fd})`);
}

/** `listen(2)`. */
export function listenSync(fd: number, backlog = 511): void {
  checkFd('listenSync', fd);
  if (cListen(fd, checkInt('listenSync: backlog', backlog)) !== 0) throw errorFromErrno(lastErrnoOf(), 'listen', `(fd ${fd})`);
}

/**
 * `pipe2(2)`: `[readEnd, writeEnd]`. `flags`: `O_CLOEXEC` (0o2000000), `O_NONBLOCK`
 * (0o4000), `O_DIRECT` (0o40000).
 */
export function pipe2Sync(flags = 0o2000000): [number, number] {
  const fds = new Int32Array(2);
  if (cPipe2(fds, checkInt('pipe2Sync: flags', flags)) !== 0) throw errorFromErrno(lastErrnoOf(), 'pipe2');
  return [fds[0]!, fds[1]!];
}

/** `setsockopt(2)` with an `int` value (SO_REUSEADDR, TCP_NODELAY, ...). */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  checkFd('setsockoptInt', fd);
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, checkInt('setsockoptInt: value', value), true);
  if (cSetsockopt(fd, checkInt('setsockoptInt: level', level), checkInt('setsockoptInt: name', name), bytes, 4) !== 0) {
    throw errorFromErrno(lastErrnoOf(), 'setsockopt', `(fd ${fd})`);
  }
}

/** `getsockopt(2)` of an `int` option (SO_ERROR, SO_TYPE, ...). */
export function getsockoptInt(fd: number, level: number, name: number): number {
  checkFd('getsockoptInt', fd);
  const bytes = new Uint8Array(4);
  const len = new Uint32Array([4]);
  if (cGetsockopt(fd, checkInt('getsockoptInt: level', level), checkInt('getsockoptInt: name', name), bytes, len) !== 0) {
    throw errorFromErrno(lastErrnoOf(), 'getsockopt', `(fd ${fd})`);
  }
  return new DataView(bytes.buffer).getInt32(0, true);
}

/** `shutdown(2)`: 0 read, 1 write, 2 both. */
export function shutdownSync(fd: number, how: number): void {
  checkFd('shutdownSync', fd);
  if (cShutdown(fd, checkInt('shutdownSync: how', how)) !== 0) throw errorFromErrno(lastErrnoOf(), 'shutdown', `(fd ${fd})`);
}

/** `fcntl(2)` with an integer argument (F_GETFL = 3, F_SETFL = 4, F_GETFD = 1, ...); EINTR is retried. */
export function fcntlSync(fd: number, cmd: number, arg = 0): number {
  checkFd('fcntlSync', fd);
  for (;;) {
    const r = cFcntl(fd, checkInt('fcntlSync: cmd', cmd), checkInt('fcntlSync: arg', arg));
    if (r >= 0) return r;
    const errno = lastErrnoOf();
    if (errno !== ERRNO_EINTR) throw errorFromErrno(errno, 'fcntl', `(fd ${fd})`);
  }
}

// The byte length the kernel will read, through the built-in getter (never an own or
// subclass `byteLength` property an object may define to lie about its size).
const byteLengthGetter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')!.get!;
function Uint8ArrayByteLength(view: Uint8Array): number {
  return byteLengthGetter.call(view) as number;
}
