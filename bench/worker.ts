/**
 * One measurement per process: `node worker.js KIND 'PARAMS-JSON'`. Prints `RESULT {...}`
 * (see `workloads/common.ts`) and exits; the TCP server instead serves until killed.
 * The orchestrator (`run.ts`) starts a fresh worker for every measurement of every round,
 * so no workload inherits another's JIT state, heap or rings.
 *
 * @module
 */
import { allocations, enterSplit, rssGrowth } from './workloads/cost.js';
import { emit, type Timing } from './workloads/common.js';
import { runNodeFs, type NodeFsParams } from './workloads/node-fs.js';
import { benchRing, runNop } from './workloads/nop.js';
import { runReads, type ReadParams } from './workloads/reads.js';
import { runClient, type ClientParams } from './workloads/tcp-client.js';
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
      const ring = benchRing();
      process.stdout.write(`RESULT ${JSON.stringify({ setupFlags: ring.params.setupFlags })}\n`);
      ring.close();
      return;
    }
    case 'nop':
      emit(runNop(params as unknown as { batch: number }, timing));
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
    case 'tcp-client':
      emit(await runClient(params as unknown as ClientParams, timing));
      return;
    case 'tcp-server':
      await runServer(params as unknown as { impl: ServerImpl });
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
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
