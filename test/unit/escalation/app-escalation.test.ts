// app.ts escalating closed chats with in-memory ports: once per alert, after the summary, by outcome and `on`.
import { describe, expect, it } from 'vitest';
import { type AppOptions, RELAY_SEPARATOR } from '../../../src/app.js';
import { ESCALATION_OUTCOMES, type SinkConfig } from '../../../src/config/types.js';
import { sinkTarget } from '../../../src/deliver/events.js';
import type { Inbound } from '../../../src/slack/envelope.js';
import { PIVOT, replyTs, slackError, testApp } from '../../support/memory-ports.js';

const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
const HOUR = 60 * 60_000;
let eventSeq = 0;
const dm = (text: string): Inbound => ({
  kind: 'dm',
  eventId: `Ev${++eventSeq}`,
  userId: 'U0HAROLD',
  channelId: 'D0HAROLD',
  text,
  ts: replyTs(),
});

async function started(overrides: Partial<AppOptions> = {}) {
  const t = testApp({
    escalateOn: ['not_aware', 'denied', 'unverified'],
    escalationMention: '<!subteam^S0SECOPS>',
    ...overrides,
  });
  const { alert } = await t.app.postAlert(PIVOT);
  await t.app.request(alert.id, 'start', analyst);
  // One entry per post of the thread, whether it went out alone or coalesced with the ones queued beside it.
  const thread = () =>
    t.slack.calls
      .filter((c) => c.method === 'post' && c.threadTs === alert.ts)
      .flatMap((c) => (c.text ?? '').split(RELAY_SEPARATOR));
  const record = () => t.store.data().alerts[alert.id];
  return { ...t, alert, thread, record };
}

describe('escalation', () => {
  it('pings the mention once in the thread, after the summary, with the reason and the verdict', async () => {
    const t = await started({ pagerduty: true });
    await t.app.handleInbound(dm('no, that was not me'));
    await t.app.idle();
    expect(t.record()?.chat).toMatchObject({ state: 'ended', outcome: 'answered', aware: false });
    expect(t.record()?.escalation).toEqual({
      outcome: 'not_aware',
      reason: 'Harold was not aware of Pivoting',
      severity: 'error',
      at: expect.any(String),
      mention: '<!subteam^S0SECOPS>',
      pagerduty: true,
    });
    const pings = t.thread().filter((text) => text.includes('Escalated'));
    expect(pings).toEqual([
      ':rotating_light: *Escalated (not aware):* Harold was not aware of Pivoting. <!subteam^S0SECOPS> On-call is paged in PagerDuty.\n' +
        '*Verdict:* <@U0HAROLD> answered and was *not aware* of the activity',
    ]);
    const summary = t.thread().findIndex((text) => text.startsWith('Here is the summary'));
    expect(summary).toBeGreaterThanOrEqual(0);
    expect(t.thread().findIndex((text) => text.includes('Escalated'))).toBeGreaterThan(summary);
    expect(t.logs.some((l) => l.includes('escalated (not_aware: Harold was not aware of Pivoting)'))).toBe(true);
    // Nothing more happens however often the store is swept.
    await t.app.recover();
    await t.app.tick();
    expect(t.thread().filter((text) => text.includes('Escalated'))).toHaveLength(1);
  });

  it('escalates nothing for an aware answer, or an outcome `on` leaves out', async () => {
    const aware = await started();
    await aware.app.handleInbound(dm('yes, that was me'));
    await aware.app.idle();
    expect(aware.record()?.chat.aware).toBe(true);
    expect(aware.record()?.escalation).toBeUndefined();
    expect(aware.thread().some((text) => text.includes('Escalated'))).toBe(false);

    const off = await started({ escalateOn: ['failed'] });
    await off.app.handleInbound(dm('no, that was not me'));
    await off.app.idle();
    expect(off.record()?.escalation).toBeUndefined();
    expect(off.thread().some((text) => text.includes('Escalated'))).toBe(false);
  });

  it('turns the no-answer follow-up into one escalation when `on` names no_answer', async () => {
    const t = await started({ maxNudges: 0, escalateOn: ESCALATION_OUTCOMES });
    t.clock.advance(HOUR);
    await t.app.tick();
    await t.app.idle();
    expect(t.record()?.escalation?.outcome).toBe('no_answer');
    const all = t.thread().join('\n');
    expect(all.split('<!subteam^S0SECOPS>')).toHaveLength(2);
    expect(all).not.toContain('Please follow up');
    expect(all).toContain(
      ':rotating_light: *Escalated (no answer):* Harold did not answer about Pivoting after 0 nudges. <!subteam^S0SECOPS>\n' +
        '*Verdict:* no answer from <@U0HAROLD> after 0 nudges',
    );
  });

  it('escalates once however many ticks fire the deadline, with one page queued', async () => {
    const t = await started({ maxNudges: 0, escalateOn: ['no_answer'], pagerduty: true });
    t.clock.advance(HOUR);
    await Promise.all([t.app.tick(), t.app.tick(), t.app.tick()]);
    await t.app.idle();
    await t.app.recover();
    expect(t.thread().filter((text) => text.includes('Escalated'))).toHaveLength(1);
    expect(t.record()?.deliveries?.filter((d) => d.target === 'pagerduty')).toHaveLength(1);
    expect(t.logs.filter((l) => l.includes('escalated (no_answer'))).toHaveLength(1);
  });

  it('keeps the no-answer follow-up as it was when `on` leaves no_answer out', async () => {
    const t = await started({ maxNudges: 0 });
    t.clock.advance(HOUR);
    await t.app.tick();
    await t.app.idle();
    expect(t.record()?.escalation).toBeUndefined();
    const all = t.thread().join('\n');
    expect(all.split('<!subteam^S0SECOPS>')).toHaveLength(2);
    expect(all).toContain(':warning: No answer from <@U0HAROLD> after 0 nudges. <!subteam^S0SECOPS> Please follow up.');
    expect(all).not.toContain('Escalated');
  });

  it('escalates a failed chat in its thread, after the failure note', async () => {
    const t = await started({ escalateOn: ['failed'] });
    t.slack.failNext(slackError('user_disabled'), 1, 'U0HAROLD');
    await t.app.say(t.alert.id, 'hello?', analyst);
    await t.app.idle();
    expect(t.record()?.chat.state).toBe('failed');
    expect(t.record()?.escalation?.outcome).toBe('failed');
    const texts = t.thread();
    const note = texts.findIndex((text) => text.includes('The chat failed'));
    const ping = texts.findIndex((text) => text.includes('*Escalated (chat failed):*'));
    expect(note).toBeGreaterThanOrEqual(0);
    expect(ping).toBeGreaterThan(note);
  });

  it('records the escalation of a chat that failed on the feed channel, without posting there', async () => {
    const t = await started({ escalateOn: ['failed'], pagerduty: true });
    const before = t.slack.calls.length;
    t.slack.failNext(slackError('channel_not_found'), 1, 'C0FEED');
    await t.app.handleInbound(dm('what is this?'));
    await t.app.idle();
    expect(t.record()?.escalation).toMatchObject({ outcome: 'failed', pagerduty: true });
    expect(t.slack.calls.slice(before).filter((c) => c.channel === 'C0FEED')).toEqual([]);
  });

  it('pings the responders when no mention is set, and nobody when there are none', async () => {
    const t = await started({ escalationMention: undefined as unknown as string, responders: ['U0LEAD'] });
    await t.app.handleInbound(dm('no, not me'));
    await t.app.idle();
    expect(t.record()?.escalation?.mention).toBe('<@U0LEAD>');
  });

  it('queues the page with the alert’s own severity, and the sinks’ escalated event after ended', async () => {
    const sinks = [
      { url: 'https://siem.example/irbot', secretEnv: 'S', events: ['ended' as const, 'escalated' as const] },
    ];
    const t = testApp({ escalateOn: ['not_aware'], pagerduty: true, sinks });
    const { alert } = await t.app.postAlert({ ...PIVOT, severity: 'warning' });
    await t.app.request(alert.id, 'start', analyst);
    await t.app.handleInbound(dm('no, that was not me'));
    await t.app.idle();
    const record = t.store.data().alerts[alert.id];
    expect(record?.severity).toBe('warning');
    expect(record?.escalation?.severity).toBe('warning');
    expect(record?.deliveries?.map((d) => [d.target, d.event])).toEqual([
      ['pagerduty', 'escalated'],
      [sinkTarget(sinks[0] as SinkConfig), 'ended'],
      [sinkTarget(sinks[0] as SinkConfig), 'escalated'],
    ]);
    const page = JSON.parse(record?.deliveries?.[0]?.body ?? '{}');
    expect(page).toMatchObject({ event_action: 'trigger', dedup_key: alert.id, payload: { severity: 'warning' } });
    expect(page).not.toHaveProperty('routing_key');
    // The sink's escalated event carries the summary, written by then.
    expect(JSON.parse(record?.deliveries?.[2]?.body ?? '{}').verdict.summary).toContain('Outcome');
  });

  it('queues no page without PagerDuty, and the sinks’ escalated event at once for a chat that failed', async () => {
    const sinks = [{ url: 'https://siem.example/irbot', secretEnv: 'S', events: ['escalated' as const] }];
    const t = await started({ escalateOn: ['failed'], sinks });
    t.slack.failNext(slackError('user_disabled'), 1, 'U0HAROLD');
    await t.app.say(t.alert.id, 'hello?', analyst);
    await t.app.idle();
    expect(t.record()?.deliveries?.map((d) => [d.target, d.event])).toEqual([
      [sinkTarget(sinks[0] as SinkConfig), 'escalated'],
    ]);
  });
});
