/**
 * One measurement per process: `node worker.js KIND 'PARAMS-JSON'`. Prints `RESULT {...}`
 * (see `workloads/common.ts`) and exits, or `SKIP reason` when this build or kernel cannot
 * make the measurement; the network servers instead serve until killed.
 * The orchestrator (`run.ts`) starts a fresh worker for every measurement of every round,
 * so no workload inherits another's JIT state, heap or rings.
 *
 * @module
 */
import { allocations, enterSplit, promiseFloorAlloc, promiseReadAlloc, rssGrowth, sqPollEnters } from './workloads/cost.js';
import { emit, type Timing } from './workloads/common.js';
import { runNodeFs, type NodeFsParams } from './workloads/node-fs.js';
import { runNopFloor } from './workloads/floor.js';
import { benchRing, runNop, type RingVariant, type SqPollSettings } from './workloads/nop.js';
import { runReads, WorkloadSkip, type ReadParams } from './workloads/reads.js';
import { runServer, type ServerImpl } from './workloads/tcp-server.js';
import { runTimeouts, type TimeoutImpl } from './workloads/timeouts.js';

type Params = Record<string, unknown> & { timing?: Timing };

async function main(): Promise<void> {
  const kind = process.argv[2];
  const params = JSON.parse(process.argv[3] ?? '{}') as Params;
  const timing = params.timing ?? { warmup: 0.1, seconds: 0.5 };
  switch (kind) {
    case 'flags': {
      // The setup flags the raw workloads' ring gets here: the C baseline copies them.
      const ring = benchRing(256, params as RingVariant);
      process.stdout.write(`RESULT ${JSON.stringify({ setupFlags: ring.params.setupFlags })}\n`);
      ring.close();
      return;
    }
    case 'nop':
      emit(runNop(params as unknown as { batch: number } & RingVariant, timing));
      return;
    case 'nop-floor':
      emit(runNopFloor(params as unknown as { batch: number }, timing));
      return;
    case 'reads':
      emit(await runReads(params as unknown as ReadParams, timing));
      return;
    case 'node-fs':
      emit(await runNodeFs(params as unknown as NodeFsParams, timing));
      return;
    case 'timeouts':
      emit(await runTimeouts(params as unknown as { impl: TimeoutImpl }, timing));
      return;
    case 'server':
      await runServer(params as unknown as { impl: ServerImpl });
      return;
    case 'alloc': {
      // Heap bytes per Promise-API read, as a sample (the bench row's value is info.bytesPerOp).
      const p = params as unknown as { file: string; ops: number; depth: number };
      const t0 = performance.now();
      const row = await promiseReadAlloc(p.file, p.ops, p.depth);
      const seconds = (performance.now() - t0) / 1000;
      emit({ ops: row.ops, seconds, bytes: 0, cpuUser: NaN, cpuSys: NaN, info: { bytesPerOp: row.bytesPerOp, gcsInWindow: row.gcsInWindow } });
      return;
    }
    case 'alloc-floor': {
      // The same figure for a promise and its await alone (no I/O, no library): the floor.
      const p = params as unknown as { ops: number; depth: number };
      const t0 = performance.now();
      const row = await promiseFloorAlloc(p.ops, p.depth);
      const seconds = (performance.now() - t0) / 1000;
      emit({ ops: row.ops, seconds, bytes: 0, cpuUser: NaN, cpuSys: NaN, info: { bytesPerOp: row.bytesPerOp, gcsInWindow: row.gcsInWindow } });
      return;
    }
    case 'sqpoll-enters':
      process.stdout.write(`RESULT ${JSON.stringify(sqPollEnters(params as unknown as { batch: number; ops: number } & SqPollSettings))}\n`);
      return;
    case 'cost-split':
      process.stdout.write(`RESULT ${JSON.stringify(enterSplit(params as unknown as { file: string; ops: number }))}\n`);
      return;
    case 'cost-rss':
      process.stdout.write(`RESULT ${JSON.stringify(rssGrowth(params as unknown as { ops: number }))}\n`);
      return;
    case 'cost-alloc':
      process.stdout.write(`RESULT ${JSON.stringify(await allocations(params as unknown as { file: string; ops: number }))}\n`);
      return;
    default:
      throw new Error(`unknown worker kind ${JSON.stringify(kind)}`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof WorkloadSkip) {
    process.stdout.write(`SKIP ${err.message}\n`);
    process.exit(0);
  }
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
