// Alerts recorded and not yet seen in Slack: which process posts each, and what a failed try leaves behind. Pure
// functions over the store data; src/app/intake.ts posts them.
import type { Claimant } from './claims.js';
import { type AlertRecord, alertsOf, type StoreData } from './store/port.js';

/** `listen` tries an unposted alert again after a failure: 5 s, doubling up to 5 minutes. */
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;

/** The key an alert's own post carries in its metadata (the posts of its outbox are `id:1` on). */
export function alertPostKey(id: string): string {
  return `${id}:0`;
}

/** Another live run is posting it now. */
export function isBeingPosted(record: AlertRecord, now: string, claimant: Claimant): boolean {
  const claim = record.pending?.claim;
  return claim !== undefined && claimant.heldByAnother(claim, now);
}

/** Alerts whose post is not known to have landed, that no other live process is posting and whose retry is due. */
export function unpostedDue(data: StoreData, now: string, claimant: Claimant): AlertRecord[] {
  return alertsOf(data).filter(
    (record) =>
      record.ts === null &&
      !record.suppressed && // recorded on purpose, never to be posted
      !isBeingPosted(record, now, claimant) &&
      !(record.pending?.retryAt && record.pending.retryAt > now),
  );
}

/**
 * Posted auto_chat alerts whose chat was not asked to start (the poster died between the two), that no other live
 * process is about to start.
 */
export function autoChatDue(data: StoreData, now: string, claimant: Claimant): AlertRecord[] {
  return alertsOf(data).filter(
    (r) => r.ts !== null && r.pending?.autoChat === true && !isBeingPosted(r, now, claimant),
  );
}

/** Takes an unposted alert for `claimant`: others leave it alone while its lease holds. */
export function takeUnposted(record: AlertRecord, now: string, claimant: Claimant): void {
  record.pending = { ...record.pending, claim: claimant.stamp(now) };
}

/**
 * After a try that failed and may have reached Slack: the claim is let go, so that a retry of the source or the
 * next `listen` takes it over (asking Slack first whether it landed). `backOff`: `listen`'s own try, which waits
 * longer each time; a one-shot command's failure leaves it due at once for the next process.
 */
export function releaseUnposted(record: AlertRecord, now: Date, backOff: boolean, error?: string): void {
  const rest = { ...record.pending, ...(error !== undefined ? { lastError: error } : {}) };
  delete rest.claim;
  delete rest.retryAt;
  if (!backOff) {
    record.pending = rest;
    return;
  }
  const attempts = (rest.attempts ?? 0) + 1;
  const delay = Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
  record.pending = { ...rest, attempts, retryAt: new Date(now.getTime() + delay).toISOString() };
}
