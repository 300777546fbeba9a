/**
 * Runs a TypeScript snippet in a fresh `node --import tsx` process, for behaviour that
 * only a whole process shows: exiting by itself, crashing, seccomp, Workers.
 *
 * In the snippet, `@repo/` stands for the repository root as a file URL, so
 * `import { createWaker } from '@repo/src/loop/waker.js'` works from the temp dir.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** True when the child was killed for running past the timeout. */
  timedOut: boolean;
}

export interface ChildOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Extra files written next to the main script: name → source (same `@repo/` rule). */
  files?: Record<string, string>;
}

function expand(source: string): string {
  return source.replaceAll('@repo/', `${pathToFileURL(REPO_ROOT).href}/`);
}

export async function runChild(source: string, options: ChildOptions = {}): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-child-'));
  const script = join(dir, 'main.mts');
  writeFileSync(script, expand(source));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), expand(text));
  const t0 = performance.now();
  try {
    return await new Promise<ChildResult>((resolvePromise, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs ?? 20_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - t0, timedOut });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The last line of stdout parsed as JSON (snippets report with `console.log(JSON.stringify(x))`). */
export function lastJson<T>(result: ChildResult): T {
  const lines = result.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  if (last === undefined || last === '') {
    throw new Error(`child printed nothing (code ${result.code}, signal ${result.signal}); stderr:\n${result.stderr}`);
  }
  return JSON.parse(last) as T;
}
