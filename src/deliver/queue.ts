// The delivery queue: deliveries kept with their alert, enqueued in the transaction of the event that causes them,
// claimed by one process at a time, then recorded as delivered, due again later, or failed for good. Pure
// functions over the store data, called inside store transactions; src/deliver/drain.ts sends what they hand out.
import type { Claimant } from '../claims.js';
import { type AlertRecord, alertsOf, type StoreData } from '../store/port.js';
import type { Delivery, DeliveryEvent, DeliveryTarget, SendResult } from './port.js';

/** A delivery that keeps failing in a way that may pass is retried for this long from when it was enqueued. */
export const RETRY_FOR_MS = 24 * 60 * 60 * 1000;
/** Backoff: 1 s doubling up to this, unless the target asks for another wait (Retry-After). */
const MAX_BACKOFF_MS = 10 * 60 * 1000;

/**
 * Queues a delivery on the alert, in the caller's store transaction (fetch the record by id: `data.alerts[id]`).
 * Its idempotency key is `<alert id>:<event>`: an event already queued for that target is not queued twice.
 */
export function enqueueDelivery(
  record: AlertRecord,
  delivery: { target: DeliveryTarget; event: DeliveryEvent; body: string; at: string },
): Delivery | undefined {
  const key = `${record.id}:${delivery.event}`;
  record.deliveries ??= [];
  if (record.deliveries.some((d) => d.key === key && d.target === delivery.target)) return undefined;
  const queued: Delivery = {
    key,
    target: delivery.target,
    event: delivery.event,
    body: delivery.body,
    at: delivery.at,
    attempts: 0,
  };
  record.deliveries.push(queued);
  return queued;
}

/** Not delivered yet and not refused for good. */
export function isPending(delivery: Delivery): boolean {
  return delivery.deliveredAt === undefined && delivery.failure === undefined;
}

export function hasPendingDeliveries(record: AlertRecord): boolean {
  return (record.deliveries ?? []).some(isPending);
}

export function hasFailedDeliveries(record: AlertRecord): boolean {
  return (record.deliveries ?? []).some((d) => d.failure !== undefined);
}

/** Names one delivery of one alert across transactions. */
export interface DeliveryRef {
  alertId: string;
  target: DeliveryTarget;
  key: string;
}

export function refKey(ref: DeliveryRef): string {
  return `${ref.target}|${ref.key}`;
}

/**
 * The deliveries that may be sent now, oldest first: for each alert and target, its first pending one (a receiver
 * sees an alert's events in order), when it is due and no other live process holds it. `skip`: those this
 * process is sending already.
 */
export function dueDeliveries(
  data: StoreData,
  now: string,
  skip: (ref: DeliveryRef) => boolean,
  claimant: Claimant,
): DeliveryRef[] {
  const due: (DeliveryRef & { at: string })[] = [];
  for (const record of alertsOf(data)) {
    const seen = new Set<DeliveryTarget>();
    for (const delivery of record.deliveries ?? []) {
      if (!isPending(delivery) || seen.has(delivery.target)) continue;
      seen.add(delivery.target);
      const ref = { alertId: record.id, target: delivery.target, key: delivery.key };
      if (skip(ref) || !isFree(delivery, now, claimant)) continue;
      due.push({ ...ref, at: delivery.at });
    }
  }
  return due.sort((a, b) => a.at.localeCompare(b.at)).map(({ alertId, target, key }) => ({ alertId, target, key }));
}

function isFree(delivery: Delivery, now: string, claimant: Claimant): boolean {
  if (delivery.retryAt !== undefined && delivery.retryAt > now) return false;
  return delivery.claim === undefined || !claimant.heldByAnother(delivery.claim, now);
}

function find(data: StoreData, ref: DeliveryRef): Delivery | undefined {
  // By id, so that the store writes this alert (see `alertsOf`).
  return data.alerts[ref.alertId]?.deliveries?.find((d) => d.key === ref.key && d.target === ref.target);
}

/**
 * Takes a delivery for `claimant`, if it is still pending, due and free (a claim of a process that died, or whose
 * lease ran out, is taken over: it may have been sent, and goes again under the same key). A copy to send, or null.
 */
export function claimDelivery(data: StoreData, ref: DeliveryRef, now: string, claimant: Claimant): Delivery | null {
  const delivery = find(data, ref);
  if (!delivery || !isPending(delivery) || !isFree(delivery, now, claimant)) return null;
  delivery.claim = claimant.stamp(now);
  return structuredClone(delivery);
}

/** Extends the lease of a delivery this claimant is sending; false when it is no longer its own (or gone). */
export function renewDelivery(data: StoreData, ref: DeliveryRef, now: string, claimant: Claimant): boolean {
  const claim = find(data, ref)?.claim;
  if (!claim || !claimant.isOurs(claim)) return false;
  claimant.renew(claim, now);
  return true;
}

/** What became of an attempt, as recorded. */
export type Recorded =
  | { kind: 'delivered' }
  | { kind: 'retry'; retryAt: string; attempts: number; reason: string }
  | { kind: 'failed'; reason: string; attempts: number }
  | { kind: 'gone' };

/** Whether a delivery's 24 hours of retries are over (it was queued RETRY_FOR_MS ago or more). */
export function pastRetries(data: StoreData, ref: DeliveryRef, now: string): boolean {
  const delivery = find(data, ref);
  return delivery !== undefined && Date.parse(now) >= Date.parse(delivery.at) + RETRY_FOR_MS;
}

/**
 * Records what one attempt came to, in the transaction after it; `gone` when it is no longer pending, or, given
 * `claimant`, no longer its claim (its lease ran out while it sent, and another process took it over: that one's
 * result counts, not this late one).
 */
export function recordAttempt(
  data: StoreData,
  ref: DeliveryRef,
  result: SendResult,
  now: Date,
  claimant?: Claimant,
): Recorded {
  const delivery = find(data, ref);
  if (!delivery || !isPending(delivery)) return { kind: 'gone' };
  if (claimant && delivery.claim && !claimant.isOurs(delivery.claim)) return { kind: 'gone' };
  const at = now.toISOString();
  delete delivery.claim; // not `= undefined`: the store keeps what JSON keeps
  delete delivery.retryAt;
  delivery.attempts += 1;
  if (result.ok) {
    delivery.deliveredAt = at;
    return { kind: 'delivered' };
  }
  const deadline = Date.parse(delivery.at) + RETRY_FOR_MS;
  if (!result.retry || now.getTime() >= deadline) {
    delivery.failure = result.retry ? `gave up after 24 hours of failures: ${result.reason}` : result.reason;
    return { kind: 'failed', reason: delivery.failure, attempts: delivery.attempts };
  }
  // The target's Retry-After, within our own backoff (never sooner: a `0` or a date past would have the drain take it
  // again at once, for a day) and MAX_BACKOFF_MS (never later: the day's retries must not come down to one or two).
  // The last try is at the deadline.
  const backoff = backoffMs(delivery.attempts);
  const wait = Math.min(Math.max(result.retryAfterMs ?? backoff, backoff), Math.max(backoff, MAX_BACKOFF_MS));
  delivery.retryAt = new Date(Math.min(now.getTime() + wait, deadline)).toISOString();
  return { kind: 'retry', retryAt: delivery.retryAt, attempts: delivery.attempts, reason: result.reason };
}

/** The wait after the `attempts`-th failure that may pass: 1 s, 2 s, 4 s … up to 10 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
}
