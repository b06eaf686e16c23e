// Who holds a piece of work (an outbox item, an alert's own post, a delivery) and whether another run may take it
// over: the one place that knows how a claim is made and when it counts as abandoned.
import { randomUUID } from 'node:crypto';
import type { OutboxItem } from './store/port.js';

export type Claim = NonNullable<OutboxItem['claim']>;

/**
 * This run of this process. A pid alone does not tell a dead process from its successor: in a container every
 * start of irbot is pid 1, and a claim left by the one that crashed must not look like our own.
 */
const RUN = randomUUID();

export function ourClaim(at: string): Claim {
  return { pid: process.pid, run: RUN, at };
}

/** Made by this run. */
export function isOurs(claim: Claim): boolean {
  return claim.run === RUN;
}

/** A claim of another run that is still alive (its pid runs and is not ours); anything else can be taken over. */
export function heldByAnotherLiveProcess(claim: Claim): boolean {
  return claim.run !== RUN && claim.pid !== process.pid && isAlive(claim.pid);
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
