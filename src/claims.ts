// Who holds a piece of work (an outbox item, an alert's own post, a delivery) and whether another run may take it
// over: the one place that knows how a claim is made and when it counts as abandoned. A claim carries a lease that
// its run renews while it works; another run takes it over once the lease has run out, or at once when the claim
// was made on this host by a process that is gone (one machine, the JSON store: no need to wait for the lease).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Claim } from './store/port.js';

export type { Claim } from './store/port.js';

/** `lease_seconds` when config.toml leaves it out. */
export const DEFAULT_LEASE_MS = 30_000;

/**
 * The runs of claimants alive in this process: a claim that carries our pid is another App's of this process when
 * its run is here, and a dead predecessor's otherwise (in a container every start of irbot is pid 1).
 */
const liveRuns = new Set<string>();

export interface ClaimantOptions {
  /** How long a claim holds without renewal; default DEFAULT_LEASE_MS. */
  leaseMs?: number;
  /** Default: os.hostname(). */
  host?: string;
}

/** One run that claims work: an App, or a delivery drain. Two in one process are two runs. */
export class Claimant {
  readonly run = randomUUID();
  readonly pid = process.pid;
  readonly host: string;
  readonly leaseMs: number;

  constructor(options: ClaimantOptions = {}) {
    this.host = options.host ?? hostname();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    liveRuns.add(this.run);
  }

  /** A new claim of this run, made at `at` (an ISO time of the store's clock). */
  stamp(at: string): Claim {
    return { pid: this.pid, run: this.run, host: this.host, at, until: this.leaseEnd(at) };
  }

  /** Extends the lease of a claim of this run, from `now`. */
  renew(claim: Claim, now: string): void {
    claim.until = this.leaseEnd(now);
  }

  /** Made by this run. */
  isOurs(claim: Claim): boolean {
    return claim.run === this.run;
  }

  /**
   * Held by another run, which may still be working on it: its lease runs (or it has none, as before leases), and
   * it was not made on this host by a process that is gone. Anything else can be taken over.
   */
  heldByAnother(claim: Claim, now: string): boolean {
    if (this.isOurs(claim)) return false;
    if (claim.until !== undefined && claim.until <= now) return false;
    if ((claim.host ?? this.host) === this.host && !this.runs(claim)) return false;
    return true;
  }

  /** Stops counting as alive for the other claimants of this process (their claims of ours can be taken over). */
  retire(): void {
    liveRuns.delete(this.run);
  }

  /** Whether the process (and run) that made a claim on this host still runs. */
  private runs(claim: Claim): boolean {
    if (claim.pid === this.pid) return claim.run !== undefined && liveRuns.has(claim.run);
    return isAlive(claim.pid);
  }

  private leaseEnd(at: string): string {
    return new Date(Date.parse(at) + this.leaseMs).toISOString();
  }
}

/** Whether a process on this machine still runs; a claim of a dead one can be taken over. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
