import { describe, expect, it } from 'vitest';
import {
  needsReview,
  newChat,
  reviewWords,
  STEP_UP_AGAIN,
  STEP_UP_ASK,
  STEP_UP_TIMED_OUT,
  step,
  stepUpFailed,
  THANKS,
} from '../../../src/chat/engine.js';
import type { Actor, Chat, ChatEvent, Effect, Rules } from '../../../src/chat/types.js';
import { outcomeOf } from '../../../src/escalation/decide.js';
import type { StepUpResult } from '../../../src/verify/port.js';

const rules: Rules = { maxNudges: 2, nudgeAfterMs: 60 * 60 * 1000, stepUpRetries: 1 };
const analyst: Actor = { id: 'U0ANALYST', via: 'slack' };
const at = '2026-11-27T10:00:00.000Z';
const later = (minutes: number) => new Date(Date.parse(at) + minutes * 60_000).toISOString();

const active = (overrides: Partial<Chat> = {}): Chat => ({
  ...newChat(),
  state: 'active',
  startedBy: analyst,
  startedAt: at,
  quietSince: at,
  personMessages: 1,
  ...overrides,
});
const aware = (stepUp: boolean, steering = 0): ChatEvent => ({
  type: 'Classified',
  hasAnswered: true,
  isAware: true,
  upTo: 1,
  at,
  stepUp,
  steering,
});
const started = (push = 1, txid = `tx${push}`): ChatEvent => ({ type: 'PushStarted', push, txid, at });
const finished = (result: StepUpResult, push = 1, reason = 'why'): ChatEvent => ({
  type: 'PushFinished',
  push,
  result,
  reason,
  at: later(1),
});
const dm = (text: string, minutes = 0): ChatEvent => ({ type: 'DirectMessage', text, at: later(minutes) });

/** Runs events from an active chat with one reply, returning the last step and every effect on the way. */
function run(events: ChatEvent[], chat = active(), r = rules) {
  const effects: Effect[] = [];
  let last = { chat, effects: [] as Effect[] };
  for (const event of events) {
    last = step(last.chat, event, r);
    effects.push(...last.effects);
  }
  return { chat: last.chat, last: last.effects, effects };
}

const closing = (escalate: boolean): Effect[] => [
  { type: 'SendDm', text: THANKS, from: 'bot' },
  escalate ? { type: 'Summarise', escalate: true } : { type: 'Summarise' },
  { type: 'UpdateAlert' },
  { type: 'StartNext' },
];

describe('step-up on "it was me"', () => {
  it('does not end the chat: it asks for a push, and only once the push is out tells the person', () => {
    const asked = run([aware(true)]);
    expect(asked.chat).toMatchObject({ state: 'active', outcome: null, stepUp: { phase: 'pushing', push: 1 } });
    expect(asked.last).toEqual([
      { type: 'PostInThread', kind: 'step_up', text: 'Step-up: sending a Duo push to the person.' },
      { type: 'StartPush', push: 1 },
      { type: 'UpdateAlert' },
    ]);
    const out = run([started()], asked.chat);
    expect(out.chat.stepUp).toMatchObject({ phase: 'waiting', push: 1, txid: 'tx1' });
    expect(out.last).toEqual([
      { type: 'SendDm', text: STEP_UP_ASK, from: 'bot' },
      { type: 'PollPush', push: 1, txid: 'tx1' },
    ]);
    expect(STEP_UP_ASK).toBe(
      'Thanks! One last step: to confirm it was really you, approve the Duo push we just sent to your phone.',
    );
  });

  it('without step-up, or on a "not me", ends as before', () => {
    expect(run([aware(false)]).chat).toMatchObject({ state: 'ended', aware: true });
    expect(run([aware(false)]).chat.verified).toBeUndefined();
    const notMe = run([{ type: 'Classified', hasAnswered: true, isAware: false, upTo: 1, at, stepUp: true }]);
    expect(notMe.chat).toMatchObject({ state: 'ended', aware: false });
    expect(notMe.last).toEqual(closing(false));
  });

  it('approved: ends aware and verified, as today', () => {
    const { chat, last } = run([aware(true), started(), finished('approved')]);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'answered', aware: true, verified: 'approved' });
    expect(stepUpFailed(chat)).toBe(false);
    expect(last).toEqual([
      { type: 'PostInThread', kind: 'step_up', text: 'Step-up: Duo push 1 approved (why).' },
      ...closing(false),
    ]);
  });

  it('approved after a reply that tried to instruct the bot still goes to an analyst', () => {
    const { chat, last } = run([aware(true, 1), started(), finished('approved')]);
    expect(chat.verified).toBe('approved');
    expect(last.at(-3)).toEqual({ type: 'Summarise', escalate: true });
  });

  it.each([
    ['read by the offline rules, no model', { byRules: true }, "no model judged it, and irbot's offline rules"],
    ['on an alert whose own text instructs the bot', { alertSteering: true }, "the alert's own text tries to instruct"],
  ])(
    'approved, on an aware answer %s, still goes to an analyst: a push proves the phone, not the words',
    (_, flag, why) => {
      const { chat, last } = run([{ ...aware(true), ...flag }, started(), finished('approved')]);
      expect(chat.verified).toBe('approved');
      expect(needsReview(chat)).toBe(true);
      expect(reviewWords(chat)).toContain(why);
      expect(last.at(-3)).toEqual({ type: 'Summarise', escalate: true });
    },
  );

  it.each(['denied', 'fraud'] as const)('%s: ends unverified and escalates', (result) => {
    const { chat, last } = run([aware(true), started(), finished(result)]);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'answered', verified: result, stepUp: { reason: 'why' } });
    expect(stepUpFailed(chat)).toBe(true);
    expect(last.slice(1)).toEqual(closing(true));
  });

  it.each(['not_enrolled', 'error'] as const)('%s before any push: ends unverified with the reason, escalated', (r) => {
    const { chat, effects } = run([aware(true), finished(r, 1, 'no device')]);
    expect(chat).toMatchObject({ state: 'ended', verified: r, stepUp: { phase: 'done', reason: 'no device' } });
    expect(effects.some((e) => e.type === 'SendDm' && e.text === STEP_UP_ASK)).toBe(false);
    expect(effects.slice(-4)).toEqual(closing(true));
  });

  it('timeout: the person may reply retry for a new push; approved then, verified', () => {
    const timedOut = run([aware(true), started(), finished('timeout')]);
    expect(timedOut.chat).toMatchObject({ state: 'active', stepUp: { phase: 'timed_out', push: 1 } });
    expect(timedOut.chat.stepUp?.txid).toBeUndefined();
    expect(timedOut.last).toEqual([
      { type: 'PostInThread', kind: 'step_up', text: 'Step-up: Duo push 1 timed out (why).' },
      { type: 'SendDm', text: STEP_UP_TIMED_OUT, from: 'bot' },
      { type: 'UpdateAlert' },
    ]);
    const retried = run([dm(' Retry! ', 2)], timedOut.chat);
    expect(retried.chat.stepUp).toMatchObject({ phase: 'pushing', push: 2 });
    expect(retried.last).toEqual([
      { type: 'PostInThread', kind: 'received', text: ' Retry! ' },
      { type: 'PostInThread', kind: 'step_up', text: 'Step-up: sending Duo push 2 (asked for with retry).' },
      { type: 'StartPush', push: 2 },
    ]);
    const again = run([started(2)], retried.chat);
    expect(again.last[0]).toEqual({ type: 'SendDm', text: STEP_UP_AGAIN, from: 'bot' });
    expect(run([finished('approved', 2)], again.chat).chat.verified).toBe('approved');
  });

  it('timeout with no retries left ends "unverified (push timed out)", escalated', () => {
    const { chat, last } = run([aware(true), started(), finished('timeout'), dm('retry'), started(2)]);
    const end = run([finished('timeout', 2)], chat);
    expect(end.chat).toMatchObject({ state: 'ended', verified: 'timeout' });
    expect(end.last.slice(1)).toEqual(closing(true));
    expect(last).toHaveLength(2); // the new push's DM and poll
    const none = run([aware(true), started(), finished('timeout')], active(), { ...rules, stepUpRetries: 0 });
    expect(none.chat).toMatchObject({ state: 'ended', verified: 'timeout' });
  });

  it('a person who never asks for another push is let go after the nudge wait, unverified', () => {
    const { chat } = run([aware(true), started(), finished('timeout')]);
    expect(step(chat, { type: 'Tick', at: later(30) }, rules).effects).toEqual([]);
    const gone = step(chat, { type: 'Tick', at: later(61) }, rules);
    expect(gone.chat).toMatchObject({ state: 'ended', verified: 'timeout' });
    expect(gone.effects.slice(1)).toEqual(closing(true));
  });

  it('while a push waits: replies are relayed, not judged; retry asks for nothing; silence nudges nobody', () => {
    const { chat } = run([aware(true), started()]);
    const reply = step(chat, dm('approving now', 1), rules);
    expect(reply.effects).toEqual([{ type: 'PostInThread', kind: 'received', text: 'approving now' }]);
    expect(reply.chat).toMatchObject({ personMessages: 2, classifiedUpTo: 2, stepUp: { phase: 'waiting' } });
    expect(step(reply.chat, dm('retry', 2), rules).effects).toEqual([
      { type: 'PostInThread', kind: 'received', text: 'retry' },
    ]);
    expect(step(chat, { type: 'Tick', at: later(600) }, rules).effects).toEqual([]);
    // A verdict that was already on its way changes nothing now.
    const stale = { type: 'Classified', hasAnswered: true, isAware: false, upTo: 2, at, stepUp: true } as const;
    expect(step({ ...chat, personMessages: 2 }, stale, rules).effects).toEqual([]);
  });

  it('ignores stale answers: another push, a push not started, a chat no longer waiting', () => {
    const { chat } = run([aware(true), started()]);
    expect(step(chat, finished('approved', 2), rules).chat).toBe(chat);
    expect(step(chat, started(1, 'tx-again'), rules).chat).toBe(chat);
    const timedOut = run([finished('timeout')], chat).chat;
    expect(step(timedOut, finished('approved', 1), rules).chat).toBe(timedOut);
    const ended = step(chat, { type: 'EndRequested', by: analyst, at }, rules).chat;
    expect(step(ended, finished('approved', 2), rules).chat).toBe(ended);
    expect(ended.verified).toBeUndefined();
  });

  it.each([
    ['approved', null],
    ['fraud', 'denied'],
    ['denied', 'denied'],
  ] as const)(
    'a push still out when an analyst ends the chat is heard: %s, in the thread, escalating as %s',
    (result, outcome) => {
      const { chat } = run([aware(true), started()]);
      const ended = step(chat, { type: 'EndRequested', by: analyst, at }, rules).chat;
      expect(ended).toMatchObject({ state: 'ended', outcome: 'ended_by_analyst', stepUp: { phase: 'waiting' } });
      const { chat: heard, effects } = step(ended, finished(result), rules);
      expect(heard).toMatchObject({ state: 'ended', outcome: 'ended_by_analyst', verified: result });
      expect(heard.stepUp?.phase).toBe('done');
      expect(effects[0]).toMatchObject({ type: 'PostInThread', kind: 'step_up' });
      expect((effects[0] as { text: string }).text).toContain('(after the chat was ended)');
      expect(effects.some((e) => e.type === 'SendDm')).toBe(false);
      expect(outcomeOf(heard)).toBe(outcome);
      // Heard once: a second answer is stale.
      expect(step(heard, finished('approved'), rules).chat).toBe(heard);
    },
  );

  it('a push sent as the analyst ended the chat is followed, without a word more to the person', () => {
    const pushing = run([aware(true)]).chat;
    const ended = step(pushing, { type: 'EndRequested', by: analyst, at }, rules).chat;
    const { chat, effects } = step(ended, started(), rules);
    expect(chat.stepUp).toMatchObject({ phase: 'waiting', txid: 'tx1' });
    expect(effects).toEqual([{ type: 'PollPush', push: 1, txid: 'tx1' }]);
  });

  it('lets a person who does not ask for another push go after the nudge wait in working time, with working hours', () => {
    const hours = { start: 9 * 60, end: 17 * 60, days: [1, 2, 3, 4, 5] };
    const r: Rules = { ...rules, workingHours: hours };
    // Friday 2026-11-27 in UTC, the person's zone: their day ends at 17:00.
    const friday = (hhmm: string) => `2026-11-27T${hhmm}:00.000Z`;
    const { chat } = run(
      [
        { type: 'StartRequested', by: analyst, at: friday('16:30'), personBusy: false, person: { zone: 'UTC' } },
        { type: 'DirectMessage', text: 'yes that was me', at: friday('16:40') },
        { type: 'Classified', hasAnswered: true, isAware: true, upTo: 1, at: friday('16:40'), stepUp: true },
        { type: 'PushStarted', push: 1, txid: 'tx1', at: friday('16:49') },
        { type: 'PushFinished', push: 1, result: 'timeout', reason: 'no answer within 60 s', at: friday('16:50') },
        // Ten working minutes since, at 17:51: not an unverified page at night.
        { type: 'Tick', at: friday('17:51') },
      ],
      newChat(),
      r,
    );
    expect(chat).toMatchObject({ state: 'active', stepUp: { phase: 'timed_out' } });
    // Monday 09:50 is sixty working minutes after it.
    expect(step(chat, { type: 'Tick', at: '2026-11-30T09:50:00.000Z' }, r).chat).toMatchObject({
      state: 'ended',
      verified: 'timeout',
    });
  });

  it.each([0, 1])(
    'a push irbot stopped while sending (retries = %i) leaves the person a retry: its restart is no reason to escalate',
    (retries) => {
      const r: Rules = { ...rules, stepUpRetries: retries };
      const cut: ChatEvent = {
        type: 'PushFinished',
        push: retries + 1,
        result: 'timeout',
        reason: 'irbot stopped while sending it',
        at: later(1),
        interrupted: true,
      };
      // retries = 1: push 1 timed out, the person asked for another, and irbot restarted while sending push 2.
      const before: ChatEvent[] = retries === 1 ? [started(), finished('timeout'), dm('retry', 2)] : [];
      const { chat } = run([aware(true), ...before, cut], active(), r);
      expect(chat).toMatchObject({ state: 'active', stepUp: { phase: 'timed_out', push: retries + 1 } });
      // The push after it is the last: its timeout ends the chat.
      const again = run([dm('retry', 3), started(retries + 2), finished('timeout', retries + 2)], chat, r).chat;
      expect(again).toMatchObject({ state: 'ended', verified: 'timeout' });
    },
  );

  it('an interrupted first push uses up no retry either: the person still has theirs after the next one times out', () => {
    const cut: ChatEvent = {
      type: 'PushFinished',
      push: 1,
      result: 'timeout',
      reason: 'irbot stopped while sending it',
      at: later(1),
      interrupted: true,
    };
    // retries = 1: push 1 cut short, push 2 the first to reach the phone, timed out: one retry left.
    const { chat } = run([aware(true), cut, dm('retry', 2), started(2), finished('timeout', 2)]);
    expect(chat).toMatchObject({ state: 'active', stepUp: { phase: 'timed_out', push: 2, interrupted: 1 } });
    const last = run([dm('retry', 3), started(3), finished('timeout', 3)], chat).chat;
    expect(last).toMatchObject({ state: 'ended', verified: 'timeout' });
  });
});
