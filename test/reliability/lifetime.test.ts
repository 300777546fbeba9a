/**
 * Lifetime (issue 9, item 5), each part in a child process (a crash there fails the test
 * instead of killing the runner, and node flags can be chosen):
 *
 * 1. **GC stress.** 100,000 reads whose caller drops its buffer (it keeps only a WeakRef and
 *    the expected checksum), under `node --expose-gc --stress-compaction --gc-interval=100
 *    --max-semi-space-size=1`. On release builds of Node `--gc-interval` does nothing (V8
 *    compiles allocation timeouts only into debug and fuzzing builds; measured here: N=1
 *    gives the same GC count as no flag), so the pressure comes from the other flags and
 *    explicit collections: `--stress-compaction` turns every GC, young-generation ones
 *    included, into a full compacting GC that moves every movable object; a 1 MiB semi-space
 *    makes allocation trigger one every ~1 MiB; and the test calls `gc()` (alternately minor
 *    and major) every 400 reads, between preparing an SQE and submitting it, which is when a
 *    buffer that moved would be written at its old address. Buffers are of 1 to 96 bytes
 *    (most start inside V8's heap), as plain, pooled (`Buffer.allocUnsafe`) and offset
 *    (`subarray`) views; half the reads run on io-wq (`IOSQE_ASYNC`), so they are in flight
 *    while JS collects. Each completion is checked before its CQE is marked seen (the ring
 *    still holds the op's pins): the WeakRef must still resolve, the buffer must be at the
 *    address the kernel was given, and its bytes must match the file. Zero mismatches.
 *    Controls in the same process show the checks can fail: buffers held by nothing but a
 *    WeakRef are collected by the same `gc()`, and reads aimed at a wrong offset are caught.
 *    Then 20,000 Promise-API reads under the same flags, checked the same way.
 * 2. **Close during in-flight reads** into buffers the caller then drops: reads blocked on
 *    an empty pipe (and io-wq file reads) at `close()`, through the raw and the Promise API,
 *    GC in between; afterwards data written into the pipe is all still there (no cancelled
 *    read consumed it) and the process is healthy.
 * 3. **Reading ring memory after close** ends in a JS error, never SIGSEGV: every public
 *    object reachable from a ring (IoUring, Sqe, Cqe, Probe and its entries, params, FileTable
 *    and its FixedFile slots, RegisteredBuffers, BufferRing and the views `take()` returned,
 *    ProvidedBufferGroup, RingEventfd, AsyncIoUring, NO_MMAP / REGISTERED_FD_ONLY / CQE32
 *    rings) is walked by reflection after close, calling every getter and method and reading
 *    every byte of every typed array returned. A control child that reads a koffi view after
 *    munmap does die of SIGSEGV, so a crash would be seen.
 * 4. **10,000 cancel-versus-complete races** per API. Raw: each op (io-wq read, io-wq open,
 *    short timeout, accept racing a connect) is submitted together with an ASYNC_CANCEL of
 *    it; every op and every cancel posts exactly one final CQE; a read's buffer (dropped by
 *    the caller) is alive at its CQE; an open or accept that won has its fd in `res`, and
 *    closing those brings the fd count back exactly. Promise: the same ops with an
 *    AbortSignal aborted at a random point (at once, after a microtask, after a macrotask,
 *    or never); each promise settles exactly once, none hangs; a FinalizationRegistry shows
 *    no read buffer was collected before its promise settled; fds opened by ops that won
 *    against their abort are closed by the library (count back exactly).
 */
import { release } from 'node:os';
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelAtLeast } from '../register/helpers.js';
import { hangAfter, stressCount } from '../support/slow.js';
import { warningsDuring } from '../support/warnings.js';
import { prepRead, prepTimeout } from '../../generated/ops.js';
import { IoUring } from '../../src/ring/ring.js';
import { describeExit, lastJson, runChild } from '../support/child.js';

const GC_FLAGS = ['--expose-gc', '--stress-compaction', '--gc-interval=100', '--max-semi-space-size=1'];

const GC_STRESS_CHILD = String.raw`
import { openSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoUring, prepRead } from '@repo/src/index.js';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
import { addressOf } from '@repo/src/sys/libc.js';
const gc = globalThis.gc;
const READS = Number(process.env.READS);
const PROMISE_READS = Number(process.env.PROMISE_READS);
const GC_EVERY = Number(process.env.GC_EVERY);
const dir = mkdtempSync(join(tmpdir(), 'tsuring-gc-'));
const content = randomBytes(1 << 16);
writeFileSync(join(dir, 'data'), content);
const fd = openSync(join(dir, 'data'), 'r');
function sum(b, off, len) { let h = 2166136261; for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i], 16777619); return h >>> 0; }
let seed = 12345;
const rnd = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
function makeBuffer(len) {
  switch (rnd(4)) {
    case 0: return new Uint8Array(len);
    case 1: return Buffer.allocUnsafe(len); // a slice of Node's shared pool: byteOffset matters
    case 2: return new Uint8Array(len + 16).subarray(8, 8 + len);
    default: return Buffer.alloc(len);
  }
}
let gcs = 0;
function collect(k) { if (k % 2) gc({ type: 'minor' }); else gc(); gcs++; }

// Controls: the checks can fail.
const weak = [];
for (let i = 0; i < 100; i++) weak.push(new WeakRef(new Uint8Array(1 + (i % 64))));
gc();
await new Promise((r) => setImmediate(r)); // WeakRefs are kept until the end of the job
gc();
const controlCollected = weak.filter((w) => w.deref() === undefined).length;

const ring = new IoUring({ entries: 64 });
let issued = 0, done = 0, bad = 0, lost = 0, moved = 0, wrongControl = 0, asyncReads = 0;
const CONTROL_WRONG = 50; // reads aimed at the wrong offset on purpose
const t0 = performance.now();
while (done < READS + CONTROL_WRONG) {
  while (issued < READS + CONTROL_WRONG) {
    const sqe = ring.getSqe();
    if (sqe === null) break;
    const len = 1 + rnd(96);
    const off = rnd(content.length - len - 1);
    const control = issued >= READS;
    const buf = makeBuffer(len);
    prepRead(sqe, fd, buf, len, control ? off + 1 : off);
    if (rnd(2) === 0) { sqe.async(); asyncReads++; }
    sqe.userData = { ref: new WeakRef(buf), len, want: sum(content, off, len), addr: Number(sqe.unsafeFields.addr), control };
    issued++;
    if (issued % GC_EVERY === 0) collect(issued / GC_EVERY);
  }
  ring.submitAndWait(1);
  for (;;) {
    const c = ring.peekCqe();
    if (c === null) break;
    const t = c.userData;
    const b = t.ref.deref();
    if (b === undefined) lost++;
    else {
      if (addressOf(b) !== t.addr) moved++;
      const mismatch = c.res !== t.len || sum(b, 0, t.len) !== t.want;
      if (t.control) { if (mismatch) wrongControl++; }
      else if (mismatch) bad++;
    }
    ring.cqeSeen();
    done++;
  }
}
const rawMs = Math.round(performance.now() - t0);
ring.close();

// The Promise API: the caller keeps the buffer only in the continuation.
const aring = new AsyncIoUring({ entries: 64 });
let pDone = 0, pBad = 0;
const t1 = performance.now();
for (let started = 0; started < PROMISE_READS; ) {
  const batch = [];
  for (let k = 0; k < 64 && started < PROMISE_READS; k++, started++) {
    const len = 1 + rnd(96);
    const off = rnd(content.length - len);
    const want = sum(content, off, len);
    const buf = makeBuffer(len);
    batch.push(aring.read(fd, buf, off).then((n) => { pDone++; if (n !== len || sum(buf, 0, len) !== want) pBad++; }));
    if (started % GC_EVERY === 0) collect(started / GC_EVERY);
  }
  await Promise.all(batch);
}
const promiseMs = Math.round(performance.now() - t1);
await aring.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ done, bad, lost, moved, wrongControl, controlCollected, gcs, asyncReads, rawMs, pDone, pBad, promiseMs }));
`;

const CLOSE_IN_FLIGHT_CHILD = String.raw`
import { closeSync, openSync, readSync, writeSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoUring, prepRead } from '@repo/src/index.js';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
import { pipe2Sync } from '@repo/src/sys/posix.js';
const gc = globalThis.gc;
const dir = mkdtempSync(join(tmpdir(), 'tsuring-close-'));
writeFileSync(join(dir, 'data'), Buffer.alloc(1 << 20, 7));
const fileFd = openSync(join(dir, 'data'), 'r');
function makePipe() {
  return pipe2Sync(0o2000000 | 0o4000); // O_NONBLOCK: readSync below never blocks
}
const out = { raw: [], promise: [] };
const ROUNDS = Number(process.env.ROUNDS);
for (let round = 0; round < ROUNDS; round++) {
  const [pr, pw] = makePipe();
  const ring = new IoUring({ entries: 32 });
  (() => {
    // Buffers referenced only by the ring from here on.
    for (let i = 0; i < 8; i++) prepRead(ring.getSqe(), pr, new Uint8Array(1 + i * 9), 1 + i * 9, -1);
    for (let i = 0; i < 8; i++) { const s = ring.getSqe(); prepRead(s, fileFd, Buffer.allocUnsafe(4096), 4096, i * 4096); s.async(); }
    ring.submit();
  })();
  gc();
  const inFlight = ring.inFlight;
  ring.close();
  gc();
  // Nothing may read from the pipe any more: everything written is still there.
  writeSync(pw, Buffer.from('0123456789'));
  const back = Buffer.alloc(64);
  const n = readSync(pr, back, 0, 64, null);
  if (round < 3) out.raw.push({ inFlight, after: ring.inFlight, readBack: back.subarray(0, n).toString() });
  if (n !== 10 || back.subarray(0, 10).toString() !== '0123456789') throw new Error('a cancelled read consumed pipe data: ' + n);
  if (ring.inFlight !== 0) throw new Error('close left ops in flight');
  closeSync(pr);
  closeSync(pw);
}
for (let round = 0; round < ROUNDS / 2; round++) {
  const [pr, pw] = makePipe();
  const ring = new AsyncIoUring({ entries: 32 });
  const settled = (() => {
    const ps = [];
    for (let i = 0; i < 8; i++) ps.push(ring.read(pr, new Uint8Array(1 + i * 9), -1));
    for (let i = 0; i < 8; i++) ps.push(ring.read(fileFd, Buffer.allocUnsafe(4096), i * 4096));
    return Promise.allSettled(ps);
  })();
  await new Promise((r) => setImmediate(r));
  gc();
  await ring.close();
  gc();
  const results = await settled;
  const pipeReads = results.slice(0, 8).map((r) => r.status === 'rejected' ? (r.reason.code ?? r.reason.name) : 'resolved:' + r.value);
  const fileReads = results.slice(8).map((r) => r.status === 'fulfilled' ? r.value : 'rejected:' + (r.reason.code ?? r.reason.name));
  if (pipeReads.some((x) => x.startsWith('resolved'))) throw new Error('a blocked pipe read resolved: ' + pipeReads);
  writeSync(pw, Buffer.from('abcdefghij'));
  const back = Buffer.alloc(64);
  const n = readSync(pr, back, 0, 64, null);
  if (n !== 10) throw new Error('a cancelled read consumed pipe data: ' + n);
  if (round < 3) out.promise.push({ pipeReads, fileReads });
  closeSync(pr);
  closeSync(pw);
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
`;

const AFTER_CLOSE_CHILD = String.raw`
import { openSync, writeSync } from 'node:fs';
import {
  IoUring, prepNop, prepRead, FileTable, RegisteredBuffers, BufferRing, ProvidedBufferGroup, RingEventfd,
} from '@repo/src/index.js';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';

const fd = openSync(process.execPath, 'r');
const report = { members: 0, objects: 0, bytesRead: 0, outcomes: {}, crashedNever: true };
const seen = new Set();
let bytesSum = 0;

function readAll(view) {
  const u8 = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (let i = 0; i < u8.length; i++) bytesSum = (bytesSum + u8[i]) | 0;
  report.bytesRead += u8.length;
}
function outcome(fn) {
  try {
    const v = fn();
    if (v instanceof Promise) { v.catch(() => {}); return ['ok:promise', v]; }
    return ['ok', v];
  } catch (e) {
    return ['throw:' + (e && e.name) + ':' + (e && e.code), undefined];
  }
}
function walk(obj, path, depth) {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function') || seen.has(obj)) return;
  seen.add(obj);
  report.objects++;
  if (ArrayBuffer.isView(obj)) { readAll(obj); return; }
  if (obj instanceof ArrayBuffer) { readAll(new Uint8Array(obj)); return; }
  if (Array.isArray(obj)) { obj.slice(0, 8).forEach((v, i) => walk(v, path + '[' + i + ']', depth + 1)); return; }
  if (depth > 4) return;
  const names = new Set();
  for (let p = obj; p && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Reflect.ownKeys(p)) if (k !== 'constructor') names.add(k);
  }
  for (const key of names) {
    let desc;
    for (let p = obj; p && !desc; p = Object.getPrototypeOf(p)) desc = Reflect.getOwnPropertyDescriptor(p, key);
    const name = path + '.' + String(key);
    let r;
    if (desc.get) r = outcome(() => obj[key]);
    else if (typeof desc.value === 'function') r = outcome(() => obj[key]());
    else r = outcome(() => obj[key]);
    report.members++;
    report.outcomes[name] = r[0];
    if (r[0].startsWith('ok') && r[1] !== null && typeof r[1] === 'object') walk(r[1], name, depth + 1);
  }
}

async function build(options, label) {
  const ring = new IoUring(options);
  const objects = { ring, params: ring.params, probe: ring.probe, probeOps: ring.probe.ops() };
  const nop = ring.getSqe(); prepNop(nop); nop.userData = label;
  const read = ring.getSqe(); prepRead(read, fd, Buffer.alloc(4), 4, 0);
  ring.submitAndWait(2);
  let kept = null;
  ring.forEachCqe((c) => { kept = c; });
  objects.cqe = kept;
  objects.stagedSqe = ring.getSqe();
  prepRead(objects.stagedSqe, fd, Buffer.alloc(4), 4, 0);
  objects.sqeFields = objects.stagedSqe.fields;
  return objects;
}

const all = {};
all.main = await build({ entries: 8 }, 'main');
const ring = all.main.ring;
all.main.table = FileTable.sparse(ring, 4);
all.main.slot = all.main.table.slot(2);
all.main.regbufs = RegisteredBuffers.register(ring, [Buffer.alloc(4096), Buffer.alloc(8192)]);
all.main.regbuf0 = all.main.regbufs.buffer(0);
all.main.pool = BufferRing.register(ring, { entries: 4, bufferSize: 16, bgid: 3 });
{
  ring.submit(); // the staged read above goes out first
  const s = ring.getSqe();
  all.main.pool.prepRead(s, fd, 4, 0);
  ring.submitAndWait(1);
  const taken = [];
  for (let i = 0; i < 4; i++) {
    ring.forEachCqe((c) => { if (c.bufferId >= 0) taken.push(all.main.pool.take(c)); });
    if (taken.length) break;
    ring.submitAndWait(1);
  }
  all.main.takenViews = taken;
}
all.main.legacy = ProvidedBufferGroup.create(ring, { count: 2, bufferSize: 8, bgid: 4 });
all.main.eventfd = RingEventfd.create(ring);
all.main.stagedSqe2 = ring.getSqe();
ring.close();
// NO_MMAP is Linux 6.5, REGISTERED_FD_ONLY too: on an older kernel setup refuses them (EINVAL),
// reported so the test can tell that from a library failure.
report.refused = {};
for (const [label, options] of [['noMmap', { entries: 8, noMmap: true }], ['fdOnly', { entries: 8, noMmap: true, registeredFdOnly: true }]]) {
  try {
    all[label] = await build(options, label);
    all[label].ring.close();
  } catch (e) {
    if (e.code !== 'EINVAL' || e.syscall !== 'io_uring_setup') throw e;
    report.refused[label] = e.code;
  }
}
all.cqe32 = await build({ entries: 8, cqe32: true }, 'cqe32');
all.cqe32.ring.close();
const aring = new AsyncIoUring({ entries: 8 });
await aring.nop();
all.async = { aring, ring: aring.ring };
await aring.close();

for (const [label, objects] of Object.entries(all)) for (const [k, v] of Object.entries(objects)) walk(v, label + '.' + k, 0);
// Wait for every promise a member returned to settle (rejections were caught).
await new Promise((r) => setTimeout(r, 50));
report.bytesSum = bytesSum;
console.log(JSON.stringify(report));
`;

const CONTROL_SEGV_CHILD = String.raw`
import { Region } from '@repo/src/ring/region.js';
import koffi from '@repo/node_modules/koffi/index.js';
const region = Region.mapAnonymous(4096, 'control');
const view = new Uint8Array(koffi.view(region.address, 4096)); // what the ring never hands out
view[0] = 1;
region.unmap();
console.log('about to read');
console.log(view[0]);
`;

const RACES_CHILD = String.raw`
import { readdirSync, writeFileSync, mkdtempSync, rmSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoUring, prepRead, prepOpenat, prepTimeout, prepCancel, prepAccept, prepConnect, prepSocket } from '@repo/src/index.js';
import { bindSync, listenSync, socketSync } from '@repo/src/sys/posix.js';
import { localAddress } from '@repo/src/net/socket-names.js';
import { AsyncIoUring, AbortError } from '@repo/src/async/async-ring.js';
const gc = globalThis.gc;
const RACES = Number(process.env.RACES);
const fdCount = () => readdirSync('/proc/self/fd').length;
const dir = mkdtempSync(join(tmpdir(), 'tsuring-race-'));
const path = join(dir, 'f');
writeFileSync(path, Buffer.alloc(65536, 3));
let seed = 99;
const rnd = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
const AF_INET = 2, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000;
function sockaddr(port) { const b = new Uint8Array(16); const dv = new DataView(b.buffer); dv.setUint16(0, AF_INET, true); dv.setUint16(2, port, false); b.set([127, 0, 0, 1], 4); return b; }
function runSync(ring, fill) {
  const s = ring.getSqe(); fill(s); s.userData = 'sync';
  let res;
  ring.submitAndWait(1);
  while (res === undefined) { ring.forEachCqe((c) => { if (c.userData === 'sync') res = c.res; }); if (res === undefined) ring.submitAndWait(1); }
  return res;
}
const base = fdCount();
const rfd = openSync(path, 'r');
const helper = new IoUring({ entries: 8 });
// The listener from socket/bind/listen(2), which every supported kernel has (IORING_OP_BIND
// and LISTEN are Linux 6.11); the kernel picks the port.
const listener = socketSync(AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
bindSync(listener, sockaddr(0));
listenSync(listener, 4096);
const port = localAddress(listener).port;
const addr = sockaddr(port);

// ---------------------------------------------------------------- raw API
const raw = { ops: 0, connects: 0, cancels: 0, outcomes: {}, cancelResults: {}, fdsWon: 0, bufferDead: 0, dataBad: 0, duplicates: 0 };
const ring = new IoUring({ entries: 64 });
const pending = new Map(); // tag -> info
let tagSeq = 0;
function note(map, key) { map[key] = (map[key] ?? 0) + 1; }
function reapRaw() {
  for (;;) {
    const c = ring.peekCqe();
    if (c === null) return;
    const info = pending.get(c.userData);
    if (info === undefined) { raw.duplicates++; ring.cqeSeen(); continue; }
    pending.delete(c.userData);
    if (info.kind === 'cancel') { raw.cancels++; note(raw.cancelResults, c.res); }
    else {
      raw.ops++;
      note(raw.outcomes, info.kind + ':' + (c.res >= 0 ? 'ok' : c.res));
      if (info.kind === 'read') {
        const b = info.ref.deref();
        if (b === undefined) raw.bufferDead++;
        else if (c.res > 0 && b[0] !== 3) raw.dataBad++;
      }
      if ((info.kind === 'open' || info.kind === 'accept') && c.res >= 0) { closeSync(c.res); raw.fdsWon++; }
      if (info.kind === 'connect-client') { closeSync(info.client); raw.connects++; }
    }
    ring.cqeSeen();
  }
}
function add(fill, kind, extra) {
  const s = ring.getSqe();
  fill(s);
  const tag = ++tagSeq;
  s.userData = tag;
  pending.set(tag, { kind, ...extra });
  return s;
}
const kinds = ['read', 'open', 'timeout', 'accept'];
for (let i = 0; i < RACES; i++) {
  if (ring.sqSpaceLeft < 5 || ring.inFlight > 40) { ring.submit(); while (ring.inFlight > 8) { ring.submitAndWait(1); reapRaw(); } }
  const kind = kinds[i % 4];
  let target;
  if (kind === 'read') {
    const buf = new Uint8Array(1 + rnd(64));
    target = add((s) => { prepRead(s, rfd, buf, buf.length, rnd(60000)); s.async(); }, 'read', { ref: new WeakRef(buf) });
  } else if (kind === 'open') {
    target = add((s) => { prepOpenat(s, -100, path, 0); s.async(); }, 'open');
  } else if (kind === 'timeout') {
    target = add((s) => prepTimeout(s, { sec: 0, nsec: rnd(200_000) }, 0), 'timeout');
  } else {
    // Half the accepts get no connection of their own: they win only with one left in the
    // backlog by an earlier accept that lost to its cancel.
    const client = rnd(2) === 0 ? -1 : runSync(helper, (s) => prepSocket(s, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const connectFirst = client >= 0 && rnd(2) === 0;
    if (connectFirst) add((s) => prepConnect(s, client, addr), 'connect-client', { client });
    target = add((s) => prepAccept(s, listener, null), 'accept');
    const id = target.id;
    // The cancel goes before or after the connect, in the same enter or a later one.
    if (client >= 0 && !connectFirst && rnd(2) === 0) {
      if (rnd(2) === 0) ring.submit();
      add((s) => prepCancel(s, id), 'cancel');
      add((s) => prepConnect(s, client, addr), 'connect-client', { client });
      target = undefined;
    } else if (client >= 0 && !connectFirst) {
      add((s) => prepConnect(s, client, addr), 'connect-client', { client });
    }
  }
  if (target !== undefined) {
    const id = target.id;
    // Sometimes the op goes to the kernel first and the cancel follows in a later enter.
    if (rnd(2) === 0) ring.submit();
    add((s) => prepCancel(s, id), 'cancel');
  }
  if (rnd(4) === 0) ring.submit();
  if (i % 1000 === 999) gc();
}
ring.submit();
const deadline = performance.now() + 20000 * Math.max(1, Number(process.env.TSURING_TEST_SLOWDOWN ?? '1') || 1); // test/support/slow.ts
while (pending.size > 0 && performance.now() < deadline) { ring.submitAndWait(1, 100); reapRaw(); }
raw.leftPending = pending.size;
raw.inFlightAfter = ring.inFlight;
// Connections the kernel completed but no accept took (their accept was cancelled) wait in the backlog: take them.
ring.close();

// ---------------------------------------------------------------- Promise API
const prom = { settled: 0, doubleSettled: 0, outcomes: {}, collectedEarly: 0, fdsResolved: 0, hung: 0 };
const aring = new AsyncIoUring({ entries: 64 });
const settledIds = new Set();
const registry = new FinalizationRegistry((id) => { if (!settledIds.has(id)) prom.collectedEarly++; });
let nextId = 0;
function race(kind) {
  const id = ++nextId;
  const ac = new AbortController();
  let p;
  if (kind === 'read') {
    const buf = new Uint8Array(1 + rnd(64));
    registry.register(buf, id);
    p = aring.submit((s) => { prepRead(s, rfd, buf, buf.length, rnd(60000)); s.async(); }, { signal: ac.signal });
  } else if (kind === 'open') {
    p = aring.submitFd((s) => { prepOpenat(s, -100, path, 0); s.async(); }, { signal: ac.signal });
  } else if (kind === 'timeout') {
    p = aring.submit((s) => prepTimeout(s, { sec: 0, nsec: rnd(200_000) }, 0), { signal: ac.signal });
  } else {
    p = aring.submitFd((s) => prepAccept(s, listener, null), { signal: ac.signal });
    const client = runSync(helper, (s) => prepSocket(s, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    aring.submit((s) => prepConnect(s, client, addr)).catch(() => {}).finally(() => closeSync(client));
  }
  const when = rnd(5);
  if (when === 0) ac.abort();
  else if (when === 1) queueMicrotask(() => ac.abort());
  else if (when === 2) setImmediate(() => ac.abort());
  else if (when === 3) setTimeout(() => ac.abort(), 0);
  let count = 0;
  return p.then(
    (v) => { count++; settledIds.add(id); note(prom.outcomes, kind + ':resolved'); if ((kind === 'open' || kind === 'accept')) { closeSync(v); prom.fdsResolved++; } },
    (e) => { count++; settledIds.add(id); note(prom.outcomes, kind + ':' + (e instanceof AbortError ? 'AbortError' : e.code)); },
  ).then(() => { prom.settled++; if (count !== 1) prom.doubleSettled++; });
}
const batches = [];
for (let i = 0; i < RACES; i += 200) {
  const batch = [];
  for (let k = 0; k < 200 && i + k < RACES; k++) batch.push(race(kinds[(i + k) % 4]));
  const timeout = new Promise((r) => setTimeout(() => r('hung'), 20000));
  const r = await Promise.race([Promise.all(batch), timeout]);
  if (r === 'hung') { prom.hung++; break; }
  if ((i / 200) % 5 === 0) gc();
}
gc();
await new Promise((r) => setTimeout(r, 20));
gc();
await new Promise((r) => setTimeout(r, 20));
prom.pendingAfter = aring.pending;
await aring.close();
helper.close();
closeSync(listener);
closeSync(rfd);
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ raw, prom, fdsBefore: base, fdsAfter: fdCount() }));
`;

describe('lifetime', () => {
  it(`${stressCount(100_000)} raw reads (and ${stressCount(20_000)} Promise reads) whose caller dropped the buffer, under GC stress: zero mismatches`, async () => {
    const reads = stressCount(100_000);
    const promiseReads = stressCount(20_000);
    const result = await runChild(GC_STRESS_CHILD, { nodeArgs: GC_FLAGS, timeoutMs: 120_000, env: { READS: String(reads), PROMISE_READS: String(promiseReads), GC_EVERY: '400' } });
    expect(result.code, describeExit(result)).toBe(0);
    const r = lastJson<Record<string, number>>(result);
    console.info(`[info] GC stress: ${JSON.stringify(r)}`);
    expect(r.done).toBe(reads + 50);
    expect(r.bad).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.moved).toBe(0);
    expect(r.pDone).toBe(promiseReads);
    expect(r.pBad).toBe(0);
    // The controls: the same gc() collects unreferenced buffers, and wrong data is noticed.
    expect(r.controlCollected).toBe(100);
    expect(r.wrongControl).toBe(50);
    expect(r.gcs).toBeGreaterThanOrEqual(Math.floor((reads + 50) / 400) + Math.floor(promiseReads / 400));
    expect(r.asyncReads).toBeGreaterThan(reads * 0.4);
  }, hangAfter(150_000));

  it('close() during in-flight reads into dropped buffers: cancelled, nothing written afterwards, process healthy', async () => {
    const result = await runChild(CLOSE_IN_FLIGHT_CHILD, { nodeArgs: ['--expose-gc'], timeoutMs: 60_000, env: { ROUNDS: String(stressCount(200, 4)) } });
    expect(result.signal, describeExit(result)).toBeNull();
    expect(result.code, describeExit(result)).toBe(0);
    const r = lastJson<{ raw: { inFlight: number; after: number; readBack: string }[]; promise: { pipeReads: string[]; fileReads: unknown[] }[] }>(result);
    for (const round of r.raw) expect(round).toEqual({ inFlight: 16, after: 0, readBack: '0123456789' });
    for (const round of r.promise) {
      // Blocked pipe reads end cancelled (ECANCELED from the kernel, or the ring-closed error).
      for (const p of round.pipeReads) expect(p).toMatch(/^(ECANCELED|ERR_RING_CLOSED|EINTR)$/);
      for (const f of round.fileReads) expect(f === 4096 || f === 'rejected:ECANCELED').toBe(true);
    }
  }, hangAfter(90_000));

  it('close() cancels at once even when every staging slot still holds an earlier op (found by the fuzzer)', async () => {
    // close() writes its ASYNC_CANCEL into the SQ slot's staging memory; it used to leave
    // the earlier op's fields there, and the kernel refuses a cancel with a stale `off`
    // (EINVAL), so close() waited for the ops to end by themselves (here an hour: it would
    // give up after its drain time, warning TSURING_CLOSE_ABANDONED).
    const fd = openSync(process.execPath, 'r');
    const ring = new IoUring({ entries: 4 });
    try {
      for (let i = 0; i < 4; i++) prepRead(ring.getSqeOrThrow(), fd, Buffer.alloc(8), 8, 4096 + i);
      ring.submitAndWait(4);
      ring.forEachCqe();
      prepTimeout(ring.getSqeOrThrow(), { sec: 3600, nsec: 0 }, 0);
      ring.submit();
      expect(ring.inFlight).toBe(1);
      expect(await warningsDuring(() => ring.close())).not.toContain('TSURING_CLOSE_ABANDONED');
      expect(ring.inFlight).toBe(0);
    } finally {
      ring.close();
      closeSync(fd);
    }
  });

  it('after close, every public object reachable from a ring can be read without a crash (JS errors only)', async () => {
    const control = await runChild(CONTROL_SEGV_CHILD, { timeoutMs: 30_000 });
    expect(control.signal, `control: a koffi view read after munmap must crash; ${describeExit(control)}`).toBe('SIGSEGV');
    expect(control.stdout).toContain('about to read');

    const result = await runChild(AFTER_CLOSE_CHILD, { timeoutMs: 60_000 });
    expect(result.signal, describeExit(result)).toBeNull();
    expect(result.code, describeExit(result)).toBe(0);
    const r = lastJson<{ members: number; objects: number; bytesRead: number; outcomes: Record<string, string>; refused: Record<string, string> }>(result);
    console.info(`[info] after close: ${r.members} members of ${r.objects} objects swept, ${r.bytesRead} bytes of returned views read`);
    // Setup refusing NO_MMAP rings is right only on a kernel older than 6.5 (then they are not swept).
    if (Object.keys(r.refused).length > 0) {
      expect(kernelAtLeast(6, 5), `refused ${JSON.stringify(r.refused)}`).toBe(false);
      console.warn(`[note] after close: kernel ${release()} refuses ${Object.keys(r.refused).join(' and ')} rings (NO_MMAP needs Linux 6.5): not swept`);
    }
    expect(r.members).toBeGreaterThan(400);
    // Whatever touches ring memory says so with ERR_RING_CLOSED (spot checks across kinds).
    const closed = /^throw:RingStateError:ERR_RING_CLOSED$/;
    for (const name of [
      'main.ring.cqReady', 'main.ring.sqFlags', 'main.ring.getSqe', 'main.ring.peekCqe', 'main.ring.submit',
      'main.stagedSqe.view', 'main.stagedSqe.registered', 'main.pool.status', 'main.pool.recycleMany',
      'noMmap.ring.cqReady', 'fdOnly.ring.peekCqe', 'cqe32.ring.forEachCqe', 'async.aring.ring.getSqe', 'main.table.slot',
    ].filter((n) => !(n.split('.')[0]! in r.refused))) {
      expect(r.outcomes[name] ?? 'not swept', name).toMatch(closed);
    }
    // JS-owned copies stay readable: the CQE snapshot, the views take() handed out.
    expect(r.outcomes['main.cqe.res']).toBe('ok');
    expect(r.outcomes['cqe32.cqe.extra']).toBe('ok');
    expect(r.bytesRead).toBeGreaterThan(4096); // a registered buffer, the taken views, probe data...
    // The Promise API after close: rejected promises, never a throw that escapes.
    expect(r.outcomes['async.aring.nop']).toBe('ok:promise');
  }, hangAfter(90_000));

  it(`${stressCount(10_000, 200)} cancel-versus-complete races per API: one terminal result each, buffers held, won fds closed`, async () => {
    const races = stressCount(10_000, 200);
    const result = await runChild(RACES_CHILD, { nodeArgs: ['--expose-gc'], timeoutMs: 120_000, env: { RACES: String(races) } });
    expect(result.code, describeExit(result)).toBe(0);
    const r = lastJson<{
      raw: Record<string, unknown> & { ops: number; connects: number; cancels: number; duplicates: number; bufferDead: number; dataBad: number; leftPending: number; inFlightAfter: number; outcomes: Record<string, number>; cancelResults: Record<string, number>; fdsWon: number };
      prom: Record<string, unknown> & { settled: number; doubleSettled: number; collectedEarly: number; hung: number; pendingAfter: number; outcomes: Record<string, number> };
      fdsBefore: number;
      fdsAfter: number;
    }>(result);
    console.info(`[info] races raw: ${JSON.stringify(r.raw)}`);
    console.info(`[info] races promise: ${JSON.stringify(r.prom)}`);
    const accepts = races / 4;
    expect(r.raw.ops).toBe(races + r.raw.connects); // each op and each connect exactly once
    expect(r.raw.connects).toBeGreaterThan(accepts / 4);
    expect(r.raw.cancels).toBe(races);
    expect(r.raw.duplicates).toBe(0);
    expect(r.raw.leftPending).toBe(0);
    expect(r.raw.inFlightAfter).toBe(0);
    expect(r.raw.bufferDead).toBe(0);
    expect(r.raw.dataBad).toBe(0);
    // Real races: both outcomes happened for the cancellable kinds.
    const o = r.raw.outcomes;
    expect((o['timeout:-125'] ?? 0) > 0 && (o['timeout:-62'] ?? 0) > 0, JSON.stringify(o)).toBe(true);
    expect((o['accept:-125'] ?? 0) > 0 && (o['accept:ok'] ?? 0) > 0, JSON.stringify(o)).toBe(true);
    expect((o['read:ok'] ?? 0) + (o['read:-125'] ?? 0)).toBe(races / 4);
    expect((o['open:ok'] ?? 0) + (o['open:-125'] ?? 0)).toBe(races / 4);
    for (const res of Object.keys(r.raw.cancelResults)) expect(['0', '-2', '-114']).toContain(res);
    expect(r.prom.settled).toBe(races);
    expect(r.prom.doubleSettled).toBe(0);
    expect(r.prom.hung).toBe(0);
    expect(r.prom.collectedEarly).toBe(0);
    expect(r.prom.pendingAfter).toBe(0);
    const po = r.prom.outcomes;
    expect((po['open:AbortError'] ?? 0) > 0 && (po['open:resolved'] ?? 0) > 0, JSON.stringify(po)).toBe(true);
    // Every descriptor an op created was closed: by the test for ops that resolved, by the library for the rest.
    expect(r.fdsAfter).toBe(r.fdsBefore);
  }, hangAfter(150_000));
});
