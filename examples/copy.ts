/**
 * Copy a file on the Promise API: open both files, `statx` the source, then keep several
 * positioned reads and writes in flight at once.
 *
 *   npx tsx examples/copy.ts SRC DST [--parallel N] [--chunk BYTES]
 *
 * Each of N workers takes the next chunk's offset, reads it, and writes it at the same
 * offset of the destination (finishing short writes), so N chunks are always in the
 * kernel's hands. The destination gets the source's permission bits.
 */
import { AsyncIoUring } from '../src/index.js';

/** What {@link copy} did. */
export interface CopyStats {
  bytes: number;
  reads: number;
  writes: number;
  ms: number;
}

/** Copies `src` to `dst` (created or truncated) with `parallel` chunks in flight. */
export async function copy(src: string, dst: string, parallel = 4, chunk = 256 * 1024): Promise<CopyStats> {
  const started = performance.now();
  await using ring = new AsyncIoUring({ entries: 2 * parallel });
  using input = await ring.openOwned(src, 'r');
  const stats = await ring.fstat(input);
  using output = await ring.openOwned(dst, 'w', stats.mode & 0o7777);
  const size = stats.size;
  const counts = { bytes: 0, reads: 0, writes: 0 };
  let next = 0;

  const worker = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafe(chunk);
    while (next < size) {
      const offset = next;
      next += chunk;
      const want = Math.min(chunk, size - offset);
      let got = 0;
      while (got < want) {
        const n = await ring.read(input, buffer.subarray(got, want), offset + got);
        counts.reads++;
        if (n === 0) throw new Error(`${src} shrank while it was copied (end of file at ${offset + got} of ${size} bytes)`);
        got += n;
      }
      let put = 0;
      while (put < want) {
        put += await ring.write(output, buffer.subarray(put, want), offset + put);
        counts.writes++;
      }
      counts.bytes += want;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { ...counts, ms: performance.now() - started };
}

function usage(message?: string): never {
  if (message !== undefined) process.stderr.write(`copy: ${message}\n`);
  process.stderr.write('usage: npx tsx examples/copy.ts SRC DST [--parallel N] [--chunk BYTES]\n');
  process.exit(2);
}

const positional: string[] = [];
let parallel = 4;
let chunk = 256 * 1024;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  if (arg === '--parallel' || arg === '--chunk') {
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 1) usage(`${arg} needs a positive integer`);
    if (arg === '--parallel') parallel = value;
    else chunk = value;
  } else if (arg === '--help' || arg === '-h') {
    usage();
  } else if (arg.startsWith('--')) {
    usage(`unknown option ${arg}`);
  } else {
    positional.push(arg);
  }
}
if (positional.length !== 2) usage('give a source and a destination');

try {
  const s = await copy(positional[0]!, positional[1]!, parallel, chunk);
  console.log(`copied ${s.bytes} bytes from ${positional[0]} to ${positional[1]}: ${s.reads} reads and ${s.writes} writes, ${parallel} in flight, ${s.ms.toFixed(1)} ms`);
} catch (err) {
  process.stderr.write(`copy: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
