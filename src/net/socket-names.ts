/**
 * `getsockname(2)` and `getpeername(2)` through koffi: io_uring has no op for them, and a
 * server bound to port 0 needs the first to learn its port. Both are instant system calls.
 *
 * @module
 */
import koffi from 'koffi';
import { errorFromErrno } from '../sys/errors.js';
import { decodeSockaddr, SOCKADDR_STORAGE_SIZE, type DecodedAddress } from './sockaddr.js';

type NameCall = (fd: number, addr: Uint8Array, len: Uint32Array) => number;

let calls: { getsockname: NameCall; getpeername: NameCall } | undefined;

function load(): { getsockname: NameCall; getpeername: NameCall } {
  if (calls !== undefined) return calls;
  let lib: ReturnType<typeof koffi.load> | undefined;
  let failure: unknown;
  for (const name of [null, 'libc.so.6']) {
    try {
      lib = koffi.load(name);
      lib.symbol('getsockname');
      break;
    } catch (err) {
      lib = undefined;
      failure = err;
    }
  }
  if (lib === undefined) throw new Error(`tsuring: getsockname is not reachable through koffi (${String(failure)})`);
  calls = {
    getsockname: lib.func('int getsockname(int fd, void *addr, void *len)') as NameCall,
    getpeername: lib.func('int getpeername(int fd, void *addr, void *len)') as NameCall,
  };
  return calls;
}

function nameOf(which: 'getsockname' | 'getpeername', fd: number): DecodedAddress | null {
  const addr = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const len = new Uint32Array([SOCKADDR_STORAGE_SIZE]);
  if (load()[which](fd, addr, len) !== 0) throw errorFromErrno(koffi.errno(), which, `(fd ${fd})`);
  return decodeSockaddr(addr, len[0]!);
}

/** The local address a socket is bound to (null for a family other than IPv4/IPv6). */
export function localAddress(fd: number): DecodedAddress | null {
  return nameOf('getsockname', fd);
}

/** The address of a connected socket's peer (null for a family other than IPv4/IPv6). */
export function remoteAddress(fd: number): DecodedAddress | null {
  return nameOf('getpeername', fd);
}
