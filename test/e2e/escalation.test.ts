// Escalation with the real binary: a "not me" answer pings the mention in the alert's thread and pages the local
// PagerDuty once, through a 500 that came after PagerDuty acted (the retry carries the same dedup_key) and a 429.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalPagerDuty, startLocalPagerDuty } from '../../src/sandbox/local-pagerduty.js';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { makeWorkspace } from '../support/irbot.js';
import { isPost, textOf } from '../support/relays.js';

const KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';
const h = useHarness();
let pd: LocalPagerDuty;
beforeEach(async () => {
  pd = await startLocalPagerDuty({ routingKey: KEY });
});
afterEach(() => pd.close());

describe('escalation', () => {
  it('pings the mention in the thread and pages once, by dedup_key, through PagerDuty failures', async () => {
    const ws = await makeWorkspace({
      slackApiUrl: h.slack.apiUrl,
      openaiBaseUrl: h.openai.baseURL,
      config:
        'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nmax_nudges = 1\nllm_timeout_seconds = 5\n' +
        'slack_rate_scale = 100\n\n[escalation]\nmention = "S0SECOPS"\n',
      env: { PAGERDUTY_ROUTING_KEY: KEY, PAGERDUTY_API_URL: pd.url },
    });
    pd.failNext(500, 1, { processed: true });
    pd.failNext(429, 1, { headers: { 'retry-after': '0' } });
    const daemon = await h.listen(ws);
    const alert = await h.startChat(ws);
    await h.slack.waitForCall(isPost('U0HAROLD', /quick question/));
    await h.slack.sendDm({ userId: 'U0HAROLD', text: 'no, that was not me' });

    const ping = await h.slack.waitForCall(isPost('C0FEED', /Escalated \(not aware\)/));
    expect(ping.args.thread_ts).toBe(alert.ts);
    expect(textOf(ping)).toContain(
      ':rotating_light: *Escalated (not aware):* Harold was not aware of Pivoting. <!subteam^S0SECOPS> On-call is paged in PagerDuty.\n' +
        '*Verdict:* <@U0HAROLD> answered and was *not aware* of the activity',
    );
    await pd.waitFor((p) => p.requests.some((r) => r.status === 202));
    expect(pd.requests.map((r) => r.status)).toEqual([500, 429, 202]);
    expect(pd.incidents()).toHaveLength(1);
    expect(pd.incidents()[0]?.events).toHaveLength(2);
    expect(pd.incidents()[0]?.opened).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: alert.id,
      payload: { summary: 'irbot: Harold was not aware of Pivoting', source: 'irbot', severity: 'error' },
    });

    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    const status = await runCli(['status', '--all', '--json'], ws);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({
      id: alert.id,
      aware: false,
      escalated: { outcome: 'not_aware', mention: '<!subteam^S0SECOPS>', pagerduty: 'delivered' },
    });
    expect(h.slack.callsTo('chat.postMessage').filter((c) => /Escalated/.test(textOf(c)))).toHaveLength(1);
    expect(daemon.stderr).toContain(`alert ${alert.id}: escalated (not_aware: Harold was not aware of Pivoting)`);
    expect(daemon.stderr).not.toContain(KEY);
  });
});
