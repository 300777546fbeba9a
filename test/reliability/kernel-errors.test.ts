/**
 * Kernel errors arrive intact (issue 9, item 2): each op below is made to fail for real,
 * and its negative `res` must become an `IoUringError` with the right `code`, the negative
 * `errno` Node uses (`-os.constants.errno[code]`), `syscall` = the op's name, and a
 * message in Node's shape (`<code>: <text>, <op>`). Checked through the raw API
 * (`cqe.res`, `cqe.error()`) and through the Promise API (`AsyncIoUring.submit`), op by op.
 */
import { closeSync, constants as fsConstants, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import util from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import {
  prepAccept,
  prepCancel,
  prepConnect,
  prepFsync,
  prepMkdirat,
  prepNop,
  prepOpenat,
  prepRead,
  prepRecv,
  prepReadv2,
  prepSend,
  prepSocket,
  prepTimeout,
  prepTimeoutRemove,
  prepUnlinkat,
  prepWrite,
} from '../../generated/ops.js';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { errnoNumber } from '../../src/sys/errno.js';
import { IoUringError } from '../../src/sys/errors.js';
import { FileTable } from '../../src/register/files.js';
import { BufferRing, ProvidedBufferGroup } from '../../src/register/provided.js';
import { IoUring } from '../../src/ring/ring.js';
import type { Sqe } from '../../src/ring/sqe.js';
import { AF_INET, kernelAtLeast, run, SOCK_CLOEXEC, SOCK_STREAM, sockaddrIn, tcpListener } from '../register/helpers.js';
import { makeTempDir } from '../ring/helpers.js';
import { pipeFds } from '../support/fds.js';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = fsConstants;
const AT_REMOVEDIR = 0x200;
const SOCK_DGRAM = 2;
const MSG_DONTWAIT = 0x40;
const RWF_NOWAIT = 0x8;

/** Names libuv gives the same errno. */
const ALIASES: Record<string, string> = { EOPNOTSUPP: 'ENOTSUP', EAGAIN: 'EWOULDBLOCK' };

/** What the cases need, made once per ring (buffer groups belong to one ring). */
interface Fixtures {
  dir: string;
  file: string;
  fileFd: number;
  dirFd: number;
  table: FileTable;
  /** A buffer ring of one buffer: the first read takes it, the next finds none. */
  onePool: BufferRing;
  /** A legacy group whose buffers were never provided. */
  emptyLegacy: ProvidedBufferGroup;
  tcp: OwnedFd;
  udp: OwnedFd;
  refusedPort: number;
  pipeRead: OwnedFd;
  pipeWrite: OwnedFd;
  /** The write end of a pipe whose read end is closed. */
  brokenWrite: OwnedFd;
}

interface Case {
  code: string;
  /** The op name the error carries in `syscall`. */
  op: string;
  what: string;
  /** SQE fillers, all submitted together; linked steps call `sqe.link()`. */
  steps: Array<(sqe: Sqe, fx: Fixtures) => void>;
  /** Which step's result is checked (default: the last). */
  target?: number;
}

const CASES: Case[] = [
  { code: 'EBADF', op: 'read', what: 'read from a descriptor that is not open', steps: [(s) => prepRead(s, 1_000_000, Buffer.alloc(8), 8, 0)] },
  { code: 'EBADF', op: 'read', what: 'read from an empty registered file slot', steps: [(s, fx) => prepRead(s, fx.table.slot(1), Buffer.alloc(8), 8, 0)] },
  { code: 'ENOENT', op: 'openat', what: 'open a path that does not exist', steps: [(s, fx) => prepOpenat(s, -100, join(fx.dir, 'missing'), O_RDONLY)] },
  { code: 'ENOENT', op: 'async_cancel', what: 'cancel an op id that is not in flight', steps: [(s) => prepCancel(s, 123_456)] },
  { code: 'ENOENT', op: 'timeout_remove', what: 'remove a timeout that does not exist', steps: [(s) => prepTimeoutRemove(s, 654_321)] },
  {
    code: 'ECANCELED',
    op: 'nop',
    what: 'an op linked after one that failed',
    steps: [(s) => { prepRead(s, 1_000_000, Buffer.alloc(8), 8, 0); s.link(); }, (s) => prepNop(s)],
  },
  { code: 'ETIME', op: 'timeout', what: 'a timeout that expires', steps: [(s) => prepTimeout(s, { sec: 0, nsec: 1_000_000 }, 0)] },
  {
    code: 'ENOBUFS',
    op: 'read',
    what: 'buffer select from a buffer ring that ran dry',
    steps: [(s, fx) => { fx.onePool.prepRead(s, fx.fileFd, 0, 0); s.link(); }, (s, fx) => fx.onePool.prepRead(s, fx.fileFd, 0, 0)],
  },
  { code: 'ENOBUFS', op: 'read', what: 'buffer select from a legacy group never provided', steps: [(s, fx) => fx.emptyLegacy.prepRead(s, fx.fileFd, 0, 0)] },
  { code: 'EINVAL', op: 'accept', what: 'accept on a socket that is not listening', steps: [(s, fx) => prepAccept(s, fx.tcp, null)] },
  { code: 'EINVAL', op: 'fsync', what: 'fsync of a pipe', steps: [(s, fx) => prepFsync(s, fx.pipeRead)] },
  { code: 'EOPNOTSUPP', op: 'accept', what: 'accept on a UDP socket', steps: [(s, fx) => prepAccept(s, fx.udp, null)] },
  { code: 'EOPNOTSUPP', op: 'readv', what: 'preadv2 flags the kernel does not know', steps: [(s, fx) => prepReadv2(s, fx.fileFd, [Buffer.alloc(8)], 0, 0x8000_0000)] },
  { code: 'EEXIST', op: 'mkdirat', what: 'mkdir of a directory that exists', steps: [(s, fx) => prepMkdirat(s, -100, fx.dir, 0o755)] },
  { code: 'EEXIST', op: 'openat', what: 'O_CREAT | O_EXCL of a file that exists', steps: [(s, fx) => prepOpenat(s, -100, fx.file, O_CREAT | O_EXCL | O_WRONLY, 0o644)] },
  { code: 'ENOTDIR', op: 'openat', what: 'a path through a regular file', steps: [(s, fx) => prepOpenat(s, -100, join(fx.file, 'below'), O_RDONLY)] },
  { code: 'ENOTDIR', op: 'unlinkat', what: 'rmdir of a regular file', steps: [(s, fx) => prepUnlinkat(s, -100, fx.file, AT_REMOVEDIR)] },
  { code: 'EISDIR', op: 'read', what: 'read from a directory', steps: [(s, fx) => prepRead(s, fx.dirFd, Buffer.alloc(8), 8, 0)] },
  { code: 'EISDIR', op: 'openat', what: 'open a directory for writing', steps: [(s, fx) => prepOpenat(s, -100, fx.dir, O_WRONLY)] },
  { code: 'ENOTEMPTY', op: 'unlinkat', what: 'rmdir of a directory with files', steps: [(s, fx) => prepUnlinkat(s, -100, fx.dir, AT_REMOVEDIR)] },
  { code: 'ECONNREFUSED', op: 'connect', what: 'connect to a port nobody listens on', steps: [(s, fx) => prepConnect(s, fx.tcp, sockaddrIn(fx.refusedPort))] },
  { code: 'EAGAIN', op: 'recv', what: 'MSG_DONTWAIT recv on a socket with nothing queued', steps: [(s, fx) => prepRecv(s, fx.udp, Buffer.alloc(8), 8, MSG_DONTWAIT)] },
  // Pipes take RWF_NOWAIT since Linux 6.4 ("pipe: set FMODE_NOWAIT on pipes"): before, the
  // kernel refuses the flag itself (EOPNOTSUPP, seen on Debian's 6.1), after, the empty pipe
  // answers EAGAIN. Either way the kernel's error must arrive intact.
  {
    code: kernelAtLeast(6, 4) ? 'EAGAIN' : 'EOPNOTSUPP',
    op: 'readv',
    what: 'RWF_NOWAIT read from an empty pipe',
    steps: [(s, fx) => prepReadv2(s, fx.pipeRead, [Buffer.alloc(8)], -1, RWF_NOWAIT)],
  },
  { code: 'EPIPE', op: 'write', what: 'write to a pipe with no reader', steps: [(s, fx) => prepWrite(s, fx.brokenWrite, Buffer.from('x'), 1, -1)] },
  { code: 'ENOTSOCK', op: 'send', what: 'send on a regular file', steps: [(s, fx) => prepSend(s, fx.fileFd, Buffer.from('x'))] },
  { code: 'ENAMETOOLONG', op: 'openat', what: 'a path component of 300 bytes', steps: [(s, fx) => prepOpenat(s, -100, join(fx.dir, 'x'.repeat(300)), O_RDONLY)] },
  { code: 'ELOOP', op: 'openat', what: 'O_NOFOLLOW on a symlink', steps: [(s, fx) => prepOpenat(s, -100, join(fx.dir, 'link'), O_RDONLY | O_NOFOLLOW)] },
];

let tmp: { dir: string; cleanup: () => void };
const owned: OwnedFd[] = [];
const plainFds: number[] = [];
const helper = new IoUring({ entries: 16 });

function pipe(flags = 0): { read: OwnedFd; write: OwnedFd } {
  const [read, write] = pipeFds(flags);
  const p = { read: new OwnedFd(read), write: new OwnedFd(write) };
  owned.push(p.read, p.write);
  return p;
}
function socket(type: number): OwnedFd {
  const done = run(helper, (s) => prepSocket(s, AF_INET, type | SOCK_CLOEXEC, 0));
  const fd = OwnedFd.fromResult(done.res, 'socket');
  owned.push(fd);
  return fd;
}

function fixtures(ring: IoUring): Fixtures {
  const dir = join(tmp.dir, `d${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const file = join(dir, 'file');
  writeFileSync(file, 'some bytes for buffer-select reads');
  symlinkSync(file, join(dir, 'link'));
  const fileFd = openSync(file, 'r');
  const dirFd = openSync(dir, 'r');
  plainFds.push(fileFd, dirFd);
  const listener = tcpListener();
  const refusedPort = listener.port;
  listener.fd.close(); // nothing listens there any more
  const broken = pipe();
  broken.read.close();
  const p = pipe();
  return {
    dir,
    file,
    fileFd,
    dirFd,
    table: FileTable.sparse(ring, 2),
    onePool: BufferRing.register(ring, { entries: 1, bufferSize: 8 }),
    emptyLegacy: ProvidedBufferGroup.create(ring, { count: 1, bufferSize: 8 }),
    tcp: socket(SOCK_STREAM),
    udp: socket(SOCK_DGRAM),
    refusedPort,
    pipeRead: p.read,
    pipeWrite: p.write,
    brokenWrite: broken.write,
  };
}

/** The checks every error must pass. */
function expectIntact(err: unknown, c: Case, via: string): void {
  const label = `${via}: ${c.what}`;
  expect(err, label).toBeInstanceOf(IoUringError);
  const e = err as IoUringError;
  const n = errnoNumber(c.code)!;
  expect(e.code, label).toBe(c.code);
  expect(e.errno, label).toBe(-n);
  const nodeErrno = (os.constants.errno as Record<string, number | undefined>)[c.code];
  if (nodeErrno !== undefined) expect(e.errno, label).toBe(-nodeErrno);
  // Where libuv names the errno, it is the same error (libuv says ENOTSUP for EOPNOTSUPP).
  const uvName = util.getSystemErrorMap().get(e.errno)?.[0];
  if (uvName !== undefined) expect([c.code, ALIASES[c.code]], label).toContain(uvName);
  expect(e.syscall, label).toBe(c.op);
  expect(e.message, label).toMatch(new RegExp(`^${c.code}: [^,]+, ${c.op}\\b`));
}

let rawRing: IoUring;
let rawFx: Fixtures;
let asyncRing: AsyncIoUring;
let asyncFx: Fixtures;

beforeAll(() => {
  tmp = makeTempDir('tsuring-kerr-');
  rawRing = new IoUring({ entries: 16 });
  rawFx = fixtures(rawRing);
  asyncRing = new AsyncIoUring({ entries: 16 });
  asyncFx = fixtures(asyncRing.ring);
});

afterAll(async () => {
  await asyncRing.close();
  rawRing.close();
  helper.close();
  for (const fd of owned) fd.close();
  for (const fd of plainFds) closeSync(fd);
  tmp.cleanup();
});

describe('kernel errors arrive intact, op by op', () => {
  it(`covers ${new Set(CASES.map((c) => c.code)).size} codes over ${new Set(CASES.map((c) => c.op)).size} ops`, () => {
    const codes = new Set(CASES.map((c) => c.code));
    for (const code of ['EBADF', 'ENOENT', 'ECANCELED', 'ETIME', 'ENOBUFS', 'EINVAL', 'EOPNOTSUPP', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ECONNREFUSED', 'EAGAIN']) {
      expect(codes.has(code), code).toBe(true);
    }
  });

  for (const c of CASES) {
    it(`raw API: ${c.code} from ${c.op} (${c.what})`, () => {
      const tags = c.steps.map((step, i) => {
        const sqe = rawRing.getSqeOrThrow();
        step(sqe, rawFx);
        const tag = `${c.what} #${i}`;
        sqe.userData = tag;
        return tag;
      });
      const seen = new Map<unknown, { res: number; error: IoUringError | null; opName: string }>();
      const deadline = performance.now() + hangAfter(5000);
      rawRing.submit();
      while (seen.size < tags.length && performance.now() < deadline) {
        rawRing.submitAndWait(1, 100);
        rawRing.forEachCqe((cqe) => {
          expect(seen.has(cqe.userData), 'a CQE arrived twice').toBe(false);
          seen.set(cqe.userData, { res: cqe.res, error: cqe.error(), opName: cqe.opName });
        });
      }
      expect(seen.size, 'every step completed').toBe(tags.length);
      const target = seen.get(tags[c.target ?? tags.length - 1]!)!;
      expect(target.res).toBe(-errnoNumber(c.code)!);
      expect(target.opName).toBe(c.op);
      expectIntact(target.error, c, 'raw');
      expect(rawRing.inFlight).toBe(0);
    });

    it(`Promise API: ${c.code} from ${c.op} (${c.what})`, async () => {
      const promises = c.steps.map((step) => asyncRing.submit((sqe) => step(sqe, asyncFx)));
      const settled = await Promise.allSettled(promises);
      const target = settled[c.target ?? settled.length - 1]!;
      expect(target.status).toBe('rejected');
      expectIntact((target as PromiseRejectedResult).reason, c, 'promise');
      expect(asyncRing.pending).toBe(0);
    });
  }
});
