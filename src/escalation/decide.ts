// Whether a chat that ended reaches on-call, and with what: the outcome in `[escalation] on`'s terms, the reason in
// words, the PagerDuty severity. Pure: the shell calls it in the transaction where the chat ends or fails.
import { expiredReason } from '../chat/engine.js';
import type { Chat } from '../chat/types.js';
import type { EscalationOutcome, Severity } from '../config/types.js';

export interface Escalation {
  outcome: EscalationOutcome;
  /** Plain text (not Slack mrkdwn): the page's summary after "irbot: ", and the thread's reason once escaped. */
  reason: string;
  severity: Severity;
}

/** What escalationOf reads of an alert. */
export interface EscalationFacts {
  name: string;
  userId: string;
  personName?: string | undefined;
  /** The alert's own severity, which wins over the outcome's. */
  severity?: Severity | undefined;
  chat: Chat;
}

/**
 * What a closed chat came to, in `[escalation] on`'s terms; null for a chat that is still open, was dismissed,
 * was ended by an analyst, or ended with an answer irbot trusts (aware, and verified when a step-up ran).
 */
export function outcomeOf(chat: Chat): EscalationOutcome | null {
  if (chat.state === 'failed') return 'failed';
  if (chat.state !== 'ended') return null;
  if (chat.outcome === 'no_answer') return 'no_answer';
  // A step-up's result decides before the words: "it was me" with a refused push is a possible compromise, even
  // when the push was answered after an analyst ended the chat.
  if (chat.verified === 'denied' || chat.verified === 'fraud') return 'denied';
  if (chat.outcome !== 'answered') return null;
  if (chat.verified === 'timeout' || chat.verified === 'not_enrolled' || chat.verified === 'error') {
    return 'unverified';
  }
  return chat.aware === false ? 'not_aware' : null;
}

/** The escalation a closed chat calls for under `on`, or null. */
export function escalationOf(alert: EscalationFacts, on: readonly EscalationOutcome[]): Escalation | null {
  const outcome = outcomeOf(alert.chat);
  if (outcome === null || !on.includes(outcome)) return null;
  // A refused push may be an attacker holding the account: that pages as critical unless the alert says otherwise.
  const severity = alert.severity ?? (outcome === 'denied' ? 'critical' : 'error');
  return { outcome, reason: reasonOf(alert, outcome), severity };
}

function reasonOf(alert: EscalationFacts, outcome: EscalationOutcome): string {
  const { chat, name } = alert;
  const person = alert.personName ?? alert.userId;
  switch (outcome) {
    case 'not_aware':
      return `${person} was not aware of ${name}`;
    case 'denied':
      return chat.verified === 'fraud'
        ? `${person} reported the Duo push for ${name} as fraud`
        : `${person} denied the Duo push for ${name}`;
    case 'unverified':
      return `${person} said they were aware of ${name}, but ${UNVERIFIED[chat.verified as keyof typeof UNVERIFIED]}`;
    case 'no_answer':
      if (chat.schedule?.ended?.how === 'expired') return `${person} was ${expiredReason(chat.schedule)} (${name})`;
      return `${person} did not answer about ${name} after ${chat.nudges} nudge${chat.nudges === 1 ? '' : 's'}`;
    case 'failed':
      return `the chat with ${person} about ${name} failed: ${chat.failure ?? 'unknown error'}`;
  }
}

const UNVERIFIED = {
  timeout: 'the Duo push timed out',
  not_enrolled: 'they have no Duo device to push to',
  error: 'the Duo push could not be sent',
} as const;
