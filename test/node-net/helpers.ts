/**
 * Shared by the `tsuring/net` tests: listening on a free port, collecting what a stream
 * emits, random payloads.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';

/** Anything with node:net's server shape (tsuring's or Node's). */
interface Listenable {
  listen(port: number, host: string, cb: () => void): unknown;
  address(): AddressInfo | string | null;
  once(event: 'error', cb: (err: Error) => void): unknown;
}

/** Listens on 127.0.0.1 (or `host`) on a port the kernel picks; resolves with the port. */
export async function listenOn(server: Listenable, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

/** Every chunk `stream` emits, kept as given (no copy), then concatenated at the end. */
export async function collect(stream: Readable): Promise<{ data: Buffer; chunks: number }> {
  const kept: Buffer[] = [];
  stream.on('data', (d: Buffer) => kept.push(d));
  await once(stream, 'end');
  return { data: Buffer.concat(kept), chunks: kept.length };
}

/** A payload whose every byte depends on its position, so a shifted or reused byte shows. */
export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 16) ^ i;
  }
  return b;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first index where `a` and `b` differ, or -1 (for readable failures on big buffers). */
export function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
