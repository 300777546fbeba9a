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

/**
 * The share of their iterations the stress tests run here: `TSURING_TEST_STRESS` (a number in
 * (0, 1]; scripts/test-kernels.sh sets 0.1 in its TCG guests, where 100,000 reads under forced
 * GCs alone would take 20 minutes), 1 unless set. Only the *count* of a stress loop scales: what
 * each iteration checks, and the assertions on the totals, stay the same.
 */
const rawStress = Number(process.env.TSURING_TEST_STRESS ?? '1');
export const STRESS = Number.isFinite(rawStress) && rawStress > 0 && rawStress <= 1 ? rawStress : 1;

/** `n` iterations of a stress loop here, rounded down to a multiple of `step` (at least one step). */
export function stressCount(n: number, step = 1): number {
  return Math.max(step, Math.floor((n * STRESS) / step) * step);
}
