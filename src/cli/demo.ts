/**
 * `tsuring demo` (`npm run demo`): a few seconds that show the library working on this
 * machine: what the kernel supports, a file read through the Promise API, and a batch of
 * NOPs through the raw API, each saying what it did.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepNop } from '../../generated/ops.js';
import { AsyncIoUring } from '../async/async-ring.js';
import { IoUring } from '../ring/ring.js';
import { FAST_SETUP, setupFlagNames } from '../ring/setup.js';
import type { CliOutput } from './cli.js';
import { formatProbeSummary } from './format.js';
import { packageVersion } from './paths.js';
import { runProbe } from './probe.js';

const FILE_BYTES = 4 * 1024 * 1024;
const READ_CHUNK = 256 * 1024;
const NOPS = 100_000;
const BATCH = 32;

/** Reads a temporary file with concurrent Promise-API reads and checks every byte. */
async function promiseRead(io: CliOutput): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-demo-'));
  try {
    const path = join(dir, 'data.bin');
    const expected = randomBytes(FILE_BYTES);
    writeFileSync(path, expected);
    const started = performance.now();
    await using ring = new AsyncIoUring();
    const fd = await ring.open(path, 'r');
    const data = Buffer.alloc(FILE_BYTES);
    const reads: Promise<number>[] = [];
    // Started in one tick: the Promise layer submits them together, in one io_uring_enter.
    for (let offset = 0; offset < FILE_BYTES; offset += READ_CHUNK) {
      reads.push(ring.read(fd, data.subarray(offset, offset + READ_CHUNK), offset));
    }
    const counts = await Promise.all(reads);
    await ring.closeFd(fd);
    const ms = performance.now() - started;
    const total = counts.reduce((a, b) => a + b, 0);
    const same = total === FILE_BYTES && data.equals(expected);
    io.out(
      `Promise API: opened a ${FILE_BYTES / 1024 / 1024} MiB temporary file, read it as ${reads.length} concurrent ${READ_CHUNK / 1024} KiB reads ` +
        `(one batch) and closed it, all through io_uring, in ${ms.toFixed(1)} ms (ring ${setupFlagNames(ring.ring.params.setupFlags).map((n) => n.replace('IORING_SETUP_', '')).join('|') || 'default'}, waker ${ring.wakerBackend}); ` +
        `${same ? 'every byte matches' : 'THE BYTES DIFFER'}\n`,
    );
    if (!same) throw new Error('the Promise-API read returned other bytes than the file holds');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** NOPs in batches through the raw API: getSqe / submitAndWait / forEachCqe. */
function rawBatch(io: CliOutput): void {
  using ring = new IoUring({ entries: BATCH, prefer: FAST_SETUP });
  let submitted = 0;
  let completed = 0;
  let enters = 0;
  const started = performance.now();
  while (completed < NOPS) {
    let queued = 0;
    for (; queued < BATCH && submitted < NOPS; queued++, submitted++) prepNop(ring.getSqeOrThrow());
    ring.submitAndWait(queued);
    enters++;
    completed += ring.forEachCqe((cqe) => {
      if (cqe.res < 0) throw cqe.error()!;
    });
  }
  const ms = performance.now() - started;
  io.out(
    `Raw API: ${NOPS} NOPs in batches of ${BATCH} (getSqe, prepNop, submitAndWait, forEachCqe): ${enters} io_uring_enter calls, ` +
      `${ms.toFixed(1)} ms, ${Math.round(NOPS / (ms / 1000)).toLocaleString('en-US')} ops/s\n`,
  );
}

/** Runs the demo; returns the exit code. */
export async function demo(io: CliOutput): Promise<number> {
  const report = runProbe();
  io.out(formatProbeSummary(report, packageVersion()));
  if (!report.available) return 1;
  io.out('\n');
  await promiseRead(io);
  rawBatch(io);
  io.out('\nMore: npx tsuring probe (every row), examples/ (npx tsx examples/cat.ts FILE), npm run docs (API reference and guides).\n');
  return 0;
}
