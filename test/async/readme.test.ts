/**
 * The README's "Promise API" example, run as written (only the package name is pointed at
 * the source tree), so the README cannot drift from the API. Same pattern as the
 * "Raw API" block's test in test/ring/readme.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runChild } from '../support/child.js';

function promiseApiSnippet(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = /^## Promise API\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (section === null) throw new Error('README.md has no "## Promise API" section');
  const block = /```ts\n([\s\S]*?)```/.exec(section[1]!);
  if (block === null) throw new Error('the "Promise API" section of README.md has no ```ts block');
  return block[1]!;
}

describe('README "Promise API" example', () => {
  it('is there: about 10 lines with await using, open, read and close', () => {
    const code = promiseApiSnippet();
    expect(code).toContain("from 'tsuring'");
    expect(code).toMatch(/await using ring = new AsyncIoUring\(/);
    expect(code).toMatch(/await ring\.open\(/);
    expect(code).toMatch(/await ring\.read\(/);
    expect(code).toMatch(/await ring\.closeFd\(/);
    expect(code.trim().split('\n').length).toBeLessThanOrEqual(12);
  });

  it('runs, prints what it read, and the process exits by itself', async () => {
    const code = promiseApiSnippet().replaceAll("from 'tsuring'", "from '@repo/src/index.js'");
    const result = await runChild(code, { timeoutMs: 30_000 });
    expect(result.timedOut, result.stderr).toBe(false);
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    const pkg = readFileSync(join(REPO_ROOT, 'package.json'), 'utf8');
    expect(result.stdout.trim()).toBe(`64 ${JSON.stringify(pkg.slice(0, 64))}`);
  });
});
