/**
 * Socket addresses as the kernel reads and writes them: `struct sockaddr_in` (16 bytes) and
 * `struct sockaddr_in6` (28 bytes), encoded from `{ address, port }` (or a
 * `net.SocketAddress`) and decoded back into Node's `{ address, family, port }` shape.
 *
 * Layout on Linux (checked against `<netinet/in.h>` by test/net/sockaddr.test.ts):
 * - `sockaddr_in`: `sin_family` u16 (host order) @0, `sin_port` u16 (network order) @2,
 *   `sin_addr` 4 bytes @4, `sin_zero` 8 bytes @8; 16 bytes.
 * - `sockaddr_in6`: `sin6_family` u16 @0, `sin6_port` u16 (network order) @2,
 *   `sin6_flowinfo` u32 (network order) @4, `sin6_addr` 16 bytes @8, `sin6_scope_id` u32
 *   (host order) @24; 28 bytes.
 *
 * @module
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { ArgumentError, describeReceived } from '../errors.js';

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;
/** `AF_UNIX`. */
export const AF_UNIX = 1;
/** `SOCK_STREAM`. */
export const SOCK_STREAM = 1;
/** `SOCK_DGRAM`. */
export const SOCK_DGRAM = 2;
/** `SOCK_NONBLOCK` (type flag of socket/accept4). */
export const SOCK_NONBLOCK = 0o4000;
/** `SOCK_CLOEXEC` (type flag of socket/accept4). */
export const SOCK_CLOEXEC = 0o2000000;
/** `SHUT_RD`: shutdown(2) of the receiving side. */
export const SHUT_RD = 0;
/** `SHUT_WR`: shutdown(2) of the sending side (the peer reads end of stream). */
export const SHUT_WR = 1;
/** `SHUT_RDWR`: shutdown(2) of both sides. */
export const SHUT_RDWR = 2;

/** Bytes in `struct sockaddr_in`. */
export const SOCKADDR_IN_SIZE = 16;
/** Bytes in `struct sockaddr_in6`. */
export const SOCKADDR_IN6_SIZE = 28;
/** Bytes in `struct sockaddr_storage`: room for any address a receive or accept reports. */
export const SOCKADDR_STORAGE_SIZE = 128;

/** Byte offsets of `struct sockaddr_in` and `struct sockaddr_in6` on Linux. */
export const SOCKADDR_OFFSETS = Object.freeze({
  sin_family: 0,
  sin_port: 2,
  sin_addr: 4,
  sin6_family: 0,
  sin6_port: 2,
  sin6_flowinfo: 4,
  sin6_addr: 8,
  sin6_scope_id: 24,
});

/** An IP endpoint: what {@link encodeSockaddr} takes (a `net.SocketAddress` also fits). */
export interface SocketEndpoint {
  /** An IPv4 (`'127.0.0.1'`) or IPv6 (`'::1'`, `'fe80::1%2'`) address in text form. */
  address: string;
  /** TCP/UDP port, 0 to 65535. */
  port: number;
  /** `'ipv4'` or `'ipv6'`; default: from the address's form. */
  family?: 'ipv4' | 'ipv6' | 'IPv4' | 'IPv6' | undefined;
  /** IPv6 flow label (`sin6_flowinfo`), default 0. */
  flowlabel?: number | undefined;
}

/** A decoded address, shaped like Node's `socket.address()`. */
export interface DecodedAddress {
  /** `'127.0.0.1'`, `'::1'`, `'fe80::1%2'` (a non-zero scope id is appended as `%id`). */
  readonly address: string;
  /** `'IPv4'` or `'IPv6'`, as Node reports it. */
  readonly family: 'IPv4' | 'IPv6';
  /** The port. */
  readonly port: number;
  /** IPv6 only: the flow label. */
  readonly flowlabel?: number;
  /** IPv6 only: the scope (interface) id. */
  readonly scopeId?: number;
}

/**
 * Encodes an IPv4 or IPv6 endpoint into a fresh `sockaddr_in` / `sockaddr_in6`.
 *
 * @throws {@link ArgumentError} for anything that is not an IP address and a port.
 */
export function encodeSockaddr(endpoint: SocketEndpoint | SocketAddress, argument = 'address'): Uint8Array {
  if (endpoint === null || typeof endpoint !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected { address, port } or a net.SocketAddress, received ${describeReceived(endpoint)}`);
  }
  const address = endpoint.address;
  const port = endpoint.port;
  if (typeof address !== 'string') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${argument}.address`, `expected an IP address string, received ${describeReceived(address)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', `${argument}.port`, `expected an integer from 0 to 65535, received ${describeReceived(port)}`);
  }
  const family = endpoint.family === undefined ? undefined : String(endpoint.family).toLowerCase();
  if (family !== undefined && family !== 'ipv4' && family !== 'ipv6') {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${argument}.family`, `expected 'ipv4' or 'ipv6', received ${describeReceived(endpoint.family)}`);
  }
  if (family !== 'ipv6' && isIPv4(address)) {
    const out = new Uint8Array(SOCKADDR_IN_SIZE);
    const dv = new DataView(out.buffer);
    dv.setUint16(SOCKADDR_OFFSETS.sin_family, AF_INET, true);
    dv.setUint16(SOCKADDR_OFFSETS.sin_port, port, false);
    out.set(parseIPv4(address), SOCKADDR_OFFSETS.sin_addr);
    return out;
  }
  const percent = address.indexOf('%');
  const host = percent < 0 ? address : address.slice(0, percent);
  if (family !== 'ipv4' && isIPv6(host)) {
    const flowlabel = endpoint.flowlabel ?? 0;
    if (typeof flowlabel !== 'number' || !Number.isInteger(flowlabel) || flowlabel < 0 || flowlabel > 0xfffff) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', `${argument}.flowlabel`, `expected an integer from 0 to 1048575, received ${describeReceived(flowlabel)}`);
    }
    let scopeId = 0;
    if (percent >= 0) {
      const zone = address.slice(percent + 1);
      if (!/^\d+$/.test(zone) || Number(zone) > 0xffffffff) {
        throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${argument}.address`, `the zone of ${describeReceived(address)} must be a numeric interface index (names are not resolved)`);
      }
      scopeId = Number(zone);
    }
    const out = new Uint8Array(SOCKADDR_IN6_SIZE);
    const dv = new DataView(out.buffer);
    dv.setUint16(SOCKADDR_OFFSETS.sin6_family, AF_INET6, true);
    dv.setUint16(SOCKADDR_OFFSETS.sin6_port, port, false);
    dv.setUint32(SOCKADDR_OFFSETS.sin6_flowinfo, flowlabel, false);
    out.set(parseIPv6(host), SOCKADDR_OFFSETS.sin6_addr);
    dv.setUint32(SOCKADDR_OFFSETS.sin6_scope_id, scopeId, true);
    return out;
  }
  throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${argument}.address`, `expected an IP${family === undefined ? '' : family === 'ipv4' ? 'v4' : 'v6'} address, received ${describeReceived(address)} (host names are not resolved: use dns.lookup first)`);
}

/**
 * Decodes a `sockaddr_in` / `sockaddr_in6` (the first `length` bytes of `bytes`, as the
 * kernel reported them). Returns null for another family or a truncated address.
 */
export function decodeSockaddr(bytes: Uint8Array, length = bytes.byteLength): DecodedAddress | null {
  if (length < 2 || bytes.byteLength < 2) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = dv.getUint16(0, true);
  if (family === AF_INET && length >= SOCKADDR_IN_SIZE && bytes.byteLength >= SOCKADDR_IN_SIZE) {
    const a = SOCKADDR_OFFSETS.sin_addr;
    return {
      address: `${bytes[a]}.${bytes[a + 1]}.${bytes[a + 2]}.${bytes[a + 3]}`,
      family: 'IPv4',
      port: dv.getUint16(SOCKADDR_OFFSETS.sin_port, false),
    };
  }
  if (family === AF_INET6 && length >= SOCKADDR_IN6_SIZE && bytes.byteLength >= SOCKADDR_IN6_SIZE) {
    const scopeId = dv.getUint32(SOCKADDR_OFFSETS.sin6_scope_id, true);
    const text = formatIPv6(bytes.subarray(SOCKADDR_OFFSETS.sin6_addr, SOCKADDR_OFFSETS.sin6_addr + 16));
    return {
      address: scopeId === 0 ? text : `${text}%${scopeId}`,
      family: 'IPv6',
      port: dv.getUint16(SOCKADDR_OFFSETS.sin6_port, false),
      flowlabel: dv.getUint32(SOCKADDR_OFFSETS.sin6_flowinfo, false) & 0xfffff,
      scopeId,
    };
  }
  return null;
}

/** The `AF_*` family of an IP address in text form, or 0 when it is not one. */
export function addressFamily(address: string): number {
  if (isIPv4(address)) return AF_INET;
  const percent = address.indexOf('%');
  return isIPv6(percent < 0 ? address : address.slice(0, percent)) ? AF_INET6 : 0;
}

function parseIPv4(text: string): number[] {
  return text.split('.').map(Number);
}

/** 16 bytes of an IPv6 address already validated by `net.isIPv6` (no zone). */
function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const words: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = parseIPv4(piece) as [number, number, number, number];
        words.push((a << 8) | b, (c << 8) | d);
      } else {
        words.push(parseInt(piece, 16));
      }
    }
    return words;
  };
  const front = groups(head);
  const back = groups(tail);
  const words = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >>> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** RFC 5952 text of 16 address bytes, as Node prints them (`::1`, `::ffff:127.0.0.1`). */
function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  // IPv4-mapped (::ffff:a.b.c.d).
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  // The longest run of two or more zero words (the first one on a tie) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => words.slice(from, to).map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
