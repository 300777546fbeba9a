/**
 * `tsuring/fs` as a whole process sees it, each in a child process:
 * - the module is a complete drop-in: its export list is node:fs/promises's (named and
 *   default), plus `backend` and `useRing`; what it re-exports is Node's own function;
 * - a script using it exits by itself (the ring never keeps the process alive when idle);
 * - one ring per thread: a Worker gets its own, and ends cleanly;
 * - `useRing` routes the calls through a ring of your own;
 * - an unclosed FileHandle is closed on GC with Node's warnings;
 * - where io_uring is refused (a seccomp filter answering EPERM, or ENOSYS), every function
 *   runs through node:fs/promises, `backend` is 'node', and ONE warning names the cause.
 */
import * as nodeFs from 'node:fs/promises';
import nodeFsDefault from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import * as tsuringFs from '../../src/node/fs/index.js';
import { describeExit, lastJson, runChild } from '../support/child.js';
import { seccompSnippet } from '../support/seccomp.js';

const EXTRAS = ['backend', 'useRing'];
/** Only there to turn a hang into a failure: generous, since a kernel VM under emulation runs ~25x slower. */
const CHILD_TIMEOUT_MS = 150_000;

describe('the export list', { timeout: 200_000 }, () => {
  it("named exports: node:fs/promises's, plus backend and useRing; Node's functions re-exported as they are", () => {
    const node = Object.keys(nodeFs).filter((k) => k !== 'default').sort();
    const ours = Object.keys(tsuringFs).filter((k) => k !== 'default').sort();
    expect(ours).toEqual([...node, ...EXTRAS].sort());
    const own = ['open', 'readFile', 'writeFile', 'appendFile', 'copyFile', 'stat', 'lstat', 'rename', 'unlink', 'mkdir', 'rmdir', 'link', 'symlink', 'truncate'];
    for (const k of node) {
      const a = (tsuringFs as Record<string, unknown>)[k];
      const b = (nodeFs as Record<string, unknown>)[k];
      expect(typeof a, k).toBe(typeof b);
      if (own.includes(k)) expect(a, `${k} is ours`).not.toBe(b);
      else expect(a, `${k} is Node's`).toBe(b);
    }
  });

  it("the default export: node:fs/promises's default members, ours in place of Node's, plus backend and useRing", () => {
    const node = Object.keys(nodeFsDefault).sort();
    const ours = Object.keys(tsuringFs.default).sort();
    expect(ours).toEqual([...node, ...EXTRAS].sort());
    for (const k of Object.keys(tsuringFs).filter((n) => n !== 'default')) {
      expect((tsuringFs.default as Record<string, unknown>)[k], k).toBe((tsuringFs as Record<string, unknown>)[k]);
    }
  });
});

const REPORT = String.raw`
const warnings = [];
process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
`;

describe('a process using tsuring/fs', { timeout: 200_000 }, () => {
  it('exits by itself once its work is done (the idle ring keeps nothing alive)', async () => {
    const r = await runChild(
      String.raw`
import fs, { backend } from '@repo/src/node/fs/index.js';
const text = await fs.readFile('package.json', 'utf8');
const h = await fs.open('package.json');
const { bytesRead } = await h.read(Buffer.alloc(16), 0, 16, 0);
await h.close();
await fs.stat('.');
console.log(JSON.stringify({ backend, ok: text.startsWith('{') && bytesRead === 16 }));
`,
      { timeoutMs: CHILD_TIMEOUT_MS },
    );
    expect(r.timedOut, describeExit(r)).toBe(false);
    expect(r.code, describeExit(r)).toBe(0);
    expect(lastJson(r)).toEqual({ backend: 'io_uring', ok: true });
  });

  it('each Worker thread gets its own ring; the Worker ends cleanly, the process exits', async () => {
    const r = await runChild(
      String.raw`
import { Worker } from 'node:worker_threads';
import fs from '@repo/src/node/fs/index.js';
const main = await fs.readFile('package.json', 'utf8');
const code = "const { parentPort } = require('node:worker_threads');" +
  "(async () => {" +
  "  const { register } = await import('@repo/node_modules/tsx/dist/esm/api/index.mjs'); register();" +
  "  const fs = (await import('@repo/src/node/fs/index.ts')).default;" +
  "  const text = await fs.readFile('package.json', 'utf8');" +
  "  const h = await fs.open('package.json'); const st = await h.stat(); await h.close();" +
  "  parentPort.postMessage({ backend: fs.backend, length: text.length, size: st.size });" +
  "})();";
const got = await new Promise((resolve, reject) => {
  const w = new Worker(code, { eval: true });
  let message;
  w.on('message', (m) => { message = m; });
  w.on('error', reject);
  w.on('exit', (exitCode) => resolve({ message, exitCode }));
});
console.log(JSON.stringify({ ...got, mainLength: main.length }));
`,
      { timeoutMs: CHILD_TIMEOUT_MS },
    );
    expect(r.timedOut, describeExit(r)).toBe(false);
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ message: { backend: string; length: number; size: number }; exitCode: number; mainLength: number }>(r);
    expect(out.exitCode).toBe(0);
    expect(out.message).toEqual({ backend: 'io_uring', length: out.mainLength, size: out.mainLength });
  });

  it('useRing: the calls go through the ring you supply, and back to the own ring with null', async () => {
    const r = await runChild(
      String.raw`
import fs, { useRing } from '@repo/src/node/fs/index.js';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
const mine = new AsyncIoUring({ entries: 8 });
useRing(mine);
const p = fs.readFile('package.json', 'utf8');
const pendingOnMine = mine.pending; // the open was staged on this ring, synchronously
await p;
useRing(null);
const q = fs.readFile('package.json');
const pendingAfter = mine.pending;
await q;
// A closed ring of yours is not used: the thread's own takes over.
useRing(mine);
await mine.close();
const afterClose = (await fs.readFile('package.json', 'utf8')).length > 0;
let refused;
try { useRing({}); } catch (e) { refused = e.code; }
console.log(JSON.stringify({ pendingOnMine, pendingAfter, afterClose, refused }));
`,
      { timeoutMs: CHILD_TIMEOUT_MS },
    );
    expect(r.code, describeExit(r)).toBe(0);
    expect(lastJson(r)).toEqual({ pendingOnMine: 1, pendingAfter: 0, afterClose: true, refused: 'ERR_INVALID_ARG_TYPE' });
  });

  it('an unclosed FileHandle is closed on GC with Node\'s warnings, as Node\'s own is', async () => {
    const r = await runChild(
      REPORT +
        String.raw`
import { existsSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import fs from '@repo/src/node/fs/index.js';
async function leak(api) {
  const h = await api.open('package.json');
  return h.fd;
}
const result = {};
for (const [name, api] of [['node', nodeFs], ['tsuring', fs]]) {
  const before = warnings.length;
  const fd = await leak(api);
  const openBefore = existsSync('/proc/self/fd/' + fd);
  for (let i = 0; i < 10 && existsSync('/proc/self/fd/' + fd); i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 50));
  result[name] = { openBefore, openAfter: existsSync('/proc/self/fd/' + fd), warnings: warnings.slice(before).map((w) => ({ name: w.name, code: w.code, message: w.message.replace(String(fd), 'N') })) };
}
console.log(JSON.stringify(result));
`,
      { nodeArgs: ['--expose-gc'], timeoutMs: CHILD_TIMEOUT_MS },
    );
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<Record<'node' | 'tsuring', { openBefore: boolean; openAfter: boolean; warnings: object[] }>>(r);
    expect(out.tsuring.openBefore).toBe(true);
    expect(out.tsuring.openAfter, 'the descriptor was closed').toBe(false);
    expect(out.tsuring.warnings).toContainEqual({ name: 'Warning', code: undefined, message: 'Closing file descriptor N on garbage collection' });
    // Node warns DEP0137 once per process: it came with Node's own handle, before ours.
    expect(out.node.openAfter).toBe(false);
    expect(out.node.warnings).toEqual(expect.arrayContaining([expect.objectContaining({ message: 'Closing file descriptor N on garbage collection' })]));
    const nodeDep = out.node.warnings.filter((w) => (w as { code?: string }).code === 'DEP0137');
    expect(nodeDep.length).toBe(1);
  });

  it('our DEP0137 warning is Node\'s, once', async () => {
    const r = await runChild(
      REPORT +
        String.raw`
import fs from '@repo/src/node/fs/index.js';
for (let k = 0; k < 2; k++) {
  await (async () => { await fs.open('package.json'); })();
  for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
}
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify(warnings));
`,
      { nodeArgs: ['--expose-gc'], timeoutMs: CHILD_TIMEOUT_MS },
    );
    expect(r.code, describeExit(r)).toBe(0);
    const warnings = lastJson<{ name: string; code?: string; message: string }[]>(r);
    expect(warnings.filter((w) => /^Closing file descriptor \d+ on garbage collection$/.test(w.message)).length).toBe(2);
    const dep = warnings.filter((w) => w.code === 'DEP0137');
    expect(dep.length).toBe(1);
    expect(dep[0]!.name).toBe('DeprecationWarning');
    expect(dep[0]!.message).toMatch(/^Closing a FileHandle object on garbage collection is deprecated/);
  });
});

/** A child that works through the whole API on whatever backend it gets. */
const EXERCISE = String.raw`
const { mkdtempSync, rmSync, readFileSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const dir = mkdtempSync(join(tmpdir(), 'tsuring-fallback-'));
const steps = {};
try {
  await fs.writeFile(join(dir, 'a'), 'hello');
  await fs.appendFile(join(dir, 'a'), ' world');
  steps.readFile = await fs.readFile(join(dir, 'a'), 'utf8');
  await fs.copyFile(join(dir, 'a'), join(dir, 'b'));
  await fs.rename(join(dir, 'b'), join(dir, 'c'));
  await fs.link(join(dir, 'c'), join(dir, 'd'));
  await fs.symlink('c', join(dir, 'e'));
  steps.lstat = (await fs.lstat(join(dir, 'e'))).isSymbolicLink();
  steps.stat = String((await fs.stat(join(dir, 'e'), { bigint: true })).size);
  await fs.truncate(join(dir, 'd'), 3);
  steps.truncated = readFileSync(join(dir, 'c'), 'utf8');
  await fs.mkdir(join(dir, 'x', 'y'), { recursive: true });
  await fs.rmdir(join(dir, 'x', 'y'));
  await fs.unlink(join(dir, 'd'));
  const h = await fs.open(join(dir, 'a'), 'r+');
  steps.read = (await h.read(Buffer.alloc(5), 0, 5, 0)).buffer.toString();
  steps.write = (await h.write('J', 0)).bytesWritten;
  steps.handleReadFile = await h.readFile('utf8');
  await h.close();
  steps.fdAfterClose = h.fd;
  steps.readdir = (await fs.readdir(dir)).sort();
  try { await fs.readFile(join(dir, 'missing')); } catch (e) { steps.error = { code: e.code, syscall: e.syscall, errno: e.errno, message: e.message.replace(dir, '<dir>') }; }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
`;

describe('fallback where io_uring is refused', { timeout: 200_000 }, () => {
  for (const [code, errno] of [['EPERM', 1], ['ENOSYS', 38]] as const) {
    it(`a seccomp filter answering ${code}: backend 'node', one warning naming the cause, every function works`, async () => {
      const r = await runChild(
        seccompSnippet(errno) +
          REPORT +
          String.raw`
// Imported after the filter is in place: the backend is decided at import.
const fs = (await import('@repo/src/node/fs/index.js')).default;
const { backend } = await import('@repo/src/node/fs/index.js');
` +
          EXERCISE +
          String.raw`
await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ backend, defaultBackend: fs.backend, steps, warnings }));
`,
        { timeoutMs: CHILD_TIMEOUT_MS },
      );
      expect(r.code, describeExit(r)).toBe(0);
      const out = lastJson<{ backend: string; defaultBackend: string; steps: Record<string, unknown>; warnings: { name: string; code: string; message: string }[] }>(r);
      expect(out.backend).toBe('node');
      expect(out.defaultBackend).toBe('node');
      expect(out.warnings.length, JSON.stringify(out.warnings)).toBe(1);
      const w = out.warnings[0]!;
      expect(w.code).toBe('TSURING_FS_FALLBACK');
      expect(w.message).toContain('every function runs through node:fs/promises');
      expect(w.message).toContain(`${code}: `);
      expect(w.message).toMatch(/seccomp/);
      expect(out.steps).toEqual({
        readFile: 'hello world',
        lstat: true,
        stat: '11',
        truncated: 'hel',
        read: 'hello',
        write: 1,
        handleReadFile: 'Jello world',
        fdAfterClose: -1,
        readdir: ['a', 'c', 'e', 'x'],
        error: { code: 'ENOENT', syscall: 'open', errno: -2, message: "ENOENT: no such file or directory, open '<dir>/missing'" },
      });
    });
  }

  it('the same exercise on io_uring gives the same answers, without a warning', async () => {
    const r = await runChild(
      REPORT +
        String.raw`
const fs = (await import('@repo/src/node/fs/index.js')).default;
const backend = fs.backend;
` +
        EXERCISE +
        String.raw`
await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ backend, steps, warnings }));
`,
      { timeoutMs: CHILD_TIMEOUT_MS },
    );
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ backend: string; steps: Record<string, unknown>; warnings: unknown[] }>(r);
    expect(out.backend).toBe('io_uring');
    expect(out.warnings).toEqual([]);
    expect(out.steps.handleReadFile).toBe('Jello world');
    expect(out.steps.error).toEqual({ code: 'ENOENT', syscall: 'open', errno: -2, message: "ENOENT: no such file or directory, open '<dir>/missing'" });
  });
});
