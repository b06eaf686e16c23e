// `irbot listen --http` with the real binary: the local Slack POSTs signed clicks and DMs to it instead of using
// Socket Mode (no SOCKET_APP_TOKEN at all); a re-delivery is applied once; an unsigned request is refused.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { runCli } from '../support/cli.js';
import { type FakeOpenAi, startFakeOpenAi } from '../support/fake-openai.js';
import { makeWorkspace, type Running, startIrbot, type Workspace } from '../support/irbot.js';
import { isPost, perRelay, textOf } from '../support/relays.js';

const SECRET = 'e2e-signing-secret-0123456789abcdef';

let slack: LocalSlack;
let openai: FakeOpenAi;
let ws: Workspace;
let daemon: Running;
let requestUrl: string;

beforeAll(async () => {
  slack = await LocalSlack.start({ signingSecret: SECRET });
  openai = await startFakeOpenAi();
  ws = await makeWorkspace({
    slackApiUrl: slack.apiUrl,
    openaiBaseUrl: openai.baseURL,
    env: { SLACK_SIGNING_SECRET: SECRET, SOCKET_APP_TOKEN: '' },
  });
  daemon = startIrbot(['listen', '--http', '127.0.0.1:0'], ws);
  await daemon.waitFor(/listening on HTTP events at http:\/\/127\.0\.0\.1:\d+\/slack\/events for feed channel/);
  requestUrl = /(http:\/\/127\.0\.0\.1:\d+\/slack\/events)/.exec(daemon.stderr)?.[1] ?? '';
  slack.deliverOverHttp(requestUrl);
});

afterAll(async () => {
  await daemon.stop('SIGKILL');
  await slack.close();
  await openai.close();
});

const relaysOf = (text: string) =>
  perRelay(slack.callsTo('chat.postMessage')).filter((c) => c.args.channel === 'C0FEED' && textOf(c).includes(text));

describe('listen --http', () => {
  it('starts a chat on a Start Chat click and relays the DM reply into the thread; a re-delivery is applied once', async () => {
    const sent = await runCli(['send-alert', 'pivot', '--json'], ws);
    expect(sent.code).toBe(0);
    const alert = JSON.parse(sent.stdout) as { id: string; ts: string };
    const click = await slack.clickButton({
      userId: 'U0ANALYST',
      actionId: 'start_chat_submit_action',
      value: alert.id,
      channel: 'C0FEED',
      messageTs: alert.ts,
    });
    expect(click.status).toBe(200);
    await slack.waitForCall(isPost('C0FEED', /^Sent message to <@U0HAROLD>:/));

    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'which laptop do you mean?' });
    expect(dm.status).toBe(200);
    await slack.waitForCall(isPost('C0FEED', /^Received message from <@U0HAROLD>:\n> which laptop do you mean\?/));

    // Slack's retry of the same event (X-Slack-Retry-Num: 1): answered 200 once found to be a duplicate.
    const again = await slack.redeliver(dm);
    expect(again.status).toBe(200);
    expect(again.eventId).toBe(dm.eventId);
    await daemon.waitFor(new RegExp(`200 dm ${dm.eventId} \\(retry 1 http_timeout\\)`));
    expect(relaysOf('which laptop do you mean?')).toHaveLength(1);
    expect(daemon.stderr).not.toContain(SECRET);
  });

  it('refuses an unsigned request or a wrong signature with 401, and answers /healthz', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'c-1', token: 'x' });
    const unsigned = await fetch(requestUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(401);
    const forged = await fetch(requestUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)),
        'x-slack-signature': `v0=${'0'.repeat(64)}`,
      },
      body,
    });
    expect(forged.status).toBe(401);
    expect((await fetch(new URL('/healthz', requestUrl))).status).toBe(200);
  });

  it('lets irbot chat drive a chat without Socket Mode: the replies reach listen --http, the view follows the store', async () => {
    // Alice, who has no other chat (Harold's from the first test is still open).
    const file = join(ws.dir, 'alice.json');
    await writeFile(file, JSON.stringify({ id: 'privesc', name: 'Privileged Escalation', user_id: 'U0ALICE' }));
    const sent = await runCli(['send-alert', '--file', file], ws);
    const chat = startIrbot(['chat', sent.stdout.trim()], ws);
    await slack.waitForCall(isPost('U0ALICE', /quick question/));
    chat.write('Sam from security here.');
    await slack.waitForCall(isPost('U0ALICE', /Sam from security here/));
    await slack.sendDm({ userId: 'U0ALICE', text: 'yes, that was my sudo' });
    await chat.waitFor(/Alice\s+yes, that was my sudo/);
    // Her answer closes the chat (the LLM's verdict, recorded by listen): the view shows it, and exits.
    const ended = await chat.exited;
    expect(ended.code).toBe(0);
    expect(ended.stdout).toContain('— chat ended: answered, aware');
    expect(slack.callsTo('apps.connections.open')).toHaveLength(0);
  });

  it('stops on SIGTERM: the port closed, exit 0', async () => {
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    await expect(fetch(new URL('/healthz', requestUrl))).rejects.toThrow();
  });
});
