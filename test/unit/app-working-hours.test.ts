// app.ts on the person's clock, with in-memory ports and a fake clock: a chat started at night waits for the
// person's working hour, starts through the tick or Start Chat now, and gives up after max_wait_hours.
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { NOT_ALLOWED, NOT_YOURS } from '../../src/access.js';
import { renderStatus, statusRows } from '../../src/cli/render.js';
import { ACTION_IDS } from '../../src/slack/blocks.js';
import type { Inbound } from '../../src/slack/envelope.js';
import type { AlertRecord } from '../../src/store/port.js';
import { fakeClock, PIVOT, testApp } from '../support/memory-ports.js';

const OFFICE = { start: 9 * 60, end: 18 * 60, days: [1, 2, 3, 4, 5] };
const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
let clicks = 0;

/** An App with working hours, its clock set to `at` (Thursday 22:40 in Paris by default). */
async function atNight(opts: { at?: string; template?: typeof PIVOT & { urgent?: boolean }; overrides?: object } = {}) {
  const clock = fakeClock(opts.at ?? '2026-11-26T21:40:00.000Z');
  const t = testApp({ workingHours: OFFICE, maxWaitMs: 12 * 3_600_000, ...opts.overrides }, undefined, undefined, {
    clock: clock.now,
  });
  const { app } = t;
  const { alert } = await app.postAlert(opts.template ?? PIVOT);
  const press = (userId: string, action: 'start' | 'start_now' | 'end' = 'start'): Inbound => ({
    kind: 'button',
    action,
    alertId: alert.id,
    userId,
    channelId: 'C0FEED',
    messageTs: alert.ts ?? undefined,
    dedupeKey: `action:${action}:${userId}:${alert.id}:${++clicks}`,
  });
  const record = () => t.store.data().alerts[alert.id] as AlertRecord;
  const dms = () => t.slack.calls.filter((c) => c.method === 'post' && c.channel === alert.userId);
  const thread = () => t.slack.calls.filter((c) => c.method === 'post' && c.threadTs === alert.ts).map((c) => c.text);
  const lastUpdate = () => JSON.stringify(t.slack.calls.filter((c) => c.method === 'update').at(-1)?.blocks ?? []);
  return { ...t, app, clock, alert, press, record, dms, thread, lastUpdate };
}

describe('a chat started outside the person’s working hours', () => {
  it('is scheduled: no DM, the alert message and thread say when, status shows it; the tick starts it at 09:00', async () => {
    const t = await atNight();
    await t.app.handleInbound(t.press('U0ANALYST'));
    expect(t.record().chat.state).toBe('scheduled');
    expect(t.record().personTz).toEqual({ tz: 'Europe/Paris', offset: 3600 });
    expect(t.dms()).toHaveLength(0);
    expect(t.lastUpdate()).toContain(
      '<@U0HAROLD> is outside working hours (Europe/Paris, 22:40); the chat starts at 09:00 their time. :crescent_moon:',
    );
    expect(t.lastUpdate()).toContain(ACTION_IDS.startNow);
    expect(t.thread()).toContain(
      '_The person is outside working hours (Europe/Paris, 22:40); the chat starts at 09:00 their time._',
    );
    const [row] = statusRows(Object.values(t.store.data().alerts), { all: false });
    expect(row).toMatchObject({ state: 'scheduled', starts_at: '2026-11-27T08:00:00.000Z', zone: 'Europe/Paris' });
    expect(renderStatus(row ? [row] : [], new Chalk({ level: 0 }), { all: false })).toContain(
      'scheduled: starts 2026-11-27 08:00 UTC (Fri 09:00 Europe/Paris)',
    );

    t.clock.advance(Date.parse('2026-11-27T08:00:00.000Z') - Date.parse('2026-11-26T21:40:00.000Z') - 1); // 08:59:59.999 in Paris
    await t.app.sweep();
    expect(t.dms()).toHaveLength(0);
    t.clock.advance(1);
    await Promise.all([t.app.sweep(), t.app.sweep()]);
    await t.app.idle();
    expect(t.dms()).toHaveLength(1); // the greeting, once however many sweeps
    expect(t.record().chat).toMatchObject({ state: 'active', startedAt: '2026-11-26T21:40:00.000Z' });
    expect(t.record().chat.schedule?.ended).toEqual({ how: 'hours', at: '2026-11-27T08:00:00.000Z' });
    expect(t.logs).toContain(`alert ${t.alert.id}: working hours began, chat started`);
  });

  it('starts with Start Chat now, pressed by a responder; never by the alert’s person or a non-responder', async () => {
    // Harold is listed too: the alert's own person is refused whatever `responders` says.
    const t = await atNight({ overrides: { responders: ['U0ANALYST', 'U0HAROLD'] } });
    await t.app.handleInbound(t.press('U0ANALYST'));
    await t.app.handleInbound(t.press('U0HAROLD', 'start_now'));
    await t.app.handleInbound(t.press('U0ALICE', 'start_now'));
    const ephemerals = t.slack.calls.filter((c) => c.method === 'ephemeral').map((c) => c.text);
    expect(ephemerals).toEqual([NOT_YOURS, NOT_ALLOWED]);
    expect(t.record().chat.state).toBe('scheduled');
    expect(t.dms()).toHaveLength(0);

    await t.app.handleInbound(t.press('U0ANALYST', 'start_now'));
    await t.app.idle();
    expect(t.record().chat).toMatchObject({ state: 'active', schedule: { ended: { how: 'now', by: analyst } } });
    expect(t.dms()).toHaveLength(1);
    expect(t.lastUpdate()).toContain('<@U0ANALYST> started it now, outside the person');
    expect(t.lastUpdate()).not.toContain(ACTION_IDS.startNow);
  });

  it('ends as no answer after max_wait_hours when no working hour comes, and escalates with the reason', async () => {
    // Friday 22:40 in Paris: Monday is too far.
    const t = await atNight({
      at: '2026-11-27T21:40:00.000Z',
      overrides: { escalateOn: ['no_answer'], escalationMention: '<@U0LEAD>' },
    });
    await t.app.handleInbound(t.press('U0ANALYST'));
    expect(t.lastUpdate()).toContain('That is more than max_wait_hours (12 h) away');
    t.clock.advance(12 * 60 * 60_000);
    await t.app.tick();
    await t.app.idle();
    expect(t.record().chat).toMatchObject({ state: 'ended', outcome: 'no_answer' });
    expect(t.record().escalation).toMatchObject({
      outcome: 'no_answer',
      reason: 'Harold was outside working hours for max_wait_hours (12 h), so the chat never started (Pivoting)',
    });
    const pings = t.thread().filter((text) => text?.includes('Escalated'));
    expect(pings).toHaveLength(1);
    expect(pings[0]).toContain('<@U0LEAD>');
    expect(t.dms()).toHaveLength(0);
    expect(t.lastUpdate()).toContain('no answer from <@U0HAROLD>: outside working hours for max_wait_hours (12 h)');
  });

  it('reads an unknown zone as UTC, with a note on the alert message and in the thread', async () => {
    const t = await atNight({ template: { ...PIVOT, userId: 'U0HFINCH' } });
    await t.app.handleInbound(t.press('U0ANALYST'));
    expect(t.record().chat.schedule).toMatchObject({ zone: 'UTC', zoneUnknown: true });
    expect(t.lastUpdate()).toContain('(UTC, 21:40); the chat starts at 09:00 their time');
    expect(t.lastUpdate()).toContain('Slack has no time zone for this person');
    expect(t.thread().at(-1)).toContain('irbot reads their working hours in UTC');
  });

  it('starts at once for an urgent alert', async () => {
    const t = await atNight({ template: { ...PIVOT, urgent: true } });
    await t.app.handleInbound(t.press('U0ANALYST'));
    await t.app.idle();
    expect(t.record()).toMatchObject({ urgent: true, chat: { state: 'active' } });
    expect(t.dms()).toHaveLength(1);
  });
});

describe('the person’s clock, from a review', () => {
  /** A second alert about Harold on the App of `t`, and a press on it. */
  async function another(t: Awaited<ReturnType<typeof atNight>>, template: typeof PIVOT & { urgent?: boolean }) {
    const { alert } = await t.app.postAlert(template);
    const press = (action: 'start' | 'end' = 'start'): Inbound => ({
      kind: 'button',
      action,
      alertId: alert.id,
      userId: 'U0ANALYST',
      channelId: 'C0FEED',
      messageTs: alert.ts ?? undefined,
      dedupeKey: `action:${action}:${alert.id}:${++clicks}`,
    });
    return { alert, press, record: () => t.store.data().alerts[alert.id] as AlertRecord };
  }

  it('an urgent alert does not wait behind a chat waiting for working hours; that one waits its turn then', async () => {
    const t = await atNight();
    await t.app.handleInbound(t.press('U0ANALYST'));
    expect(t.record().chat.state).toBe('scheduled');
    const urgent = await another(t, { ...PIVOT, id: 'admin-role', urgent: true });
    await t.app.handleInbound(urgent.press());
    await t.app.idle();
    expect(urgent.record().chat.state).toBe('active');
    expect(t.dms()).toHaveLength(1);
    // Friday 09:00 in Paris: the urgent chat goes on, so the routine one is queued rather than started beside it.
    t.clock.advance(Date.parse('2026-11-27T08:00:00.000Z') - Date.parse('2026-11-26T21:40:00.000Z'));
    await t.app.sweep();
    await t.app.idle();
    expect(t.record().chat.state).toBe('queued');
    const greetings = () => t.dms().filter((c) => c.text?.includes('Hi Harold'));
    expect(greetings()).toHaveLength(1); // the urgent chat's (it has nudged since, on wall-clock time)
    // The urgent chat ends: the routine one starts, within the person's hours.
    await t.app.handleInbound(urgent.press('end'));
    await t.app.idle();
    expect(t.record().chat.state).toBe('active');
    expect(greetings()).toHaveLength(2);
  });

  it('a chat due while no process ran greets nobody at 03:00 on Saturday: it ends as no answer', async () => {
    const t = await atNight();
    await t.app.handleInbound(t.press('U0ANALYST'));
    expect(t.record().chat.schedule?.startsAt).toBe('2026-11-27T08:00:00.000Z');
    // listen was down from Thursday night until Saturday 03:00 in Paris.
    t.clock.advance(Date.parse('2026-11-28T02:00:00.000Z') - Date.parse('2026-11-26T21:40:00.000Z'));
    await t.app.sweep();
    await t.app.idle();
    expect(t.dms()).toHaveLength(0);
    expect(t.record().chat).toMatchObject({ state: 'ended', outcome: 'no_answer' });
  });

  it('a queued chat whose zone Slack did not give waits for working hours on UTC when its turn comes at night', async () => {
    const t = await atNight({ template: { ...PIVOT, urgent: true } });
    await t.app.handleInbound(t.press('U0ANALYST'));
    expect(t.record().chat.state).toBe('active');
    // users.info fails for the second start (a rate limit, the network): the chat reads the hours in UTC.
    t.slack.userZone = async () => {
      throw new Error('users.info: ratelimited');
    };
    const second = await another(t, { ...PIVOT, id: 'privesc' });
    await t.app.handleInbound(second.press());
    expect(second.record().chat.state).toBe('queued');
    const before = t.dms().length;
    await t.app.handleInbound(t.press('U0ANALYST', 'end')); // 21:40 UTC: outside the hours in either zone
    await t.app.idle();
    expect(second.record().chat).toMatchObject({ state: 'scheduled', schedule: { zone: 'UTC', zoneUnknown: true } });
    expect(
      t
        .dms()
        .slice(before)
        .map((c) => c.text),
    ).toEqual(['Thanks for your time!']);
  });
});
