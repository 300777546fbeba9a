/**
 * Environment faults (issue 9, item 7), each in a child process: limits and filters are
 * set in the child (koffi's `setrlimit`, `prctl`; no native code of our own), so the test
 * runner is never affected.
 *
 * - io_uring blocked by a seccomp filter answering EPERM, and one answering ENOSYS: through
 *   `new IoUring()` (plain and with flag negotiation) and `new AsyncIoUring()`, one clear
 *   IoUringError each, the two told apart, with the sysctl and container hints; no fd left.
 * - RLIMIT_NOFILE: with no descriptor free, io_uring_setup fails (EMFILE); with exactly one
 *   free, `AsyncIoUring` gets its ring and then fails creating its eventfd: half-way, and it
 *   closes the ring again; a file table larger than the limit is refused (EMFILE). Nothing
 *   leaks, and rings that existed before keep working.
 * - RLIMIT_AS: a 32768-entry ring needs 1.1 MiB (rings) then 2 MiB (SQE array) of address
 *   space. With 0.5 MiB to spare the first mmap fails; with 1.5 MiB the first succeeds and
 *   the second fails (the error names offset 0x10000000, IORING_OFF_SQES): the library
 *   unmaps the first and closes the fd. With 64 MiB it works. Nothing leaks, an existing
 *   ring keeps working.
 * - RLIMIT_MEMLOCK: as root (CAP_IPC_LOCK) the limit does not apply: observed and checked.
 *   Without CAP_IPC_LOCK (the child drops to `nobody`), on this kernel (6.18) registered
 *   buffers, buffer rings *and the rings themselves* count against it: over the limit each
 *   fails with ENOMEM and a hint naming RLIMIT_MEMLOCK; under it they work; the ring that
 *   existed keeps working.
 * - Huge pages requested (`noMmap: { hugePages: true }`) with none reserved: ENOMEM from
 *   mmap with the `vm.nr_hugepages` hint, io_uring_setup never reached; `'try'` falls back.
 *   (Where huge pages are free, the ring must get them instead.)
 * - Setup and enter error codes: provoked for real where the kernel can be made to return
 *   them (enter: EINVAL, EFAULT, EBADF, EOPNOTSUPP, EBADFD, EEXIST from a Worker thread;
 *   setup: EINVAL, EFAULT, ENXIO, EBUSY), each with its own hint; the hint table gives each
 *   of EINVAL, EFAULT, EBADF, EOPNOTSUPP, EBUSY, EBADR, EEXIST, EBADFD, ENXIO, EOWNERDEAD a
 *   distinct, documented hint for io_uring_enter (EBADR, ENXIO and EOWNERDEAD cannot be
 *   provoked on demand: they need a CQ overflow the kernel cannot allocate for, a ring torn
 *   down under a waiter, and an SQPOLL thread that died).
 */
import { describe, expect, it } from 'vitest';
import { errnoNumber } from '../../src/sys/errno.js';
import { errorFromErrno } from '../../src/sys/errors.js';
import { describeExit, lastJson, runChild } from '../support/child.js';
import { seccompSnippet } from '../support/seccomp.js';

/** Reports an error (or success) as plain data. */
const COMMON = String.raw`
import { readdirSync, readFileSync, openSync, closeSync } from 'node:fs';
import koffi from '@repo/node_modules/koffi/index.js';
const libc = koffi.load(null);
const setrlimitC = libc.func('int setrlimit(int resource, void *rlim)');
const getrlimitC = libc.func('int getrlimit(int resource, void *rlim)');
const RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9;
function setLimit(resource, cur, max) {
  const b = Buffer.alloc(16);
  getrlimitC(resource, b);
  b.writeBigUInt64LE(BigInt(cur), 0);
  if (max !== undefined) b.writeBigUInt64LE(BigInt(max), 8);
  if (setrlimitC(resource, b) !== 0) throw new Error('setrlimit ' + resource + ' failed: errno ' + koffi.errno());
}
const INFINITY = 0xffffffffffffffffn;
function attempt(fn) {
  try {
    const v = fn();
    return { ok: true, value: typeof v === 'object' && v !== null ? String(v) : v };
  } catch (e) {
    return { ok: false, name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, hint: e.hint, message: e.message };
  }
}
const fds = () => readdirSync('/proc/self/fd').length;
const ringMaps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('io_uring')).length;
const vmSize = () => Number(/VmSize:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
// Bytes mapped with 2 MiB pages (hugetlb): unlike VmSize, a thread's stack that V8 or libuv
// starts meanwhile does not count.
const hugeBytes = () => readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/).filter((m) => /KernelPageSize:\s+2048 kB/.test(m)).reduce((n, m) => n + Number(/\nSize:\s+(\d+) kB/.exec(m)[1]) * 1024, 0);
/** The lowest free descriptor number (what the next open gets). */
function lowestFree() { const fd = openSync('/dev/null', 'r'); closeSync(fd); return fd; }
`;

interface Attempt {
  ok: boolean;
  value?: unknown;
  name?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  hint?: string;
  message?: string;
}

function seccompChild(errno: number): string {
  return (
    COMMON +
    String.raw`
import { IoUring, FAST_SETUP } from '@repo/src/index.js';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
import { readIoUringStatus } from '@repo/src/sys/iouring-status.js';
import { setupHint } from '@repo/src/sys/errors.js';
${seccompSnippet(errno)}
const before = { fds: fds(), maps: ringMaps() };
const out = {
  plain: attempt(() => new IoUring({ entries: 8 })),
  negotiated: attempt(() => new IoUring({ entries: 8, prefer: FAST_SETUP })),
  async: attempt(() => new AsyncIoUring()),
  expectedHint: setupHint(${errno === 1 ? "'EPERM'" : "'ENOSYS'"}, readIoUringStatus()),
  before,
  after: { fds: fds(), maps: ringMaps() },
};
console.log(JSON.stringify(out));
`
  );
}

const NOFILE_CHILD =
  COMMON +
  String.raw`
import { IoUring, FAST_SETUP, prepNop, prepRead, FileTable } from '@repo/src/index.js';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
const existing = new IoUring({ entries: 8 });
const existingAsync = new AsyncIoUring({ entries: 8 });
await existingAsync.nop();
const before = { fds: fds(), maps: ringMaps() };
const free = lowestFree();
const out = {};
setLimit(RLIMIT_NOFILE, free); // no descriptor can be created
out.noneFreeSetup = attempt(() => new IoUring({ entries: 8 }));
out.noneFreeNegotiated = attempt(() => new IoUring({ entries: 8, prefer: FAST_SETUP }));
setLimit(RLIMIT_NOFILE, free + 1); // exactly one can
out.oneFreeAsync = attempt(() => new AsyncIoUring({ entries: 8 }));
out.tableTooBig = attempt(() => FileTable.sparse(existing, free + 100));
setLimit(RLIMIT_NOFILE, 20000);
out.before = before;
out.after = { fds: fds(), maps: ringMaps() };
const sqe = existing.getSqe(); prepNop(sqe); sqe.userData = 'nop';
const r = existing.getSqe(); const buf = Buffer.alloc(4); prepRead(r, openSync(process.execPath, 'r'), buf, 4, 0); r.userData = 'read';
existing.submitAndWait(2);
const got = []; existing.forEachCqe((c) => got.push([c.userData, c.res]));
out.existingWorks = got;
out.existingAsyncWorks = await existingAsync.nop();
out.afterwardsWorks = attempt(() => { const x = new AsyncIoUring({ entries: 8 }); x.close(); return 'created'; });
await existingAsync.close();
existing.close();
console.log(JSON.stringify(out));
`;

const AS_CHILD =
  COMMON +
  String.raw`
import { IoUring, prepNop } from '@repo/src/index.js';
const existing = new IoUring({ entries: 8 });
const out = { cases: {} };
for (const [label, spare, ringMemory] of [
  ['0.5 MiB spare', 512 * 1024, 'kernel'], ['1.5 MiB spare', 1536 * 1024, 'kernel'], ['64 MiB spare', 64 * 1024 * 1024, 'kernel'],
  ['0.5 MiB spare, library memory', 512 * 1024, 'auto'],
]) {
  globalThis.gc();
  const before = { fds: fds(), maps: ringMaps() };
  setLimit(RLIMIT_AS, vmSize() + spare);
  let r;
  try {
    const ring = new IoUring({ entries: 32768, ringMemory });
    r = { ok: true, value: ring.params.mapping };
    ring.close();
  } catch (e) {
    r = { ok: false, code: e.code, syscall: e.syscall, hint: e.hint, message: e.message };
  }
  setLimit(RLIMIT_AS, INFINITY);
  out.cases[label] = { result: r, before, after: { fds: fds(), maps: ringMaps() } };
}
prepNop(existing.getSqe());
existing.submitAndWait(1);
out.existingWorks = existing.forEachCqe();
existing.close();
console.log(JSON.stringify(out));
`;

const MEMLOCK_CHILD =
  COMMON +
  String.raw`
import { IoUring, prepNop, RegisteredBuffers, BufferRing } from '@repo/src/index.js';
const LIMIT = 64 * 1024;
const out = { uid: process.getuid() };
const capIpcLock = () => (BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) >> 14n) & 1n;
setLimit(RLIMIT_MEMLOCK, LIMIT, LIMIT);
if (process.getuid() === 0) {
  out.rootHasIpcLock = capIpcLock() === 1n;
  const ring = new IoUring({ entries: 8 });
  out.rootRegister1MiB = attempt(() => RegisteredBuffers.register(ring, [Buffer.alloc(1 << 20)]));
  ring.close();
  process.setgid(65534);
  process.setuid(65534);
}
out.ipcLockAfter = capIpcLock() === 1n;
out.uidAfter = process.getuid();
if (!out.ipcLockAfter) {
  const existing = new IoUring({ entries: 8 });
  out.register1MiB = attempt(() => RegisteredBuffers.register(existing, [Buffer.alloc(1 << 20)]));
  out.register32KiB = attempt(() => RegisteredBuffers.register(existing, [Buffer.alloc(32 * 1024)]));
  out.bufferRing512KiB = attempt(() => BufferRing.register(existing, { entries: 32768, bufferSize: 16 }));
  out.bigRing = attempt(() => new IoUring({ entries: 4096 }));
  const before = { fds: fds(), maps: ringMaps() };
  setLimit(RLIMIT_MEMLOCK, 0, LIMIT);
  out.ringAtZero = attempt(() => new IoUring({ entries: 8 }));
  out.noMmapRingAtZero = attempt(() => new IoUring({ entries: 8, noMmap: true }));
  out.after = { before, after: { fds: fds(), maps: ringMaps() } };
  prepNop(existing.getSqe());
  existing.submitAndWait(1);
  out.existingWorks = existing.forEachCqe();
}
console.log(JSON.stringify(out));
`;

const HUGE_CHILD =
  COMMON +
  String.raw`
import { IoUring, prepNop } from '@repo/src/index.js';
const free = Number(/HugePages_Free:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]);
globalThis.gc();
const before = { fds: fds(), maps: ringMaps(), huge: hugeBytes() };
const strict = attempt(() => { const r = new IoUring({ entries: 8, noMmap: { hugePages: true } }); const m = r.params.mapping; r.close(); return m; });
const fallback = attempt(() => { const r = new IoUring({ entries: 8, noMmap: { hugePages: 'try' } }); prepNop(r.getSqe()); r.submitAndWait(1); const m = r.params.mapping + ':' + r.forEachCqe(); r.close(); return m; });
globalThis.gc();
console.log(JSON.stringify({ free, strict, fallback, before, after: { fds: fds(), maps: ringMaps(), huge: hugeBytes() } }));
`;

const CODES_CHILD =
  COMMON +
  String.raw`
import { Worker } from 'node:worker_threads';
import { IoUring, prepTimeout } from '@repo/src/index.js';
import { ioUringEnter, ioUringSetup } from '@repo/src/sys/libc.js';
import { IoUringParams } from '@repo/generated/structs.js';
const GETEVENTS = 1, EXT_ARG = 8;
const out = { enter: {}, setup: {} };
const ring = new IoUring({ entries: 8, registerRingFd: false });
out.enter.EINVAL = attempt(() => ioUringEnter(ring.fd, 0, 0, 1 << 30));                 // an enter flag no kernel has
out.enter.EFAULT = attempt(() => ioUringEnter(ring.fd, 0, 1, GETEVENTS | EXT_ARG, 16, 24)); // a wait argument at address 16
const notOpen = lowestFree();
out.enter.EBADF = attempt(() => ioUringEnter(notOpen, 0, 0, 0));                          // a descriptor that is not open
const file = openSync(process.execPath, 'r');
out.enter.EOPNOTSUPP = attempt(() => ioUringEnter(file, 0, 0, 0));                        // a descriptor that is no ring
const disabled = new IoUring({ entries: 8, disabled: true });
out.enter.EBADFD = attempt(() => ioUringEnter(disabled.fd, 0, 1, GETEVENTS));             // a ring not enabled yet
disabled.close();
// EEXIST: a DEFER_TASKRUN ring waited on from another thread.
const single = new IoUring({ entries: 8, singleIssuer: true, deferTaskrun: true, registerRingFd: false });
prepTimeout(single.getSqe(), { sec: 5, nsec: 0 }, 0);
single.submit();
const workerCode = "const { parentPort, workerData } = require('node:worker_threads');" +
  "(async () => {" +
  "  const { register } = await import('@repo/node_modules/tsx/dist/esm/api/index.mjs'); register();" +
  "  const { ioUringEnter } = await import('@repo/src/sys/libc.ts');" +
  "  try { ioUringEnter(workerData.fd, 0, 1, 1, 0, 0); parentPort.postMessage({ ok: true }); }" +
  "  catch (e) { parentPort.postMessage({ ok: false, name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, hint: e.hint, message: e.message }); }" +
  "})();";
out.enter.EEXIST = await new Promise((resolve, reject) => {
  const w = new Worker(workerCode, { eval: true, workerData: { fd: single.fd } });
  w.once('message', (m) => { w.terminate().then(() => resolve(m)); });
  w.once('error', reject);
});
single.close();
// Setup.
out.setup.EINVAL = attempt(() => new IoUring({ entries: 8, attachWq: file }));            // a wq_fd that is no ring
const closedFd = lowestFree();
out.setup.ENXIO = attempt(() => new IoUring({ entries: 8, attachWq: closedFd }));         // a wq_fd that is not open
const params = new Uint8Array(120);
const p = new IoUringParams(params);
p.flags = 1 << 14; // NO_MMAP, with ring memory at addresses nobody mapped
p.sqOff.userAddr = 4096;
p.cqOff.userAddr = 8192;
out.setup.EFAULT = attempt(() => ioUringSetup(8, params));
const slots = [];
for (let i = 0; i < 16; i++) slots.push(new IoUring({ entries: 2 })); // each registers its fd: 16 slots used
out.slotsRegistered = slots.filter((r) => r.params.ringFdRegistered).length + (ring.params.ringFdRegistered ? 1 : 0);
out.setup.EBUSY = attempt(() => new IoUring({ entries: 2, noMmap: true, registeredFdOnly: true }));
for (const r of slots) r.close();
out.afterFreeingSlots = attempt(() => { const r = new IoUring({ entries: 2, noMmap: true, registeredFdOnly: true }); r.close(); return 'created'; });
ring.close();
console.log(JSON.stringify(out));
`;

function expectIoUringError(a: Attempt | undefined, code: string, syscall: string, label: string): Attempt {
  expect(a, label).toBeDefined();
  expect(a!.ok, `${label}: ${JSON.stringify(a)}`).toBe(false);
  expect(a!.name, label).toBe('IoUringError');
  expect(a!.code, label).toBe(code);
  expect(a!.errno, label).toBe(-errnoNumber(code)!);
  expect(a!.syscall, label).toBe(syscall);
  expect(a!.message!.startsWith(`${code}: `), label).toBe(true);
  return a!;
}

describe('environment faults (each in a child process)', () => {
  it('seccomp: EPERM and ENOSYS each give one clear, different error with the sysctl and container hints', async () => {
    const results: Record<string, { plain: Attempt; negotiated: Attempt; async: Attempt; expectedHint: string; before: object; after: object }> = {};
    for (const [code, errno] of [['EPERM', 1], ['ENOSYS', 38]] as const) {
      const r = await runChild(seccompChild(errno), { timeoutMs: 30_000 });
      expect(r.code, describeExit(r)).toBe(0);
      const out = lastJson<(typeof results)[string]>(r);
      results[code] = out;
      for (const via of ['plain', 'negotiated', 'async'] as const) {
        const a = expectIoUringError(out[via], code, 'io_uring_setup', `${code} via ${via}`);
        expect(a.hint, `${code} via ${via}`).toBe(out.expectedHint);
        expect(a.message).toContain(out.expectedHint);
      }
      expect(out.after, `${code}: nothing left behind`).toEqual(out.before);
    }
    const eperm = results.EPERM!.plain.hint!;
    const enosys = results.ENOSYS!.plain.hint!;
    expect(eperm).not.toBe(enosys);
    console.info(`[info] seccomp EPERM hint: ${eperm}`);
    console.info(`[info] seccomp ENOSYS hint: ${enosys}`);
    const disabled = /io_uring_disabled is (\d)/.exec(eperm)?.[1];
    if (disabled === '0') {
      // This machine: the sysctl allows io_uring, so the EPERM can only be the filter's.
      expect(eperm).toMatch(/\/proc\/sys\/kernel\/io_uring_disabled is 0\), so a seccomp filter refused the call/);
      expect(eperm).toMatch(/Seccomp: 2, \d+ filter\(s\)/);
      expect(eperm).toMatch(/Docker's and containerd's default profiles block io_uring/);
    }
    expect(enosys).toMatch(/io_uring is blocked, not absent/);
    expect(enosys).toMatch(/In a container, run with a seccomp profile that allows io_uring_setup/);
  }, 60_000);

  it('RLIMIT_NOFILE: setup fails cleanly, AsyncIoUring failing half-way closes its ring, existing rings keep working', async () => {
    const r = await runChild(NOFILE_CHILD, { timeoutMs: 30_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<Record<string, Attempt> & { before: object; after: object; existingWorks: unknown; existingAsyncWorks: unknown; afterwardsWorks: Attempt }>(r);
    const setup = expectIoUringError(out.noneFreeSetup, 'EMFILE', 'io_uring_setup', 'no fd free');
    expect(setup.hint).toMatch(/RLIMIT_NOFILE/);
    expectIoUringError(out.noneFreeNegotiated, 'EMFILE', 'io_uring_setup', 'no fd free, negotiating flags');
    // Half-way: the ring took the last descriptor, its eventfd found none.
    const half = expectIoUringError(out.oneFreeAsync, 'EMFILE', 'eventfd', 'one fd free');
    expect(half.hint).toMatch(/RLIMIT_NOFILE/);
    const table = expectIoUringError(out.tableTooBig, 'EMFILE', 'io_uring_register', 'file table past the limit');
    expect(table.hint).toMatch(/RLIMIT_NOFILE caps the table size/);
    expect(out.after, 'no descriptor or ring mapping left behind').toEqual(out.before);
    expect(out.existingWorks).toEqual([['nop', 0], ['read', 4]]);
    expect(out.existingAsyncWorks).toBe(0);
    expect(out.afterwardsWorks).toEqual({ ok: true, value: 'created' });
  }, 60_000);

  it('RLIMIT_AS: mmap failing before and half-way through setup leaves nothing; an existing ring keeps working', async () => {
    const r = await runChild(AS_CHILD, { nodeArgs: ['--expose-gc', '--max-semi-space-size=1'], timeoutMs: 30_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ cases: Record<string, { result: Attempt; before: object; after: object }>; existingWorks: number }>(r);
    for (const [label, c] of Object.entries(out.cases)) {
      console.info(`[info] RLIMIT_AS, ${label}: ${c.result.ok ? `ok (${String(c.result.value)})` : c.result.message}`);
      expect(c.after, `${label}: nothing left behind`).toEqual(c.before);
    }
    const first = out.cases['0.5 MiB spare']!.result;
    expect(first).toMatchObject({ ok: false, code: 'ENOMEM', syscall: 'mmap' });
    expect(first.message).toMatch(/at offset 0x0 of fd/); // the SQ/CQ ring: the first mapping
    const half = out.cases['1.5 MiB spare']!.result;
    expect(half).toMatchObject({ ok: false, code: 'ENOMEM', syscall: 'mmap' });
    expect(half.message).toMatch(/2097152 bytes at offset 0x10000000 of fd/); // the SQE array, after the rings were mapped
    expect(half.hint).toMatch(/RLIMIT_AS/);
    expect(out.cases['64 MiB spare']!.result).toEqual({ ok: true, value: 'kernel-single' });
    // The library's own ring memory (NO_MMAP, the default where the kernel has it) is the
    // first mapping: it fails before io_uring_setup is reached.
    const library = out.cases['0.5 MiB spare, library memory']!.result;
    expect(library).toMatchObject({ ok: false, code: 'ENOMEM', syscall: 'mmap' });
    expect(out.existingWorks).toBe(1);
  }, 60_000);

  it('RLIMIT_MEMLOCK: observed on this kernel; over the limit ENOMEM with the memlock hint, under it fine', async (ctx) => {
    const r = await runChild(MEMLOCK_CHILD, { timeoutMs: 30_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<Record<string, Attempt> & { uid: number; rootHasIpcLock?: boolean; ipcLockAfter: boolean; uidAfter: number; existingWorks: number; after: { before: object; after: object } }>(r);
    console.info(`[info] RLIMIT_MEMLOCK (64 KiB): ${JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, typeof v === 'object' && v !== null && 'ok' in v ? ((v as Attempt).ok ? 'ok' : `${(v as Attempt).code} from ${(v as Attempt).syscall}`) : v])))}`);
    if (out.uid === 0) {
      // Root has CAP_IPC_LOCK: the kernel does not account pinned memory at all.
      expect(out.rootHasIpcLock).toBe(true);
      expect(out.rootRegister1MiB!.ok).toBe(true);
    }
    if (out.ipcLockAfter) {
      console.warn(`[skip] RLIMIT_MEMLOCK without CAP_IPC_LOCK: this process keeps CAP_IPC_LOCK (uid ${out.uidAfter}) and cannot drop it, so the limit does not apply`);
      ctx.skip();
    }
    const big = expectIoUringError(out.register1MiB, 'ENOMEM', 'io_uring_register', '1 MiB of registered buffers');
    expect(big.hint).toMatch(/RLIMIT_MEMLOCK/);
    expect(out.register32KiB!.ok).toBe(true);
    expectIoUringError(out.bufferRing512KiB, 'ENOMEM', 'io_uring_register', '512 KiB buffer ring');
    const ringHint = expectIoUringError(out.bigRing, 'ENOMEM', 'io_uring_setup', '4096-entry ring over 64 KiB').hint;
    expect(ringHint).toMatch(/RLIMIT_MEMLOCK/);
    expectIoUringError(out.ringAtZero, 'ENOMEM', 'io_uring_setup', 'a ring with RLIMIT_MEMLOCK 0');
    expectIoUringError(out.noMmapRingAtZero, 'ENOMEM', 'io_uring_setup', 'a NO_MMAP ring with RLIMIT_MEMLOCK 0');
    expect(out.after.after).toEqual(out.after.before);
    expect(out.existingWorks).toBe(1);
  }, 60_000);

  it('huge pages requested but none available: one clear error naming vm.nr_hugepages; "try" falls back', async () => {
    const r = await runChild(HUGE_CHILD, { nodeArgs: ['--expose-gc'], timeoutMs: 30_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ free: number; strict: Attempt; fallback: Attempt; before: { fds: number; maps: number; huge: number }; after: { fds: number; maps: number; huge: number } }>(r);
    console.info(`[info] huge pages free: ${out.free}; strict: ${out.strict.ok ? String(out.strict.value) : out.strict.message}; try: ${String(out.fallback.value)}`);
    if (out.free === 0) {
      const e = expectIoUringError(out.strict, 'ENOMEM', 'mmap', 'hugePages: true');
      expect(e.hint).toMatch(/No huge pages are available: reserve some \(sysctl vm\.nr_hugepages=N\)/);
      expect(out.fallback).toEqual({ ok: true, value: 'user:1' });
    } else {
      expect(out.strict).toEqual({ ok: true, value: 'user-huge' });
      expect(out.fallback).toEqual({ ok: true, value: 'user-huge:1' });
    }
    expect(out.after.fds).toBe(out.before.fds);
    expect(out.after.maps).toBe(out.before.maps);
    expect(out.after.huge).toBe(out.before.huge); // no 2 MiB huge mapping left
  }, 60_000);

  it('setup and enter errors, provoked for real, each arrive with their own documented hint', async () => {
    const r = await runChild(CODES_CHILD, { timeoutMs: 30_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ enter: Record<string, Attempt>; setup: Record<string, Attempt>; slotsRegistered: number; afterFreeingSlots: Attempt }>(r);
    for (const [syscallName, group] of [['io_uring_enter', out.enter], ['io_uring_setup', out.setup]] as const) {
      for (const [code, a] of Object.entries(group)) {
        const e = expectIoUringError(a, code, syscallName, `${syscallName} ${code}`);
        expect(e.hint, `${syscallName} ${code} has a hint`).toBeTruthy();
        // The hint is the documented one for that syscall and code.
        expect(e.hint).toBe(errorFromErrno(errnoNumber(code)!, syscallName).hint);
        expect(e.message).toContain(e.hint!);
      }
    }
    expect(Object.keys(out.enter).sort()).toEqual(['EBADF', 'EBADFD', 'EEXIST', 'EFAULT', 'EINVAL', 'EOPNOTSUPP']);
    expect(Object.keys(out.setup).sort()).toEqual(['EBUSY', 'EFAULT', 'EINVAL', 'ENXIO']);
    expect(out.slotsRegistered).toBe(16);
    expect(out.afterFreeingSlots).toEqual({ ok: true, value: 'created' });
  }, 60_000);

  it('the hint table: every setup and enter code of the issue maps to a distinct documented hint', () => {
    const ENTER = ['EINVAL', 'EFAULT', 'EBADF', 'EOPNOTSUPP', 'EBUSY', 'EBADR', 'EEXIST', 'EBADFD', 'ENXIO', 'EOWNERDEAD'];
    const enterHints = ENTER.map((code) => {
      const e = errorFromErrno(errnoNumber(code)!, 'io_uring_enter');
      expect(e.code).toBe(code);
      expect(e.hint, code).toBeTruthy();
      return e.hint;
    });
    expect(new Set(enterHints).size).toBe(ENTER.length);
    // What io_uring_setup can return (EBADR, EEXIST, EBADFD and EOWNERDEAD it never does).
    const SETUP = ['EINVAL', 'EFAULT', 'EBADF', 'EOPNOTSUPP', 'EBUSY', 'ENXIO', 'EPERM', 'ENOSYS', 'ENOMEM', 'EMFILE'];
    const setupHints = SETUP.map((code) => {
      const hint = errorFromErrno(errnoNumber(code)!, 'io_uring_setup').hint;
      expect(hint, code).toBeTruthy();
      return hint;
    });
    expect(new Set(setupHints).size).toBe(SETUP.length);
  });
});
