/**
 * The running kernel's version, from `uname -r` (`os.release()`).
 *
 * Feature decisions go through the probe (what the kernel answers), never through this;
 * it is for the few kernel *bugs* that no probe can see cheaply, each named where it is used.
 *
 * @module
 */
import { release } from 'node:os';

/** `6.1.0-18-amd64` → [6, 1]; [0, 0] when the release does not start with MAJOR.MINOR. */
export function kernelVersion(name: string = release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(name);
  return m === null ? [0, 0] : [Number(m[1]), Number(m[2])];
}

/** Whether the running kernel (or `name`) is at least `major.minor`. */
export function kernelAtLeast(major: number, minor: number, name?: string): boolean {
  const [ma, mi] = kernelVersion(name);
  return ma > major || (ma === major && mi >= minor);
}
