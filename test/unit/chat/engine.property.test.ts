// Properties of the engine over any sequence of events (fast-check): the promises a security team relies on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isClosed, needsReview, newChat, STEERING_NOTE, step, stepUpFailed } from '../../../src/chat/engine.js';
import type { Actor, Chat, ChatEvent, Effect, Rules } from '../../../src/chat/types.js';
import type { StepUpResult } from '../../../src/verify/port.js';

const base = Date.parse('2026-11-27T10:00:00.000Z');
const actor: fc.Arbitrary<Actor> = fc.record({
  id: fc.constantFrom('U0ANALYST', 'U0LEAD', 'sam'),
  via: fc.constantFrom('slack' as const, 'terminal' as const),
});
const at = fc.integer({ min: 0, max: 10 * 24 * 60 }).map((minutes) => new Date(base + minutes * 60_000).toISOString());

/** The person's clock, as the shell gives it when working hours are set (a zone where it is night, or UTC). */
const person = fc.record(
  { zone: fc.constantFrom('Europe/Paris', 'Pacific/Auckland', 'UTC'), unknown: fc.boolean() },
  { requiredKeys: ['zone'] },
);

const event: fc.Arbitrary<ChatEvent> = fc.oneof(
  fc.record(
    {
      type: fc.constant('StartRequested' as const),
      by: actor,
      at,
      personBusy: fc.boolean(),
      person,
      urgent: fc.boolean(),
    },
    { requiredKeys: ['type', 'by', 'at', 'personBusy'] },
  ),
  fc.record({ type: fc.constant('Dequeued' as const), at, person }, { requiredKeys: ['type', 'at'] }),
  fc.record({ type: fc.constant('StartNowRequested' as const), by: actor, at }),
  fc.record({ type: fc.constant('DismissRequested' as const), by: actor, at }),
  fc.record({ type: fc.constant('EndRequested' as const), by: actor, at }),
  fc.record({ type: fc.constant('DirectMessage' as const), text: fc.oneof(fc.string(), fc.constant('retry')), at }),
  fc.record({ type: fc.constant('LateMessage' as const), text: fc.string(), at }),
  fc.record({ type: fc.constant('EarlyMessage' as const), text: fc.string(), at }),
  fc.record({ type: fc.constant('AnalystMessage' as const), text: fc.string(), by: actor, at }),
  fc.record({
    type: fc.constant('Classified' as const),
    hasAnswered: fc.boolean(),
    isAware: fc.boolean(),
    upTo: fc.integer({ min: 0, max: 12 }),
    at,
    steering: fc.integer({ min: 0, max: 3 }),
    stepUp: fc.boolean(),
    byRules: fc.boolean(),
  }),
  fc.record({ type: fc.constant('PushStarted' as const), push: fc.integer({ min: 1, max: 3 }), txid: fc.string(), at }),
  fc.record({
    type: fc.constant('PushFinished' as const),
    push: fc.integer({ min: 1, max: 3 }),
    result: fc.constantFrom(
      'approved',
      'denied',
      'fraud',
      'timeout',
      'not_enrolled',
      'error',
    ) as fc.Arbitrary<StepUpResult>,
    reason: fc.constant('why'),
    at,
  }),
  fc.record({ type: fc.constant('Tick' as const), at, personBusy: fc.boolean() }, { requiredKeys: ['type', 'at'] }),
  fc.record({
    type: fc.constant('Failed' as const),
    reason: fc.constantFrom('channel_not_found', 'invalid_auth'),
    at,
    feedReachable: fc.boolean(),
  }),
);

const rules = fc.record(
  {
    maxNudges: fc.integer({ min: 0, max: 5 }),
    nudgeAfterMs: fc.integer({ min: 1, max: 3 * 60 }).map((m) => m * 60_000),
    stepUpRetries: fc.integer({ min: 0, max: 2 }),
    workingHours: fc.constantFrom(
      { start: 9 * 60, end: 18 * 60, days: [1, 2, 3, 4, 5] },
      { start: 0, end: 60, days: [0] },
    ),
    maxWaitMs: fc.integer({ min: 1, max: 72 }).map((h) => h * 3_600_000),
  },
  { requiredKeys: ['maxNudges', 'nudgeAfterMs', 'stepUpRetries'] },
);

const toPerson = (e: Effect) => e.type === 'Greet' || e.type === 'Nudge' || e.type === 'SendDm';

function run(events: ChatEvent[], r: Rules) {
  let chat: Chat = newChat();
  const history: { before: Chat; after: Chat; effects: Effect[] }[] = [];
  for (const e of events) {
    const result = step(chat, e, r);
    history.push({ before: chat, after: result.chat, effects: result.effects });
    chat = result.chat;
  }
  return history;
}

describe('engine properties', () => {
  it('for any sequence of events: ends at most once, one summary at most, silent after the end but for late replies relayed, nudges bounded', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), rules, (events, r) => {
        const history = run(events, r);
        const closings = history.filter((h) => !isClosed(h.before) && isClosed(h.after));
        expect(closings.length).toBeLessThanOrEqual(1);
        const effects = history.flatMap((h) => h.effects);
        expect(effects.filter((e) => e.type === 'Summarise').length).toBeLessThanOrEqual(1);
        expect(effects.filter((e) => e.type === 'Greet').length).toBeLessThanOrEqual(1);
        for (const h of history) {
          if (isClosed(h.before)) {
            // A reply the person sent after the end is relayed in the thread; nothing else happens.
            expect(h.effects.filter((e) => !(e.type === 'PostInThread' && e.kind === 'late'))).toEqual([]);
            expect(h.after).toBe(h.before);
          } else {
            expect(h.effects.filter((e) => e.type === 'PostInThread' && e.kind === 'late')).toEqual([]);
          }
          // A line written before the chat reached the person is shown, never judged: nothing else comes of it.
          const early = h.effects.filter((e) => e.type === 'PostInThread' && e.kind === 'early');
          if (early.length > 0) {
            expect(h.effects).toEqual(early);
            expect(h.after).toBe(h.before);
          }
          expect(h.after.nudges).toBeLessThanOrEqual(r.maxNudges);
          // A chat waiting for the person's working hours sends them nothing.
          if (h.after.state === 'scheduled') expect(h.effects.filter(toPerson)).toEqual([]);
        }
        expect(effects.filter((e) => e.type === 'Nudge').length).toBeLessThanOrEqual(r.maxNudges);
        const closed = history.findIndex((h) => isClosed(h.after));
        if (closed >= 0) {
          expect(
            history
              .slice(closed + 1)
              .flatMap((h) => h.effects)
              .filter(toPerson),
          ).toEqual([]);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('once a reply tried to instruct the bot: noted in the thread first, and never closed as plainly aware', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), rules, (events, r) => {
        const history = run(events, r);
        let steered = false;
        for (const h of history) {
          const before = h.before.steering ?? 0;
          const after = h.after.steering ?? 0;
          expect(after).toBeGreaterThanOrEqual(before);
          const noted = h.effects.filter((e) => e.type === 'PostInThread' && e.text === STEERING_NOTE);
          expect(noted).toHaveLength(after > before ? 1 : 0);
          if (after > before) expect(h.effects[0]).toEqual(noted[0]);
          steered ||= after > 0;
          const closedAware = h.after.outcome === 'answered' && h.after.aware === true && !isClosed(h.before);
          if (closedAware) {
            expect(needsReview(h.after)).toBe(steered);
            const unconfirmed = stepUpFailed(h.after);
            expect(h.effects.some((e) => e.type === 'Summarise' && e.escalate === true)).toBe(steered || unconfirmed);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never contacts a person before a chat was started, and never after Do Nothing', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), rules, (events, r) => {
        const history = run(events, r);
        for (const h of history) {
          // A queued chat that starts (Dequeued) sends the lines an analyst typed meanwhile, after the greeting.
          const started = h.before.state === 'queued' && h.after.state === 'active';
          if (
            (h.before.state === 'posted' || h.before.state === 'queued' || h.before.state === 'dismissed') &&
            !started
          ) {
            expect(h.effects.filter((e) => e.type === 'SendDm' || e.type === 'Nudge')).toEqual([]);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('with step-up on, never ends aware without an approved push of the push it waited for; else escalates', () => {
    const stepUpOn = event.map((e) => (e.type === 'Classified' ? { ...e, stepUp: true } : e));
    fc.assert(
      fc.property(fc.array(stepUpOn, { maxLength: 60 }), rules, (events, r) => {
        const history = run(events, r);
        for (const h of history) {
          if (isClosed(h.before) || h.after.outcome !== 'answered' || h.after.aware !== true) continue;
          const waited = h.before.stepUp;
          expect(waited).toBeDefined();
          const approved = events.find((e, i) => history[i] === h && e.type === 'PushFinished');
          if (h.after.verified === 'approved') {
            expect(approved).toMatchObject({ result: 'approved', push: waited?.push });
            expect(waited?.phase).toBe('waiting');
          } else {
            expect(h.after.verified).not.toBeNull();
            expect(h.effects).toContainEqual({ type: 'Summarise', escalate: true });
          }
        }
        // Pushes are asked for in order, one at a time, at most 1 + retries of them.
        const pushes = history.flatMap((h) => h.effects).filter((e) => e.type === 'StartPush');
        expect(pushes.map((e) => (e as { push: number }).push)).toEqual(pushes.map((_, i) => i + 1));
        expect(pushes.length).toBeLessThanOrEqual(1 + r.stepUpRetries);
      }),
      { numRuns: 2000 },
    );
  });
});
