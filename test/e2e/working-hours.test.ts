// Working hours with the real binary: `listen` schedules a chat for a person off work, refuses Start Chat now from
// the alert's own person, and starts the chat when an analyst presses it.
import { describe, expect, it } from 'vitest';
import { NOT_YOURS } from '../../src/access.js';
import { WEEKDAYS } from '../../src/chat/working-hours.js';
import { ACTION_IDS } from '../../src/slack/blocks.js';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { makeWorkspace } from '../support/irbot.js';
import { isPost } from '../support/relays.js';

const h = useHarness();

/** A weekday three days from today in Paris (Harold's zone in the local Slack): he is off work all of today. */
function aDayOff(): string {
  const today = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Paris', weekday: 'short' }).format(new Date());
  return WEEKDAYS[(WEEKDAYS.indexOf(today as (typeof WEEKDAYS)[number]) + 3) % 7] ?? 'Mon';
}

describe('working hours', () => {
  const offWork = () =>
    makeWorkspace({
      slackApiUrl: h.slack.apiUrl,
      openaiBaseUrl: h.openai.baseURL,
      config:
        'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nslack_rate_scale = 100\n' +
        `working_hours = "09:00-18:00"\nworking_days = ["${aDayOff()}"]\n`,
    });

  it('schedules the chat of a person off work, and starts it when an analyst presses Start Chat now', async () => {
    const ws = await offWork();
    const daemon = await h.listen(ws);
    const alert = await h.startChat(ws);
    const scheduled = await h.slack.waitForCall(
      (c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks).includes(ACTION_IDS.startNow),
    );
    expect(JSON.stringify(scheduled.args.blocks)).toMatch(
      /<@U0HAROLD> is outside working hours \(Europe\/Paris, \d\d:\d\d\); the chat starts at \w{3} 09:00 their time/,
    );
    const press = (userId: string) =>
      h.slack.clickButton({
        userId,
        actionId: ACTION_IDS.startNow,
        value: alert.id,
        channel: 'C0FEED',
        messageTs: alert.ts,
      });

    await press('U0HAROLD');
    const refused = await h.slack.waitForCall((c) => c.method === 'chat.postEphemeral');
    expect(refused.args).toMatchObject({ user: 'U0HAROLD', text: NOT_YOURS });
    expect(h.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'U0HAROLD')).toHaveLength(0);

    await press('U0ANALYST');
    await h.slack.waitForCall(isPost('U0HAROLD', /quick question/));
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    const [row] = JSON.parse((await runCli(['status', '--json'], ws)).stdout);
    expect(row).toMatchObject({ id: alert.id, state: 'active', zone: 'Europe/Paris', starts_at: null });
  });

  it('lets irbot chat keep lines for a scheduled chat and start it at once with /now', async () => {
    const ws = await offWork();
    const result = await runCli(['send-alert', 'pivot'], ws);
    const id = result.stdout.trim();
    const chat = await h.connect(['chat', id], ws);
    await chat.waitFor(/Harold is outside working hours \(Europe\/Paris, \d\d:\d\d\).* — \/now starts it at once/);
    chat.write('Sam from security here.');
    await chat.waitFor(/kept: Harold is outside working hours/);
    expect(h.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'U0HAROLD')).toHaveLength(0);
    chat.write('/now');
    await h.slack.waitForCall(isPost('U0HAROLD', /quick question/));
    await h.slack.waitForCall(isPost('U0HAROLD', /Sam from security here/));
    chat.write('/end');
    expect((await chat.exited).code).toBe(0);
  });
});
