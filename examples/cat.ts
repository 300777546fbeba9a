/**
 * `cat` on the Promise API: every open, read, write and close is an io_uring op.
 *
 *   npx tsx examples/cat.ts FILE...        # '-' reads standard input
 *
 * Two buffers take turns: while one chunk is written to standard output, the next is
 * read into the other. The write and the read are started in the same tick, so the
 * Promise layer hands both to the kernel in one `io_uring_enter`.
 *
 * Standard output may be a non-blocking pipe (a parent's, or a terminal shared with Node):
 * a write then fails with EAGAIN instead of waiting, so the example waits with an io_uring
 * POLL_ADD and writes the rest.
 */
import { AsyncIoUring, POLLOUT } from '../src/index.js';

const CHUNK = 128 * 1024;
const STDIN = 0;
const STDOUT = 1;

/** Writes all of `data` to `fd` at its current position: short writes and EAGAIN are retried. */
async function writeAll(ring: AsyncIoUring, fd: number, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.byteLength) {
    try {
      at += await ring.write(fd, data.subarray(at), -1);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EAGAIN') throw err;
      await ring.poll(fd, POLLOUT);
    }
  }
}

/** Copies `fd` to standard output until end of file; returns the bytes copied. */
async function catFd(ring: AsyncIoUring, fd: number): Promise<number> {
  let current = Buffer.allocUnsafe(CHUNK);
  let spare = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  let n = await ring.read(fd, current, -1);
  while (n > 0) {
    total += n;
    const full = current.subarray(0, n);
    [current, spare] = [spare, current];
    // Started together: one submission for both.
    const [, next] = await Promise.all([writeAll(ring, STDOUT, full), ring.read(fd, current, -1)]);
    n = next;
  }
  return total;
}

/** Runs `cat` over `paths`; returns the exit code. */
export async function cat(paths: readonly string[]): Promise<number> {
  await using ring = new AsyncIoUring({ entries: 8 });
  let status = 0;
  for (const path of paths) {
    if (path === '-') {
      await catFd(ring, STDIN);
      continue;
    }
    let fd: number;
    try {
      fd = await ring.open(path, 'r');
    } catch (err) {
      process.stderr.write(`cat: ${path}: ${(err as Error).message}\n`);
      status = 1;
      continue;
    }
    try {
      await catFd(ring, fd);
    } catch (err) {
      process.stderr.write(`cat: ${path}: ${(err as Error).message}\n`);
      status = 1;
    } finally {
      await ring.closeFd(fd);
    }
  }
  return status;
}

const args = process.argv.slice(2);
if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
  process.stderr.write('usage: npx tsx examples/cat.ts FILE...   (- for standard input)\n');
  process.exitCode = args.length === 0 ? 2 : 0;
} else {
  process.exitCode = await cat(args);
}
