// The words irbot posts in an alert's thread: relays, summaries, notes, escalation pings and snooze lines, each
// with the untrusted parts quoted or escaped.
import { expiredReason, needsReview, reviewReason, stepUpFailed } from '../chat/engine.js';
import type { ThreadPost } from '../chat/types.js';
import { escalationText } from '../escalation/escalate.js';
import { detailsText, verdictText } from '../slack/blocks.js';
import { escapeText, quote } from '../slack/mrkdwn.js';
import { untilText } from '../snoozes.js';
import type { AlertRecord, Snooze } from '../store/port.js';

/** Between the relays of one coalesced thread message: a blank line (a quoted relay never holds one). */
export const RELAY_SEPARATOR = '\n\n';

/** One thread post's text; `mention`: who is pinged (trusted: from config.toml). */
export function threadText(kind: ThreadPost, text: string, record: AlertRecord, mention: string): string {
  switch (kind) {
    case 'received':
      return `Received message from <@${record.userId}>:\n${quote(text)}`;
    case 'late':
      return `Received message from <@${record.userId}> after the chat ended:\n${quote(text)}`;
    case 'early':
      return `Received message from <@${record.userId}>, written before this chat's first message reached them (not taken as an answer):\n${quote(text)}`;
    case 'sent':
      return `Sent message to <@${record.userId}>:\n${quote(text)}`;
    case 'summary':
      return `Here is the summary of the chat:\n${quote(text)}\n*Verdict:* ${verdictText(record.chat, record.userId)}`;
    case 'note':
    case 'step_up':
      return `_${escapeText(text)}_`;
    case 'details':
      return detailsText(record);
    case 'snoozed':
      return text; // written by snoozedText, its untrusted parts escaped
    case 'escalation':
      return escalationPing(record, mention);
  }
}

function escalationPing(record: AlertRecord, mention: string): string {
  if (record.escalation) return escalationText(record.escalation, verdictText(record.chat, record.userId));
  // Trusted mentions from config.toml, so they do ping.
  if (stepUpFailed(record.chat)) {
    return `:rotating_light: ${verdictText(record.chat, record.userId)}.${mention ? ` ${mention}` : ''} Please follow up.`;
  }
  if (needsReview(record.chat)) {
    const reason = reviewReason(record.chat);
    const why =
      reason === 'rules'
        ? "as irbot's offline rules read it (no model judged the chat), which only match keywords"
        : reason === 'alert'
          ? "but the alert's own text tries to instruct the bot"
          : 'but a reply of theirs tried to instruct the bot';
    return `:warning: <@${record.userId}> said they were aware, ${why}.${mention ? ` ${mention}` : ''} Please review the chat before trusting the answer.`;
  }
  const { schedule } = record.chat;
  if (schedule?.ended?.how === 'expired') {
    return `:warning: No answer from <@${record.userId}>: ${escapeText(expiredReason(schedule))}.${mention ? ` ${mention}` : ''} Please follow up.`;
  }
  const nudges = `${record.chat.nudges} nudge${record.chat.nudges === 1 ? '' : 's'}`;
  return `:warning: No answer from <@${record.userId}> after ${nudges}.${mention ? ` ${mention}` : ''} Please follow up.`;
}

/** "<@ana> snoozed *Pivoting* for <@harold> until 2026-12-06 10:00 UTC: snoozed from Slack", for the thread. */
export function snoozedText(snooze: Snooze, record: Pick<AlertRecord, 'name'>): string {
  const who = snooze.createdBy.via === 'slack' ? `<@${snooze.createdBy.id}>` : escapeText(snooze.createdBy.id);
  const whom = snooze.user ? ` for <@${snooze.user}>` : '';
  return `${who} snoozed *${escapeText(record.name)}*${whom} until ${untilText(snooze.until)}: ${escapeText(snooze.reason)}`;
}
