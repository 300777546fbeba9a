/**
 * How many times slower than the host this machine runs the suite: `TSURING_TEST_SLOWDOWN`
 * (scripts/test-kernels.sh sets it in its guests: ~25 under TCG software emulation), 1 unless set.
 *
 * Only hang detectors are scaled by it: the time a test waits for a child process, a CQE or a
 * condition before calling it a hang. They are there to turn a hang into a failure, never to
 * measure speed (speed is measured in bench/), so on a slow machine they stretch.
 */
const raw = Number(process.env.TSURING_TEST_SLOWDOWN ?? '1');
export const SLOWDOWN = Number.isFinite(raw) && raw >= 1 ? raw : 1;

/** `ms` of a hang detector on this machine. */
export function hangAfter(ms: number): number {
  return Math.round(ms * SLOWDOWN);
}
