// Block Kit for the alert message and its details reply. The action ids are the original bot's Slack contract.
import {
  expiredReason,
  isTooLate,
  needsReview,
  outsideHoursText,
  reviewWords,
  stepUpFailed,
  tooLateText,
  UNKNOWN_ZONE_NOTE,
} from '../chat/engine.js';
import type { Actor, Chat } from '../chat/types.js';
import { neutralise, neutraliseLine } from '../untrusted-text.js';
import { escapeText, quote } from './mrkdwn.js';
import type { Block } from './port.js';

export const ACTION_IDS = {
  start: 'start_chat_submit_action',
  dismiss: 'do_nothing_submit_action',
  end: 'end_chat_submit_action',
  /** Added by irbot (not in the original bot): snoozes the alert's template for its person for 24 hours. */
  snooze: 'snooze_24h_submit_action',
  /** On a scheduled chat: start it without waiting for the person's working hours. */
  startNow: 'start_chat_now_submit_action',
} as const;

export interface AlertView {
  id: string;
  name: string;
  description: string;
  userId: string;
  properties: Record<string, string>;
  chat: Chat;
}

const section = (text: string, blockId?: string): Block => ({
  type: 'section',
  ...(blockId ? { block_id: blockId } : {}),
  text: { type: 'mrkdwn', text, verbatim: true },
});

const button = (text: string, actionId: string, value: string, style: 'primary' | 'danger'): Block => ({
  type: 'button',
  text: { type: 'plain_text', emoji: true, text },
  style,
  value,
  action_id: actionId,
});

/** No style: Slack's default grey, beside the primary and danger buttons. */
const snoozeButton = (alertId: string): Block => ({
  type: 'button',
  text: { type: 'plain_text', emoji: true, text: 'Snooze 24 h' },
  value: alertId,
  action_id: ACTION_IDS.snooze,
});

/** The alert message's buttons, in the one actions block Slack's clicks name (`alert_actions`). */
const alertActions = (...elements: Block[]): Block => ({ type: 'actions', block_id: 'alert_actions', elements });

/** `<@U…>` for someone who clicked in Slack; the OS user name for someone at a terminal. */
export function actorText(actor: Actor): string {
  return actor.via === 'slack' ? `<@${actor.id}>` : escapeText(actor.id);
}

/** Longest alert name shown; Slack rejects a section over 3,000 characters. */
const MAX_NAME = 200;

export function alertHeadline(alert: Pick<AlertView, 'name' | 'userId'>): string {
  // Cut before a lone high surrogate, so an emoji at the cut is not left half.
  const name =
    alert.name.length > MAX_NAME ? `${alert.name.slice(0, MAX_NAME - 1).replace(/[\ud800-\udbff]$/, '')}…` : alert.name;
  return `Incident: ${escapeText(name)} with user <@${alert.userId}>`;
}

/** The alert message for the chat's current state; chat.update replaces the whole message with it. */
export function alertBlocks(alert: AlertView): Block[] {
  const { chat } = alert;
  const blocks: Block[] = [
    section(alertHeadline(alert)),
    { type: 'context', elements: [{ type: 'plain_text', text: 'Details in :thread:', emoji: true }] },
  ];
  if (chat.state === 'posted') {
    blocks.push(
      alertActions(
        button('Start Chat', ACTION_IDS.start, alert.id, 'primary'),
        button('Do Nothing', ACTION_IDS.dismiss, alert.id, 'danger'),
        snoozeButton(alert.id),
      ),
    );
    return blocks;
  }
  if (chat.state === 'dismissed') {
    const by = chat.endedBy ? actorText(chat.endedBy) : 'Someone';
    blocks.push(section(`${by} decided that no action was necessary :white_check_mark:`, 'do_nothing'));
    return blocks;
  }
  if (chat.state === 'scheduled') {
    blocks.push(
      alertActions(
        button('Start Chat now', ACTION_IDS.startNow, alert.id, 'primary'),
        button('End Chat', ACTION_IDS.end, alert.id, 'danger'),
      ),
    );
  }
  if (chat.state === 'active' || chat.state === 'queued') {
    blocks.push(alertActions(button('End Chat', ACTION_IDS.end, alert.id, 'danger')));
  }
  if (chat.startedBy) blocks.push(section(`${actorText(chat.startedBy)} started a chat.`, 'started_chat'));
  if (chat.state === 'queued') {
    blocks.push(
      section(`<@${alert.userId}> is in another chat; this one starts when that one ends. :hourglass:`, 'queued'),
    );
  }
  const { schedule } = chat;
  if (chat.state === 'scheduled' && schedule) {
    const lines = [`${outsideHoursText(schedule, `<@${alert.userId}>`)}. :crescent_moon:`];
    if (isTooLate(schedule)) lines.push(tooLateText(schedule));
    if (schedule.zoneUnknown) lines.push(`_${UNKNOWN_ZONE_NOTE}_`);
    blocks.push(section(lines.join('\n'), 'scheduled'));
  }
  if (schedule?.ended?.how === 'now' && schedule.ended.by) {
    blocks.push(
      section(`${actorText(schedule.ended.by)} started it now, outside the person's working hours.`, 'started_now'),
    );
  }
  const stepUp = chat.state === 'active' ? chat.stepUp : undefined;
  if (stepUp && stepUp.phase !== 'done') {
    const waiting =
      stepUp.phase === 'timed_out'
        ? 'their Duo push timed out; they may reply `retry` for another'
        : 'waiting for them to approve a Duo push';
    blocks.push(section(`<@${alert.userId}> said it was them: ${waiting} :iphone:`, 'step_up'));
  }
  if (chat.state === 'ended') blocks.push(endedSection(chat, alert.userId));
  if (chat.state === 'failed') {
    blocks.push(section(`:x: The chat failed: ${escapeText(chat.failure ?? 'unknown error')}`, 'chat_failed'));
  }
  return blocks;
}

function endedSection(chat: Chat, userId: string): Block {
  if (chat.outcome === 'ended_by_analyst') {
    const by = chat.endedBy ? actorText(chat.endedBy) : 'Someone';
    // A push that was still on the phone, refused after the end: the one thing the chat found out.
    const refused = chat.verified === 'denied' || chat.verified === 'fraud';
    const then = refused ? `; then ${verdictText(chat, userId)} :rotating_light:` : ' :white_check_mark:';
    return section(`${by} has ended the chat${then}`, 'end_chat_manually');
  }
  return section(
    `The chat was automatically ended: ${verdictText(chat, userId)} ${stepUpFailed(chat) ? ':rotating_light:' : needsReview(chat) ? ':warning:' : ':white_check_mark:'}`,
    'end_chat_automatically',
  );
}

/** Follows an *aware* verdict that an analyst must confirm (see needsReview in src/chat/engine.ts). */
export const NEEDS_REVIEW = "*needs review*: the person's reply tried to instruct the bot";

/** NEEDS_REVIEW, with the chat's own reason. */
function needsReviewText(chat: Chat): string {
  return `*needs review*: ${reviewWords(chat)}`;
}

/** One line for the verdict, used on the alert message and under the summary. */
export function verdictText(chat: Chat, userId: string): string {
  // A refused push says it first, whatever ended the chat (an analyst, before the phone answered).
  if (chat.verified === 'denied' || chat.verified === 'fraud') {
    const how = chat.verified === 'fraud' ? 'reported the Duo push as fraud' : 'refused the Duo push';
    return `*denied*: <@${userId}> said it was them but ${how} — treat as a possible account compromise`;
  }
  switch (chat.outcome) {
    case 'answered':
      if (stepUpFailed(chat)) {
        const why =
          chat.verified === 'timeout' ? 'push timed out' : escapeText(chat.stepUp?.reason ?? chat.verified ?? '');
        return `<@${userId}> said they were *aware*, but *unverified* (${why})`;
      }
      if (chat.aware && chat.verified === 'approved') {
        const verified = `<@${userId}> answered and was *aware* of the activity, *verified* by an approved Duo push`;
        return needsReview(chat) ? `${verified} — ${needsReviewText(chat)}` : verified;
      }
      if (needsReview(chat)) return `<@${userId}> answered and was *aware* of the activity — ${needsReviewText(chat)}`;
      return `<@${userId}> answered and was ${chat.aware ? '*aware*' : '*not aware*'} of the activity`;
    case 'no_answer':
      if (chat.schedule?.ended?.how === 'expired')
        return `no answer from <@${userId}>: ${expiredReason(chat.schedule)}`;
      return `no answer from <@${userId}> after ${chat.nudges} nudge${chat.nudges === 1 ? '' : 's'}`;
    case 'ended_by_analyst':
      return 'ended by an analyst before an answer';
    default:
      return 'open';
  }
}

/** The first reply in the alert's thread: description and every property. */
export function detailsText(alert: Pick<AlertView, 'id' | 'description' | 'properties'>): string {
  const lines = [`*Alert* \`${escapeText(alert.id)}\``];
  // A SIEM's text may copy an attacker's: a newline in it must not start a line that reads as the SIEM's own (a
  // forged "• *mfa:* passed"), nor a bidi override reorder one. A description of several lines is quoted; a
  // property is one line.
  const description = neutralise(alert.description);
  if (description.includes('\n')) lines.push('*Description:*', quote(description));
  else if (description) lines.push(`*Description:* ${escapeText(description)}`);
  for (const [key, value] of Object.entries(alert.properties)) {
    lines.push(`• *${escapeText(neutraliseLine(key))}:* ${escapeText(neutraliseLine(value))}`);
  }
  return lines.join('\n');
}
