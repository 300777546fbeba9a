/**
 * Where the package lives: the CLI runs both compiled (`dist/src/cli/main.js`, the `bin`)
 * and from source under tsx (`src/cli/main.ts`), so paths are found by walking up to the
 * package.json named `tsuring`, never by a fixed number of `..`.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | null | undefined;

/** The directory holding tsuring's package.json, or null when it cannot be found. */
export function packageRoot(): string | null {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
        if (name === 'tsuring') return (cachedRoot = dir);
      } catch {
        /* not ours; keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return (cachedRoot = null);
    dir = up;
  }
}

/** The package version, or `'unknown'`. */
export function packageVersion(): string {
  const root = packageRoot();
  if (root === null) return 'unknown';
  try {
    return String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** What spec/io_uring.json says about its source header, or null when it is not shipped. */
export function specProvenance(): { release: string; sha256: string } | null {
  const root = packageRoot();
  if (root === null) return null;
  try {
    const spec = JSON.parse(readFileSync(join(root, 'spec', 'io_uring.json'), 'utf8')) as { provenance?: { release?: unknown; sha256?: unknown } };
    const release = spec.provenance?.release;
    const sha256 = spec.provenance?.sha256;
    return typeof release === 'string' && typeof sha256 === 'string' ? { release, sha256 } : null;
  } catch {
    return null;
  }
}
