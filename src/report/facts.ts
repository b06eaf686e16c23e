// What the report keeps of each alert (its facts), derived from the stored record alone. The store keeps them beside
// its archive (src/store/archive-facts.ts), so that a report over 100,000 closed alerts never parses whole records.
import type { EscalationOutcome } from '../config/types.js';
import type { AlertRecord } from '../store/port.js';
import type { StepUpResult } from '../verify/port.js';

/** Bumped whenever AlertFacts or factsOf change: facts stored by another version are derived again from the archive. */
export const FACTS_VERSION = 1;

/** The verdicts the report tells apart, in the order it shows them. */
export const VERDICTS = ['aware', 'not_aware', 'no_answer', 'ended_by_analyst', 'failed'] as const;
export type Verdict = (typeof VERDICTS)[number];

/**
 * What the report keeps of one alert, taken as the store reads it: 100,000 whole alerts (their transcripts and
 * outboxes) held at once would cost more time in the garbage collector than the report itself.
 */
export interface AlertFacts {
  id: string;
  template: string;
  name: string;
  createdAt: string;
  state: AlertRecord['chat']['state'];
  verdict: Verdict | null;
  verified: StepUpResult | null;
  started: boolean;
  suppressed: boolean;
  escalation: EscalationOutcome | null;
  greeted: boolean;
  /** From the greeting (the bot's first DM line) to the person's first reply, and to the verdict (a chat that ended
   * with an answer); null when there was none. */
  firstReplyMs: number | null;
  verdictMs: number | null;
}

export function factsOf(alert: AlertRecord): AlertFacts {
  const { chat } = alert;
  const times = timesOf(alert);
  return {
    id: alert.id,
    template: alert.template,
    name: alert.name,
    createdAt: alert.createdAt,
    state: chat.state,
    verdict: verdictOf(alert),
    verified: chat.verified ?? null,
    started: chat.startedAt !== null,
    suppressed: isSuppressed(alert),
    escalation: alert.escalation?.outcome ?? null,
    greeted: times.greeted,
    firstReplyMs: times.firstReply,
    verdictMs: times.verdict,
  };
}

/** Whether a snooze kept this alert from being posted (recorded at intake, src/snoozes.ts). */
export function isSuppressed(alert: AlertRecord): boolean {
  return alert.suppressed !== undefined;
}

/** The verdict a closed chat came to; null while it is open or never started. */
export function verdictOf(alert: AlertRecord): Verdict | null {
  const { chat } = alert;
  if (chat.state === 'failed') return 'failed';
  if (chat.state !== 'ended') return null;
  if (chat.outcome === 'no_answer' || chat.outcome === 'ended_by_analyst') return chat.outcome;
  if (chat.outcome === 'answered') return chat.aware === false ? 'not_aware' : 'aware';
  return null;
}

/**
 * When the person was greeted (the bot's first DM line), and how long from then to their first reply and to the
 * verdict (the chat's end, when it ended with an answer).
 */
function timesOf(alert: AlertRecord): { greeted: boolean; firstReply: number | null; verdict: number | null } {
  const greeting = alert.transcript.find((entry) => entry.from === 'bot');
  if (!greeting) return { greeted: false, firstReply: null, verdict: null };
  const greetedAt = Date.parse(greeting.at);
  const { chat } = alert;
  // A reply sent after the chat ended (relayed late) answered nothing.
  const reply = alert.transcript.find(
    (entry) => entry.from === 'person' && (chat.endedAt === null || entry.at <= chat.endedAt),
  );
  return {
    greeted: true,
    firstReply: reply ? Math.max(0, Date.parse(reply.at) - greetedAt) : null,
    verdict:
      chat.state === 'ended' && chat.outcome === 'answered' && chat.endedAt !== null
        ? Math.max(0, Date.parse(chat.endedAt) - greetedAt)
        : null,
  };
}
