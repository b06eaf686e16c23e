// The leases of the work this App holds (lane heads, alerts' own posts): renewed together, in one transaction,
// every third of a lease while any is held; and checked right before a Slack call (fencing), so that work another
// run took over meanwhile (this one was paused, or cut off from the store) is stopped and never posted.
import type { Claim } from '../claims.js';
import { oneLine } from '../log.js';
import type { AlertRecord } from '../store/port.js';
import type { AppContext } from './context.js';

/** The claim of a held piece of work was taken over by another run: it must not go on. */
export class Fenced extends Error {
  override readonly name = 'Fenced';

  constructor(readonly alertId: string) {
    super(
      `alert ${alertId}: another irbot run took this work over (this one's lease ran out); it goes no further here`,
    );
  }
}

/** A piece of work this App performs under its claims, and when (monotonic) those were last known to be ours. */
export interface Hold {
  alertId: string;
  /** The claims it holds on the alert as stored, or undefined for one that is gone (done or taken over). */
  claims: (record: AlertRecord) => (Claim | undefined)[];
  confirmedAt: number;
  fenced: boolean;
  /**
   * Its work was recorded done, by a transaction that ran before a renewal's (set inside it): its claims are gone
   * because it finished, not because another run took it over.
   */
  done: boolean;
}

export class Leases {
  private readonly holds = new Set<Hold>();
  private renewing = false;

  constructor(private readonly ctx: AppContext) {}

  private get leaseMs(): number {
    return this.ctx.claimant.leaseMs;
  }

  /** Starts holding work claimed at `confirmedAt` (monotonic, read in the transaction that claimed it). */
  hold(alertId: string, claims: Hold['claims'], confirmedAt: number): Hold {
    const hold: Hold = { alertId, claims, confirmedAt, fenced: false, done: false };
    this.holds.add(hold);
    this.arm();
    return hold;
  }

  release(hold: Hold): void {
    this.holds.delete(hold);
  }

  /**
   * Right before a Slack call: goes on at once while the lease was confirmed less than two thirds of a lease ago;
   * else asks the store whether the claims are still ours (and renews them). Throws Fenced when they are not.
   */
  async fence(hold: Hold): Promise<void> {
    if (!hold.fenced && this.ctx.monotonic() - hold.confirmedAt < (this.leaseMs * 2) / 3) return;
    if (!hold.fenced) await this.renew([hold]);
    if (hold.fenced) throw new Fenced(hold.alertId);
  }

  /** Renews every claim of the holds in one transaction; a hold whose claims are no longer ours is fenced. */
  async renew(holds: Iterable<Hold> = this.holds): Promise<void> {
    const list = [...holds].filter((hold) => !hold.fenced);
    if (list.length === 0) return;
    const { claimant } = this.ctx;
    const started = this.ctx.monotonic();
    const lost = await this.ctx.ports.store.transact(
      (data) => {
        const now = this.ctx.now();
        const lost = new Map<Hold, 'taken' | 'gone'>();
        for (const hold of list) {
          if (hold.done) continue;
          const record = data.alerts[hold.alertId];
          const claims = record ? hold.claims(record) : [];
          if (claims.some((c) => c !== undefined && !claimant.isOurs(c))) lost.set(hold, 'taken');
          else if (claims.length === 0 || claims.includes(undefined)) lost.set(hold, 'gone');
          else for (const claim of claims) if (claim) claimant.renew(claim, now);
        }
        return lost;
      },
      { sync: false }, // a renewal a crash loses is no loss: the lease then runs out, as it would have
    );
    for (const hold of list) {
      // Work done (and let go) while the renewal waited for its turn: its claims are gone, and that is no loss.
      if (!this.holds.has(hold) || hold.done) continue;
      const why = lost.get(hold);
      if (why === undefined) {
        hold.confirmedAt = Math.max(hold.confirmedAt, started);
        continue;
      }
      hold.fenced = true;
      // Work gone while its lease was live was dropped by a change to the chat (a reply makes a queued nudge moot,
      // a failed DM drops what was queued for the person): no other run takes over a live lease.
      if (why === 'gone' && started - hold.confirmedAt < this.leaseMs) {
        this.ctx.ports.log(`alert ${hold.alertId}: work this run held is no longer queued; stopping it`, {
          event: 'work_dropped',
          alert: hold.alertId,
        });
        continue;
      }
      this.ctx.ports.log(
        `alert ${hold.alertId}: work this run held was taken over by another or is gone; stopping it`,
        {
          event: 'fenced',
          alert: hold.alertId,
          level: 'warn',
        },
      );
    }
  }

  /** While work is held, renews it every third of a lease. */
  private arm(): void {
    if (this.renewing) return;
    this.renewing = true;
    this.ctx.schedule(this.leaseMs / 3, () => {
      this.renewing = false;
      if (this.holds.size === 0) return;
      this.renew()
        .catch((err) =>
          this.ctx.ports.log(
            `renewing the leases failed; they are checked again before each Slack call: ${oneLine(err)}`,
            {
              event: 'lease_renewal_failed',
              level: 'warn',
            },
          ),
        )
        .finally(() => {
          if (this.holds.size > 0) this.arm();
        });
    });
  }
}
