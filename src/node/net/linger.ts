/**
 * `SO_LINGER` with a zero timeout, so that closing a TCP socket sends an RST instead of a
 * FIN (what Node's `socket.resetAndDestroy()` does through libuv's `uv_tcp_close_reset`).
 * `setsockoptInt` takes only `int` options; `struct linger` is two: `l_onoff`, `l_linger`.
 *
 * @module
 */
import { libcHandle } from '../../sys/libc.js';

const SOL_SOCKET = 1;
const SO_LINGER = 13;

type Setsockopt = (fd: number, level: number, name: number, value: Int32Array, len: number) => number;
let setsockopt: Setsockopt | undefined;

/** Arms an abortive close on `fd` (best effort: a socket already gone just closes). */
export function resetOnClose(fd: number): void {
  setsockopt ??= libcHandle.func('int setsockopt(int fd, int level, int name, void *value, uint32_t len)') as unknown as Setsockopt;
  setsockopt!(fd, SOL_SOCKET, SO_LINGER, new Int32Array([1, 0]), 8);
}
