/**
 * Helpers of the registration tests: synchronous op runs, CQE collection, loopback TCP
 * listeners and pipes made with plain system calls, and skips that print the kernel's answer.
 */
import { release } from 'node:os';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import type { Cqe } from '../../src/ring/cqe.js';
import type { IoUring } from '../../src/ring/ring.js';
import type { Sqe } from '../../src/ring/sqe.js';
import { IoUringError } from '../../src/sys/errors.js';
import { pipeFds, tcpListenFd } from '../support/fds.js';
import { hangAfter } from '../support/slow.js';

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

/** Submits and collects CQEs until `n` arrived; throws after `timeoutMs` (a hang detector, scaled by the machine's slowdown). */
export function waitCqes(ring: IoUring, n: number, timeoutMs = 5000): Done[] {
  timeoutMs = hangAfter(timeoutMs);
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

/** Collects CQEs until `pred` holds for the collected list (`timeoutMs`: a hang detector, scaled by the machine's slowdown). */
export function waitUntil(ring: IoUring, pred: (all: Done[]) => boolean, timeoutMs = 5000): Done[] {
  timeoutMs = hangAfter(timeoutMs);
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

/**
 * A listening TCP socket on 127.0.0.1 from socket/bind/listen(2), which every supported kernel
 * has (IORING_OP_BIND / LISTEN are Linux 6.11). The ring under test is not involved.
 */
export function tcpListener(backlog = 512): { fd: OwnedFd; port: number } {
  const { fd, port } = tcpListenFd('127.0.0.1', backlog);
  return { fd: new OwnedFd(fd), port };
}

/** A pipe from pipe2(2) (every supported kernel has it; IORING_OP_PIPE is Linux 6.16). */
export function makePipe(): { read: OwnedFd; write: OwnedFd } {
  const [read, write] = pipeFds();
  return { read: new OwnedFd(read), write: new OwnedFd(write) };
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
  const supported = ring.probe.supports(op);
  if (!supported) {
    const info = ring.probe.ops().find((o) => o.name === `IORING_OP_${op}` || o.name === op);
    const note = `kernel ${release()} lacks IORING_OP_${op.replace(/^IORING_OP_/, '')} (probe: unsupported, last_op ${ring.probe.lastOp}; needs Linux ${info?.minKernel ?? '?'})`;
    console.warn(`skipped: ${note}`);
    ctx.skip(note);
  }
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

/**
 * Skips (printing why) when an op's CQE says the kernel refused a feature (`res` -EINVAL or
 * -EOPNOTSUPP) *and* the kernel is older than the release that introduced it; on a newer
 * kernel the refusal is left for the test to fail on.
 */
export function requireOpFeature(ctx: SkipContext, feature: string, minKernel: [number, number], res: number): void {
  const refused = res === -22 || res === -95;
  if (!refused || kernelAtLeast(...minKernel)) return;
  const note = `kernel ${release()} refuses ${feature} (${res === -22 ? 'EINVAL' : 'EOPNOTSUPP'}; needs Linux ${minKernel.join('.')})`;
  console.warn(`skipped: ${note}`);
  ctx.skip(note);
}
