// The conversation engine: (chat, event) → (chat, effects). Pure: no I/O, no clock, no randomness.
import type { Actor, Chat, ChatEvent, Effect, Outcome, Rules } from './types.js';

export interface Step {
  chat: Chat;
  effects: Effect[];
}

export const THANKS = 'Thanks for your time!';

/** Posted in the thread when a reply of the person tried to instruct the bot. */
export const STEERING_NOTE =
  "The person's reply tried to instruct the bot. If they say they were aware, the chat closes as " +
  "'aware — needs review' and the responders are asked to look.";

/**
 * True when the chat ended with the person saying they were aware while one of their replies tried to instruct
 * the bot: the answer may be the one they talked the bot into, so it stands only once an analyst has looked.
 * (A 'not aware' answer or no answer goes to an analyst anyway, and an analyst ended the chat in the third case.)
 */
export function needsReview(chat: Chat): boolean {
  return chat.outcome === 'answered' && chat.aware === true && (chat.steering ?? 0) > 0;
}

export function newChat(): Chat {
  return {
    state: 'posted',
    startedBy: null,
    startedAt: null,
    endedBy: null,
    endedAt: null,
    outcome: null,
    aware: null,
    nudges: 0,
    personMessages: 0,
    classifiedUpTo: 0,
    quietSince: null,
    failure: null,
  };
}

/** True while the chat still involves the person (a DM from them belongs to it, or soon will). */
export function isOpen(chat: Chat): boolean {
  return chat.state === 'active' || chat.state === 'queued';
}

/** True once nothing more will happen to the chat. */
export function isClosed(chat: Chat): boolean {
  return chat.state === 'ended' || chat.state === 'dismissed' || chat.state === 'failed';
}

const unchanged = (chat: Chat): Step => ({ chat, effects: [] });

export function step(chat: Chat, event: ChatEvent, rules: Rules): Step {
  switch (event.type) {
    case 'StartRequested':
      if (chat.state !== 'posted') return unchanged(chat);
      if (event.personBusy) {
        return {
          chat: { ...chat, state: 'queued', startedBy: event.by, startedAt: event.at },
          effects: [{ type: 'UpdateAlert' }],
        };
      }
      return {
        chat: { ...chat, state: 'active', startedBy: event.by, startedAt: event.at, quietSince: event.at },
        effects: [{ type: 'UpdateAlert' }, { type: 'Greet' }],
      };

    case 'Dequeued': {
      if (chat.state !== 'queued') return unchanged(chat);
      const { held = [], ...rest } = chat;
      return {
        chat: { ...rest, state: 'active', quietSince: event.at },
        effects: [
          { type: 'UpdateAlert' },
          { type: 'Greet' },
          ...held.map((line): Effect => ({ type: 'SendDm', text: line.text, from: 'analyst', by: line.by })),
        ],
      };
    }

    case 'DismissRequested':
      if (chat.state !== 'posted') return unchanged(chat);
      return {
        chat: { ...chat, state: 'dismissed', endedBy: event.by, endedAt: event.at },
        effects: [{ type: 'UpdateAlert' }],
      };

    case 'EndRequested':
      if (chat.state === 'queued') {
        // The person was never contacted: nothing to thank them for or to summarise.
        return { chat: end(chat, 'ended_by_analyst', event.by, event.at), effects: [{ type: 'UpdateAlert' }] };
      }
      if (chat.state !== 'active') return unchanged(chat);
      return { chat: end(chat, 'ended_by_analyst', event.by, event.at), effects: closing(false) };

    case 'DirectMessage': {
      if (chat.state !== 'active') return unchanged(chat);
      const personMessages = chat.personMessages + 1;
      return {
        chat: { ...chat, personMessages, quietSince: event.at },
        effects: [
          { type: 'PostInThread', kind: 'received', text: event.text },
          { type: 'Classify', upTo: personMessages },
        ],
      };
    }

    case 'AnalystMessage':
      // The person is in another chat: the line waits with this one and follows its greeting (see Dequeued).
      if (chat.state === 'queued') {
        return { chat: { ...chat, held: [...(chat.held ?? []), { text: event.text, by: event.by.id }] }, effects: [] };
      }
      if (chat.state !== 'active') return unchanged(chat);
      return { chat, effects: [{ type: 'SendDm', text: event.text, from: 'analyst', by: event.by.id }] };

    case 'Classified':
      return classified(chat, event, rules);

    case 'Tick':
      return tick(chat, event.at, rules);

    case 'Failed':
      if (isClosed(chat) || chat.state === 'posted') return unchanged(chat);
      // The person is free for their next chat. Nothing more is sent to them; the alert message and its thread
      // say why, unless the feed channel is what failed.
      return {
        chat: { ...chat, state: 'failed', failure: event.reason, endedAt: event.at },
        effects: [
          ...(event.feedReachable
            ? [
                { type: 'UpdateAlert' } as const,
                { type: 'PostInThread', kind: 'note', text: failureNote(event.reason) } as const,
              ]
            : []),
          ...(chat.state === 'active' ? [{ type: 'StartNext' } as const] : []),
        ],
      };
  }
}

function classified(chat: Chat, event: Extract<ChatEvent, { type: 'Classified' }>, rules: Rules): Step {
  // A verdict counts only for the latest message, once: a newer message has its own Classify queued.
  if (chat.state !== 'active' || event.upTo !== chat.personMessages || event.upTo <= chat.classifiedUpTo) {
    return unchanged(chat);
  }
  const steering = event.steering ?? 0;
  const steered = steering > (chat.steering ?? 0);
  const judged: Chat = { ...chat, classifiedUpTo: event.upTo, ...(steered ? { steering } : {}) };
  // Said once per new attempt, before what the verdict makes of it.
  const note: Effect[] = steered ? [{ type: 'PostInThread', kind: 'note', text: STEERING_NOTE }] : [];
  if (event.hasAnswered) {
    const ended = { ...end(judged, 'answered', null, event.at), aware: event.isAware };
    return { chat: ended, effects: [...note, ...closing(needsReview(ended))] };
  }
  const next = nudgeOrGiveUp(judged, event.at, rules);
  return { chat: next.chat, effects: [...note, ...next.effects] };
}

/** A person silent for nudgeAfterMs since the conversation last moved is nudged, or, after the last nudge, let go. */
function tick(chat: Chat, at: string, rules: Rules): Step {
  if (chat.state !== 'active' || chat.quietSince === null) return unchanged(chat);
  // A reply still being judged is not silence.
  if (chat.classifiedUpTo !== chat.personMessages) return unchanged(chat);
  if (Date.parse(at) - Date.parse(chat.quietSince) < rules.nudgeAfterMs) return unchanged(chat);
  return nudgeOrGiveUp(chat, at, rules);
}

function nudgeOrGiveUp(chat: Chat, at: string, rules: Rules): Step {
  if (chat.nudges < rules.maxNudges) {
    return { chat: { ...chat, nudges: chat.nudges + 1, quietSince: at }, effects: [{ type: 'Nudge' }] };
  }
  return { chat: end(chat, 'no_answer', null, at), effects: closing(true) };
}

function end(chat: Chat, outcome: Outcome, by: Actor | null, at: string): Chat {
  return { ...chat, state: 'ended', outcome, endedBy: by, endedAt: at };
}

/** The thread's line when a chat fails: the reason carries the fix. */
export function failureNote(reason: string): string {
  return `The chat failed: ${reason}`;
}

/**
 * Thank the person, summarise in the thread, close the alert message, let the person's next chat start.
 * `escalate`: the responders are pinged after the summary (no answer, or an answer that needs review).
 */
function closing(escalate: boolean): Effect[] {
  return [
    { type: 'SendDm', text: THANKS, from: 'bot' },
    escalate ? { type: 'Summarise', escalate: true } : { type: 'Summarise' },
    { type: 'UpdateAlert' },
    { type: 'StartNext' },
  ];
}
