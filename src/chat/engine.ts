// The conversation engine: (chat, event) → (chat, effects). Pure: no I/O, no clock, no randomness.
import type { Actor, Chat, ChatEvent, Effect, Outcome, Rules } from './types.js';

export interface Step {
  chat: Chat;
  effects: Effect[];
}

export const THANKS = 'Thanks for your time!';

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
  };
}

/** True while the chat still involves the person (a DM from them belongs to it, or soon will). */
export function isOpen(chat: Chat): boolean {
  return chat.state === 'active' || chat.state === 'queued';
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
        chat: { ...chat, state: 'active', startedBy: event.by, startedAt: event.at },
        effects: [{ type: 'UpdateAlert' }, { type: 'Greet' }],
      };

    case 'Dequeued':
      if (chat.state !== 'queued') return unchanged(chat);
      return { chat: { ...chat, state: 'active' }, effects: [{ type: 'UpdateAlert' }, { type: 'Greet' }] };

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
      return { chat: end(chat, 'ended_by_analyst', event.by, event.at), effects: closing() };

    case 'DirectMessage': {
      if (chat.state !== 'active') return unchanged(chat);
      const personMessages = chat.personMessages + 1;
      return {
        chat: { ...chat, personMessages },
        effects: [
          { type: 'PostInThread', kind: 'received', text: event.text },
          { type: 'Classify', upTo: personMessages },
        ],
      };
    }

    case 'AnalystMessage':
      if (chat.state !== 'active') return unchanged(chat);
      return { chat, effects: [{ type: 'SendDm', text: event.text, from: 'analyst', by: event.by.id }] };

    case 'Classified':
      return classified(chat, event, rules);
  }
}

function classified(chat: Chat, event: Extract<ChatEvent, { type: 'Classified' }>, rules: Rules): Step {
  // A verdict counts only for the latest message, once: a newer message has its own Classify queued.
  if (chat.state !== 'active' || event.upTo !== chat.personMessages || event.upTo <= chat.classifiedUpTo) {
    return unchanged(chat);
  }
  const judged = { ...chat, classifiedUpTo: event.upTo };
  if (event.hasAnswered) {
    return { chat: { ...end(judged, 'answered', null, event.at), aware: event.isAware }, effects: closing() };
  }
  if (judged.nudges < rules.maxNudges) {
    return { chat: { ...judged, nudges: judged.nudges + 1 }, effects: [{ type: 'Nudge' }] };
  }
  return { chat: end(judged, 'no_answer', null, event.at), effects: closing() };
}

function end(chat: Chat, outcome: Outcome, by: Actor | null, at: string): Chat {
  return { ...chat, state: 'ended', outcome, endedBy: by, endedAt: at };
}

/** Thank the person, summarise in the thread, close the alert message, let the person's next chat start. */
function closing(): Effect[] {
  return [
    { type: 'SendDm', text: THANKS, from: 'bot' },
    { type: 'Summarise' },
    { type: 'UpdateAlert' },
    { type: 'StartNext' },
  ];
}
