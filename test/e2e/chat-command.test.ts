// `irbot chat`: the terminal view, typed lines, /end, Ctrl-C detach and resume, and running beside `irbot listen`.
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalSlack } from '../../src/sandbox/local-slack.js';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import type { Running, Workspace } from '../support/irbot.js';
import { isPost, perRelay, textOf as text } from '../support/relays.js';

const h = useHarness();
let slack: LocalSlack;
let ws: Workspace;
beforeEach(() => {
  ({ slack, ws } = h);
});

const greetings = () => slack.callsTo('chat.postMessage').filter(isPost('U0HAROLD', /quick question/));

async function sendAlert(): Promise<string> {
  const result = await runCli(['send-alert', 'pivot'], ws);
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

const start = (args: string[]): Promise<Running> => h.connect(args, ws);

async function stateOf(id: string): Promise<Record<string, unknown> | undefined> {
  const result = await runCli(['status', '--all', '--json'], ws);
  return (JSON.parse(result.stdout) as Array<Record<string, unknown>>).find((r) => r.id === id);
}

describe('irbot chat', () => {
  it('starts the chat, sends typed lines to the person, shows replies, and /end ends it', async () => {
    const id = await sendAlert();
    const chat = await start(['chat', id]);
    await slack.waitForCall(isPost('U0HAROLD', /quick question/));
    const update = await slack.waitForCall((c) => c.method === 'chat.update');
    expect(JSON.stringify(update.args.blocks)).toMatch(/"[a-z_][\w.-]* started a chat\."/);
    await chat.waitFor(/irbot\s+Hi Harold, quick question/);
    // The person by their display name from the start, before the greeting has stored it.
    expect(chat.stdout).toMatch(/chat with Harold about Pivoting is open/);
    expect(chat.stdout).not.toContain('U0HAROLD');

    chat.write('This is Sam from security, no rush.');
    const dm = await slack.waitForCall(isPost('U0HAROLD', /no rush/));
    expect(text(dm)).toBe('*Message from the security team:* This is Sam from security, no rush.');
    await slack.waitForCall(isPost('C0FEED', /^Sent message to <@U0HAROLD>:\n> This is Sam from security, no rush\.$/));
    await chat.waitFor(/analyst \S+\s+This is Sam from security/);

    await slack.sendDm({ userId: 'U0HAROLD', text: 'hmm, which host?' });
    await chat.waitFor(/Harold\s+hmm, which host\?/);
    await chat.waitFor(/irbot\s+Just checking in again/);

    chat.write('/end');
    const result = await chat.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/system\s+Summary: /);
    expect(result.stdout).toContain('chat ended: ended_by_analyst');
    // The end line is the view's last word: it comes after the summary.
    expect(result.stdout.indexOf('chat ended')).toBeGreaterThan(result.stdout.indexOf('Summary: '));
    // The terminal is the chat's view: no log line per event there.
    expect(result.stderr).not.toMatch(/\[(dm|button|ignored)/);
    expect(await stateOf(id)).toMatchObject({ state: 'ended', outcome: 'ended_by_analyst' });
  });

  it('detaches on Ctrl-C leaving the chat open, and a later `irbot chat` resumes with the transcript', async () => {
    const id = await sendAlert();
    const first = await start(['chat', id]);
    await first.waitFor(/irbot\s+Hi Harold/);
    const detached = await first.stop('SIGINT');
    expect(detached.code).toBe(0);
    expect(detached.stdout).toContain(`Detached: the chat stays open. Resume with \`irbot chat ${id}\``);
    expect(await stateOf(id)).toMatchObject({ state: 'active' });

    const second = await start(['chat', id]);
    await second.waitFor(/irbot\s+Hi Harold/);
    await slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    const result = await second.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('chat ended: answered, aware');
    expect(greetings()).toHaveLength(1);
  });

  it('keeps a line typed while the chat is queued and sends it after the greeting when the chat starts', async () => {
    const first = await start(['chat', await sendAlert()]);
    await first.waitFor(/irbot\s+Hi Harold/);
    const second = await start(['chat', await sendAlert()]);
    await second.waitFor(/is in another chat; this one starts when that one ends/);
    second.write('Sam here, about the second alert: no rush.');
    await second.waitFor(/kept: Harold is in another chat; this line is sent after the greeting when this chat starts/);
    expect(slack.callsTo('chat.postMessage').filter(isPost('U0HAROLD', /second alert/))).toHaveLength(0);

    first.write('/end');
    expect((await first.exited).code).toBe(0);
    await slack.waitForCall(isPost('U0HAROLD', /second alert/));
    const dms = slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'U0HAROLD');
    expect(dms.map(text).slice(-2)).toEqual([
      expect.stringMatching(/^Hi Harold, quick question/),
      '*Message from the security team:* Sam here, about the second alert: no rush.',
    ]);
    expect(greetings()).toHaveLength(2);
    await second.waitFor(/analyst \S+\s+Sam here, about the second alert/);
  });

  it('/end while queued ends the chat unstarted and says the kept line was not sent; a later line is refused', async () => {
    const first = await start(['chat', await sendAlert()]);
    await first.waitFor(/irbot\s+Hi Harold/);
    const second = await start(['chat', await sendAlert()]);
    await second.waitFor(/is in another chat; this one starts when that one ends/);
    second.write('Sam here, a line for the queued chat.');
    await second.waitFor(/kept: Harold is in another chat/);
    second.write('/end\ntoo late for this chat');
    const result = await second.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('chat ended: ended_by_analyst');
    expect(result.stderr).toContain('the chat ended before it started: the line kept for Harold was not sent\n');
    expect(result.stderr).toContain('not sent: this chat is ended, nothing more goes to Harold\n');
    expect(slack.callsTo('chat.postMessage').filter(isPost('U0HAROLD', /queued chat|too late/))).toHaveLength(0);
    expect(greetings()).toHaveLength(1);
  });

  it('shows the conversation live beside `irbot listen`, whichever process Slack delivers to', async () => {
    const id = await sendAlert();
    const daemon = await start(['listen']);
    const chat = await start(['chat', id]);
    await chat.waitFor(/irbot\s+Hi Harold/);
    await slack.sendDm({ userId: 'U0HAROLD', text: 'to the daemon: what is it?', to: 0 });
    await daemon.waitFor(/dm from U0HAROLD .*active/);
    await chat.waitFor(/Harold\s+to the daemon: what is it\?/);
    await chat.waitFor(/irbot\s+Just checking in again/);
    await slack.sendDm({ userId: 'U0HAROLD', text: 'to the chat: no, not me', to: 1 });
    const result = await chat.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('chat ended: answered, not aware');
    expect(perRelay(slack.callsTo('chat.postMessage')).filter(isPost('C0FEED', /^Received message/))).toHaveLength(2);
    expect(perRelay(slack.callsTo('chat.postMessage')).filter(isPost('C0FEED', /^Here is the summary/))).toHaveLength(
      1,
    );
    expect(greetings()).toHaveLength(1);
  });
});
