/**
 * Every example under examples/, run as a program the way the README says
 * (`npx tsx examples/NAME.ts ARGS`), with its output, the bytes it wrote or the echo
 * checked against what it should be.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import { REPO_ROOT, runScript } from './run.js';
import { echoRoundTrip } from '../support/net.js';

let dir: string;
/** Sizes that are not multiples of any chunk or block size the examples use. */
let small: Buffer;
let large: Buffer;
let smallPath: string;
let largePath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsuring-examples-'));
  small = randomBytes(10_007);
  large = randomBytes(3 * 1024 * 1024 + 12_345);
  smallPath = join(dir, 'small.bin');
  largePath = join(dir, 'large.bin');
  writeFileSync(smallPath, small);
  writeFileSync(largePath, large);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('examples/cat.ts', () => {
  it('writes the files to standard output, in order, byte for byte', async () => {
    const r = await runScript('examples/cat.ts', [largePath, smallPath]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.length).toBe(large.length + small.length);
    expect(r.stdout.equals(Buffer.concat([large, small]))).toBe(true);
  });

  it("reads standard input for '-', reports a missing file and still prints the others", async () => {
    const input = randomBytes(70_000);
    const missing = join(dir, 'no-such-file');
    const r = await runScript('examples/cat.ts', [smallPath, missing, '-'], { stdin: input });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cat: ${missing}: ENOENT`);
    expect(r.stdout.equals(Buffer.concat([small, input]))).toBe(true);
  });

  it('prints its usage and exits 2 without arguments', async () => {
    const r = await runScript('examples/cat.ts', []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: npx tsx examples\/cat\.ts FILE/);
  });
});

describe('examples/copy.ts', () => {
  it('copies the bytes and the permission bits, and says what it did', async () => {
    chmodSync(largePath, 0o640);
    const dst = join(dir, 'copy.bin');
    const r = await runScript('examples/copy.ts', [largePath, dst, '--parallel', '3', '--chunk', '65536']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const copied = readFileSync(dst);
    expect(copied.length).toBe(large.length);
    expect(copied.equals(large)).toBe(true);
    expect(statSync(dst).mode & 0o777).toBe(0o640);
    const chunks = Math.ceil(large.length / 65536);
    expect(r.stdout.toString()).toMatch(new RegExp(`^copied ${large.length} bytes from .* to .*: ${chunks} reads and ${chunks} writes, 3 in flight, [\\d.]+ ms\\n$`));
  });

  it('replaces a longer destination and copies an empty file', async () => {
    const dst = join(dir, 'replaced.bin');
    writeFileSync(dst, randomBytes(50_000));
    let r = await runScript('examples/copy.ts', [smallPath, dst]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(dst).equals(small)).toBe(true);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    r = await runScript('examples/copy.ts', [empty, dst]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(dst).size).toBe(0);
  });

  it('fails with the error of the missing source, and with usage for bad arguments', async () => {
    const missing = join(dir, 'missing');
    let r = await runScript('examples/copy.ts', [missing, join(dir, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ENOENT');
    r = await runScript('examples/copy.ts', [smallPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: npx tsx examples/copy.ts SRC DST');
  });
});

describe('examples/raw-batch.ts', () => {
  it('runs NOPs in batches: one io_uring_enter per batch', async () => {
    const r = await runScript('examples/raw-batch.ts', ['--ops', '5000', '--batch', '16']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.toString()).toMatch(/^5000 NOPs in batches of 16: 313 io_uring_enter calls, [\d.]+ ms, \d+ ops\/s\n$/);
  });

  it('reads a file in batched block reads into the right places (sha256 matches)', async () => {
    const r = await runScript('examples/raw-batch.ts', ['--read', largePath, '--block', '4096', '--batch', '64']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const blocks = Math.ceil(large.length / 4096);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^read ${large.length} bytes of .* in ${blocks} reads of up to 4096 bytes, 64 per batch: ${Math.ceil(blocks / 64)} io_uring_enter calls`));
    expect(lines[1]).toBe(`sha256 ${sha256(large)}`);
  });

  it('refuses unknown arguments with its usage', async () => {
    const r = await runScript('examples/raw-batch.ts', ['--batch', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--batch needs a positive integer');
  });
});

describe('examples/echo-server.ts', () => {
  // Before Linux 6.11 the example binds and listens with the system calls: it runs everywhere.
  it('echoes what a client sends, then stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/echo-server.ts', '0'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      const deadline = Date.now() + hangAfter(20_000);
      while (!/listening on 127\.0\.0\.1:\d+/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)![1]);
      const payload = randomBytes(50_000);
      expect((await echoRoundTrip(port, payload)).equals(payload)).toBe(true);
      child.kill('SIGINT');
      const [code, signal] = await exited;
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
