// Snoozes with the real binary: one listen serves Snooze 24 h, pressed by an analyst in Slack; the thread says so,
// and the next alert of that template about that person is recorded as suppressed, never posted.
import { expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { isPost } from '../support/relays.js';

const h = useHarness();

it('Snooze 24 h by listen: snoozed for the person, said in the thread; the next such alert is suppressed', async () => {
  const daemon = await h.listen();
  const sent = await runCli(['send-alert', 'pivot', '--json'], h.ws);
  const alert = JSON.parse(sent.stdout) as { id: string; ts: string };
  await h.slack.clickButton({
    userId: 'U0ANALYST',
    actionId: 'snooze_24h_submit_action',
    value: alert.id,
    channel: 'C0FEED',
    messageTs: alert.ts,
  });
  await h.slack.waitForCall(
    isPost(
      'C0FEED',
      /^<@U0ANALYST> snoozed \*Pivoting\* for <@U0HAROLD> until \d{4}-\d\d-\d\d \d\d:\d\d UTC: snoozed from Slack$/,
    ),
  );
  const [snooze] = JSON.parse((await runCli(['snooze', 'list', '--json'], h.ws)).stdout) as Record<string, unknown>[];
  expect(snooze).toMatchObject({
    state: 'active',
    template: 'pivot',
    user: 'U0HAROLD',
    created_by: { id: 'U0ANALYST', via: 'slack' },
    alert_id: alert.id,
  });
  const posts = () => h.slack.calls.filter((c) => c.method === 'chat.postMessage').length;
  const before = posts();
  const again = await runCli(['send-alert', 'pivot', '--json'], h.ws);
  expect(JSON.parse(again.stdout)).toMatchObject({ ts: null, suppressed: { snooze_id: snooze?.id } });
  expect(posts()).toBe(before);
  expect((await daemon.stop('SIGTERM')).code).toBe(0);
  expect(daemon.stderr).toContain(`button snooze on ${alert.id} by U0ANALYST: snooze ${snooze?.id} of pivot`);
});
