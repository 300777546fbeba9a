/**
 * libuv, reached through koffi: Node exports libuv's functions from its own executable,
 * so `koffi.load(null)` finds `uv_poll_init` and friends without any native code of ours.
 * This module also wraps koffi's built-in poll handle (`koffi.node.poll`). The waker in
 * `src/loop/` is the only user; it keeps koffi out of everything else.
 *
 * Bindings are made on first use, so a runtime without these symbols can still load
 * the library and fall back (see {@link uvPollSupport}).
 *
 * @module
 */
import koffi from 'koffi';
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { errorFromErrno } from './errors.js';
import { nativeAlloc, nativeFree } from './libc.js';

/** `UV_POLL` in libuv's `uv_handle_type`. */
const UV_POLL = 8;
/** `UV_READABLE` in libuv's `uv_poll_event`. */
export const UV_READABLE = 1;

/** Called by libuv with the poll status (0, or a negative libuv error) and the ready events. */
export type UvPollListener = (status: number, events: number) => void;

interface UvApi {
  loop: number;
  defaultLoop: number;
  handleSize: number;
  pollInit: (loop: number, handle: number, fd: number) => number;
  pollStart: (handle: number, events: number, cb: unknown) => number;
  pollStop: (handle: number) => number;
  close: (handle: number, cb: unknown) => void;
  ref: (handle: number) => void;
  unref: (handle: number) => void;
  isActive: (handle: number) => number;
  hasRef: (handle: number) => number;
  pollCallback: unknown;
  closeCallback: unknown;
}

let api: UvApi | undefined;
let apiError: string | undefined;

// Every handle shares two trampolines: koffi has a fixed number of registered-callback
// slots, and a callback that unregistered itself while running would pull the slot out
// from under its own frame. libuv passes the handle's address, which keys these maps.
const listeners = new Map<number, UvPollListener>();
const closing = new Map<number, (() => void) | undefined>();

function onPoll(handle: number, status: number, events: number): void {
  // Called by libuv with no JS frame below: an exception escaping here would stay
  // pending inside Node-API and surface in an unrelated later call. Listeners catch
  // their own; this is the last line.
  try {
    listeners.get(handle)?.(status, events);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

function onClose(handle: number): void {
  const done = closing.get(handle);
  closing.delete(handle);
  // libuv never touches the handle after its close callback, so this is the first
  // moment the memory may go.
  nativeFree(handle);
  try {
    done?.();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

function loadApi(): UvApi {
  if (api !== undefined) return api;
  if (apiError !== undefined) throw new Error(apiError);
  try {
    const self = koffi.load(null);
    const getLoop = self.func('int napi_get_uv_event_loop(uintptr_t env, _Out_ uintptr_t *loop)');
    const defaultLoop = self.func('uintptr_t uv_default_loop()') as () => number;
    const handleSize = (self.func('size_t uv_handle_size(int type)') as (t: number) => number)(UV_POLL);
    // The loop of *this* thread's Node environment: inside a Worker, uv_default_loop()
    // is the main thread's loop, which must never be touched from here.
    let loop = 0;
    const out = [0];
    if ((getLoop as (env: unknown, out: number[]) => number)(koffi.node.env, out) === 0) loop = Number(out[0]);
    if (loop === 0 && isMainThread) loop = defaultLoop();
    if (loop === 0) throw new Error('Node-API did not return the event loop of this thread');
    // Anonymous prototypes: koffi's type names are process-wide, and a second copy of
    // this module (two installed versions, test isolation) must not collide with ours.
    const pollCb = koffi.pointer(koffi.proto('void', ['uintptr_t', 'int', 'int']));
    const closeCb = koffi.pointer(koffi.proto('void', ['uintptr_t']));
    api = {
      loop,
      defaultLoop: defaultLoop(),
      handleSize,
      pollInit: self.func('int uv_poll_init(uintptr_t loop, uintptr_t handle, int fd)') as UvApi['pollInit'],
      pollStart: self.func('uv_poll_start', 'int', ['uintptr_t', 'int', pollCb]) as UvApi['pollStart'],
      pollStop: self.func('int uv_poll_stop(uintptr_t handle)') as UvApi['pollStop'],
      close: self.func('uv_close', 'void', ['uintptr_t', closeCb]) as UvApi['close'],
      ref: self.func('void uv_ref(uintptr_t handle)') as UvApi['ref'],
      unref: self.func('void uv_unref(uintptr_t handle)') as UvApi['unref'],
      isActive: self.func('int uv_is_active(uintptr_t handle)') as UvApi['isActive'],
      hasRef: self.func('int uv_has_ref(uintptr_t handle)') as UvApi['hasRef'],
      pollCallback: koffi.register(onPoll, pollCb),
      closeCallback: koffi.register(onClose, closeCb),
    };
    return api;
  } catch (err) {
    apiError = `libuv is not reachable through koffi.load(null): ${(err as Error).message}`;
    throw new Error(apiError);
  }
}

/**
 * Whether this thread can run its own `uv_poll_t` through Node's exported libuv.
 *
 * Not in a Worker: a handle libuv still holds when `worker.terminate()` tears the
 * Worker's loop down makes Node abort the whole process ("uv_loop_close() while having
 * open handles"), and JS cannot run at that point to close it. koffi's own poll handle
 * (see {@link koffiPollSupport}) closes itself from a native finalizer, so Workers use that.
 */
export function uvPollSupport(): { ok: true } | { ok: false; reason: string } {
  if (!isMainThread) {
    return { ok: false, reason: 'in a Worker a uv_poll_t made through koffi cannot be closed at worker.terminate(), which aborts the process' };
  }
  try {
    loadApi();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** The address of the event loop this thread's poll handles are added to. */
export function uvLoopAddress(): number {
  return loadApi().loop;
}

/** `uv_default_loop()`: the main thread's loop (for diagnostics and tests). */
export function uvDefaultLoopAddress(): number {
  return loadApi().defaultLoop;
}

/**
 * Allocates and initialises a `uv_poll_t` for `fd` on this thread's loop.
 *
 * @returns The handle's address. It stays valid until {@link uvPollClose}'s callback.
 * @throws {@link IoUringError} with `syscall: 'uv_poll_init'` (EEXIST when another poll
 *   handle on this loop already watches `fd`).
 */
export function uvPollOpen(fd: number, listener: UvPollListener): number {
  const uv = loadApi();
  const handle = nativeAlloc(uv.handleSize);
  const r = uv.pollInit(uv.loop, handle, fd);
  if (r !== 0) {
    nativeFree(handle);
    throw errorFromErrno(-r, 'uv_poll_init', `(fd ${fd})`);
  }
  listeners.set(handle, listener);
  return handle;
}

/** `uv_poll_start`; starting a started handle just changes its events. */
export function uvPollStart(handle: number, events: number): void {
  const r = loadApi().pollStart(handle, events, api?.pollCallback);
  if (r !== 0) throw errorFromErrno(-r, 'uv_poll_start');
}

/** `uv_poll_stop`: no more callbacks, and the handle no longer keeps the loop alive. */
export function uvPollStop(handle: number): void {
  loadApi().pollStop(handle);
}

/** `uv_ref`: an active handle keeps the loop (and so the process) alive. */
export function uvRef(handle: number): void {
  loadApi().ref(handle);
}

/** `uv_unref`: the handle no longer keeps the loop alive, even while active. */
export function uvUnref(handle: number): void {
  loadApi().unref(handle);
}

/** `uv_is_active` and `uv_has_ref`, for tests and diagnostics. */
export function uvHandleState(handle: number): { active: boolean; referenced: boolean } {
  const uv = loadApi();
  return { active: uv.isActive(handle) !== 0, referenced: uv.hasRef(handle) !== 0 };
}

/**
 * `uv_close`. The memory is freed in libuv's close callback, on a later turn of the
 * loop; `onClosed` runs just after. The caller must call this exactly once per handle
 * (libuv aborts the process on a second `uv_close`) and never use the address again.
 */
export function uvPollClose(handle: number, onClosed?: () => void): void {
  const uv = loadApi();
  listeners.delete(handle);
  closing.set(handle, onClosed);
  uv.close(handle, uv.closeCallback);
}

/** Handles whose close callback has not run yet (for tests: proves memory is freed). */
export function uvPendingCloses(): number {
  return closing.size;
}

// ---------------------------------------------------------------------------------------
// koffi's own poll handle

/** What {@link koffiPollOpen} returns: koffi's PollHandle, reduced to what we use. */
export interface KoffiPoll {
  start(listener: UvPollListener): void;
  stop(): void;
  ref(): void;
  unref(): void;
  close(): void;
}

interface RawPollHandle {
  start(opts: { readable: boolean }, cb: (...args: unknown[]) => void): void;
  stop(): void;
  ref(): void;
  unref(): void;
  close(): void;
}

let pinned: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Keeps koffi's shared object mapped until the process exits.
 *
 * When a Worker that loaded koffi ends, Node unloads the addons it loaded (unless
 * another thread still holds them). A poll handle closed during that teardown still has
 * its close callback inside koffi's code, which libuv runs after the unload: SIGSEGV
 * (seen with Node 20 and koffi 3.3 on `worker.terminate()` when the main thread never
 * imported koffi). `dlopen(RTLD_NOLOAD | RTLD_NODELETE)` on the already-loaded file
 * marks it never-unload; the path comes from /proc/self/maps.
 */
function pinKoffi(): { ok: true } | { ok: false; reason: string } {
  if (pinned !== undefined) return pinned;
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const path = maps
      .split('\n')
      .map((line) => line.slice(line.indexOf('/')))
      .find((p) => /\/koffi[^/]*\.node$/.test(p));
    if (path === undefined) throw new Error("koffi's .node file is not in /proc/self/maps");
    const dlopen = koffi.load(null).func('uintptr_t dlopen(const char *path, int flags)') as (path: string, flags: number) => number;
    const RTLD_NOW = 0x2;
    const RTLD_NOLOAD = 0x4;
    const RTLD_NODELETE = 0x1000;
    if (dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) === 0) throw new Error(`dlopen(${path}, RTLD_NODELETE) failed`);
    pinned = { ok: true };
  } catch (err) {
    pinned = { ok: false, reason: `cannot keep koffi loaded past Worker teardown: ${(err as Error).message}` };
  }
  return pinned;
}

/**
 * Whether koffi's built-in poll handle (`koffi.node.poll`, koffi 2.15+, documented by
 * koffi as not yet stable) can be used on this thread. It runs a `uv_poll_t` on the loop
 * of the calling thread's environment and closes it from a finalizer when the
 * environment is torn down, which makes it safe in Workers once koffi itself is kept
 * loaded (see pinKoffi).
 */
export function koffiPollSupport(): { ok: true } | { ok: false; reason: string } {
  const node = (koffi as unknown as { node?: { poll?: unknown } }).node;
  if (typeof node?.poll !== 'function') return { ok: false, reason: `koffi ${koffi.version} has no koffi.node.poll` };
  return isMainThread ? { ok: true } : pinKoffi();
}

/**
 * Opens koffi's poll handle on `fd`, stopped. The returned object must stay referenced
 * while in use: koffi closes the handle when its wrapper is garbage-collected.
 */
export function koffiPollOpen(fd: number): KoffiPoll {
  const node = (koffi as unknown as { node: { poll: (fd: number, opts: object, cb: () => void) => RawPollHandle | null } }).node;
  const raw = node.poll(fd, { readable: true }, () => {});
  if (raw === null) throw new Error(`koffi.node.poll could not watch fd ${fd}`);
  raw.stop();
  return {
    start(listener: UvPollListener): void {
      // koffi calls (status, { readable, writable, disconnect }); its type declarations
      // omit the status, so read the arguments by position defensively.
      raw.start({ readable: true }, (...args: unknown[]) => {
        const status = typeof args[0] === 'number' ? args[0] : 0;
        const ev = (typeof args[0] === 'object' ? args[0] : args[1]) as { readable?: boolean } | undefined;
        try {
          listener(status, ev?.readable === false ? 0 : UV_READABLE);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      });
    },
    stop: () => raw.stop(),
    ref: () => raw.ref(),
    unref: () => raw.unref(),
    close: () => raw.close(),
  };
}
