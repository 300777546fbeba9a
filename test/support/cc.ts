/**
 * The C compiler the layout cross-checks use: `$CC`, else `cc`, `gcc` or `clang`, whichever
 * answers `--version` first; null when none does (the tests then skip, saying why).
 */
import { execFileSync } from 'node:child_process';

let found: string | null | undefined;

export function findCCompiler(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const candidate of [process.env.CC, 'cc', 'gcc', 'clang']) {
    if (candidate === undefined || candidate === '') continue;
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      found = candidate;
      break;
    } catch {
      // not installed: try the next one
    }
  }
  return found;
}
