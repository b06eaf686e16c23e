// app.ts with snoozes: suppression at intake (with its sink event), Snooze 24 h, and confirm_backoff_hours.
import { describe, expect, it } from 'vitest';
import { NOT_ALLOWED, NOT_YOURS } from '../../src/access.js';
import { ARCHIVE_AFTER_MS, SLACK_SNOOZE_REASON } from '../../src/app.js';
import { newChat } from '../../src/chat/engine.js';
import { statusRows } from '../../src/cli/render.js';
import { parseAlertBatch } from '../../src/config/alerts.js';
import type { SinkConfig } from '../../src/config/types.js';
import { startWebhook } from '../../src/intake/webhook.js';
import { ACTION_IDS, alertBlocks } from '../../src/slack/blocks.js';
import type { Inbound } from '../../src/slack/envelope.js';
import { addSnooze, HOUR_MS, snoozesOf } from '../../src/snoozes.js';
import type { StepUpSettings } from '../../src/step-up.js';
import { findAlert } from '../../src/store/port.js';
import { asModel, PIVOT, replyTs, testApp } from '../support/memory-ports.js';
import { testVerifier } from '../support/test-verifier.js';

const SINKS: SinkConfig[] = [{ url: 'http://127.0.0.1:9/', secretEnv: 'S', events: ['posted', 'suppressed'] }];
const ANALYST = { id: 'U0ANALYST', via: 'slack' } as const;
let seq = 0;
const snoozePress = (
  alert: { id: string; ts: string | null },
  userId: string,
): Extract<Inbound, { kind: 'button' }> => ({
  kind: 'button',
  action: 'snooze',
  alertId: alert.id,
  userId,
  channelId: 'C0FEED',
  messageTs: alert.ts ?? undefined,
  dedupeKey: `action:${ACTION_IDS.snooze}:${userId}:${alert.id}:${++seq}`,
});
const dm = (text: string): Inbound => ({
  kind: 'dm',
  eventId: `Ev${++seq}`,
  userId: 'U0HAROLD',
  channelId: 'D0HAROLD',
  text,
  ts: replyTs(),
});

describe('suppression at intake', () => {
  it('records a matching alert as suppressed with its snooze: no post, no DM, a suppressed sink event, shown by status', async () => {
    const t = testApp({ sinks: SINKS });
    const snooze = await t.store.transact((data) =>
      addSnooze(
        data,
        {
          template: 'pivot',
          user: 'U0HAROLD',
          match: { source_host: 'source.machine.org' },
          forMs: HOUR_MS,
          reason: 'cron',
          by: ANALYST,
        },
        t.clock.now(),
        () => 'abc123',
      ),
    );
    const posted = await t.app.postAlert(PIVOT, { autoChat: true });
    expect(posted.suppressed?.id).toBe(snooze.id);
    expect(t.slack.calls).toEqual([]);
    const record = t.store.data().alerts[posted.alert.id];
    expect(record).toMatchObject({ ts: null, suppressed: { snoozeId: 'sz-abc123', at: '2026-11-27T10:00:00.000Z' } });
    expect(record?.pending).toBeUndefined();
    expect(record?.deliveries?.map((d) => d.event)).toEqual(['suppressed']);
    expect(JSON.parse(record?.deliveries?.[0]?.body ?? '{}')).toMatchObject({
      event: 'suppressed',
      alert: { id: posted.alert.id, template: 'pivot' },
      suppressed: { snooze_id: 'sz-abc123' },
    });
    expect(t.logs).toContain(
      `alert ${posted.alert.id}: suppressed by snooze sz-abc123 (until 2026-11-27 11:00 UTC: cron), not posted`,
    );
    // Nothing picks it up to post later, and status lists it as suppressed.
    await t.app.sweep();
    expect(t.slack.calls).toEqual([]);
    const [row] = statusRows([record as never], { all: true });
    expect(row).toMatchObject({ state: 'suppressed', suppressed: { snooze_id: 'sz-abc123' } });
  });

  it('leaves the working set like a closed chat, for the archive that `status --all` reads', async () => {
    const t = testApp();
    await t.store.transact((data) =>
      addSnooze(data, { template: 'pivot', forMs: HOUR_MS, reason: 'r', by: ANALYST }, t.clock.now(), () => '1'),
    );
    const { alert } = await t.app.postAlert(PIVOT);
    t.clock.advance(ARCHIVE_AFTER_MS - 1);
    await t.app.tick();
    expect(t.store.data().alerts[alert.id]).toBeDefined();
    t.clock.advance(1);
    await t.app.tick();
    expect(t.store.data().alerts[alert.id]).toBeUndefined();
    expect(await findAlert(t.store, alert.id)).toMatchObject({ suppressed: { snoozeId: 'sz-1' } });
  });

  it('posts what the snooze does not cover: another person, another property value, another template, after it ends', async () => {
    const t = testApp();
    await t.store.transact((data) =>
      addSnooze(
        data,
        {
          template: 'pivot',
          user: 'U0HAROLD',
          match: { source_host: 'build-7' },
          forMs: HOUR_MS,
          reason: 'r',
          by: ANALYST,
        },
        t.clock.now(),
        () => '1',
      ),
    );
    const build7 = { ...PIVOT, properties: { source_host: 'build-7' } };
    expect((await t.app.postAlert(build7)).suppressed).toBeDefined();
    expect((await t.app.postAlert({ ...build7, userId: 'U0ALICE' })).suppressed).toBeUndefined();
    expect((await t.app.postAlert(PIVOT)).suppressed).toBeUndefined();
    expect((await t.app.postAlert({ ...build7, id: 'privesc' })).suppressed).toBeUndefined();
    t.clock.advance(HOUR_MS);
    expect((await t.app.postAlert(build7)).suppressed).toBeUndefined();
  });

  it('answers a re-delivery of a suppressed alert (same dedupe_key) as a duplicate, still unposted', async () => {
    const t = testApp();
    await t.store.transact((data) =>
      addSnooze(data, { template: 'pivot', forMs: HOUR_MS, reason: 'r', by: ANALYST }, t.clock.now(), () => '1'),
    );
    const first = await t.app.postAlert(PIVOT, { dedupeKey: 'siem-1' });
    await t.store.transact((data) => {
      delete data.snoozes?.['sz-1'];
    });
    const again = await t.app.postAlert(PIVOT, { dedupeKey: 'siem-1' });
    expect(again).toMatchObject({ duplicate: true, alert: { id: first.alert.id, ts: null } });
    expect(t.slack.calls).toEqual([]);
  });
});

describe('the webhook', () => {
  it('answers 202 with each suppressed alert and its snooze under `suppressed`, posting the others', async () => {
    const t = testApp();
    await t.store.transact((data) =>
      addSnooze(data, { template: 'pivot', forMs: HOUR_MS, reason: 'r', by: ANALYST }, t.clock.now(), () => '1'),
    );
    const token = 'test-webhook-token-0123456789';
    const logs: string[] = [];
    const parse = (body: string) => parseAlertBatch('json', body, 'request body');
    const webhook = await startWebhook(t.app, parse, { host: '127.0.0.1', port: 0, token, log: (l) => logs.push(l) });
    try {
      const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', auto_chat: true };
      const res = await fetch(`${webhook.address.url}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify([pivot, { ...pivot, id: 'privesc', name: 'Privileged Escalation', auto_chat: false }]),
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({
        ids: ['pivot-000001', 'privesc-000002'],
        duplicates: [],
        suppressed: [{ id: 'pivot-000001', snooze_id: 'sz-1' }],
      });
      expect(logs).toEqual(['webhook POST /alerts 202 posted privesc-000002; suppressed pivot-000001 (sz-1)']);
      const headlines = t.slack.calls.filter((c) => c.method === 'post' && !c.threadTs).map((c) => c.text);
      expect(headlines).toEqual(['Incident: Privileged Escalation with user <@U0HAROLD>']);
      await t.app.idle();
      expect(t.store.data().alerts['pivot-000001']?.chat.state).toBe('posted'); // auto_chat started nothing
      expect(t.slack.calls.some((c) => c.channel === 'U0HAROLD')).toBe(false);
    } finally {
      await webhook.close();
    }
  });
});

describe('Snooze 24 h', () => {
  it('is a button on the posted alert, with its own action id beside the original ones', () => {
    const blocks = JSON.stringify(alertBlocks({ ...PIVOT, id: 'pivot-1', chat: newChat() }));
    for (const id of [ACTION_IDS.start, ACTION_IDS.dismiss, ACTION_IDS.snooze]) expect(blocks).toContain(`"${id}"`);
    expect(blocks).toContain('"text":"Snooze 24 h"');
  });

  it('snoozes the template for the person, once per click, and says so in the thread; the next alert is suppressed', async () => {
    const t = testApp();
    const { alert } = await t.app.postAlert(PIVOT);
    const press = snoozePress(alert, 'U0ANA');
    await t.app.handleInbound(press);
    await t.app.handleInbound(press); // Slack re-delivers
    const snoozes = snoozesOf(t.store.data());
    expect(snoozes).toEqual([
      {
        id: 'sz-000002',
        template: 'pivot',
        user: 'U0HAROLD',
        until: '2026-11-28T10:00:00.000Z',
        reason: SLACK_SNOOZE_REASON,
        createdBy: { id: 'U0ANA', via: 'slack' },
        createdAt: '2026-11-27T10:00:00.000Z',
        alertId: alert.id,
      },
    ]);
    const thread = t.slack.calls.filter((c) => c.method === 'post' && c.threadTs === alert.ts).map((c) => c.text);
    expect(thread).toContain(
      '<@U0ANA> snoozed *Pivoting* for <@U0HAROLD> until 2026-11-28 10:00 UTC: snoozed from Slack',
    );
    expect(thread.filter((text) => text?.includes('snoozed'))).toHaveLength(1);
    expect((await t.app.postAlert(PIVOT)).suppressed?.id).toBe('sz-000002');
    expect((await t.app.postAlert({ ...PIVOT, userId: 'U0ALICE' })).suppressed).toBeUndefined();
  });

  it('refuses the alert’s own person and anyone who is not a responder; nothing is snoozed', async () => {
    const t = testApp({ responders: ['U0ANALYST'] });
    const { alert } = await t.app.postAlert(PIVOT);
    await t.app.handleInbound(snoozePress(alert, 'U0HAROLD'));
    await t.app.handleInbound(snoozePress(alert, 'U0MALLORY'));
    const refusals = t.slack.calls.filter((c) => c.method === 'ephemeral').map((c) => c.text);
    expect(refusals).toEqual([NOT_ALLOWED, NOT_ALLOWED]);
    const open = testApp();
    const posted = await open.app.postAlert(PIVOT);
    await open.app.handleInbound(snoozePress(posted.alert, 'U0HAROLD'));
    expect(open.slack.calls.filter((c) => c.method === 'ephemeral').map((c) => c.text)).toEqual([NOT_YOURS]);
    expect(snoozesOf(t.store.data())).toEqual([]);
    expect(snoozesOf(open.store.data())).toEqual([]);
  });
});

describe('confirm_backoff_hours', () => {
  const DUO: StepUpSettings = { provider: 'duo', retries: 1, pushTimeoutSeconds: 60, usernameFrom: 'email' };

  async function confirmed(
    options: { confirmBackoffHours?: number; stepUp?: StepUpSettings },
    push: 'approved' | 'denied',
  ) {
    const duo = testVerifier({ 'harold@example.com': [{ answers: [{ result: push, reason: push }] }] });
    // A model's verdict: the offline rules' own aware answers need review, and are never snoozed on.
    const t = testApp(options, asModel(), undefined, { verifier: duo.verifier, sleep: async () => undefined });
    const { alert } = await t.app.postAlert(PIVOT);
    await t.app.request(alert.id, 'start', ANALYST);
    await t.app.handleInbound(dm('yes it was me, I was migrating the build host'));
    await t.app.idle();
    const thread = () => t.slack.calls.filter((c) => c.method === 'post' && c.threadTs === alert.ts).map((c) => c.text);
    return { ...t, alert, thread };
  }

  it('after a verified "it was me": the template is snoozed for the person by irbot, the alert id as reason', async () => {
    const t = await confirmed({ confirmBackoffHours: 21, stepUp: DUO }, 'approved');
    expect(t.store.data().alerts[t.alert.id]?.chat).toMatchObject({
      state: 'ended',
      aware: true,
      verified: 'approved',
    });
    expect(snoozesOf(t.store.data())).toEqual([
      expect.objectContaining({
        template: 'pivot',
        user: 'U0HAROLD',
        reason: t.alert.id,
        createdBy: { id: 'irbot', via: 'irbot' },
        until: new Date(t.clock.now().getTime() + 21 * HOUR_MS).toISOString(),
      }),
    ]);
    // Last in the thread, after the summary with its verdict.
    expect(t.thread().at(-1)).toBe(
      `irbot snoozed *Pivoting* for <@U0HAROLD> until 2026-11-28 07:00 UTC: ${t.alert.id}`,
    );
    expect(t.thread().at(-2)).toContain('Here is the summary');
    expect((await t.app.postAlert(PIVOT)).suppressed).toBeDefined();
  });

  it('after an aware answer when step-up is off; never after a denied push, nor when the key is 0', async () => {
    const off = await confirmed({ confirmBackoffHours: 4 }, 'approved');
    expect(snoozesOf(off.store.data())).toHaveLength(1);
    const denied = await confirmed({ confirmBackoffHours: 4, stepUp: DUO }, 'denied');
    expect(denied.store.data().alerts[denied.alert.id]?.chat).toMatchObject({ aware: true, verified: 'denied' });
    expect(snoozesOf(denied.store.data())).toEqual([]);
    const zero = await confirmed({ stepUp: DUO }, 'approved');
    expect(snoozesOf(zero.store.data())).toEqual([]);
  });
});
