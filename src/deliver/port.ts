// Deliveries: what irbot sends outside Slack once a chat moves (signed outcome events to sinks, pages to
// PagerDuty). Each is kept with its alert in the store, drained apart from the Slack lanes, and retried until it
// is delivered or refused for good: at least once, under one idempotency key.

/** The events a sink may ask for (`events` in `[[sinks]]`). */
export type DeliveryEvent = 'posted' | 'started' | 'ended' | 'dismissed' | 'escalated' | 'suppressed';

/** `pagerduty`, or a sink by its index in config.toml's `[[sinks]]`. */
/** PagerDuty, or a sink (`sinkTarget`: `sink:<host>#<digest>`; `sink:<n>` for events queued before that). */
export type DeliveryTarget = 'pagerduty' | `sink:${string}`;

export interface Delivery {
  /** The idempotency key: `<alert id>:<event>`. */
  key: string;
  target: DeliveryTarget;
  event: DeliveryEvent;
  /** The JSON body, fixed when the delivery is enqueued so that every attempt sends the same one; no secrets. */
  body: string;
  /** When it was enqueued: retries stop after 24 hours from here. */
  at: string;
  attempts: number;
  /** After a failure that may pass (timeout, 408, 429, 5xx): not before this time. */
  retryAt?: string | undefined;
  /** The process sending it now (taken over when that process is dead or its lease ran out, like an outbox claim). */
  claim?: { pid: number; run?: string; at: string; host?: string; until?: string } | undefined;
  deliveredAt?: string | undefined;
  /** Refused for good (another 4xx, or 24 hours of failures): why, shown in `status` and the log. */
  failure?: string | undefined;
}

/** What one attempt came to. `retry`: the failure may pass (timeout, 408, 429, 5xx), with Retry-After if given. */
export type SendResult =
  | { ok: true; status: number }
  | { ok: false; retry: boolean; reason: string; retryAfterMs?: number | undefined };

/** Sends a delivery's body to its target, adding what must not be stored (signatures, the routing key). */
export interface Transport {
  send(delivery: Delivery): Promise<SendResult>;
}
