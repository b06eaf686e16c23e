import { describe, expect, it } from 'vitest';
import { needsReview, newChat, STEERING_NOTE, step, THANKS } from '../../../src/chat/engine.js';
import type { Actor, Chat, ChatEvent } from '../../../src/chat/types.js';

const rules = { maxNudges: 2, nudgeAfterMs: 60 * 60 * 1000 };
const analyst: Actor = { id: 'U0ANALYST', via: 'slack' };
const at = '2026-11-27T10:00:00.000Z';

const chatIn = (overrides: Partial<Chat> = {}): Chat => ({ ...newChat(), ...overrides });
const active = (overrides: Partial<Chat> = {}): Chat =>
  chatIn({ state: 'active', startedBy: analyst, startedAt: at, ...overrides });
const start = (personBusy = false): ChatEvent => ({ type: 'StartRequested', by: analyst, at, personBusy });
const dm = (text = 'hmm'): ChatEvent => ({ type: 'DirectMessage', text, at });
const verdict = (upTo: number, hasAnswered: boolean, isAware = false): ChatEvent => ({
  type: 'Classified',
  hasAnswered,
  isAware,
  upTo,
  at,
});
const closing = [
  { type: 'SendDm', text: THANKS, from: 'bot' },
  { type: 'Summarise' },
  { type: 'UpdateAlert' },
  { type: 'StartNext' },
];
const givingUp = [
  { type: 'SendDm', text: THANKS, from: 'bot' },
  { type: 'Summarise', escalate: true },
  { type: 'UpdateAlert' },
  { type: 'StartNext' },
];
const later = (minutes: number) => new Date(Date.parse(at) + minutes * 60_000).toISOString();
const tick = (minutes: number): ChatEvent => ({ type: 'Tick', at: later(minutes) });

describe('starting', () => {
  it('activates a posted alert and greets the person', () => {
    const { chat, effects } = step(chatIn(), start(), rules);
    expect(chat).toMatchObject({ state: 'active', startedBy: analyst, startedAt: at });
    expect(effects).toEqual([{ type: 'UpdateAlert' }, { type: 'Greet' }]);
  });

  it('queues the chat when the person already has an open one, and greets once dequeued', () => {
    const queued = step(chatIn(), start(true), rules);
    expect(queued.chat.state).toBe('queued');
    expect(queued.effects).toEqual([{ type: 'UpdateAlert' }]);
    const dequeued = step(queued.chat, { type: 'Dequeued', at }, rules);
    expect(dequeued.chat.state).toBe('active');
    expect(dequeued.effects).toEqual([{ type: 'UpdateAlert' }, { type: 'Greet' }]);
  });

  it('ignores a second start, so a double click never greets twice', () => {
    expect(step(active(), start(), rules).effects).toEqual([]);
  });
});

describe('replies', () => {
  it('relays each DM and classifies the conversation up to it', () => {
    const { chat, effects } = step(active(), dm('who, me?'), rules);
    expect(chat.personMessages).toBe(1);
    expect(effects).toEqual([
      { type: 'PostInThread', kind: 'received', text: 'who, me?' },
      { type: 'Classify', upTo: 1 },
    ]);
  });

  it('nudges after a reply that does not answer', () => {
    const { chat, effects } = step(active({ personMessages: 1 }), verdict(1, false), rules);
    expect(chat.nudges).toBe(1);
    expect(effects).toEqual([{ type: 'Nudge' }]);
  });

  it('ends as answered with thanks, summary, alert update and the next chat', () => {
    const { chat, effects } = step(active({ personMessages: 2, nudges: 1 }), verdict(2, true, true), rules);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'answered', aware: true, endedAt: at });
    expect(effects).toEqual(closing);
  });

  it('ends as no_answer once max_nudges nudges went unanswered, and escalates in the thread', () => {
    const { chat, effects } = step(active({ personMessages: 3, nudges: 2 }), verdict(3, false), rules);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'no_answer', aware: null, nudges: 2 });
    expect(effects).toEqual(givingUp);
  });

  it('ignores a verdict that a newer message has overtaken, and a repeated one', () => {
    const twoMessages = active({ personMessages: 2 });
    expect(step(twoMessages, verdict(1, false), rules).effects).toEqual([]);
    const judged = step(twoMessages, verdict(2, false), rules).chat;
    expect(step(judged, verdict(2, false), rules).effects).toEqual([]);
    expect(judged.nudges).toBe(1);
  });

  it('ignores DMs before the chat starts and after it ends', () => {
    for (const state of ['posted', 'queued', 'ended', 'dismissed'] as const) {
      expect(step(chatIn({ state }), dm(), rules).effects).toEqual([]);
    }
  });

  it('relays a late reply in the thread of a chat that ended, and nothing else; no other chat takes one', () => {
    const late: ChatEvent = { type: 'LateMessage', text: 'it was me', at };
    const ended = chatIn({ state: 'ended' });
    expect(step(ended, late, rules)).toEqual({
      chat: ended,
      effects: [{ type: 'PostInThread', kind: 'late', text: 'it was me' }],
    });
    for (const state of ['posted', 'queued', 'scheduled', 'active', 'dismissed', 'failed'] as const) {
      expect(step(chatIn({ state }), late, rules).effects).toEqual([]);
    }
  });

  it('relays a line the person wrote before an active chat reached them, judges nothing, and changes nothing', () => {
    const early: ChatEvent = { type: 'EarlyMessage', text: 'yes it was me', at };
    const active = chatIn({ state: 'active' });
    expect(step(active, early, rules)).toEqual({
      chat: active,
      effects: [{ type: 'PostInThread', kind: 'early', text: 'yes it was me' }],
    });
    for (const state of ['posted', 'queued', 'scheduled', 'ended', 'dismissed', 'failed'] as const) {
      expect(step(chatIn({ state }), early, rules).effects).toEqual([]);
    }
  });

  it('sends what the analyst types to the person', () => {
    const text = 'This is Sam from security, no rush.';
    const { effects } = step(active(), { type: 'AnalystMessage', text, by: analyst, at }, rules);
    expect(effects).toEqual([{ type: 'SendDm', text, from: 'analyst', by: 'U0ANALYST' }]);
  });
});

describe('analyst buttons', () => {
  it('Do Nothing closes a posted alert without contacting anyone', () => {
    const { chat, effects } = step(chatIn(), { type: 'DismissRequested', by: analyst, at }, rules);
    expect(chat).toMatchObject({ state: 'dismissed', endedBy: analyst });
    expect(effects).toEqual([{ type: 'UpdateAlert' }]);
  });

  it('End Chat really ends an active chat, thanking and summarising', () => {
    const { chat, effects } = step(active(), { type: 'EndRequested', by: analyst, at }, rules);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'ended_by_analyst', endedBy: analyst });
    expect(effects).toEqual(closing);
    expect(step(chat, dm(), rules).effects).toEqual([]);
  });

  it('keeps what the analyst types while the chat is queued, and sends it after the greeting when it starts', () => {
    const queued = step(chatIn(), start(true), rules).chat;
    const said = (text: string) => ({ type: 'AnalystMessage' as const, text, by: analyst, at });
    const first = step(queued, said('Sam here, no rush.'), rules);
    expect(first.effects).toEqual([]);
    const second = step(first.chat, said('It is about build-7.'), rules);
    expect(second.chat.held).toEqual([
      { text: 'Sam here, no rush.', by: 'U0ANALYST' },
      { text: 'It is about build-7.', by: 'U0ANALYST' },
    ]);
    const started = step(second.chat, { type: 'Dequeued', at }, rules);
    expect(started.chat.state).toBe('active');
    expect(started.chat.held).toBeUndefined();
    expect(started.effects).toEqual([
      { type: 'UpdateAlert' },
      { type: 'Greet' },
      { type: 'SendDm', text: 'Sam here, no rush.', from: 'analyst', by: 'U0ANALYST' },
      { type: 'SendDm', text: 'It is about build-7.', from: 'analyst', by: 'U0ANALYST' },
    ]);
  });

  it('End Chat on a queued chat ends it without a DM', () => {
    const { chat, effects } = step(chatIn({ state: 'queued' }), { type: 'EndRequested', by: analyst, at }, rules);
    expect(chat.state).toBe('ended');
    expect(effects).toEqual([{ type: 'UpdateAlert' }]);
  });

  it('ignores Do Nothing after a chat started and End Chat after it ended', () => {
    expect(step(active(), { type: 'DismissRequested', by: analyst, at }, rules).effects).toEqual([]);
    expect(step(chatIn({ state: 'ended' }), { type: 'EndRequested', by: analyst, at }, rules).effects).toEqual([]);
  });
});

describe('silence', () => {
  const quiet = (overrides: Partial<Chat> = {}) => active({ quietSince: at, ...overrides });

  it('nudges a person who stayed silent for nudge_after, once', () => {
    expect(step(quiet(), tick(59), rules).effects).toEqual([]);
    const nudged = step(quiet(), tick(60), rules);
    expect(nudged.effects).toEqual([{ type: 'Nudge' }]);
    expect(nudged.chat).toMatchObject({ nudges: 1, quietSince: later(60) });
    expect(step(nudged.chat, tick(61), rules).effects).toEqual([]);
  });

  it('ends as no_answer after the last nudge goes unanswered', () => {
    const { chat, effects } = step(quiet({ nudges: 2 }), tick(60), rules);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'no_answer', endedAt: later(60) });
    expect(effects).toEqual(givingUp);
  });

  it('measures silence from the last reply, and waits while a reply is being judged', () => {
    const replied = step(quiet(), { type: 'DirectMessage', text: 'hm', at: later(30) }, rules).chat;
    expect(step(replied, tick(80), rules).effects).toEqual([]);
    const judged = step(replied, { ...verdict(1, false), at: later(31) }, rules).chat;
    expect(step(judged, tick(90), rules).effects).toEqual([]);
    expect(step(judged, tick(91), rules).effects).toEqual([{ type: 'Nudge' }]);
  });

  it('never nudges a chat that is not active', () => {
    for (const state of ['posted', 'queued', 'ended', 'dismissed', 'failed'] as const) {
      expect(step(chatIn({ state, quietSince: at }), tick(600), rules).effects).toEqual([]);
    }
  });
});

describe('failure', () => {
  it("marks an active chat failed and lets the person's next chat start", () => {
    const { chat, effects } = step(active(), { type: 'Failed', reason: 'channel_not_found', at }, rules);
    expect(chat).toMatchObject({ state: 'failed', failure: 'channel_not_found', endedAt: at });
    expect(effects).toEqual([{ type: 'StartNext' }]);
    expect(step(chat, dm(), rules).effects).toEqual([]);
  });

  it('says why on the alert message and in the thread when the person, not the feed channel, failed', () => {
    const reason = 'the DM to U0NOBODY failed with channel_not_found (no Slack user U0NOBODY: …)';
    const { chat, effects } = step(active(), { type: 'Failed', reason, at, feedReachable: true }, rules);
    expect(chat).toMatchObject({ state: 'failed', failure: reason });
    expect(effects).toEqual([
      { type: 'UpdateAlert' },
      { type: 'PostInThread', kind: 'note', text: `The chat failed: ${reason}` },
      { type: 'StartNext' },
    ]);
  });

  it('does not reopen a closed chat', () => {
    const ended = chatIn({ state: 'ended', outcome: 'answered' });
    expect(step(ended, { type: 'Failed', reason: 'x', at }, rules).chat).toBe(ended);
  });
});

describe('a reply that tries to instruct the bot', () => {
  const steered = (upTo: number, hasAnswered: boolean, isAware: boolean, steering: number): ChatEvent => ({
    type: 'Classified',
    hasAnswered,
    isAware,
    upTo,
    at,
    steering,
  });
  const note = { type: 'PostInThread', kind: 'note', text: STEERING_NOTE };

  it('is noted in the thread, and an aware answer on it closes as needing review, with the responders pinged', () => {
    const { chat, effects } = step(active({ personMessages: 1 }), steered(1, true, true, 1), rules);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'answered', aware: true, steering: 1 });
    expect(needsReview(chat)).toBe(true);
    expect(effects).toEqual([note, ...givingUp]);
    expect(STEERING_NOTE).toContain("The person's reply tried to instruct the bot");
  });

  it('is noted once per new attempt; a later plain "yes" still needs review', () => {
    const first = step(active({ personMessages: 1 }), steered(1, false, false, 1), rules);
    expect(first.effects).toEqual([note, { type: 'Nudge' }]);
    expect(first.chat).toMatchObject({ state: 'active', steering: 1 });
    const answer = step({ ...first.chat, personMessages: 2 }, steered(2, true, true, 1), rules);
    expect(answer.effects).toEqual(givingUp);
    expect(needsReview(answer.chat)).toBe(true);
  });

  it('a not-aware answer is noted but needs no review flag: it goes to an analyst anyway', () => {
    const { chat, effects } = step(active({ personMessages: 1 }), steered(1, true, false, 1), rules);
    expect(effects).toEqual([note, ...closing]);
    expect(needsReview(chat)).toBe(false);
  });

  it('without any attempt, an aware answer closes as plainly aware', () => {
    const { chat, effects } = step(active({ personMessages: 1 }), steered(1, true, true, 0), rules);
    expect(effects).toEqual(closing);
    expect(needsReview(chat)).toBe(false);
    expect(chat.steering).toBeUndefined();
  });

  it('a stale verdict carrying an attempt changes nothing; the next one for the whole conversation does', () => {
    expect(step(active({ personMessages: 2 }), steered(1, true, true, 1), rules).effects).toEqual([]);
  });
});
