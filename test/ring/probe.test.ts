/**
 * The probe: what the running kernel supports, asked with IORING_REGISTER_PROBE, and the
 * builders' refusal of opcodes it lacks (UnsupportedOpError, before anything is written).
 */
import { describe, expect, it } from 'vitest';
import { IORING_OP_NOP, IORING_OP_READ, IoringOp } from '../../generated/constants.js';
import * as ops from '../../generated/ops.js';
import { OPS, prepRaw, prepRead } from '../../generated/ops.js';
import { UnsupportedOpError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { lastJson, runChild } from '../support/child.js';
import { drain } from './helpers.js';

describe('probe', () => {
  it('supports() answers by opcode number, IORING_OP_* name and short name', () => {
    using ring = new IoUring({ entries: 4 });
    const probe = ring.probe;
    expect(probe.available).toBe(true);
    expect(probe.supports('IORING_OP_READ')).toBe(true);
    expect(probe.supports('READ')).toBe(true);
    expect(probe.supports(IORING_OP_READ)).toBe(true);
    expect(probe.supports('IORING_OP_NOP')).toBe(true);
    for (const bad of ['IORING_OP_NOPE', 'LAST', 'IORING_OP_LAST', '', -1, 256, 1.5, Number.NaN]) {
      expect(probe.supports(bad as never)).toBe(false);
    }
    expect(probe.lastOp).toBeGreaterThanOrEqual(IORING_OP_READ);
  });

  it('ops() lists every opcode of the header in order, agreeing with supports() and lastOp', () => {
    using ring = new IoUring({ entries: 4 });
    const list = ring.probe.ops();
    const keys = Object.keys(IoringOp).filter((k) => k !== 'LAST');
    expect(list).toHaveLength(keys.length);
    expect(list.map((o) => o.opcode)).toEqual([...list.map((o) => o.opcode)].sort((a, b) => a - b));
    for (const o of list) {
      expect(o.name).toBe(`IORING_OP_${keys.find((k) => IoringOp[k as keyof typeof IoringOp] === o.opcode)}`);
      expect(o.supported).toBe(ring.probe.supports(o.opcode));
      if (o.opcode > ring.probe.lastOp) expect(o.supported).toBe(false); // the kernel does not know it
    }
    expect(list.find((o) => o.opcode === IORING_OP_READ)).toMatchObject({ name: 'IORING_OP_READ', supported: true, minKernel: '5.6' });
    const missing = list.filter((o) => !o.supported).map((o) => o.name);
    console.info(`[info] opcodes this kernel lacks (last_op ${ring.probe.lastOp}): ${missing.join(', ') || 'none'}`);
  });

  it('what the probe calls unsupported, the kernel really refuses (submitted by hand, bypassing the builders)', (ctx) => {
    using ring = new IoUring({ entries: 4 });
    const missing = ring.probe.ops().find((o) => !o.supported && o.opcode <= 255);
    if (missing === undefined) {
      const note = '[skip] the kernel supports every opcode of our header; nothing to cross-check';
      console.warn(note);
      ctx.skip(note);
      return;
    }
    const sqe = ring.getSqe()!;
    sqe.unsafeFields.opcode = missing.opcode; // the raw field: no builder, no probe check
    sqe.userData = missing.name;
    ring.submitAndWait(1);
    expect(drain(ring)).toMatchObject([{ userData: missing.name, res: -22 }]);
  });

  it('builders of opcodes the kernel lacks throw UnsupportedOpError before writing or pinning anything', () => {
    using ring = new IoUring({ entries: 4 });
    const builders = Object.entries(OPS).filter(([, info]) => !ring.probe.supports(info.opcode));
    console.info(`[info] builders refused on this kernel: ${builders.map(([name]) => name).join(', ') || 'none'}`);
    for (const [name, info] of builders) {
      const sqe = ring.getSqe()!;
      sqe.unsafeFields.opcode = IORING_OP_NOP;
      sqe.unsafeFields.len = 0x5a5a; // a marker: a builder that wrote anything would zero it
      const builder = (ops as unknown as Record<string, (...args: unknown[]) => void>)[name]!;
      let caught: unknown;
      try {
        builder(sqe, Buffer.alloc(8), 8, 0); // arguments are irrelevant: the opcode is checked first
      } catch (err) {
        caught = err;
      }
      expect(caught, name).toBeInstanceOf(UnsupportedOpError);
      const err = caught as UnsupportedOpError;
      expect(err.code).toBe('ERR_IO_URING_OP_UNSUPPORTED');
      expect(err.builder).toBe(name);
      expect(err.opcode).toBe(info.opcode);
      expect(err.opName).toBe(info.opcodeName);
      expect(err.minKernel).toBe(info.minKernel);
      expect(err.message).toContain(`${name}: ${info.opcodeName} is not supported by the running kernel`);
      expect(err.message).toContain(`Linux ${info.minKernel}`);
      expect(sqe.unsafeFields.len).toBe(0x5a5a);
      expect(ring.discardSqe(sqe)).toBe(true);
    }
    expect(ring.inFlight).toBe(0);
  });

  it('prepRaw refuses an opcode past the kernel last_op, and accepts one it has', () => {
    using ring = new IoUring({ entries: 4 });
    const beyond = ring.probe.lastOp + 1;
    expect(beyond).toBeLessThan(256);
    const sqe = ring.getSqe()!;
    expect(() => prepRaw(sqe, beyond)).toThrow(UnsupportedOpError);
    try {
      prepRaw(sqe, 255);
      expect.unreachable('prepRaw(255) was accepted');
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_IO_URING_OP_UNSUPPORTED', opcode: 255, minKernel: null });
    }
    prepRaw(sqe, IORING_OP_NOP);
    sqe.userData = 'raw nop';
    ring.submitAndWait(1);
    expect(drain(ring)).toMatchObject([{ userData: 'raw nop', res: 0 }]);
  });

  it('a supported builder still works next to the refused ones', () => {
    using ring = new IoUring({ entries: 4 });
    const sqe = ring.getSqe()!;
    prepRead(sqe, 0, Buffer.alloc(0), 0, 0); // zero bytes from stdin: completes at once with 0
    sqe.userData = 'zero read';
    ring.submitAndWait(1);
    expect(drain(ring)).toMatchObject([{ userData: 'zero read', res: 0 }]);
  });

  it('EPOLL_WAIT: the builder sizes events by the layout of process.arch (12 bytes packed on x86-64, 16 on arm64)', async (ctx) => {
    // process.arch is read when the generated code loads: set it first, then import (koffi's
    // native module is loaded before, for the real architecture).
    const probeAs = (arch: string | null): string => `
import '@repo/src/sys/libc.js';
${arch === null ? '' : `Object.defineProperty(process, 'arch', { value: '${arch}' });`}
const { IoUring } = await import('@repo/src/ring/ring.js');
const { prepEpollWait } = await import('@repo/generated/ops.js');
using ring = new IoUring({ entries: 2 });
const attempt = (bytes) => {
  const sqe = ring.getSqe()!;
  try {
    prepEpollWait(sqe, 0, new Uint8Array(bytes), 1);
    return null;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    ring.discardSqe(sqe);
  }
};
console.log(JSON.stringify({ kernelHasIt: ring.probe.supports('EPOLL_WAIT'), twelve: attempt(12), sixteen: attempt(16) }));
`;
    const native = lastJson<{ kernelHasIt: boolean; twelve: string | null; sixteen: string | null }>(await runChild(probeAs(null), { timeoutMs: 30_000 }));
    if (!native.kernelHasIt) {
      expect(native).toMatchObject({ twelve: 'ERR_IO_URING_OP_UNSUPPORTED', sixteen: 'ERR_IO_URING_OP_UNSUPPORTED' });
      ctx.skip('IORING_OP_EPOLL_WAIT needs Linux 6.15; this kernel refuses it (the builder said so)');
    }
    const x64 = lastJson<{ twelve: string | null; sixteen: string | null }>(await runChild(probeAs('x64'), { timeoutMs: 30_000 }));
    expect(x64).toMatchObject({ twelve: null, sixteen: null });
    const arm = lastJson<{ twelve: string | null; sixteen: string | null }>(await runChild(probeAs('arm64'), { timeoutMs: 30_000 }));
    // One 16-byte event on arm64: 12 bytes are too few, 16 fit.
    expect(arm).toMatchObject({ twelve: 'ERR_OUT_OF_RANGE', sixteen: null });
  });
});
