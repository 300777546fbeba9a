/**
 * Recognisers for the argument shapes `tsuring/fs` serves on io_uring. Each returns the
 * normalised value, or `undefined` for anything else (a path with a NUL byte, an unknown
 * encoding, a non-`file:` URL, an options object of a kind Node validates itself): the call
 * then goes to `node:fs/promises` unchanged, which answers it exactly as Node does (its own
 * argument error, or an unusual form done right). So argument errors are always Node's.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import { isUint8Array } from 'node:util/types';
import { openFlagsOf, O_CLOEXEC } from '../../async/open-flags.js';

/** A path as the kernel takes it (string or bytes), or undefined: let Node judge it. */
export function pathArg(path: unknown): string | Uint8Array | undefined {
  if (typeof path === 'string') return path.includes('\u0000') ? undefined : path;
  if (isUint8Array(path)) return path.includes(0) ? undefined : path;
  if (path instanceof URL) {
    if (path.protocol !== 'file:') return undefined;
    try {
      const p = fileURLToPath(path);
      return p.includes('\u0000') ? undefined : p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** `O_*` bits (with `O_CLOEXEC`, as libuv adds it) for Node's flags (string or number), or undefined. */
export function flagsArg(flags: unknown, fallback: string): number | undefined {
  const value = flags ?? fallback;
  if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff)) return undefined;
  try {
    return openFlagsOf(value) | O_CLOEXEC;
  } catch {
    return undefined;
  }
}

/** A file mode (uint32), `fallback` when absent, or undefined (octal strings and the rest: Node's). */
export function modeArg(mode: unknown, fallback: number): number | undefined {
  if (mode === undefined || mode === null) return fallback;
  return typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 && mode <= 0xffffffff ? mode : undefined;
}

/** An encoding Node and Buffer both know, or null for none; undefined when Node should judge it. */
export function encodingArg(encoding: unknown): BufferEncoding | null | undefined {
  if (encoding === undefined || encoding === null) return null;
  return typeof encoding === 'string' && encoding !== 'buffer' && Buffer.isEncoding(encoding) ? encoding : undefined;
}

/** A real AbortSignal, none, or undefined (any other value: Node's own validation). */
export function signalArg(signal: unknown): { signal: AbortSignal | undefined } | undefined {
  if (signal === undefined) return { signal: undefined };
  return signal instanceof AbortSignal ? { signal } : undefined;
}

/** Options of readFile-like calls, normalised. */
export interface FileOptions {
  encoding: BufferEncoding | null;
  flags: number;
  mode: number;
  signal: AbortSignal | undefined;
  flush: boolean;
}

/**
 * Node's `getOptions(options, defaults)` for readFile / writeFile / appendFile: a string is
 * the encoding, an object holds `encoding`, `flag`, `mode`, `signal`, `flush`.
 */
export function fileOptionsArg(options: unknown, defaults: { encoding: BufferEncoding | null; flag: string }): FileOptions | undefined {
  if (options === undefined || options === null) {
    const flags = flagsArg(undefined, defaults.flag);
    return flags === undefined ? undefined : { encoding: defaults.encoding, flags, mode: 0o666, signal: undefined, flush: false };
  }
  if (typeof options === 'string') {
    const encoding = encodingArg(options);
    const flags = flagsArg(undefined, defaults.flag);
    return encoding === undefined || flags === undefined ? undefined : { encoding, flags, mode: 0o666, signal: undefined, flush: false };
  }
  if (typeof options !== 'object' || typeof (options as { then?: unknown }).then === 'function') return undefined;
  const o = options as { encoding?: unknown; flag?: unknown; mode?: unknown; signal?: unknown; flush?: unknown };
  const encoding = o.encoding === undefined ? defaults.encoding : encodingArg(o.encoding);
  // `flag: ''` or null means the default, as Node's `options.flag || 'r'`.
  const flags = flagsArg(o.flag === '' || o.flag === null ? undefined : o.flag, defaults.flag);
  const mode = modeArg(o.mode, 0o666);
  const signal = signalArg(o.signal);
  if (o.flush !== undefined && o.flush !== null && typeof o.flush !== 'boolean') return undefined;
  if (encoding === undefined || flags === undefined || mode === undefined || signal === undefined) return undefined;
  return { encoding, flags, mode, signal: signal.signal, flush: o.flush === true };
}

/** Whether `data` is what Node's writeFile iterates (an iterable or async iterable that is no string or view). */
export function isCustomIterable(data: unknown): data is Iterable<unknown> | AsyncIterable<unknown> {
  if (data === null || data === undefined || typeof data === 'string' || ArrayBuffer.isView(data)) return false;
  const o = data as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof o[Symbol.iterator] === 'function' || typeof o[Symbol.asyncIterator] === 'function';
}
