import { describe, expect, it } from 'vitest';
import type { Chat } from '../../../src/chat/types.js';
import { ConfigError } from '../../../src/config/errors.js';
import { factsOf, isSuppressed } from '../../../src/report/facts.js';
import { buildReport, spreadOf, weekOf } from '../../../src/report/stats.js';
import { parseSince } from '../../../src/report/window.js';
import type { AlertRecord } from '../../../src/store/port.js';
import { anAlert } from '../../support/records.js';

const NOW = new Date('2026-12-04T12:00:00Z');
const MIN = 60_000;
const analyst = { id: 'U0ANALYST', via: 'slack' as const };

/** An alert created at `created`, greeted a minute later, with a reply `replyMin` minutes after the greeting. */
function aChat(
  created: string,
  opts: {
    id?: string;
    template?: string;
    replyMin?: number;
    endMin?: number;
    chat?: Partial<Chat>;
    escalated?: AlertRecord['escalation'];
  } = {},
): AlertRecord {
  const t0 = Date.parse(created);
  const at = (min: number) => new Date(t0 + MIN + min * MIN).toISOString();
  const transcript: AlertRecord['transcript'] = [{ from: 'bot', text: 'Hi! Was that you?', at: at(0) }];
  if (opts.replyMin !== undefined) transcript.push({ from: 'person', text: 'yes', at: at(opts.replyMin) });
  return anAlert({
    id: opts.id ?? `a-${created}`,
    template: opts.template ?? 'pivot',
    createdAt: created,
    transcript,
    chat: {
      ...anAlert().chat,
      state: 'ended',
      startedBy: analyst,
      startedAt: at(0),
      endedAt: opts.endMin === undefined ? null : at(opts.endMin),
      outcome: 'answered',
      aware: true,
      ...opts.chat,
    },
    ...(opts.escalated ? { escalation: opts.escalated } : {}),
  });
}

const report = (alerts: AlertRecord[], opts: { since?: Date | null; template?: string | null } = {}) =>
  buildReport(alerts.map(factsOf), { since: opts.since ?? null, template: opts.template ?? null, now: NOW });

describe('spreadOf', () => {
  it('gives the median (mean of the middle two for an even count) and the nearest-rank 90th percentile', () => {
    expect(spreadOf([])).toEqual({ count: 0, median_ms: null, p90_ms: null });
    expect(spreadOf([5])).toEqual({ count: 1, median_ms: 5, p90_ms: 5 });
    expect(spreadOf([30, 10, 20])).toEqual({ count: 3, median_ms: 20, p90_ms: 30 });
    expect(spreadOf([4, 1, 3, 2])).toEqual({ count: 4, median_ms: 2.5, p90_ms: 4 });
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
    expect(spreadOf(hundred)).toEqual({ count: 100, median_ms: 50.5, p90_ms: 90 });
    // Numbers, not strings: 9 before 10.
    expect(spreadOf([10, 9, 100, 1000, 2, 3, 4, 5, 6, 7]).p90_ms).toBe(100);
  });
});

describe('buildReport', () => {
  const escalation = (outcome: 'not_aware' | 'no_answer' | 'denied') => ({
    outcome,
    reason: 'r',
    severity: 'error' as const,
    at: NOW.toISOString(),
    mention: null,
    pagerduty: false,
  });
  const alerts = [
    aChat('2026-12-01T09:00:00Z', { replyMin: 2, endMin: 4 }),
    aChat('2026-12-01T10:00:00Z', { replyMin: 10, endMin: 30, chat: { aware: false } }),
    aChat('2026-12-02T10:00:00Z', {
      replyMin: 6,
      endMin: 8,
      chat: { verified: 'denied' },
      escalated: escalation('denied'),
    }),
    aChat('2026-12-02T11:00:00Z', { replyMin: 1, endMin: 3, chat: { verified: 'approved' } }),
    aChat('2026-12-03T10:00:00Z', {
      endMin: 60,
      chat: { outcome: 'no_answer', aware: null, nudges: 2 },
      escalated: escalation('no_answer'),
    }),
    aChat('2026-12-03T11:00:00Z', { template: 'login', endMin: 5, chat: { outcome: 'ended_by_analyst', aware: null } }),
    aChat('2026-12-03T12:00:00Z', {
      template: 'login',
      replyMin: 3,
      chat: { state: 'failed', outcome: null, aware: null, failure: 'cannot_dm_bot' },
    }),
    aChat('2026-12-03T13:00:00Z', { template: 'login', replyMin: 20, chat: { state: 'active', outcome: null } }),
    anAlert({
      id: 'dismissed',
      template: 'login',
      createdAt: '2026-12-03T14:00:00Z',
      chat: { ...anAlert().chat, state: 'dismissed' },
    }),
    anAlert({ id: 'posted', template: 'login', createdAt: '2026-12-03T15:00:00Z' }),
  ];

  it('counts alerts, chats, replies, outcomes, step-ups and escalations overall', () => {
    const { overall } = report(alerts);
    expect(overall).toMatchObject({
      alerts: 10,
      dismissed: 1,
      suppressed: 0,
      chats: 8,
      greeted: 8,
      replied: 6,
      reply_rate: 6 / 8,
      outcomes: { aware: 3, not_aware: 1, no_answer: 1, ended_by_analyst: 1, failed: 1 },
      open: 1,
      escalations: 2,
      escalated: { denied: 1, no_answer: 1, not_aware: 0, unverified: 0, failed: 0 },
    });
    // The denied push still answered "aware": the step-up column tells it apart.
    expect(overall.step_up).toEqual({ approved: 1, denied: 1, fraud: 0, timeout: 0, not_enrolled: 0, error: 0 });
    // First replies after 1, 2, 3, 6, 10, 20 minutes; verdicts (answered chats' ends) after 3, 4, 8, 30.
    expect(overall.first_reply).toEqual({ count: 6, median_ms: 4.5 * MIN, p90_ms: 20 * MIN });
    expect(overall.verdict).toEqual({ count: 4, median_ms: 6 * MIN, p90_ms: 30 * MIN });
  });

  it('counts each template apart, the busiest first', () => {
    const { templates } = report(alerts);
    expect(templates.map((t) => [t.template, t.alerts, t.chats, t.replied])).toEqual([
      ['login', 5, 3, 2],
      ['pivot', 5, 5, 4],
    ]);
    expect(templates[0]?.outcomes).toEqual({ aware: 0, not_aware: 0, no_answer: 0, ended_by_analyst: 1, failed: 1 });
    expect(report(alerts, { template: 'pivot' }).overall.alerts).toBe(5);
    expect(report(alerts, { template: 'nope' }).overall.alerts).toBe(0);
  });

  it('counts only alerts created since the window opened', () => {
    const since = new Date('2026-12-03T00:00:00Z');
    const r = report(alerts, { since });
    expect(r.since).toBe('2026-12-03T00:00:00.000Z');
    expect(r.overall.alerts).toBe(6);
    expect(r.overall.outcomes.aware).toBe(0);
    expect(report(alerts, { since: new Date('2026-12-03T15:00:00Z') }).overall.alerts).toBe(1);
  });

  it('counts no reply the person sent after the chat ended (relayed late) as their first reply', () => {
    const silent = aChat('2026-12-01T09:00:00Z', { endMin: 60, chat: { outcome: 'no_answer', aware: null } });
    const late = { from: 'person' as const, text: 'sorry, that was me', at: '2026-12-01T10:30:00.000Z' };
    expect(factsOf({ ...silent, transcript: [...silent.transcript, late] }).firstReplyMs).toBeNull();
    const replied = aChat('2026-12-01T09:00:00Z', { replyMin: 5, endMin: 6 });
    expect(factsOf({ ...replied, transcript: [...replied.transcript, late] }).firstReplyMs).toBe(5 * MIN);
  });

  it("counts a chat waiting for the person's working hours as open: every chat is concluded or open", () => {
    const waiting = anAlert({
      createdAt: '2026-12-04T02:00:00.000Z',
      chat: {
        ...anAlert().chat,
        state: 'scheduled',
        startedBy: analyst,
        startedAt: '2026-12-04T02:01:00.000Z',
        schedule: {
          zone: 'Europe/London',
          at: '2026-12-04T02:01:00.000Z',
          startsAt: '2026-12-04T09:00:00.000Z',
          deadline: '2026-12-05T02:01:00.000Z',
        },
      },
    });
    const r = report([waiting, aChat('2026-12-01T09:00:00Z', { replyMin: 5, endMin: 6 })]);
    const concluded = Object.values(r.overall.outcomes).reduce((a, b) => a + b, 0);
    expect(r.overall).toMatchObject({ chats: 2, open: 1 });
    expect(concluded + r.overall.open).toBe(r.overall.chats);
  });

  it('has no reply rate while nobody was greeted', () => {
    const r = report([anAlert({ chat: { ...anAlert().chat, state: 'queued', startedAt: NOW.toISOString() } })]);
    expect(r.overall).toMatchObject({ chats: 1, greeted: 0, reply_rate: null, open: 1 });
    expect(r.overall.first_reply.median_ms).toBeNull();
  });

  it('counts an alert a snooze kept back as suppressed, apart from dismissed and chats', () => {
    const kept = anAlert({
      id: 'kept',
      template: 'login',
      createdAt: '2026-12-03T16:00:00Z',
      suppressed: { snoozeId: 'sz-1', at: '2026-12-03T16:00:00Z' },
    });
    expect(isSuppressed(kept)).toBe(true);
    expect(alerts.some(isSuppressed)).toBe(false);
    const r = report([...alerts, kept]);
    expect(r.overall).toMatchObject({ alerts: 11, suppressed: 1, dismissed: 1, chats: 8 });
    expect(r.templates.find((t) => t.template === 'login')?.suppressed).toBe(1);
  });

  it('charts verdicts per week (empty weeks between included) and first replies by time', () => {
    const r = report([
      aChat('2026-11-10T09:00:00Z', { replyMin: 2, endMin: 3 }),
      aChat('2026-11-26T09:00:00Z', { replyMin: 90, endMin: 95, chat: { aware: false } }),
      aChat('2026-11-27T09:00:00Z', { replyMin: 2000, endMin: 2001 }),
    ]);
    expect(r.weeks.map((w) => [w.week, w.aware, w.not_aware])).toEqual([
      ['2026-11-09', 1, 0],
      ['2026-11-16', 0, 0],
      ['2026-11-23', 1, 1],
    ]);
    expect(r.first_reply_buckets.map((b) => b.count)).toEqual([1, 0, 0, 1, 0, 1]);
  });

  it('starts weeks on Monday, UTC', () => {
    expect(weekOf('2026-12-06T23:59:00Z')).toBe('2026-11-30'); // a Sunday
    expect(weekOf('2026-11-30T00:00:00Z')).toBe('2026-11-30');
  });
});

describe('parseSince', () => {
  it('takes a duration back from now, a date, or all', () => {
    expect(parseSince('30d', NOW)?.toISOString()).toBe('2026-11-04T12:00:00.000Z');
    expect(parseSince('12h', NOW)?.toISOString()).toBe('2026-12-04T00:00:00.000Z');
    expect(parseSince('2w', NOW)?.toISOString()).toBe('2026-11-20T12:00:00.000Z');
    expect(parseSince('2026-11-01', NOW)?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(parseSince('2026-11-01T08:00:00+01:00', NOW)?.toISOString()).toBe('2026-11-01T07:00:00.000Z');
    expect(parseSince('2028-02-29', NOW)?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(parseSince('all', NOW)).toBeNull();
  });

  it('refuses anything else with the forms it takes', () => {
    // A day that does not exist is refused, not rolled over into the next month (2026-02-30 was 2 March).
    const noSuchDay = ['2026-02-30', '2026-02-29', '2026-04-31', '2026-06-31T08:00:00Z', '2026-00-10'];
    for (const bad of ['30', 'yesterday', '3 days', '-1d', '2026-13-45', '', ...noSuchDay]) {
      expect(() => parseSince(bad, NOW), bad).toThrow(ConfigError);
    }
    expect(() => parseSince('yesterday', NOW)).toThrow(/--since: "yesterday" .* e\.g\. --since 30d/);
  });
});
