/**
 * A vitest reporter for `npm run test:kernels`: writes one JSON file (the path in
 * `$TSURING_REPORT_FILE`) with every test's outcome and, for each skip, its reason: the note
 * given to `ctx.skip(note)`, else what the test (or its suite) printed, else its title (an
 * `it.skipIf(...)` carries its reason there). A test file that fails to load counts as a
 * failure of its own, so it cannot vanish from the totals.
 *
 * Used next to vitest's default reporter: `--reporter=default --reporter=./scripts/kernel-reporter.ts`.
 */
import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

interface Outcome {
  file: string;
  name: string;
  state: 'passed' | 'failed' | 'skipped';
  /** Skips: why. */
  reason?: string;
  /** Failures: the first lines of each error. */
  errors?: string[];
  ms?: number;
}

export interface KernelReport {
  kernel: string;
  /** False while the run goes on (the file is rewritten after each test file, so a run cut short still reports what it did). */
  complete: boolean;
  startedAt: string;
  seconds: number;
  counts: { passed: number; failed: number; skipped: number; files: number; filesFailedToLoad: number };
  tests: Outcome[];
  /** Test files that did not load (their tests never ran), and errors outside any test. */
  fileErrors: { file: string; errors: string[] }[];
  unhandledErrors: string[];
}

const firstLines = (text: string, n = 12): string => text.split('\n').slice(0, n).join('\n');

export default class KernelReporter implements Reporter {
  #logs = new Map<string, string[]>();
  #started = Date.now();
  #root = process.cwd();

  onUserConsoleLog(log: { content: string; taskId?: string }): void {
    if (log.taskId === undefined) return;
    const lines = this.#logs.get(log.taskId) ?? [];
    lines.push(log.content.trim());
    this.#logs.set(log.taskId, lines);
  }

  #reasonOf(test: TestCase, note: string | undefined): string {
    if (note !== undefined && note !== '') return note;
    // What the test printed, else what its enclosing suites / file printed (module-level notes).
    let printed = this.#logs.get(test.id);
    for (let parent: TestSuite | TestModule | undefined = test.parent; (printed === undefined || printed.length === 0) && parent !== undefined; ) {
      printed = this.#logs.get(parent.id);
      parent = parent.type === 'suite' ? parent.parent : undefined;
    }
    const said = printed?.filter((l) => /skip|lack|need|not supported|unsupported|refuse/i.test(l)) ?? [];
    if (said.length > 0) return said.join(' | ');
    return `(no note; title) ${test.fullName}`;
  }

  #done: TestModule[] = [];

  onTestModuleEnd(module: TestModule): void {
    this.#done.push(module);
    this.#write(this.#done, [], false);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string; stack?: string }>): void {
    this.#write(modules, unhandled, true);
  }

  #write(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string; stack?: string }>, complete: boolean): void {
    const file = process.env.TSURING_REPORT_FILE;
    if (file === undefined || file === '') return;
    const tests: Outcome[] = [];
    const fileErrors: KernelReport['fileErrors'] = [];
    for (const m of modules) {
      const path = relative(this.#root, m.moduleId);
      const errs = m.errors();
      if (errs.length > 0) fileErrors.push({ file: path, errors: errs.map((e) => firstLines(e.stack ?? e.message ?? String(e))) });
      for (const t of m.children.allTests()) {
        const r = t.result();
        const diag = t.diagnostic();
        const base = { file: path, name: t.fullName, ...(diag !== undefined ? { ms: Math.round(diag.duration) } : {}) };
        if (r.state === 'passed') tests.push({ ...base, state: 'passed' });
        else if (r.state === 'failed') tests.push({ ...base, state: 'failed', errors: r.errors.map((e) => firstLines(e.stack ?? e.message ?? String(e))) });
        else if (r.state === 'skipped') tests.push({ ...base, state: 'skipped', reason: this.#reasonOf(t, r.note) });
        else tests.push({ ...base, state: 'failed', errors: ['never finished (still pending at the end of the run)'] });
      }
    }
    const count = (s: Outcome['state']): number => tests.filter((t) => t.state === s).length;
    const report: KernelReport = {
      kernel: release(),
      complete,
      startedAt: new Date(this.#started).toISOString(),
      seconds: Math.round((Date.now() - this.#started) / 1000),
      counts: {
        passed: count('passed'),
        failed: count('failed'),
        skipped: count('skipped'),
        files: modules.length,
        filesFailedToLoad: fileErrors.length,
      },
      tests,
      fileErrors,
      unhandledErrors: unhandled.map((e) => firstLines(e.stack ?? e.message ?? String(e))),
    };
    writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
  }
}
