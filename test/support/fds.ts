/**
 * Descriptors for tests to work on, made with plain system calls every supported kernel has
 * (6.1 included), never with the ring under test: pipes from `pipe2(2)`, TCP listeners from
 * `socket(2)` + `bind(2)` + `listen(2)` (IORING_OP_PIPE is Linux 6.16, IORING_OP_BIND and
 * IORING_OP_LISTEN 6.11).
 */
import { addressFamily, encodeSockaddr, SOCK_CLOEXEC, SOCK_STREAM } from '../../src/net/sockaddr.js';
import { localAddress } from '../../src/net/socket-names.js';
import { bindSync, listenSync, pipe2Sync, socketSync } from '../../src/sys/posix.js';
import { closeFd } from '../../src/sys/libc.js';

const O_CLOEXEC = 0o2000000;

/** `[readEnd, writeEnd]`, close-on-exec (plus `flags`, e.g. O_NONBLOCK 0o4000). */
export function pipeFds(flags = 0): [number, number] {
  return pipe2Sync(O_CLOEXEC | flags);
}

/** A listening TCP socket on `host` (port chosen by the kernel), and its port. */
export function tcpListenFd(host = '127.0.0.1', backlog = 512): { fd: number; port: number } {
  const fd = socketSync(addressFamily(host), SOCK_STREAM | SOCK_CLOEXEC);
  try {
    bindSync(fd, encodeSockaddr({ address: host, port: 0 }));
    listenSync(fd, backlog);
    return { fd, port: localAddress(fd)!.port };
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}
