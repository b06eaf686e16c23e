// Drains the delivery queue through the transports, apart from the Slack lanes: each target has its own slots, so
// one slow or dead sink (or PagerDuty) delays neither Slack work nor the other targets.
import { Claimant } from '../claims.js';
import { type Log, oneLine } from '../log.js';
import type { Store, StoreData } from '../store/port.js';
import type { Delivery, DeliveryTarget, SendResult, Transport } from './port.js';
import {
  claimDelivery,
  type DeliveryRef,
  dueDeliveries,
  pastRetries,
  type Recorded,
  recordAttempt,
  refKey,
  renewDelivery,
} from './queue.js';

/** Requests in flight at once to one target; more wait their turn. */
export const DELIVERY_CONCURRENCY = 4;

export interface DrainPorts {
  store: Store;
  clock: () => Date;
  log: Log;
  /** The transport of each target: a sink by its index (`sink:0`), or `pagerduty`. */
  transports: ReadonlyMap<DeliveryTarget, Transport>;
  /** A target in words for the log (a sink's URL may carry a token: its origin only); default: the target. */
  describe?: (target: DeliveryTarget) => string;
  /** Runs `fn` after `ms` (a retry that is due); default: an unref'd timer, so it never keeps a process alive. */
  schedule?: (ms: number, fn: () => void) => void;
  concurrency?: number;
  /** Who claims the deliveries; default: a claimant of its own with the default lease. */
  claimant?: Claimant;
}

/** What app.ts needs of the drain: a nudge after a transaction that queued deliveries, and a way to wait for it. */
export interface Drain {
  /** Looks for due deliveries and sends them; returns at once. `seen`: a snapshot just read, to look in first. */
  kick(seen?: StoreData): void;
  /** Resolves when nothing is being looked for or sent by this process. */
  idle(): Promise<void>;
}

// Claims and results are not fsynced one by one: a crash that loses one makes the delivery go again, under the
// same idempotency key, which at least once allows.
const LAX = { sync: false };

export class DeliveryDrain implements Drain {
  /** Deliveries this process is sending now, by target and key. */
  private readonly sending = new Map<string, Promise<void>>();
  /** The same, by what names them in the store: their claims are renewed while they are sent. */
  private readonly sent = new Map<string, DeliveryRef>();
  private renewing = false;
  private readonly busy = new Map<DeliveryTarget, number>();
  private looking: Promise<void> | undefined;
  private again = false;

  private readonly claimant: Claimant;

  constructor(private readonly ports: DrainPorts) {
    this.claimant = ports.claimant ?? new Claimant();
  }

  kick(seen?: StoreData): void {
    if (this.looking) {
      this.again = true;
      return;
    }
    this.looking = (async () => {
      let snapshot = seen;
      try {
        do {
          this.again = false;
          await this.takeDue(snapshot);
          snapshot = undefined;
        } while (this.again);
      } catch (err) {
        // The store could not be read or written: what is queued stays queued for the next kick or sweep.
        this.ports.log(`deliveries: the store failed, they wait for the next sweep: ${oneLine(err)}`, {
          event: 'delivery_store_failed',
          level: 'error',
        });
      } finally {
        this.looking = undefined;
      }
    })();
  }

  async idle(): Promise<void> {
    while (this.looking || this.sending.size > 0) await Promise.allSettled([this.looking, ...this.sending.values()]);
  }

  /** Claims what is due, as many per target as it has free slots, and starts sending it. */
  private async takeDue(seen?: StoreData): Promise<void> {
    const { store, clock } = this.ports;
    const now = clock().toISOString();
    const data = seen ?? (await store.read());
    // A target this process has no transport for (a replica of an older config, in a rolling deploy) is another's
    // to send: left pending, unless its 24 hours are over and none did (then it fails, saying so).
    const skip = (ref: DeliveryRef) =>
      this.sending.has(refKey(ref)) || (!this.ports.transports.has(ref.target) && !pastRetries(data, ref, now));
    const due = dueDeliveries(data, now, skip, this.claimant);
    const free = new Map<DeliveryTarget, number>();
    const picked = due.filter((ref) => {
      const left = free.get(ref.target) ?? (this.ports.concurrency ?? DELIVERY_CONCURRENCY) - this.busyOf(ref.target);
      free.set(ref.target, left - 1);
      return left > 0;
    });
    if (picked.length === 0) return;
    const claimed = await store.transact(
      (data) =>
        picked.flatMap((ref) => {
          const delivery = claimDelivery(data, ref, now, this.claimant);
          return delivery ? [{ ref, delivery }] : [];
        }),
      LAX,
    );
    for (const { ref, delivery } of claimed) this.start(ref, delivery);
  }

  /** While deliveries are being sent, their leases are renewed every third of a lease, in one transaction. */
  private armRenewal(): void {
    if (this.renewing) return;
    this.renewing = true;
    this.schedule(this.claimant.leaseMs / 3, () => {
      this.renewing = false;
      const refs = [...this.sent.values()];
      if (refs.length === 0) return;
      this.ports.store
        .transact((data) => {
          const now = this.ports.clock().toISOString();
          for (const ref of refs) renewDelivery(data, ref, now, this.claimant);
        }, LAX)
        .catch((err) =>
          this.ports.log(`deliveries: renewing their leases failed: ${oneLine(err)}`, {
            event: 'delivery_store_failed',
            level: 'warn',
          }),
        )
        .finally(() => {
          if (this.sent.size > 0) this.armRenewal();
        });
    });
  }

  private busyOf(target: DeliveryTarget): number {
    return this.busy.get(target) ?? 0;
  }

  private start(ref: DeliveryRef, delivery: Delivery): void {
    const key = refKey(ref);
    this.busy.set(ref.target, this.busyOf(ref.target) + 1);
    this.sent.set(key, ref);
    this.armRenewal();
    const sent = this.send(ref, delivery).finally(() => {
      this.sending.delete(key);
      this.sent.delete(key);
      this.busy.set(ref.target, this.busyOf(ref.target) - 1);
      this.kick(); // a slot is free, and this alert's next event for the target may go now
    });
    this.sending.set(key, sent);
  }

  private async send(ref: DeliveryRef, delivery: Delivery): Promise<void> {
    const transport = this.ports.transports.get(ref.target);
    let result: SendResult;
    if (!transport) {
      result = {
        ok: false,
        retry: false,
        reason: `no irbot that had ${this.describe(ref.target)} configured sent it within 24 hours`,
      };
    } else {
      try {
        result = await transport.send(delivery);
      } catch (err) {
        result = { ok: false, retry: true, reason: oneLine(err) };
      }
    }
    try {
      const recorded = await this.ports.store.transact(
        (data) => recordAttempt(data, ref, result, this.ports.clock(), this.claimant),
        LAX,
      );
      this.report(ref, recorded);
    } catch (err) {
      // The claim stays this run's and is taken again at the next kick: the delivery goes again, same key.
      this.ports.log(`delivery ${ref.key} to ${this.describe(ref.target)}: result not recorded: ${oneLine(err)}`, {
        event: 'delivery_store_failed',
        alert: ref.alertId,
        level: 'error',
      });
    }
  }

  private report(ref: DeliveryRef, recorded: Recorded): void {
    const what = `delivery ${ref.key} to ${this.describe(ref.target)}`;
    const fields = { alert: ref.alertId, target: ref.target, key: ref.key };
    switch (recorded.kind) {
      case 'delivered':
        this.ports.log(`${what}: delivered`, { ...fields, event: 'delivered' });
        return;
      case 'retry': {
        const ms = Math.max(0, Date.parse(recorded.retryAt) - this.ports.clock().getTime());
        this.ports.log(
          `${what}: ${recorded.reason}; retrying in ${Math.ceil(ms / 1000)} s (attempt ${recorded.attempts})`,
          {
            ...fields,
            event: 'delivery_retry',
            level: 'warn',
          },
        );
        this.schedule(ms, () => this.kick());
        return;
      }
      case 'failed':
        this.ports.log(`${what}: failed for good after ${attempts(recorded.attempts)}: ${recorded.reason}`, {
          ...fields,
          event: 'delivery_failed',
          level: 'error',
        });
        return;
      case 'gone':
        return;
    }
  }

  private describe(target: DeliveryTarget): string {
    return this.ports.describe?.(target) ?? target;
  }

  private schedule(ms: number, fn: () => void): void {
    if (this.ports.schedule) this.ports.schedule(ms, fn);
    else setTimeout(fn, ms).unref();
  }
}

function attempts(n: number): string {
  return `${n} attempt${n === 1 ? '' : 's'}`;
}
