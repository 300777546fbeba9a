/**
 * Starting workers: a fresh process per measurement, on the compiled bench (plain `node`)
 * or on the TypeScript sources through tsx.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Sample } from '../workloads/common.js';

/** How workers are started. */
export interface Runner {
  /** 'node': compiled JavaScript; 'tsx': the TypeScript sources through tsx's loader. */
  kind: 'node' | 'tsx';
  /** The worker entry to run. */
  worker: string;
  /** Arguments that go before the entry (`--import tsx`). */
  nodeArgs: string[];
  /** Directory of the compiled (or source) `bench/` tree. */
  benchDir: string;
}

export function makeRunner(kind: 'node' | 'tsx', repo: string, compiledBench: string): Runner {
  if (kind === 'tsx') {
    return { kind, worker: join(repo, 'bench', 'worker.ts'), nodeArgs: ['--import', 'tsx'], benchDir: join(repo, 'bench') };
  }
  return { kind, worker: join(compiledBench, 'worker.js'), nodeArgs: [], benchDir: compiledBench };
}

/** A failed run, with what the process printed. */
export class RunError extends Error {}

/** Thrown by a run that cannot happen on this machine (it is skipped with the reason). */
export class SkipError extends Error {}

/** Parses the `RESULT {...}` line out of a worker's stdout (a `SKIP reason` line throws a {@link SkipError}). */
export function parseResult<T>(stdout: string, what: string): T {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith('RESULT '));
  const skip = /^SKIP (.*)$/m.exec(stdout);
  if (line === undefined && skip !== null) throw new SkipError(skip[1]!);
  if (line === undefined) throw new RunError(`${what}: no RESULT line in its output`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/**
 * Runs a command to completion; resolves with its stdout, rejects with its stderr's tail
 * when it fails or outlives `timeoutMs`.
 */
export function runProcess(
  command: string,
  args: string[],
  options: { timeoutMs: number; ipc?: (child: ChildProcess) => void; cwd?: string; label?: string },
): Promise<string> {
  const label = options.label ?? command.split('/').pop()!;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    options.ipc?.(child);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new RunError(`${label}: timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new RunError(`${label} exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ') || stdout.trim().slice(-300)}`));
    });
  });
}

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  timeoutMs: number;
  /** Node options before the entry (`--expose-gc`, ...). */
  nodeArgs?: string[];
  /** A command the worker runs under (`['taskset', '-c', '0']`, `['perf', 'stat', ...]`). */
  prefix?: string[];
}

/** The command line of a worker: [command, args]. */
export function workerCommand(runner: Runner, kind: string, params: unknown, options: Omit<WorkerOptions, 'timeoutMs'> = {}): [string, string[]] {
  const node = [process.execPath, ...runner.nodeArgs, ...(options.nodeArgs ?? []), runner.worker, kind, JSON.stringify(params)];
  const all = [...(options.prefix ?? []), ...node];
  return [all[0]!, all.slice(1)];
}

/** Runs one worker measurement. */
export async function runWorker(runner: Runner, kind: string, params: unknown, options: WorkerOptions): Promise<string> {
  const [command, args] = workerCommand(runner, kind, params, options);
  return runProcess(command, args, { timeoutMs: options.timeoutMs, label: `worker ${kind}` });
}

export async function runSample(runner: Runner, kind: string, params: unknown, timeoutMs: number, options: Omit<WorkerOptions, 'timeoutMs'> = {}): Promise<Sample> {
  return parseResult<Sample>(await runWorker(runner, kind, params, { ...options, timeoutMs }), kind);
}
