/**
 * Runs a TypeScript snippet in a fresh `node --import tsx` process, for behaviour only a
 * whole process shows: exiting by itself, crashing, seccomp, rlimits, Workers, GC flags,
 * signals sent to it while it runs.
 *
 * In the snippet (and in `files`), `@repo/` stands for the repository root as a file URL, so
 * `import { createWaker } from '@repo/src/loop/waker.js'` works from the temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hangAfter } from './slow.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** True when the child was killed for running past its timeout. */
  timedOut: boolean;
}

export interface ChildOptions {
  /** Flags for node itself, before `--import tsx` (e.g. `--expose-gc`). */
  nodeArgs?: readonly string[];
  /**
   * Killed with SIGKILL after this long (default 60 s), times the machine's slowdown
   * (`support/slow.ts`): only there to turn a hang into a failure.
   */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Extra files written next to the main script: name → source (same `@repo/` rule). */
  files?: Record<string, string>;
  /** Give the child a stdin pipe (default: no stdin). */
  stdin?: boolean;
}

export interface RunningChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the child has exited. */
  readonly done: Promise<ChildResult>;
}

function expand(source: string): string {
  return source.replaceAll('@repo/', `${pathToFileURL(REPO_ROOT).href}/`);
}

/** Starts `source` (TypeScript, ESM) in a fresh node process and returns at once. */
export function startChild(source: string, options: ChildOptions = {}): RunningChild {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-child-'));
  const script = join(dir, 'main.mts');
  writeFileSync(script, expand(source));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), expand(text));
  const t0 = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, hangAfter(options.timeoutMs ?? 60_000));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, timedOut });
    });
  });
  if (child.pid === undefined) throw new Error('could not start node');
  return { child, pid: child.pid, done };
}

/** Runs `source` in a fresh node process to its end. */
export function runChild(source: string, options: ChildOptions = {}): Promise<ChildResult> {
  return startChild(source, options).done;
}

/** Resolves once the running child's stdout contains `text`; rejects if it exits first. */
export function waitForOutput(running: RunningChild, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (seen.includes(text)) {
        running.child.stdout!.off('data', onData);
        resolve();
      }
    };
    running.child.stdout!.on('data', onData);
    void running.done.then((r) => reject(new Error(`child exited before printing ${JSON.stringify(text)}: ${describeExit(r)}`)));
  });
}

/** The last line of stdout parsed as JSON (snippets report with `console.log(JSON.stringify(x))`). */
export function lastJson<T>(result: ChildResult): T {
  const lines = result.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  if (last === undefined || last === '') {
    throw new Error(`child printed nothing (code ${result.code}, signal ${result.signal}); stderr:\n${result.stderr}`);
  }
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`child's last line is not JSON (code ${result.code}, signal ${result.signal}): ${last}\nstderr:\n${result.stderr}`);
  }
}

/** How a child ended, with the tail of its output, for assertion messages. */
export function describeExit(result: ChildResult): string {
  return `code ${result.code}, signal ${result.signal}, timed out ${result.timedOut}, ${result.ms.toFixed(0)} ms\nstdout:\n${result.stdout.slice(-4000)}\nstderr:\n${result.stderr.slice(-4000)}`;
}
