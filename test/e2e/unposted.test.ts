// kill -9 of `irbot send-alert` while Slack holds its post: the alert is posted once, by a retry of its dedupe_key
// (send-alert --file, the webhook) or by the next `listen`, whether or not the post had reached Slack.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalSlack } from '../../src/sandbox/local-slack.js';
import { useHarness } from '../support/harness.js';
import { crash, runIrbot, startIrbot, type Workspace } from '../support/irbot.js';

const h = useHarness();
let slack: LocalSlack;
let ws: Workspace;
beforeEach(async () => {
  ({ slack, ws } = h);
  await writeFile(join(ws.dir, 'alert.json'), JSON.stringify(alert));
});

const TOKEN = 'e2e-webhook-token-abcdef0123456789';
const alert = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', dedupe_key: 'siem-77' };
const sendFile = () => runIrbot(['send-alert', '--file', 'alert.json', '--json', 'pivot'], ws);
/** The alert messages Slack holds in the feed channel (a hung post that landed included). */
const alertsInFeed = () => slack.history('C0FEED').filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts);

/** send-alert, killed while its chat.postMessage hangs; `landed`: Slack had posted it, only the answer was lost. */
async function crashWhilePosting(landed: boolean): Promise<void> {
  slack.failNext('chat.postMessage', { hang: true, landed, channel: 'C0FEED' });
  const sending = startIrbot(['send-alert', '--file', 'alert.json', '--json'], ws);
  await slack.waitForHung('chat.postMessage');
  expect((await crash(sending, ws)).code).toBe(null);
  expect(alertsInFeed()).toHaveLength(landed ? 1 : 0);
}

describe('an alert whose send-alert was killed mid-post', () => {
  it('is posted once by send-alert --file with the same dedupe_key, and is a duplicate from then on', async () => {
    await crashWhilePosting(false);
    const retry = await sendFile();
    expect(retry.code).toBe(0);
    const row = JSON.parse(retry.stdout);
    expect(row).toMatchObject({ duplicate: false, ts: expect.stringMatching(/^\d+\.\d+$/) });
    const again = await sendFile();
    expect(JSON.parse(again.stdout)).toMatchObject({ id: row.id, ts: row.ts, duplicate: true });
    expect(alertsInFeed()).toHaveLength(1);
  });

  it('is not posted twice when the post had landed: the retry finds it in Slack and keeps its ts', async () => {
    await crashWhilePosting(true);
    const landedTs = alertsInFeed()[0]?.ts;
    const retry = await sendFile();
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ ts: landedTs, duplicate: false });
    expect(alertsInFeed()).toHaveLength(1);
    expect(slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0FEED' && !c.args.thread_ts)).toEqual(
      [],
    );
  });

  it('is posted once by the next listen, and its webhook retry then gets it as a duplicate', async () => {
    await crashWhilePosting(false);
    const daemon = startIrbot(['listen', '--webhook', '127.0.0.1:0'], ws, { env: { IRBOT_WEBHOOK_TOKEN: TOKEN } });
    try {
      await daemon.waitFor(/alert pivot-[0-9a-z]{10}: posted after a crash or a failure/);
      const id = /alert (pivot-[0-9a-z]{10}): posted after a crash/.exec(daemon.stderr)?.[1];
      const port = /webhook listening on http:\/\/127\.0\.0\.1:(\d+)\b/.exec(daemon.stderr)?.[1];
      const res = await fetch(`http://127.0.0.1:${port}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(alert),
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ ids: [id], duplicates: [id] });
      expect(alertsInFeed()).toHaveLength(1);
    } finally {
      await daemon.stop('SIGKILL');
    }
  });
});
