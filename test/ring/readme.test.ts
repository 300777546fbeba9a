/**
 * The README's "Raw API" example, run as written (only the package name is pointed at
 * the source tree), so the README cannot drift from the API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runChild } from '../support/child.js';

function rawApiSnippet(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = /^## Raw API\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (section === null) throw new Error('README.md has no "## Raw API" section');
  const block = /```ts\n([\s\S]*?)```/.exec(section[1]!);
  if (block === null) throw new Error('the "Raw API" section of README.md has no ```ts block');
  return block[1]!;
}

describe('README "Raw API" example', () => {
  it('is there and shows the seed example: new IoUring({ entries: 8 }), a read, submit, reap', () => {
    const code = rawApiSnippet();
    expect(code).toContain("from 'tsuring'");
    expect(code).toContain('new IoUring({ entries: 8 })');
    expect(code).toMatch(/prepRead\(/);
    expect(code).toMatch(/submit/);
    expect(code).toMatch(/forEachCqe/);
  });

  it('runs and prints what it read', async () => {
    const code = rawApiSnippet().replaceAll("from 'tsuring'", "from '@repo/src/index.js'");
    const result = await runChild(code, { timeoutMs: 30_000 });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    const pkg = readFileSync(join(REPO_ROOT, 'package.json'), 'utf8');
    expect(result.stdout.trim()).toBe(`first read 64 ${JSON.stringify(pkg.slice(0, 64))}`);
  });
});
