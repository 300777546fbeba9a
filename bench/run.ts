/**
 * `npm run bench`: tsuring against liburing (C), `fs` and `net`, side by side.
 *
 *   npm run bench                       full run (5 rounds), writes bench/results/latest.{json,svg,md}
 *   npm run bench -- --quick            smoke run: 1 short round
 *   npm run bench -- --only 'nop|rand.qd128'   only measurements whose id matches (a regex)
 *   npm run bench -- --json FILE        write the figures to FILE (and FILE.svg / FILE.md beside it)
 *
 * Other options: --rounds N, --seconds S (measured window per run), --runner node|tsx,
 * --retries N and --max-others CORES (a run during which other processes used more than
 * CORES of CPU is repeated up to N times, the least disturbed kept; default 2 and 0.25),
 * --no-cost, --no-profile, --data-dir DIR.
 *
 * Every measurement runs in a fresh process; each round runs all of them, ours next to
 * their baselines (the order reversed every other round, so slow drifts of the machine
 * hit both sides alike); the tables report medians over the rounds. Workers run on the
 * compiled bench (`bench/tsconfig.json` → bench/results/tmp/js) with plain `node`.
 *
 * What it needs besides Node: `cc` (the network load generator and the liburing baselines in
 * bench/c), liburing-dev (the baselines), and optionally taskset, perf and strace;
 * `bash bench/install-deps.sh` installs them on Debian/Ubuntu. Whatever is missing is
 * reported up front and its rows are skipped with the reason. `npm run bench:readme`
 * then rewrites the README's Performance section from bench/results/latest.json.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setupFlagNames } from '../src/ring/setup.js';
import { makeRunner, parseResult, runWorker, workerCommand, type Runner } from './lib/exec.js';
import { buildPlan, pinTo, SkipError, TARGETS, type Ctx, type Spec } from './lib/plan.js';
import { buildC, buildLoadGenerator, compileBench, dataFile, defaultDataDir, describeMachine, describeMissingTools, detectTools, type Tools } from './lib/prepare.js';
import { perfProfile, type PerfSummary } from './lib/perf.js';
import { topSelfTime } from './lib/profile.js';
import { consoleReport, markdownTable, median, svgChart, targetRows, targetsMarkdown, type ComparisonResult, type MeasurementResult, type Results, type SqPollCheck } from './lib/report.js';
import { countEnters, syscallCounter } from './lib/syscalls.js';
import type { Sample, Timing } from './workloads/common.js';
import type { SqPollSettings } from './workloads/nop.js';

const RAND_FILE_BYTES = 256 * 2 ** 20;
/** Time all repeats of disturbed runs may take together (keeps a full run under 5 minutes). */
const RETRY_BUDGET_SECONDS = 45;
const SEQ_FILE_BYTES = 2 ** 30;
/** sq_thread_idle of both SQPOLL sides (ms): long enough that a running loop never lets the thread sleep. */
const SQ_IDLE_MS = 100;

function findRepo(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tsuring') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tsuring repository above bench/run.ts');
    dir = up;
  }
}

const USAGE = `usage: npm run bench -- [--quick] [--only REGEX] [--json FILE] [--rounds N] [--seconds S]
                       [--runner node|tsx] [--retries N] [--max-others CORES] [--no-cost] [--no-profile] [--data-dir DIR]`;

function value(spec: Spec, s: Sample): number {
  if (spec.value !== undefined) return spec.value(s);
  if (spec.unit === 'GiB/s') return s.bytes / s.seconds / 2 ** 30;
  return s.ops / s.seconds;
}

async function main(): Promise<void> {
  const started = performance.now();
  const { values: opts } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      json: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      runner: { type: 'string', default: 'node' },
      'no-cost': { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      retries: { type: 'string' },
      'max-others': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const repo = findRepo();
  const quick = opts.quick === true;
  const rounds = opts.rounds !== undefined ? Number(opts.rounds) : quick ? 1 : 5;
  const seconds = opts.seconds !== undefined ? Number(opts.seconds) : quick ? 0.1 : 0.5;
  if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) throw new Error(`bad --rounds/--seconds\n${USAGE}`);
  if (opts.runner !== 'node' && opts.runner !== 'tsx') throw new Error(`--runner must be node or tsx\n${USAGE}`);
  const only = opts.only === undefined ? null : new RegExp(opts.only, 'i');
  // A run during which other processes used more than maxOthers cores is repeated (up to
  // `retries` times) and the least disturbed attempt kept.
  const retries = opts.retries !== undefined ? Number(opts.retries) : quick ? 0 : 2;
  const maxOthers = opts['max-others'] !== undefined ? Number(opts['max-others']) : 0.25;
  if (!Number.isInteger(retries) || retries < 0 || !(maxOthers >= 0)) throw new Error(`bad --retries/--max-others\n${USAGE}`);
  const timing: Timing = { warmup: quick ? 0.03 : 0.15, seconds };
  const tcpTiming: Timing = { warmup: quick ? 0.1 : 0.3, seconds: quick ? 0.3 : Math.max(1, seconds * 2) };
  const tmp = join(repo, 'bench', 'results', 'tmp');
  mkdirSync(tmp, { recursive: true });

  const machine0 = describeMachine(null);
  // A meaningful run needs a quiet machine (load average below ~1.5 on these 2 CPUs).
  const busy = machine0.loadavgStart[0]! > Math.min(1.5, machine0.cores * 0.75);
  console.log(`tsuring bench: ${machine0.cpu}, ${machine0.cores} cores, Linux ${machine0.kernel}, Node ${machine0.node}`);
  if (busy) console.log(`warning: load average ${machine0.loadavgStart.join(' ')} on ${machine0.cores} cores: other work will skew the figures`);

  // 1. The compiled bench (workers run on plain node; tsx only with --runner tsx).
  let t = performance.now();
  const compiled = compileBench(repo);
  if (!compiled.ok) throw new Error(`compiling the bench failed:\n${compiled.reason}`);
  const runner: Runner = makeRunner(opts.runner, repo, join(tmp, 'js', 'bench'));
  console.log(`compiled the bench (${((performance.now() - t) / 1000).toFixed(1)} s); workers run with ${runner.kind === 'node' ? 'plain node on the compiled output' : 'tsx'}`);

  // 2. The C programs and the tools.
  const c = buildC(repo, tmp);
  if (c.ok) console.log(`liburing ${c.liburing} baseline: ${c.binary}`);
  else console.log(`liburing baseline skipped: ${c.reason}`);
  const load = buildLoadGenerator(repo, tmp);
  if (load.ok) console.log(`network load generator: ${load.binary}`);
  else console.log(`network rows skipped: ${load.reason}`);
  const tools = detectTools();
  for (const line of describeMissingTools(tools, machine0.cores)) console.log(`note: ${line}`);
  const machine = { ...machine0, liburing: c.ok ? c.liburing : null };
  // Two parties that must not share a CPU (server and load generator; SQPOLL app and SQ thread).
  const pin = tools.taskset && machine0.cores >= 2 ? { app: 0, other: 1 } : null;
  if (pin !== null) console.log(`pinning: servers and SQPOLL workers on CPU ${pin.app}, load generator and SQ threads on CPU ${pin.other}`);

  const { specs: allSpecs, comparisons: allComparisons } = buildPlan();
  const specs = only === null ? allSpecs : allSpecs.filter((s) => only.test(s.id));
  const wants = (id: string): boolean => only === null || only.test(id);

  // 3. Data files, only those needed.
  t = performance.now();
  const dataDir = opts['data-dir'] ?? defaultDataDir();
  const needsRand = specs.some((s) => /^(rand|sqpoll\.rand|alloc)\./.test(s.id)) || (!opts['no-cost'] && (wants('cost.split') || wants('cost.alloc'))) || (!quick && !opts['no-profile'] && wants('profile.promise-read-128'));
  const randFile = needsRand ? dataFile(dataDir, 'rand-256MiB.dat', RAND_FILE_BYTES) : '';
  const seqFile = specs.some((s) => s.id.startsWith('seq.')) ? dataFile(dataDir, 'seq-1GiB.dat', SEQ_FILE_BYTES) : '';
  if (needsRand || seqFile !== '') console.log(`data files ready in ${dataDir} (${((performance.now() - t) / 1000).toFixed(1)} s, page cache warmed)`);

  // 4. The flags the raw rings get here (the C baseline is set up the same way).
  const { setupFlags } = parseResult<{ setupFlags: number }>(await runWorker(runner, 'flags', {}, { timeoutMs: 30_000 }), 'flags');
  console.log(`raw rings' setup flags: ${setupFlagNames(setupFlags).join(' | ') || 'none'}`);
  const sqPoll: SqPollSettings = { idleMs: SQ_IDLE_MS, sqCpu: pin === null ? -1 : pin.other };
  let sqPollFlags = 0;
  try {
    sqPollFlags = parseResult<{ setupFlags: number }>(await runWorker(runner, 'flags', { sqPoll }, { timeoutMs: 30_000 }), 'flags').setupFlags;
    console.log(`SQPOLL rings' setup flags: ${setupFlagNames(sqPollFlags).join(' | ')} (sq_thread_idle ${SQ_IDLE_MS} ms)`);
  } catch (err) {
    console.log(`SQPOLL rings cannot be set up here: ${(err as Error).message}`);
  }

  const ctx: Ctx = {
    runner, cBinary: c.ok ? c.binary : null, loadBinary: load.ok ? load.binary : null, ...(load.ok ? {} : { loadReason: load.reason }),
    setupFlags, sqPollFlags, sqPoll, pin, randFile, seqFile, timing, tcpTiming,
  };

  // 5. Rounds.
  const samples = new Map<string, Sample[]>(specs.map((s) => [s.id, []]));
  const errors = new Map<string, string[]>(specs.map((s) => [s.id, []]));
  const skipped = new Map<string, string>();
  if (ctx.cBinary === null) for (const s of specs) if (s.needsC === true) skipped.set(s.id, c.ok ? '' : c.reason);
  if (sqPollFlags === 0) for (const s of specs) if (s.id.startsWith('sqpoll.')) skipped.set(s.id, 'SQPOLL rings cannot be set up here');
  let retrySeconds = 0;
  for (let round = 0; round < rounds; round++) {
    t = performance.now();
    const order = round % 2 === 0 ? specs : [...specs].reverse();
    let failed = 0;
    let repeated = 0;
    for (const spec of order) {
      if (skipped.has(spec.id)) continue;
      try {
        let best: Sample | undefined;
        for (let attempt = 0; attempt <= retries; attempt++) {
          if (attempt > 0) {
            // Repeats are worth it while the disturbance comes and goes; under steady load
            // they only cost time, so they share one budget for the whole run.
            if (retrySeconds >= RETRY_BUDGET_SECONDS) break;
            repeated++;
          }
          const t1 = performance.now();
          const s = await spec.run(ctx);
          if (attempt > 0) retrySeconds += (performance.now() - t1) / 1000;
          if (best === undefined || (s.others ?? 0) < (best.others ?? 0)) best = s;
          if ((s.others ?? 0) <= maxOthers) break;
        }
        samples.get(spec.id)!.push(best!);
      } catch (err) {
        if (err instanceof SkipError) {
          skipped.set(spec.id, err.message);
          continue;
        }
        failed++;
        errors.get(spec.id)!.push((err as Error).message);
      }
    }
    console.log(
      `round ${round + 1}/${rounds}: ${order.length - skipped.size} measurements in ${((performance.now() - t) / 1000).toFixed(1)} s` +
        `${repeated > 0 ? `, ${repeated} repeated (other work on the machine)` : ''}${failed > 0 ? `, ${failed} failed` : ''}`,
    );
  }

  const measurements: MeasurementResult[] = specs.map((spec) => {
    const runs = samples.get(spec.id)!;
    const vals = runs.map((s) => value(spec, s));
    const cpu = runs.filter((s) => Number.isFinite(s.cpuUser) && s.ops > 0).map((s) => ((s.cpuUser + s.cpuSys) * 1e9) / s.ops);
    const serverRuns = runs.filter((s) => s.info !== undefined && typeof s.info.serverCpuUser === 'number' && s.ops > 0);
    const server = serverRuns.map((s) => (((s.info!.serverCpuUser as number) + (s.info!.serverCpuSys as number)) * 1e6) / s.ops);
    const m: MeasurementResult = {
      id: spec.id,
      workload: spec.workload,
      impl: spec.impl,
      unit: spec.unit,
      samples: vals,
      median: median(vals),
      min: vals.length > 0 ? Math.min(...vals) : null,
      max: vals.length > 0 ? Math.max(...vals) : null,
      cpuNsPerOp: median(cpu),
      others: median(runs.filter((s) => s.others !== undefined).map((s) => s.others!)),
      errors: errors.get(spec.id)!,
      runs,
    };
    if (spec.unit === 'req/s') {
      m.serverCpuUsPerReq = median(server);
      m.serverCores = median(serverRuns.map((s) => s.info!.serverCores as number));
      m.clientCores = median(runs.filter((s) => s.ops > 0).map((s) => (s.cpuUser + s.cpuSys) / s.seconds));
      m.serverUserUsPerReq = median(serverRuns.map((s) => ((s.info!.serverCpuUser as number) * 1e6) / s.ops));
      m.serverSysUsPerReq = median(serverRuns.map((s) => ((s.info!.serverCpuSys as number) * 1e6) / s.ops));
    }
    const skip = skipped.get(spec.id);
    if (skip !== undefined) m.skipped = skip;
    else if (vals.length === 0 && m.errors.length > 0) m.skipped = `failed: ${m.errors[0]}`;
    return m;
  });
  const byId = new Map(measurements.map((m) => [m.id, m]));
  const comparisons: ComparisonResult[] = [];
  for (const cmp of allComparisons) {
    const ours = byId.get(cmp.ours);
    const base = byId.get(cmp.baseline);
    if (ours === undefined || base === undefined) continue;
    const ratio = ours.median !== null && base.median !== null && base.median > 0 ? ours.median / base.median : null;
    const row: ComparisonResult = {
      ours: cmp.ours,
      baseline: cmp.baseline,
      label: `${ours.workload}: ${ours.impl} vs ${base.impl}`,
      workload: ours.workload,
      oursImpl: ours.impl,
      baselineImpl: base.impl,
      unit: ours.unit,
      oursMedian: ours.median,
      baselineMedian: base.median,
      ratio,
    };
    if (cmp.target !== undefined) {
      row.target = cmp.target;
      if (ratio !== null) {
        row.met = ratio >= cmp.target;
        if (!row.met) row.shortfall = (cmp.target - ratio) / cmp.target;
      }
    }
    comparisons.push(row);
  }

  // 6. What the library itself costs.
  let cost: Record<string, unknown> | undefined;
  if (!opts['no-cost']) {
    cost = {};
    const hook = join(runner.benchDir, 'workloads', runner.kind === 'node' ? 'enter-hook-register.js' : 'enter-hook-register.ts');
    if (wants('cost.split')) {
      t = performance.now();
      const out = await runWorker(runner, 'cost-split', { file: randFile, ops: quick ? 200_000 : 3_000_000 }, { timeoutMs: 120_000, nodeArgs: ['--import', hook] });
      cost.split = parseResult(out, 'cost-split');
      console.log(`cost: JS vs io_uring_enter split (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    if (wants('cost.rss')) {
      t = performance.now();
      const out = await runWorker(runner, 'cost-rss', { ops: quick ? 1_000_000 : 10_000_000 }, { timeoutMs: 180_000, nodeArgs: ['--expose-gc'] });
      cost.rss = parseResult(out, 'cost-rss');
      console.log(`cost: RSS over ${quick ? '1' : '10'} million NOPs (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    if (wants('cost.alloc')) {
      t = performance.now();
      const out = await runWorker(runner, 'cost-alloc', { file: randFile, ops: quick ? 100_000 : 1_000_000 }, {
        timeoutMs: 180_000,
        nodeArgs: ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256'],
      });
      cost.alloc = parseResult(out, 'cost-alloc');
      console.log(`cost: heap bytes per op (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
  }

  // 7. SQPOLL: did the library's submissions enter the kernel while the SQ thread was awake?
  let sqpoll: SqPollCheck | undefined;
  if (sqPollFlags !== 0 && wants('sqpoll.check')) {
    t = performance.now();
    sqpoll = await sqPollCheck(ctx, tools, quick ? 100_000 : 2_000_000);
    console.log(`SQPOLL check (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }

  // 8. Where the time goes: CPU profiles of two workloads. The README shows perf's where
  // perf can record (with hardware cycles, or else the cpu-clock software event: both see
  // the kernel's share), else V8's sampler, which charges time in system calls to the
  // JS function that made them (94 % "ioUringEnter" for a NOP loop).
  let profiles: Record<string, unknown> | undefined;
  const profiler = tools.perfRecord ? 'perf' : 'cpu-prof';
  if (!quick && !opts['no-profile']) {
    profiles = {};
    const dir = join(tmp, 'profiles');
    const runs: [string, string, unknown][] = [
      ['profile.nop-b32', 'nop', { batch: 32, timing: { warmup: 0.2, seconds: 1.5 } }],
      ['profile.promise-read-128', 'reads', { file: randFile, pattern: 'rand', impl: 'promise', depth: 128, timing: { warmup: 0.2, seconds: 1.5 } }],
    ];
    const noPerf = tools.perfRecord ? null : 'perf is not installed';
    for (const [id, kind, params] of runs) {
      if (!wants(id)) continue;
      const base = id.slice('profile.'.length);
      const name = `${base}.cpuprofile`;
      await runWorker(runner, kind, params, { timeoutMs: 60_000, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', name] });
      const entry: Record<string, unknown> = { file: join('bench', 'results', 'tmp', 'profiles', name), top: topSelfTime(join(dir, name), 12) };
      if (noPerf === null) {
        try {
          entry.perf = await perfProfile(runner, kind, params, join(dir, `${base}.perf.data`));
        } catch (err) {
          entry.perf = { unavailable: (err as Error).message };
        }
      } else {
        entry.perf = { unavailable: noPerf };
      }
      profiles[id] = entry;
    }
  }

  machine.loadavgEnd = loadavg().map((v) => Math.round(v * 100) / 100);
  const results: Results = {
    version: 2,
    date: new Date().toISOString(),
    machine,
    config: {
      rounds, quick, only: opts.only ?? null, runner: runner.kind, timing, tcpTiming, retries, maxOthers, setupFlags, setupFlagNames: setupFlagNames(setupFlags),
      sqPollFlags, sqPollFlagNames: setupFlagNames(sqPollFlags), sqThreadIdleMs: SQ_IDLE_MS, pin, profiler, tools,
    },
    measurements,
    comparisons,
    targets: [],
    ...(sqpoll === undefined ? {} : { sqpoll }),
    ...(cost === undefined ? {} : { cost }),
    ...(profiles === undefined ? {} : { profiles }),
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
  results.targets = targetRows(results, TARGETS);

  console.log('');
  console.log(consoleReport(results));
  printCost(results);
  printSqPoll(results);
  printProfiles(results);
  console.log(`\nTargets (DESIGN.md, issue 14):\n${targetsMarkdown(results)}`);

  // 9. Files: --json FILE, or latest.* for a full unfiltered run, else tmp/last.*.
  const jsonPath = opts.json !== undefined ? resolve(opts.json) : quick || only !== null || opts.rounds !== undefined || opts.seconds !== undefined ? join(tmp, 'last.json') : join(repo, 'bench', 'results', 'latest.json');
  const base = jsonPath.endsWith('.json') ? jsonPath.slice(0, -'.json'.length) : jsonPath;
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.svg`, svgChart(results));
  writeFileSync(`${base}.md`, `${markdownTable(results)}\n`);
  console.log(`\nwrote ${jsonPath}, ${base}.svg and ${base}.md (${results.durationSeconds} s in all)`);
  if (machine.loadavgEnd[0]! > machine.cores * 0.75) console.log(`warning: load average reached ${machine.loadavgEnd.join(' ')} during the run`);
}

/**
 * The SQPOLL check: NOPs (batch 32) on an SQPOLL ring, once through tsuring with the enter
 * hook (the library's io_uring_enter calls after the warm-up, and which of them woke the SQ
 * thread) and once through liburing, both under a syscall counter (perf or strace: the
 * whole process) when there is one.
 */
async function sqPollCheck(ctx: Ctx, tools: Tools, ops: number): Promise<SqPollCheck> {
  const counter = syscallCounter(tools);
  const hook = join(ctx.runner.benchDir, 'workloads', ctx.runner.kind === 'node' ? 'enter-hook-register.js' : 'enter-hook-register.ts');
  const params = { batch: 32, ops, idleMs: ctx.sqPoll.idleMs, sqCpu: ctx.sqPoll.sqCpu };
  const check: SqPollCheck = { batch: 32, idleMs: ctx.sqPoll.idleMs, sqCpu: ctx.sqPoll.sqCpu, appCpu: ctx.pin?.app ?? null, counter, verdict: 'unverified' };
  try {
    const [command, args] = workerCommand(ctx.runner, 'sqpoll-enters', params, { nodeArgs: ['--import', hook], prefix: pinTo(ctx, 'app') });
    const run = counter === null ? { stdout: await runWorker(ctx.runner, 'sqpoll-enters', params, { timeoutMs: 120_000, nodeArgs: ['--import', hook], prefix: pinTo(ctx, 'app') }), enters: null } : await countEnters(counter, command, args, 120_000);
    const r = parseResult<{ ops: number; enterCalls: number | null; wakeups: number | null }>(run.stdout, 'sqpoll-enters');
    check.tsuring = { ops: r.ops, enterCalls: r.enterCalls, wakeups: r.wakeups, processEnters: run.enters };
  } catch (err) {
    check.error = `tsuring: ${(err as Error).message}`;
  }
  if (ctx.cBinary !== null && counter !== null) {
    try {
      const cArgs = ['nop', '32', String(ctx.timing.warmup), String(ctx.timing.seconds * 2), String(ctx.sqPollFlags), String(ctx.sqPoll.idleMs), String(ctx.sqPoll.sqCpu)];
      const all = [...pinTo(ctx, 'app'), ctx.cBinary, ...cArgs];
      const run = await countEnters(counter, all[0]!, all.slice(1), 120_000);
      const line = JSON.parse(run.stdout.trim().split('\n').pop()!) as { ops: number };
      check.liburing = { ops: line.ops, processEnters: run.enters };
    } catch (err) {
      check.error = `${check.error === undefined ? '' : `${check.error}; `}liburing: ${(err as Error).message}`;
    }
  }
  const ts = check.tsuring;
  if (ts !== undefined && ts.enterCalls !== null && ts.wakeups !== null) {
    // Every call the library made must have been a wakeup of a sleeping SQ thread. The
    // process-wide count (which also sees calls made around the library, and ring setup,
    // warm-up and close) must stay far below one per batch.
    const batches = ts.ops / 32;
    const processOk = ts.processEnters === null || ts.processEnters < batches / 100;
    check.verdict = ts.enterCalls - ts.wakeups === 0 && processOk ? 'met' : 'missed';
  }
  return check;
}

function printCost(results: Results): void {
  const cost = results.cost as
    | {
        split?: { rows: { name: string; totalNsPerOp: number; enterNsPerOp: number; jsNsPerOp: number; userNsPerOp: number; sysNsPerOp: number }[] };
        rss?: { ops: number; rssGrowthMiB: number; heapUsedGrowthMiB: number; rssBeforeMiB: number; rssAfterMiB: number };
        alloc?: { name: string; bytes: number; bytesPerOp: number; gcsInWindow: number; ops: number }[];
      }
    | undefined;
  if (cost === undefined) return;
  console.log('');
  if (cost.split !== undefined) {
    console.log('library cost per op (stopwatch around io_uring_enter; JS = total − enter):');
    for (const r of cost.split.rows) {
      console.log(
        `  ${r.name.padEnd(32)} total ${r.totalNsPerOp.toFixed(0).padStart(5)} ns  enter ${r.enterNsPerOp.toFixed(0).padStart(5)} ns  JS ${r.jsNsPerOp.toFixed(0).padStart(5)} ns   (CPU: user ${r.userNsPerOp.toFixed(0)} ns, sys ${r.sysNsPerOp.toFixed(0)} ns)`,
      );
    }
  }
  if (cost.rss !== undefined) {
    const r = cost.rss;
    console.log(`RSS over ${(r.ops / 1e6).toFixed(0)} million NOPs: ${r.rssBeforeMiB.toFixed(1)} → ${r.rssAfterMiB.toFixed(1)} MiB (${r.rssGrowthMiB >= 0 ? '+' : ''}${r.rssGrowthMiB.toFixed(2)} MiB; heap ${r.heapUsedGrowthMiB >= 0 ? '+' : ''}${r.heapUsedGrowthMiB.toFixed(2)} MiB)`);
  }
  if (cost.alloc !== undefined) {
    console.log('V8 heap growth per op (no GC in the window; one object per op would be ≥ 16 B/op):');
    for (const r of cost.alloc) {
      console.log(
        `  ${r.name.padEnd(36)} ${r.bytesPerOp.toFixed(2).padStart(8)} B/op  (${(r.bytes / 1024).toFixed(0)} KiB over ${r.ops} ops)${r.gcsInWindow > 0 ? `, ${r.gcsInWindow} GCs in the window: figure unreliable` : ''}`,
      );
    }
  }
}

function printSqPoll(results: Results): void {
  const q = results.sqpoll;
  if (q === undefined) return;
  console.log(`\nSQPOLL check (NOP batch ${q.batch}, sq_thread_idle ${q.idleMs} ms, SQ thread on CPU ${q.sqCpu < 0 ? 'any' : q.sqCpu}): ${q.verdict}`);
  if (q.tsuring !== undefined) {
    const t = q.tsuring;
    console.log(
      `  tsuring: ${t.enterCalls ?? '?'} io_uring_enter calls by the library in ${t.ops} NOPs after the warm-up (${t.wakeups ?? '?'} to wake the SQ thread)` +
        `${t.processEnters === null ? '' : `; whole process (${q.counter}): ${t.processEnters}`}`,
    );
  }
  if (q.liburing !== undefined) console.log(`  liburing: whole process (${q.counter}): ${q.liburing.processEnters} io_uring_enter calls in ${q.liburing.ops} NOPs measured`);
  if (q.error !== undefined) console.log(`  error: ${q.error}`);
}

function printProfiles(results: Results): void {
  const profiles = results.profiles as
    | Record<string, { file: string; top: { name: string; where: string; selfPercent: number }[]; perf?: PerfSummary | { unavailable: string } }>
    | undefined;
  if (profiles === undefined) return;
  for (const [id, p] of Object.entries(profiles)) {
    console.log(`\n${id}, node --cpu-prof (self time; ${p.file}; a sample inside a system call counts for the JS function that made it):`);
    for (const e of p.top.slice(0, 6)) console.log(`  ${e.selfPercent.toFixed(1).padStart(5)} %  ${e.name}  ${e.where}`);
    const perf = p.perf;
    if (perf === undefined) continue;
    if ('unavailable' in perf) {
      console.log(`  (perf: ${perf.unavailable})`);
      continue;
    }
    const places = Object.entries(perf.byPlace).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)} %`).join(', ');
    console.log(`${id}, perf (all CPU time of the worker): ${places}`);
    for (const e of perf.top.slice(0, 10)) console.log(`  ${e.percent.toFixed(1).padStart(5)} %  ${e.name}  ${e.where === e.place ? '' : e.where} [${e.place}]`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
