// A store that cannot be read: listen does not start on one; one that turns unreadable while it runs makes /healthz
// answer 503 and leaves envelopes unacknowledged, so that Slack re-delivers them once the store is back.
import { readFile, writeFile } from 'node:fs/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalSlack } from '../../src/sandbox/local-slack.js';
import { useHarness } from '../support/harness.js';
import { runIrbot, type Workspace } from '../support/irbot.js';
import { isPost, relaysIn } from '../support/relays.js';

const h = useHarness();
let slack: LocalSlack;
let ws: Workspace;
beforeEach(() => {
  ({ slack, ws } = h);
});

const TOKEN = 'e2e-webhook-token-abcdef0123456789';

describe('an unreadable store', () => {
  it('stops listen before it connects: one line naming the file, exit 2', async () => {
    await writeFile(ws.dbPath, '{"version": 3, "alerts": {', { mode: 0o600 }); // 0644 would add a line: irbot tightens it
    const result = await runIrbot(['listen', '--webhook', '127.0.0.1:0'], ws, { env: { IRBOT_WEBHOOK_TOKEN: TOKEN } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^irbot: Store file \S*db\.json is not valid JSON .*move both away to start a new store\n$/,
    );
    expect(slack.calls).toEqual([]);
  });

  it('while listen runs: /healthz 503, envelopes left unacked; once readable, the re-delivered DM is handled once', async () => {
    ws.env.IRBOT_WEBHOOK_TOKEN = TOKEN;
    const daemon = await h.connect(['listen', '--webhook', '127.0.0.1:0'], ws);
    const port = /webhook listening on http:\/\/127\.0\.0\.1:(\d+)\b/.exec(daemon.stderr)?.[1];
    const healthz = () => fetch(`http://127.0.0.1:${port}/healthz`);
    const { ts } = await h.startChat(ws);
    await slack.waitForCall(isPost('C0FEED', /^Sent message to/));
    expect((await healthz()).status).toBe(200);

    const good = await readFile(ws.dbPath);
    await writeFile(ws.dbPath, 'not json');
    const health = await healthz();
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ ok: false, error: 'store unreadable' });
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    await daemon.waitFor(new RegExp(`envelope ${dm.envelopeId}: Store file`));
    expect(slack.acks.filter((a) => a.envelopeId === dm.envelopeId)).toEqual([]);

    await writeFile(ws.dbPath, good);
    expect((await healthz()).status).toBe(200);
    const again = await slack.redeliver(dm);
    await slack.waitForAck(again);
    await slack.waitForCall(isPost('C0FEED', /^Here is the summary/));
    const relays = slack.thread('C0FEED', ts).flatMap((m) => relaysIn(m.text));
    expect(relays.filter((r) => r.startsWith('Received message from <@U0HAROLD>'))).toHaveLength(1);
  });
});
