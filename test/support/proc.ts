/**
 * This process's resources, as the kernel lists them: what leak checks compare before and
 * after.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Lines of /proc/self/maps. */
export function mapsLines(): string[] {
  return readFileSync('/proc/self/maps', 'utf8').trim().split('\n');
}

/** Mappings of io_uring ring memory (the kernel names them `anon_inode:[io_uring]`). */
export function ioUringMappings(): number {
  return mapsLines().filter((l) => l.includes('io_uring')).length;
}

/** Virtual size of this process in KiB (`VmSize`). */
export function vmSizeKiB(): number {
  const m = /^VmSize:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error('no VmSize in /proc/self/status');
  return Number(m[1]);
}

/**
 * Forces full garbage collections and lets FinalizationRegistry callbacks run (they are
 * tasks queued after a GC), so resources released on collection are gone. Needs
 * `--expose-gc` (the vitest config passes it).
 */
export async function settleGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('settleGc needs node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
