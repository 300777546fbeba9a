/**
 * Closing descriptors when a Node environment (a Worker) is torn down, even by
 * `worker.terminate()`, which runs no JavaScript at all: no `'exit'` event, no
 * `finally`, no finalizer.
 *
 * Node runs native cleanup hooks (`napi_add_env_cleanup_hook`) while it frees an
 * environment, before the environment's heap goes away. A hook is a C function taking one
 * pointer-sized argument; libc's `close(int fd)` is exactly such a function on the
 * supported 64-bit ABIs (x86-64, arm64, riscv64 pass the first argument in the same
 * register whether it is an `int` or a pointer, and the callee reads its low 32 bits). So
 * registering `close` with the descriptor as the argument closes it natively at teardown:
 * no JavaScript, no native code of ours.
 *
 * Rules:
 * - A (function, argument) pair may be registered once per environment: Node aborts the
 *   process on a duplicate. Descriptor numbers are unique while open, and every hook is
 *   removed before its descriptor is closed by JS, so a pair is never registered twice.
 * - Remove the hook *before* closing the descriptor: otherwise a new descriptor with the
 *   same number (opened by anyone in the process) would be closed at teardown.
 *
 * @module
 */
import koffi from 'koffi';
import { isMainThread } from 'node:worker_threads';
import { libcHandle } from './libc.js';

type HookCall = (env: unknown, fun: bigint, arg: number) => number;

let api: { add: HookCall; remove: HookCall; close: bigint; env: unknown } | null | undefined;

function load(): typeof api {
  if (api !== undefined) return api;
  try {
    const self = koffi.load(null);
    api = {
      add: self.func('int napi_add_env_cleanup_hook(void *env, uintptr_t fun, uintptr_t arg)') as HookCall,
      remove: self.func('int napi_remove_env_cleanup_hook(void *env, uintptr_t fun, uintptr_t arg)') as HookCall,
      close: libcHandle.symbol('close') as bigint,
      env: koffi.node.env,
    };
  } catch {
    api = null;
  }
  return api;
}

/** Descriptors with a teardown hook in this environment. */
const hooked = new Set<number>();

/**
 * Closes `fd` natively when this thread's Node environment is torn down, however that
 * happens. Only needed (and only done) inside a Worker: a process's descriptors end with
 * the process. Returns whether a hook was registered.
 */
export function closeOnTeardown(fd: number): boolean {
  if (isMainThread || hooked.has(fd)) return false;
  const a = load();
  if (a === null || a === undefined) return false;
  if (a.add(a.env, a.close, fd) !== 0) return false;
  hooked.add(fd);
  return true;
}

/** Removes the hook of {@link closeOnTeardown}; call it before closing `fd` yourself. */
export function forgetTeardown(fd: number): void {
  if (!hooked.delete(fd)) return;
  const a = load();
  if (a !== null && a !== undefined) a.remove(a.env, a.close, fd);
}
