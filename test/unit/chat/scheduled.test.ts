// The engine on the person's clock: a chat started outside their working hours waits, then starts or gives up.
import { describe, expect, it } from 'vitest';
import { newChat, step } from '../../../src/chat/engine.js';
import type { Actor, Chat, ChatEvent, Rules } from '../../../src/chat/types.js';

const OFFICE = { start: 9 * 60, end: 18 * 60, days: [1, 2, 3, 4, 5] };
const rules: Rules = { maxNudges: 2, nudgeAfterMs: 60 * 60_000, workingHours: OFFICE, maxWaitMs: 12 * 3_600_000 };
const analyst: Actor = { id: 'U0ANALYST', via: 'slack' };
const PARIS = { zone: 'Europe/Paris' };
/** Thursday 26 November 2026, 22:40 in Paris. */
const NIGHT = '2026-11-26T21:40:00.000Z';
const start = (at: string, extra: Partial<Extract<ChatEvent, { type: 'StartRequested' }>> = {}): ChatEvent => ({
  type: 'StartRequested',
  by: analyst,
  at,
  personBusy: false,
  person: PARIS,
  ...extra,
});
const tick = (at: string): ChatEvent => ({ type: 'Tick', at });
const scheduledAt = (at = NIGHT, r = rules): Chat => step(newChat(), start(at), r).chat;

describe('scheduling', () => {
  it('waits for the next working hour of a person where it is night, and says so in the thread', () => {
    const { chat, effects } = step(newChat(), start(NIGHT), rules);
    expect(chat).toMatchObject({
      state: 'scheduled',
      startedBy: analyst,
      startedAt: NIGHT,
      zone: 'Europe/Paris',
      schedule: {
        zone: 'Europe/Paris',
        at: NIGHT,
        startsAt: '2026-11-27T08:00:00.000Z',
        deadline: '2026-11-27T09:40:00.000Z',
      },
    });
    expect(effects).toEqual([
      { type: 'UpdateAlert' },
      {
        type: 'PostInThread',
        kind: 'note',
        text: 'The person is outside working hours (Europe/Paris, 22:40); the chat starts at 09:00 their time.',
      },
    ]);
  });

  it('starts at once within working hours, for an urgent alert, and without working hours', () => {
    const friday = '2026-11-27T10:00:00.000Z';
    expect(step(newChat(), start(friday), rules).chat.state).toBe('active');
    expect(step(newChat(), start(NIGHT, { urgent: true }), rules).effects).toEqual([
      { type: 'UpdateAlert' },
      { type: 'Greet' },
    ]);
    const always = { maxNudges: 2, nudgeAfterMs: 60 * 60_000 };
    expect(step(newChat(), start(NIGHT), always).chat).not.toHaveProperty('zone');
    expect(step(newChat(), start(NIGHT), always).chat.state).toBe('active');
  });

  it('notes an unknown zone, read as UTC', () => {
    const { chat, effects } = step(newChat(), start(NIGHT, { person: { zone: 'UTC', unknown: true } }), rules);
    expect(chat.schedule).toMatchObject({ zone: 'UTC', zoneUnknown: true, startsAt: '2026-11-27T09:00:00.000Z' });
    expect(effects[1]).toEqual({
      type: 'PostInThread',
      kind: 'note',
      text:
        'The person is outside working hours (UTC, 21:40); the chat starts at 09:00 their time. ' +
        'Slack has no time zone for this person, so irbot reads their working hours in UTC.',
    });
  });

  it('a queued chat dequeued outside working hours waits too', () => {
    const queued = step(newChat(), start(NIGHT, { personBusy: true }), rules).chat;
    expect(queued.state).toBe('queued');
    const held = step(queued, { type: 'AnalystMessage', text: 'hi', by: analyst, at: NIGHT }, rules).chat;
    const dequeued = step(held, { type: 'Dequeued', at: NIGHT, person: PARIS }, rules);
    expect(dequeued.chat.state).toBe('scheduled');
    const started = step(dequeued.chat, tick('2026-11-27T08:00:00.000Z'), rules);
    expect(started.effects).toEqual([
      { type: 'UpdateAlert' },
      { type: 'Greet' },
      { type: 'SendDm', text: 'hi', from: 'analyst', by: 'U0ANALYST' },
    ]);
  });
});

describe('a scheduled chat', () => {
  it('starts through the tick once the working hour comes, not before', () => {
    const chat = scheduledAt();
    expect(step(chat, tick('2026-11-27T07:59:59.999Z'), rules).effects).toEqual([]);
    const { chat: started, effects } = step(chat, tick('2026-11-27T08:00:00.000Z'), rules);
    expect(started).toMatchObject({
      state: 'active',
      quietSince: '2026-11-27T08:00:00.000Z',
      startedAt: NIGHT,
      schedule: { ended: { how: 'hours', at: '2026-11-27T08:00:00.000Z' } },
    });
    expect(effects).toEqual([{ type: 'UpdateAlert' }, { type: 'Greet' }]);
  });

  it('waits over a weekend no longer than max_wait_hours, then ends as no answer with the reason', () => {
    // Friday 22:40 in Paris: Monday 09:00 is 58 h away, over the 12 h allowed.
    const friday = '2026-11-27T21:40:00.000Z';
    const { chat, effects } = step(newChat(), start(friday), rules);
    expect(chat.schedule).toMatchObject({ startsAt: '2026-11-30T08:00:00.000Z', deadline: '2026-11-28T09:40:00.000Z' });
    expect(effects[1]).toMatchObject({
      text: expect.stringContaining(
        'the chat starts at Mon 09:00 their time. That is more than max_wait_hours (12 h) away: unless someone presses Start Chat now, it ends as no answer at 2026-11-28 09:40 UTC.',
      ),
    });
    expect(step(chat, tick('2026-11-28T09:39:59.999Z'), rules).effects).toEqual([]);
    const ended = step(chat, tick('2026-11-28T09:40:00.000Z'), rules);
    expect(ended.chat).toMatchObject({
      state: 'ended',
      outcome: 'no_answer',
      schedule: { ended: { how: 'expired' } },
    });
    expect(ended.effects).toEqual([
      { type: 'UpdateAlert' },
      {
        type: 'PostInThread',
        kind: 'note',
        text: 'The chat ended as no answer: the person was outside working hours for max_wait_hours (12 h), so the chat never started.',
      },
      { type: 'PostInThread', kind: 'escalation', text: '' },
      { type: 'StartNext' },
    ]);
    // A process down past Monday morning does not start it either: the deadline came first.
    expect(step(chat, tick('2026-11-30T10:00:00.000Z'), rules).chat.state).toBe('ended');
  });

  it('waits on when the process was down through the working period it waited for; ends once past the deadline', () => {
    // Scheduled for Friday 09:00 Paris with a day to wait; the first tick comes Friday 19:00, after work.
    const day = { ...rules, maxWaitMs: 48 * 3_600_000 };
    const waiting = scheduledAt(NIGHT, day);
    const evening = step(waiting, tick('2026-11-27T18:00:00.000Z'), day);
    expect(evening.chat).toMatchObject({ state: 'scheduled', schedule: { startsAt: '2026-11-30T08:00:00.000Z' } });
    expect(evening.effects).toEqual([{ type: 'UpdateAlert' }]);
    // With the default twelve hours, a first tick on Saturday 03:00 is past the deadline: no answer, never a DM.
    const saturday = step(scheduledAt(), tick('2026-11-28T02:00:00.000Z'), rules);
    expect(saturday.chat).toMatchObject({ state: 'ended', outcome: 'no_answer' });
    expect(saturday.effects.map((e) => e.type)).not.toContain('Greet');
    // A tick within the working period starts it, however late.
    expect(step(waiting, tick('2026-11-27T15:00:00.000Z'), day).chat.state).toBe('active');
  });

  it('waits its turn, queued, when its hour comes while another chat of the person is under way', () => {
    const busy = step(scheduledAt(), { type: 'Tick', at: '2026-11-27T08:00:00.000Z', personBusy: true }, rules);
    expect(busy.chat.state).toBe('queued');
    expect(busy.effects).toEqual([{ type: 'UpdateAlert' }]);
    // Dequeued within the hours when that one ends, it starts.
    const dequeued = step(busy.chat, { type: 'Dequeued', at: '2026-11-27T09:00:00.000Z', person: PARIS }, rules);
    expect(dequeued.chat.state).toBe('active');
  });

  it('starts at once with Start Chat now, counting silence in wall-clock time from then', () => {
    const now = '2026-11-26T21:45:00.000Z';
    const { chat, effects } = step(scheduledAt(), { type: 'StartNowRequested', by: analyst, at: now }, rules);
    expect(chat).toMatchObject({ state: 'active', quietSince: now, schedule: { ended: { how: 'now', by: analyst } } });
    expect(chat).not.toHaveProperty('zone');
    expect(effects).toEqual([{ type: 'UpdateAlert' }, { type: 'Greet' }]);
    expect(step(chat, tick('2026-11-26T22:45:00.000Z'), rules).effects).toEqual([{ type: 'Nudge' }]);
    // Only a scheduled chat starts "now".
    expect(step(chat, { type: 'StartNowRequested', by: analyst, at: now }, rules).effects).toEqual([]);
    expect(step(newChat(), { type: 'StartNowRequested', by: analyst, at: now }, rules).effects).toEqual([]);
  });

  it('ends by an analyst without contacting the person, and frees them for their next chat', () => {
    const { chat, effects } = step(scheduledAt(), { type: 'EndRequested', by: analyst, at: NIGHT }, rules);
    expect(chat).toMatchObject({ state: 'ended', outcome: 'ended_by_analyst' });
    expect(effects).toEqual([{ type: 'UpdateAlert' }, { type: 'StartNext' }]);
  });
});

describe('nudges on the person’s clock', () => {
  it('count working time only: a chat started at 17:30 on Friday is nudged at 09:30 on Monday', () => {
    const friday = '2026-11-27T16:30:00.000Z'; // 17:30 in Paris
    const { chat } = step(newChat(), start(friday), rules);
    expect(chat.state).toBe('active');
    expect(step(chat, tick('2026-11-27T23:00:00.000Z'), rules).effects).toEqual([]);
    expect(step(chat, tick('2026-11-30T08:29:59.999Z'), rules).effects).toEqual([]);
    expect(step(chat, tick('2026-11-30T08:30:00.000Z'), rules).effects).toEqual([{ type: 'Nudge' }]);
  });

  it('count wall-clock time for an urgent alert', () => {
    const { chat } = step(newChat(), start('2026-11-27T16:30:00.000Z', { urgent: true }), rules);
    expect(step(chat, tick('2026-11-27T17:30:00.000Z'), rules).effects).toEqual([{ type: 'Nudge' }]);
  });
});
