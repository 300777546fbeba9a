/**
 * Runs a file of the repository as its own process (`node --import tsx FILE args`), the
 * way a user runs `npx tsx FILE args`, with optional standard input.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hangAfter } from '../support/slow.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export function runScript(file: string, args: readonly string[], options: { stdin?: Uint8Array; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    // A hang detector, stretched on a slow machine (support/slow.ts).
    const timer = setTimeout(() => child.kill('SIGKILL'), hangAfter(options.timeoutMs ?? 30_000));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr });
    });
  });
}
