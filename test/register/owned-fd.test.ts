import { closeSync, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepRead, prepWrite } from '../../generated/ops.js';
import { FixedFile, fileNumber } from '../../src/abi/fd.js';
import { FdClosedError, OwnedFd } from '../../src/abi/owned-fd.js';
import { ArgumentError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import { run } from './helpers.js';

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

describe('OwnedFd', () => {
  it('closes exactly once; fd throws afterwards; a second close is a no-op', () => {
    const fd = openSync('/dev/null', 'r');
    const owned = new OwnedFd(fd);
    expect(owned.fd).toBe(fd);
    expect(String(owned)).toBe(`fd:${fd}`);
    owned.close();
    expect(isOpen(fd)).toBe(false);
    expect(owned.closed).toBe(true);
    expect(() => owned.fd).toThrow(FdClosedError);
    expect(() => owned.fd).toThrow(/already closed/);
    // The number is reused by the next open; a second close must not close that file.
    const reused = openSync('/dev/null', 'r');
    owned.close();
    expect(isOpen(reused)).toBe(true);
    closeSync(reused);
  });

  it('Symbol.dispose closes; release() hands the number over without closing', () => {
    const a = openSync('/dev/null', 'r');
    {
      using owned = new OwnedFd(a);
      expect(owned.fd).toBe(a);
    }
    expect(isOpen(a)).toBe(false);
    const b = openSync('/dev/null', 'r');
    const owned = new OwnedFd(b);
    expect(owned.release()).toBe(b);
    expect(() => owned.fd).toThrow(/released/);
    owned.close();
    expect(isOpen(b)).toBe(true);
    closeSync(b);
  });

  it('refuses non-descriptors and turns a negative CQE result into the op error', () => {
    expect(() => new OwnedFd(-1)).toThrow(ArgumentError);
    expect(() => new OwnedFd(1.5)).toThrow(ArgumentError);
    expect(() => new OwnedFd('3' as unknown as number)).toThrow(ArgumentError);
    const err = (() => {
      try {
        OwnedFd.fromResult(-24, 'accept');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(IoUringError);
    expect((err as IoUringError).code).toBe('EMFILE');
    expect((err as IoUringError).syscall).toBe('accept');
  });

  it('is never a FixedFile, and builders take it as a descriptor', () => {
    const path = join(tmpdir(), `tsuring-owned-${process.pid}`);
    const fd = openSync(path, 'w+');
    const owned = new OwnedFd(fd);
    expect(owned).not.toBeInstanceOf(FixedFile);
    expect(fileNumber('x', owned, false, true)).toBe(fd);
    using ring = new IoUring({ entries: 4 });
    const data = Buffer.from('owned descriptor');
    const w = run(ring, (sqe) => prepWrite(sqe, owned, data, data.length, 0));
    expect(w.res).toBe(data.length);
    expect(readFileSync(path, 'utf8')).toBe('owned descriptor');
    // The SQE's fd field holds the descriptor and IOSQE_FIXED_FILE is clear.
    const sqe = ring.getSqeOrThrow();
    prepRead(sqe, owned, Buffer.alloc(4), 4, 0);
    expect(sqe.view.getInt32(sqe.offset + 4, true)).toBe(fd);
    expect(sqe.flags & 1).toBe(0);
    ring.discardSqe(sqe);
    owned.close();
    // A closed OwnedFd is refused by the builder before anything is written.
    const sqe2 = ring.getSqeOrThrow();
    expect(() => prepRead(sqe2, owned, Buffer.alloc(4), 4, 0)).toThrow(FdClosedError);
    ring.discardSqe(sqe2);
    rmSync(path, { force: true });
  });
});
