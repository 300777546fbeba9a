/**
 * Shared by the Promise-API tests: temp dirs, descriptor counts, pipes and socket pairs
 * made with Node's own APIs (so the thing under test is only the ring), and timing helpers.
 */
import { closeSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeFds, tcpListenFd } from '../support/fds.js';
import { hangAfter } from '../support/slow.js';

export { fdCount } from '../support/proc.js';

export function tempDir(prefix = 'tsuring-async-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether `fd` is open in this process. */
export function isOpen(fd: number): boolean {
  try {
    readlinkSync(`/proc/self/fd/${fd}`);
    return true;
  } catch {
    return false;
  }
}

/** `flags:` of /proc/self/fdinfo/<fd> (the O_* bits the kernel keeps for the open file). */
export function fdFlags(fd: number): number {
  const m = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (m === null) throw new Error(`no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1]!, 8);
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** A `node:net` server on 127.0.0.1 with a random port; `conns` collects accepted sockets. */
export async function nodeServer(onConn: (s: Socket) => void = () => {}): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    onConn(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` every few ms until it holds; throws after `timeoutMs` (a hang detector, scaled by the machine's slowdown). */
export async function until(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  timeoutMs = hangAfter(timeoutMs);
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}


/**
 * A pipe `[readEnd, writeEnd]` from pipe2(2), which every supported kernel has (the ring's own
 * `pipe()` is what ops.test.ts checks).
 */
export async function pipe(): Promise<[number, number]> {
  return pipeFds();
}

/** A listening TCP socket from socket/bind/listen(2) (port 0: the kernel picks one). */
export async function listenTcp(host = '127.0.0.1', backlog = 512): Promise<{ fd: number; port: number }> {
  return tcpListenFd(host, backlog);
}
