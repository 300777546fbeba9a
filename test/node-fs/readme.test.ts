/**
 * The README's first example is the one-import switch to `tsuring/fs`, and it runs as
 * written (only the package name is pointed at the source tree): prints the package name,
 * the bytes read, that stat saw a size, and the backend; the process exits by itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeExit, REPO_ROOT, runChild } from '../support/child.js';

/** Only there to turn a hang into a failure: generous, since a kernel VM under emulation runs ~25x slower. */
const CHILD_TIMEOUT_MS = 150_000;

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const firstBlock = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;

describe('README, first example', { timeout: 200_000 }, () => {
  it("is the one-import switch: import fs from 'tsuring/fs' instead of 'node:fs/promises'", () => {
    expect(firstBlock.split('\n')[0]).toBe("import fs from 'tsuring/fs'; // instead of: import fs from 'node:fs/promises'");
    expect(readme).toMatch(/ESM-only/);
    expect(readme).toMatch(/`await using`.*\n?.*Node 24/);
  });

  it('runs and prints what it says; the process exits by itself', async () => {
    const code = firstBlock.replaceAll("from 'tsuring/fs'", "from '@repo/src/node/fs/index.js'");
    const r = await runChild(code, { timeoutMs: CHILD_TIMEOUT_MS });
    expect(r.timedOut, describeExit(r)).toBe(false);
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.stdout.trim()).toBe('tsuring 64 true io_uring');
  });
});
