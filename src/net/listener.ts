/**
 * Listening TCP sockets: `socket`, `SO_REUSEADDR`, `bind`, `listen`.
 *
 * Two ways, one result:
 * - {@link listenNow}: the plain system calls through koffi (`src/sys/posix.ts`). Every
 *   supported kernel has them, each is instant, and the listener exists when the call
 *   returns (so `server.address()` right after `listen()` works, as in `node:net`).
 * - {@link listenOnRing}: the io_uring ops `SOCKET` (5.19), `BIND` and `LISTEN` (6.11),
 *   falling back to the system calls, per op, where the ring's probe lacks one. Decided per
 *   operation: bind and listen are never refused for want of an opcode.
 *
 * `SO_REUSEADDR` is always set with `setsockopt(2)`, as libuv does (io_uring's own
 * `SOCKET_URING_OP_SETSOCKOPT` is Linux 6.7, and without the option a restarted server
 * cannot bind while old connections sit in TIME_WAIT).
 *
 * @module
 */
import { prepBind, prepListen } from '../../generated/ops.js';
import { OwnedFd } from '../abi/owned-fd.js';
import type { AsyncIoUring } from '../async/async-ring.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { bindSync, listenSync, setsockoptInt, socketSync } from '../sys/posix.js';
import { addressFamily, AF_INET6, encodeSockaddr, SOCK_CLOEXEC, SOCK_STREAM, type SocketEndpoint } from './sockaddr.js';

/** `SOL_SOCKET`. */
export const SOL_SOCKET = 1;
/** `SO_REUSEADDR`. */
export const SO_REUSEADDR = 2;
/** `SO_KEEPALIVE`. */
export const SO_KEEPALIVE = 9;
/** `IPPROTO_TCP`. */
export const IPPROTO_TCP = 6;
/** `TCP_NODELAY`. */
export const TCP_NODELAY = 1;
/** `TCP_KEEPIDLE` (seconds before the first keep-alive probe). */
export const TCP_KEEPIDLE = 4;
/** `IPPROTO_IPV6`. */
export const IPPROTO_IPV6 = 41;
/** `IPV6_V6ONLY`. */
export const IPV6_V6ONLY = 26;

/**
 * How a listener is made: `'auto'` (the io_uring ops `BIND` / `LISTEN` where the kernel has
 * them, Linux 6.11, else the system calls), `'io_uring'` (ops only: an `UnsupportedOpError`
 * names the kernel needed), `'syscall'` (system calls only).
 */
export type ListenVia = 'auto' | 'io_uring' | 'syscall';

/** What a listener is made from. */
export interface ListenerSpec {
  /** IP address (text) and port (0: the kernel picks one). */
  endpoint: SocketEndpoint;
  /** `listen(2)` backlog. */
  backlog: number;
  /** For an IPv6 address: accept IPv6 only (`IPV6_V6ONLY`), not IPv4-mapped too. Default false. */
  ipv6Only?: boolean | undefined;
}

/** Checks a {@link ListenVia} option value. */
export function checkListenVia(value: unknown, argument: string): ListenVia {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'io_uring' || value === 'syscall') return value;
  throw new ArgumentError('ERR_INVALID_ARG_VALUE', argument, `expected 'auto', 'io_uring' or 'syscall', received ${describeReceived(value)}`);
}

/** A new stream socket for `family` with the options every listener gets. */
function configure(fd: number, family: number, spec: ListenerSpec): void {
  setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (family === AF_INET6) setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, spec.ipv6Only === true ? 1 : 0);
}

/**
 * `socket` + `SO_REUSEADDR` + `bind` + `listen` with system calls; the listener is ready on
 * return. Errors are `IoUringError`s (`EADDRINUSE` with syscall `'bind'`, ...); on error
 * nothing stays open.
 */
export function listenNow(spec: ListenerSpec): OwnedFd {
  const addr = encodeSockaddr(spec.endpoint, 'listen: address');
  const family = addressFamily(spec.endpoint.address);
  const fd = new OwnedFd(socketSync(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    configure(fd.fd, family, spec);
    bindSync(fd.fd, addr);
    listenSync(fd.fd, spec.backlog);
    return fd;
  } catch (err) {
    fd.close();
    throw err;
  }
}

/**
 * The same through the ring: `IORING_OP_SOCKET`, `BIND`, `LISTEN` where `via` and the
 * kernel allow, each replaced by its system call otherwise (see the module notes).
 */
export async function listenOnRing(ring: AsyncIoUring, spec: ListenerSpec, via: ListenVia = 'auto'): Promise<OwnedFd> {
  if (via === 'syscall') return listenNow(spec);
  const probe = ring.ring.probe;
  const ops = via === 'io_uring' || (probe.supports('SOCKET') && probe.supports('BIND') && probe.supports('LISTEN'));
  if (!ops) return listenNow(spec);
  const addr = encodeSockaddr(spec.endpoint, 'listen: address');
  const family = addressFamily(spec.endpoint.address);
  const fd = new OwnedFd(await ring.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    configure(fd.fd, family, spec);
    await ring.submit((sqe) => prepBind(sqe, fd, addr));
    await ring.submit((sqe) => prepListen(sqe, fd, spec.backlog));
    return fd;
  } catch (err) {
    fd.close();
    throw err;
  }
}
