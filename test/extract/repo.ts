/** Paths the extractor tests share, resolved from this file (not the cwd). */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Spec } from '../../codegen/spec/types.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `../shared/headers` next to the repository. */
export const SHARED_HEADERS = resolve(REPO_ROOT, '..', 'shared', 'headers');

/** The header folder of a kernel release under ../shared/headers, or undefined when it is not there. */
export function sharedHeaderDir(release: '6.1' | '6.12' | '7.2'): string | undefined {
  const dir = join(SHARED_HEADERS, `linux-${release}`);
  return existsSync(join(dir, 'linux', 'io_uring.h')) ? dir : undefined;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * The folder holding exactly the headers a spec was extracted from (every file of
 * provenance.headers, by sha256), or why none was found. Looked for in `$TSURING_HEADER_DIR`,
 * then where provenance.headerDir says (relative to the repository), then in every folder
 * of ../shared/headers and /usr/include: so the tests that compare the spec with C follow the
 * committed spec to whatever header it came from, with no release written into them.
 */
export function specHeaderDir(spec: Spec): { dir: string } | { skip: string } {
  const recorded = spec.provenance.headerDir;
  const candidates = [
    process.env.TSURING_HEADER_DIR,
    recorded === undefined ? undefined : isAbsolute(recorded) ? recorded : resolve(REPO_ROOT, recorded),
    ...(existsSync(SHARED_HEADERS) ? readdirSync(SHARED_HEADERS).sort().map((d) => join(SHARED_HEADERS, d)) : []),
    '/usr/include',
  ].filter((d): d is string => d !== undefined && d !== '');
  for (const dir of new Set(candidates)) {
    const all = spec.provenance.headers.every((h) => existsSync(join(dir, h.path)) && sha256(join(dir, h.path)) === h.sha256);
    if (all) return { dir };
  }
  return {
    skip:
      `the headers the spec came from (Linux ${spec.provenance.release}, linux/io_uring.h sha256 ${spec.provenance.sha256.slice(0, 12)}…` +
      `${recorded === undefined ? '' : `, recorded as ${recorded}`}) are in none of: ${[...new Set(candidates)].join(', ')}; set TSURING_HEADER_DIR`,
  };
}
