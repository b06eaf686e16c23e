// How often a serving process sweeps: every 5 s, or every third of a lease when the lease is short, so that the
// work of a replica that is gone waits at most a lease and a third.
import { expect, it } from 'vitest';
import { DEFAULT_LEASE_MS } from '../../../src/claims.js';
import { SWEEP_EVERY_MS, sweepEveryMs } from '../../../src/cli/runtime.js';

it('sweeps every 5 s with the default lease, and every third of a lease shorter than 15 s', () => {
  expect(sweepEveryMs(DEFAULT_LEASE_MS)).toBe(SWEEP_EVERY_MS);
  expect(sweepEveryMs(15_000)).toBe(5_000);
  expect(sweepEveryMs(5_000)).toBeCloseTo(1_666.67, 1);
});
