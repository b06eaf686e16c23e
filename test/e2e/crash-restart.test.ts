// kill -9 of `irbot listen` at the worst moments, then a restart: nothing lost, nothing sent twice.
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalSlack } from '../../src/sandbox/local-slack.js';
import { runCli } from '../support/cli.js';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { useHarness } from '../support/harness.js';
import { crash as crashWithoutLock, type Running, type Workspace } from '../support/irbot.js';
import { isPost, relaysIn, textOf as text } from '../support/relays.js';

const h = useHarness();
let slack: LocalSlack;
let openai: FakeOpenAi;
let ws: Workspace;
beforeEach(() => {
  ({ slack, openai, ws } = h);
});

const listen = (): Promise<Running> => h.listen(ws);

async function crash(daemon: Running): Promise<void> {
  const result = await crashWithoutLock(daemon, ws);
  expect(result.code).toBe(null);
}

/** An alert with its chat started and the greeting relayed, served by a running daemon. */
async function chatting(): Promise<{ id: string; ts: string; daemon: Running }> {
  const daemon = await listen();
  const alert = await h.startChat(ws);
  await slack.waitForCall(isPost('C0FEED', /^Sent message to/));
  return { ...alert, daemon };
}

/** What Slack really holds in the alert's thread (calls that hung never landed). */
const threadTexts = (ts: string) => slack.thread('C0FEED', ts).flatMap((m) => relaysIn(m.text));
const count = (texts: string[], prefix: string) => texts.filter((t) => t.startsWith(prefix)).length;
const dmTexts = () => slack.history(slack.dmChannelOf('U0HAROLD')).map((m) => m.text);

describe('crash and restart', () => {
  it('relays a DM that arrived just before the crash, exactly once, and carries on', async () => {
    const { ts, daemon } = await chatting();
    slack.failNext('chat.postMessage', { hang: true, channel: 'C0FEED' });
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'what is this about?' });
    await slack.waitForAck(dm);
    await slack.waitForHung('chat.postMessage');
    await crash(daemon);

    await listen();
    await slack.waitForCall((c) => c.method === 'chat.postMessage' && /checking in again/.test(text(c)));
    await slack.waitForCall(isPost('C0FEED', /^Sent message to[\s\S]*checking in again/));
    expect(count(threadTexts(ts), 'Received message from <@U0HAROLD>:\n> what is this about?')).toBe(1);
    expect(dmTexts().filter((t) => /checking in again/.test(t))).toHaveLength(1);
  });

  it('judges the reply after a crash between the relay and the LLM call, and nudges once', async () => {
    const { ts, daemon } = await chatting();
    openai.failNext({ hang: true });
    await slack.sendDm({ userId: 'U0HAROLD', text: 'which host?' });
    await openai.waitForRequest((r) => r.kind === 'classify');
    await slack.waitForCall(isPost('C0FEED', /^Received message/));
    await crash(daemon);

    await listen();
    await slack.waitForCall(isPost('C0FEED', /^Sent message to[\s\S]*checking in again/));
    expect(count(threadTexts(ts), 'Received message')).toBe(1);
    expect(dmTexts().filter((t) => /checking in again/.test(t))).toHaveLength(1);
    expect(openai.requests.filter((r) => r.kind === 'classify')).toHaveLength(2);
  });

  it('closes the alert after a crash with the summary posted and the update in flight, with one summary', async () => {
    const { id, ts, daemon } = await chatting();
    slack.failNext('chat.update', { hang: true });
    await slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    await slack.waitForHung('chat.update');
    await slack.waitForCall(isPost('C0FEED', /^Here is the summary/));
    await crash(daemon);

    await listen();
    await slack.waitForCall(
      (c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks).includes('end_chat_automatically'),
    );
    expect(count(threadTexts(ts), 'Here is the summary')).toBe(1);
    expect(dmTexts().filter((t) => t === 'Thanks for your time!')).toHaveLength(1);
    const status = await runCli(['status', '--all', '--json'], ws);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({ id, state: 'ended', outcome: 'answered', aware: true });
  });

  it('carries on after the Socket Mode connection drops without a word, DMs sent meanwhile included', async () => {
    const { ts } = await chatting();
    slack.dropAll();
    const dm = slack.sendDm({ userId: 'U0HAROLD', text: 'no, not me' }); // waits for the reconnect
    await slack.waitForConnections(1);
    await slack.waitForAck(await dm);
    await slack.waitForCall(isPost('C0FEED', /^Here is the summary/));
    expect(count(threadTexts(ts), 'Received message')).toBe(1);
  }, 20_000);
});
