/**
 * A raw-API batch loop: fill up to BATCH SQEs, submit them and wait with one
 * `io_uring_enter`, reap every CQE, repeat. No Promise, no allocation per op.
 *
 *   npx tsx examples/raw-batch.ts [--ops N] [--batch B]              # N NOPs, B per enter
 *   npx tsx examples/raw-batch.ts --read FILE [--block BYTES] [--batch B]
 *                                                                    # FILE in BYTES-sized reads
 *
 * With `--read`, every block is read straight into its place in one buffer of the file's
 * size (each read gets a subarray, which the ring keeps referenced until its CQE), and
 * the sha256 of the result is printed, so the output can be checked against the file.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { FAST_SETUP, IoUring, prepNop, prepRead, type Cqe } from '../src/index.js';

/** What a run did. */
export interface BatchStats {
  ops: number;
  /** `submitAndWait` calls: one `io_uring_enter` each. */
  enters: number;
  ms: number;
}

/** Runs `total` NOPs, `batch` per `io_uring_enter`. */
export function nopBatches(total: number, batch: number): BatchStats {
  using ring = new IoUring({ entries: batch, prefer: FAST_SETUP });
  let submitted = 0;
  let completed = 0;
  let enters = 0;
  const onCqe = (cqe: Cqe): void => {
    if (cqe.res < 0) throw cqe.error()!;
    completed++;
  };
  const started = performance.now();
  while (completed < total) {
    let queued = 0;
    while (submitted < total && queued < batch) {
      const sqe = ring.getSqe();
      if (sqe === null) break; // SQ full: submit what we have
      prepNop(sqe);
      submitted++;
      queued++;
    }
    ring.submitAndWait(queued > 0 ? queued : 1);
    enters++;
    ring.forEachCqe(onCqe);
  }
  return { ops: total, enters, ms: performance.now() - started };
}

/** Reads `path` in `block`-byte reads, up to `batch` in flight; returns the bytes and stats. */
export function readBatches(path: string, block: number, batch: number): BatchStats & { data: Buffer } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const data = Buffer.alloc(size);
    using ring = new IoUring({ entries: batch, prefer: FAST_SETUP });
    const blocks = Math.ceil(size / block);
    let next = 0;
    let done = 0;
    let enters = 0;
    let ops = 0;
    const short: number[] = [];
    const onCqe = (cqe: Cqe): void => {
      if (cqe.res < 0) throw cqe.error()!;
      const index = cqe.userData as number; // the block number set below
      const want = Math.min(block, size - index * block);
      if (cqe.res !== want) short.push(index); // short read: read the rest again below
      done++;
    };
    const started = performance.now();
    while (done < blocks) {
      let queued = 0;
      while (next < blocks && queued < batch) {
        const sqe = ring.getSqe();
        if (sqe === null) break;
        const offset = next * block;
        const length = Math.min(block, size - offset);
        prepRead(sqe, fd, data.subarray(offset, offset + length), length, offset);
        sqe.userData = next; // a number: no allocation, handed back as cqe.userData
        next++;
        queued++;
      }
      ring.submitAndWait(queued > 0 ? queued : 1);
      enters++;
      ops += queued;
      ring.forEachCqe(onCqe);
      // Page-cache reads are not short in practice; if one is, redo that block whole.
      while (short.length > 0) {
        const index = short.pop()!;
        const offset = index * block;
        const length = Math.min(block, size - offset);
        let got = 0;
        while (got < length) {
          const sqe = ring.getSqeOrThrow();
          prepRead(sqe, fd, data.subarray(offset + got, offset + length), length - got, offset + got);
          ring.submitAndWait(1);
          enters++;
          ops++;
          ring.forEachCqe((cqe) => {
            if (cqe.res < 0) throw cqe.error()!;
            if (cqe.res === 0) throw new Error(`${path} shrank while it was read`);
            got += cqe.res;
          });
        }
      }
    }
    return { data, ops, enters, ms: performance.now() - started };
  } finally {
    closeSync(fd);
  }
}

function usage(message?: string): never {
  if (message !== undefined) process.stderr.write(`raw-batch: ${message}\n`);
  process.stderr.write('usage: npx tsx examples/raw-batch.ts [--ops N] [--batch B] | --read FILE [--block BYTES] [--batch B]\n');
  process.exit(2);
}

let ops = 100_000;
let batch = 32;
let block = 4096;
let file: string | undefined;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  if (arg === '--read') {
    file = argv[++i];
    if (file === undefined) usage('--read needs a file');
  } else if (arg === '--ops' || arg === '--batch' || arg === '--block') {
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 1) usage(`${arg} needs a positive integer`);
    if (arg === '--ops') ops = value;
    else if (arg === '--batch') batch = value;
    else block = value;
  } else if (arg === '--help' || arg === '-h') {
    usage();
  } else {
    usage(`unknown argument ${arg}`);
  }
}
if (batch > 32768) usage('--batch is at most 32768 (the largest SQ)');

if (file === undefined) {
  const s = nopBatches(ops, batch);
  const rate = Math.round(s.ops / (s.ms / 1000));
  console.log(`${s.ops} NOPs in batches of ${batch}: ${s.enters} io_uring_enter calls, ${s.ms.toFixed(1)} ms, ${rate} ops/s`);
} else {
  try {
    const s = readBatches(file, block, batch);
    const sha = createHash('sha256').update(s.data).digest('hex');
    console.log(`read ${s.data.byteLength} bytes of ${file} in ${s.ops} reads of up to ${block} bytes, ${batch} per batch: ${s.enters} io_uring_enter calls, ${s.ms.toFixed(1)} ms`);
    console.log(`sha256 ${sha}`);
  } catch (err) {
    process.stderr.write(`raw-batch: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
