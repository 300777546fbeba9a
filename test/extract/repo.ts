/** Paths the extractor tests share, resolved from this file (not the cwd). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `../shared/headers` next to the repository. */
export const SHARED_HEADERS = resolve(REPO_ROOT, '..', 'shared', 'headers');

/** The header folder of a kernel release under ../shared/headers, or undefined when it is not there. */
export function sharedHeaderDir(release: '6.1' | '6.12' | '7.2'): string | undefined {
  const dir = join(SHARED_HEADERS, `linux-${release}`);
  return existsSync(join(dir, 'linux', 'io_uring.h')) ? dir : undefined;
}
