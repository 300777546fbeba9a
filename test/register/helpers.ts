/**
 * Helpers of the registration tests: synchronous op runs, CQE collection, loopback TCP
 * listeners made with io_uring's own socket/bind/listen ops, pipes, and skips that print
 * the kernel's answer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepBind, prepListen, prepPipe, prepSocket } from '../../generated/ops.js';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import type { Cqe } from '../../src/ring/cqe.js';
import type { IoUring } from '../../src/ring/ring.js';
import type { Sqe } from '../../src/ring/sqe.js';
import { IoUringError } from '../../src/sys/errors.js';

/** A CQE copied out of the ring's reused object. */
export interface Done {
  id: number;
  userData: unknown;
  res: number;
  flags: number;
  opcode: number;
  lo: number;
  hi: number;
  bufferId: number;
  more: boolean;
}

function copy(c: Cqe): Done {
  return { id: c.id, userData: c.userData, res: c.res, flags: c.flags, opcode: c.opcode, lo: c.userDataLo, hi: c.userDataHi, bufferId: c.bufferId, more: c.more };
}

/** Every CQE ready now. */
export function reapAll(ring: IoUring): Done[] {
  const out: Done[] = [];
  ring.forEachCqe((c) => out.push(copy(c)));
  return out;
}

/** Submits and collects CQEs until `n` arrived; throws after `timeoutMs`. */
export function waitCqes(ring: IoUring, n: number, timeoutMs = 5000): Done[] {
  const out: Done[] = [];
  const deadline = performance.now() + timeoutMs;
  ring.submit();
  for (;;) {
    out.push(...reapAll(ring));
    if (out.length >= n) return out;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`waited ${timeoutMs} ms for ${n} CQEs, got ${out.length}: ${JSON.stringify(out)}`);
    ring.submitAndWait(1, Math.min(left, 200));
  }
}

/** Collects CQEs until `pred` holds for the collected list. */
export function waitUntil(ring: IoUring, pred: (all: Done[]) => boolean, timeoutMs = 5000): Done[] {
  const out: Done[] = [];
  const deadline = performance.now() + timeoutMs;
  ring.submit();
  for (;;) {
    out.push(...reapAll(ring));
    if (pred(out)) return out;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`condition not met within ${timeoutMs} ms; CQEs: ${JSON.stringify(out)}`);
    ring.submitAndWait(1, Math.min(left, 200));
  }
}

/** Runs one op to completion and returns its CQE. */
export function run(ring: IoUring, fill: (sqe: Sqe) => void): Done {
  const sqe = ring.getSqeOrThrow();
  fill(sqe);
  const tag = Symbol('run');
  sqe.userData = tag;
  const all = waitUntil(ring, (cqes) => cqes.some((c) => c.userData === tag));
  return all.find((c) => c.userData === tag)!;
}

/** `struct sockaddr_in` for 127.0.0.1:`port` (family host-order, port and address network-order). */
export function sockaddrIn(port: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const dv = new DataView(bytes.buffer);
  dv.setUint16(0, AF_INET, true);
  dv.setUint16(2, port, false);
  bytes.set([127, 0, 0, 1], 4);
  return bytes;
}

export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
const EADDRINUSE = -98;

/**
 * A listening TCP socket on 127.0.0.1, made with io_uring's SOCKET, BIND and LISTEN ops
 * (io_uring has no getsockname, so the port is picked at random and retried when taken).
 */
export function tcpListener(ring: IoUring, backlog = 512): { fd: OwnedFd; port: number } {
  for (let attempt = 0; attempt < 50; attempt++) {
    const sock = run(ring, (s) => prepSocket(s, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const fd = OwnedFd.fromResult(sock.res, 'socket');
    const port = 20000 + Math.floor(Math.random() * 40000);
    const bound = run(ring, (s) => prepBind(s, fd, sockaddrIn(port)));
    if (bound.res === EADDRINUSE) {
      fd.close();
      continue;
    }
    if (bound.res < 0) throw new IoUringError(bound.res, 'bind');
    const listening = run(ring, (s) => prepListen(s, fd, backlog));
    if (listening.res < 0) throw new IoUringError(listening.res, 'listen');
    return { fd, port };
  }
  throw new Error('no free port found');
}

/** A pipe: IORING_OP_PIPE where the kernel has it, else a FIFO opened twice. */
export function makePipe(ring: IoUring): { read: OwnedFd; write: OwnedFd } {
  if (ring.probe.supports('PIPE')) {
    const fds = new Int32Array(2);
    const done = run(ring, (s) => prepPipe(s, fds, 0o2000000));
    if (done.res < 0) throw new IoUringError(done.res, 'pipe');
    return { read: new OwnedFd(fds[0]!), write: new OwnedFd(fds[1]!) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-fifo-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  // O_RDWR opens a FIFO without waiting for a peer (Linux).
  const read = new OwnedFd(openSync(path, 'r+'));
  const write = new OwnedFd(openSync(path, 'r+'));
  rmSync(dir, { recursive: true, force: true });
  return { read, write };
}

/** The running kernel's major.minor. */
export function kernelVersion(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m === null ? [0, 0] : [Number(m[1]), Number(m[2])];
}

export function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = kernelVersion();
  return a > major || (a === major && b >= minor);
}

interface SkipContext {
  skip(note?: string): void;
}

/** Skips (printing the probe's answer) when the kernel lacks `op`. */
export function requireOp(ctx: SkipContext, ring: IoUring, op: string): void {
  if (ring.probe.supports(op)) return;
  const info = ring.probe.ops().find((o) => o.name === `IORING_OP_${op}` || o.name === op);
  const note = `kernel ${release()} lacks IORING_OP_${op.replace(/^IORING_OP_/, '')} (probe: unsupported, last_op ${ring.probe.lastOp}; needs Linux ${info?.minKernel ?? '?'})`;
  console.warn(`skipped: ${note}`);
  ctx.skip(note);
}

/**
 * Runs `register`, skipping when the kernel answers EINVAL/EOPNOTSUPP *and* is older than
 * the release that introduced the feature (on a newer kernel the error is a failure).
 */
export function requireRegister<T>(ctx: SkipContext, feature: string, minKernel: [number, number], register: () => T): T {
  try {
    return register();
  } catch (err) {
    const refused = err instanceof IoUringError && (err.code === 'EINVAL' || err.code === 'EOPNOTSUPP');
    if (refused && !kernelAtLeast(...minKernel)) {
      const note = `kernel ${release()} refuses ${feature} (${(err as IoUringError).code}; needs Linux ${minKernel.join('.')})`;
      console.warn(`skipped: ${note}`);
      ctx.skip(note);
    }
    throw err;
  }
}

/** The `code` of what `fn` throws, or undefined when it returns. */
export function codeOf(fn: () => unknown): string | undefined {
  return errorOf(fn)?.code;
}

/** What `fn` throws, or undefined when it returns. */
export function errorOf(fn: () => unknown): (Error & { code?: string }) | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  return undefined;
}
