// When a claim holds: its lease, and on the same host the life of the process (and run) that made it.
import { describe, expect, it } from 'vitest';
import { Claimant } from '../../src/claims.js';

const AT = '2026-11-27T10:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(AT) + ms).toISOString();
/** No process has this pid (Linux's largest is 4194304). */
const DEAD_PID = 99_999_999;

describe('Claimant', () => {
  const us = new Claimant({ leaseMs: 30_000, host: 'vm-1' });

  it('stamps a claim with its run, pid, host and lease, and renews it from now', () => {
    const claim = us.stamp(AT);
    expect(claim).toEqual({ pid: process.pid, run: us.run, host: 'vm-1', at: AT, until: later(30_000) });
    us.renew(claim, later(10_000));
    expect(claim.until).toBe(later(40_000));
    expect(us.isOurs(claim)).toBe(true);
    expect(us.heldByAnother(claim, later(99_000))).toBe(false);
  });

  it('another App of this process is another run: held while its lease runs, free after', () => {
    const other = new Claimant({ leaseMs: 30_000, host: 'vm-1' });
    const claim = other.stamp(AT);
    expect(us.heldByAnother(claim, later(29_999))).toBe(true);
    expect(us.heldByAnother(claim, later(30_000))).toBe(false);
    other.retire();
    expect(us.heldByAnother(claim, later(1))).toBe(false);
  });

  it('on this host, a claim of a process that is gone is free at once, whatever its lease', () => {
    expect(us.heldByAnother({ pid: DEAD_PID, run: 'crashed', host: 'vm-1', at: AT, until: later(30_000) }, AT)).toBe(
      false,
    );
    // Our pid, but a run this process does not have: a predecessor (pid 1 in a container).
    expect(us.heldByAnother({ pid: process.pid, run: 'before', host: 'vm-1', at: AT, until: later(30_000) }, AT)).toBe(
      false,
    );
    expect(us.heldByAnother({ pid: process.ppid, run: 'live', host: 'vm-1', at: AT, until: later(30_000) }, AT)).toBe(
      true,
    );
  });

  it('on another host, only the lease counts: its pid means nothing here', () => {
    const remote = { pid: DEAD_PID, run: 'remote', host: 'vm-2', at: AT, until: later(30_000) };
    expect(us.heldByAnother(remote, later(29_999))).toBe(true);
    expect(us.heldByAnother(remote, later(30_000))).toBe(false);
  });

  it('a claim made before leases holds while its process lives, as it did', () => {
    expect(us.heldByAnother({ pid: process.ppid, run: 'old', at: AT }, later(86_400_000))).toBe(true);
    expect(us.heldByAnother({ pid: DEAD_PID, run: 'old', at: AT }, AT)).toBe(false);
  });
});
