// Escalating a chat that just closed, inside the store transaction that closed it: recorded once on the alert, with
// its ping queued in the alert's outbox, so that a crash or a second process never escalates it twice.
import { isClosed } from '../chat/engine.js';
import type { Chat } from '../chat/types.js';
import type { EscalationOutcome } from '../config/types.js';
import { pagerDutyBody } from '../deliver/pagerduty.js';
import { enqueueDelivery } from '../deliver/queue.js';
import { enqueue } from '../outbox.js';
import { escapeText } from '../slack/mrkdwn.js';
import type { AlertRecord, EscalationRecord } from '../store/port.js';
import { escalationOf, outcomeOf } from './decide.js';

export interface EscalationPolicy {
  on: readonly EscalationOutcome[];
  /** The mention pinged in the thread (from config.toml); null: nobody. */
  mention: string | null;
  /** PAGERDUTY_ROUTING_KEY is set: the escalation is paged too. */
  pagerduty: boolean;
}

/**
 * Call after a step in a transaction, with the chat as it was before: when the chat has just closed in a way
 * `policy.on` names, and was not escalated yet, records the escalation on the alert, queues the thread's ping
 * (unless the feed channel is what failed) and the page (its body fixed now, without the routing key). Returns
 * the new escalation, or null.
 */
export function escalateIfClosed(
  record: AlertRecord,
  before: Chat,
  policy: EscalationPolicy,
  at: string,
  opts: { threadReachable?: boolean } = {},
): EscalationRecord | null {
  if (record.escalation || !isClosed(record.chat)) return null;
  // Once, as the chat closes; or later, when a push still out at its end comes back refused.
  if (isClosed(before) && !(outcomeOf(record.chat) === 'denied' && outcomeOf(before) !== 'denied')) return null;
  const escalation = escalationOf(record, policy.on);
  if (!escalation) return null;
  record.escalation = { ...escalation, at, mention: policy.mention, pagerduty: policy.pagerduty };
  // After the summary and notes already queued: the thread lane waits for the person lane's work before it.
  // A ping the engine queued already (a scheduled chat that waited too long) says it, with this record.
  const queued = record.outbox.some((item) => item.effect.type === 'PostInThread' && item.effect.kind === 'escalation');
  if (record.ts !== null && opts.threadReachable !== false && !queued) {
    enqueue(record, [{ type: 'PostInThread', kind: 'escalation', text: '' }]);
  }
  if (policy.pagerduty) {
    enqueueDelivery(record, { target: 'pagerduty', event: 'escalated', body: pagerDutyBody(record, escalation), at });
  }
  return record.escalation;
}

const OUTCOME_WORDS: Record<EscalationOutcome, string> = {
  not_aware: 'not aware',
  no_answer: 'no answer',
  denied: 'Duo push denied',
  unverified: 'unverified',
  failed: 'chat failed',
};

/** The thread's ping of an escalated alert: the reason, who is pinged (trusted, from config.toml), the verdict. */
export function escalationText(escalation: EscalationRecord, verdict: string): string {
  const who = escalation.mention ? ` ${escalation.mention}` : '';
  const paged = escalation.pagerduty ? ' On-call is paged in PagerDuty.' : '';
  return (
    `:rotating_light: *Escalated (${OUTCOME_WORDS[escalation.outcome]}):* ${escapeText(escalation.reason.replace(/\.$/, ''))}.${who}${paged}\n` +
    `*Verdict:* ${verdict}`
  );
}
