/**
 * Counting a process's `io_uring_enter` system calls from outside it, for the SQPOLL check:
 * `perf stat` on the `syscalls:sys_enter_io_uring_enter` tracepoint (exact, no slowdown)
 * where it works, else `strace -c` (slows every traced call, but counts them all). Both
 * count the whole process, its threads included, from exec to exit: ring setup, warm-up
 * and close too.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from './exec.js';
import type { Tools } from './prepare.js';

export type SyscallCounter = 'perf' | 'strace';

/** The counter this machine has, or null. */
export function syscallCounter(tools: Tools): SyscallCounter | null {
  if (tools.perfSyscalls) return 'perf';
  if (tools.strace) return 'strace';
  return null;
}

/** Parses `perf stat -x,` output: the count of the io_uring_enter tracepoint. */
export function parsePerfStat(text: string): number | null {
  for (const line of text.split('\n')) {
    const f = line.split(',');
    if (f[2]?.trim() === 'syscalls:sys_enter_io_uring_enter') {
      const n = Number(f[0]);
      return Number.isFinite(n) ? n : null;
    }
  }
  return null;
}

/** Parses `strace -c` output: the calls column of the io_uring_enter row (0 when absent). */
export function parseStraceSummary(text: string): number | null {
  if (!/% time\s+seconds/.test(text)) return null;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f[f.length - 1] === 'io_uring_enter' && f.length >= 5) return Number(f[3]);
  }
  return 0;
}

/**
 * Runs `command args` under the counter; resolves with its stdout and the number of
 * `io_uring_enter` calls the whole process made.
 */
export async function countEnters(counter: SyscallCounter, command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; enters: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-bench-syscalls-'));
  const out = join(dir, 'count.txt');
  try {
    const wrapper =
      counter === 'perf'
        ? ['perf', 'stat', '-x,', '-o', out, '-e', 'syscalls:sys_enter_io_uring_enter', '--']
        : ['strace', '-f', '-c', '--seccomp-bpf', '-e', 'trace=io_uring_enter', '-o', out, '--'];
    const stdout = await runProcess(wrapper[0]!, [...wrapper.slice(1), command, ...args], { timeoutMs, label: `${counter} ${command.split('/').pop()}` });
    const text = readFileSync(out, 'utf8');
    const enters = counter === 'perf' ? parsePerfStat(text) : parseStraceSummary(text);
    if (enters === null) throw new Error(`${counter} printed no io_uring_enter count: ${text.trim().split('\n').slice(0, 3).join(' | ')}`);
    return { stdout, enters };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
