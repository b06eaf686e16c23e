// Slack, LLM and input trouble against the real binary: the chat goes on, nothing leaks, nothing is doubled.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalSlack, RecordedCall } from '../../src/sandbox/local-slack.js';
import { journalPathOf, openLowdbStore } from '../../src/store/lowdb-store.js';
import { runCli, untilStatus } from '../support/cli.js';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { useHarness } from '../support/harness.js';
import { makeWorkspace, type Running, runIrbot, startIrbot, type Workspace } from '../support/irbot.js';
import { relaysIn, textOf as text } from '../support/relays.js';

const h = useHarness();
let slack: LocalSlack;
let openai: FakeOpenAi;
let ws: Workspace;
beforeEach(() => {
  ({ slack, openai, ws } = h);
});

const posted = (pattern: RegExp) => (c: RecordedCall) =>
  c.method === 'chat.postMessage' && c.status === 200 && relaysIn(text(c)).some((relay) => pattern.test(relay));

const listen = (): Promise<Running> => h.listen(ws);
const startChat = () => h.startChat(ws);

async function statusOf(id: string): Promise<Record<string, unknown> | undefined> {
  const result = await runCli(['status', '--all', '--json'], ws);
  return (JSON.parse(result.stdout) as Array<Record<string, unknown>>).find((r) => r.id === id);
}

describe('Slack trouble', () => {
  it('waits out 429s with Retry-After and posts everything exactly once', async () => {
    slack.failNext('chat.postMessage', { retryAfterSeconds: 0 });
    slack.failNext('chat.update', { retryAfterSeconds: 0 });
    await listen();
    const alert = await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    expect(
      slack
        .thread('C0FEED', alert.ts)
        .flatMap((m) => relaysIn(m.text))
        .map((r) => r.split('\n')[0]),
    ).toEqual(['Incident: Pivoting with user <@U0HAROLD>', `*Alert* \`${alert.id}\``, 'Sent message to <@U0HAROLD>:']);
    expect(slack.history(slack.dmChannelOf('U0HAROLD'))).toHaveLength(1);
    expect(slack.callsTo('chat.postMessage').filter((c) => c.status === 429)).toHaveLength(1);
    expect(slack.callsTo('chat.update').filter((c) => c.status === 429)).toHaveLength(1);
  });

  it('retries a call Slack answered with a 5xx after a backoff, and posts it once', async () => {
    await listen();
    const alert = await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    slack.failNext('chat.postMessage', { status: 503, channel: 'C0FEED' });
    await slack.sendDm({ userId: 'U0HAROLD', text: 'what is this?' });
    // The SDK retries it (1 s, then ×3.86, five times); past that the outbox keeps it and retries on (unit-tested).
    await slack.waitForCall(posted(/^Received message/));
    expect(slack.callsTo('chat.postMessage').filter((c) => c.status === 503)).toHaveLength(1);
    const relays = slack.thread('C0FEED', alert.ts).flatMap((m) => relaysIn(m.text));
    expect(relays.filter((r) => r.startsWith('Received message'))).toHaveLength(1);
  });

  it('reconnects after Slack asks it to, and drops envelopes re-delivered meanwhile', async () => {
    const daemon = await listen();
    const alert = await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    slack.disconnectAll('refresh_requested');
    const dm = slack.sendDm({ userId: 'U0HAROLD', text: 'no idea what that is' }); // waits for the reconnect
    await slack.waitForConnections(1);
    await slack.redeliver(await dm);
    await slack.waitForCall(posted(/^Here is the summary/));
    await daemon.waitFor(/already handled \(re-delivery\)/);
    expect(
      slack
        .thread('C0FEED', alert.ts)
        .flatMap((m) => relaysIn(m.text))
        .filter((r) => r.startsWith('Received message')),
    ).toHaveLength(1);
  }, 20_000);

  it('exits 0 on SIGTERM while reconnecting, and opens no connection when the reconnect answers late', async () => {
    const daemon = await listen();
    // A replica resumed after a pause (or a machine with a dropped link) is reconnecting when it is told to stop:
    // apps.connections.open is in flight, and its answer comes after the process has stopped taking events.
    slack.failNext('apps.connections.open', { hang: true });
    slack.dropAll();
    await slack.waitForHung('apps.connections.open');
    daemon.child.kill('SIGTERM');
    await daemon.waitFor(/\[stopped\]|"event":"stopped"/);
    expect(slack.releaseHung()).toBe(1);
    expect((await daemon.exited).code).toBe(0);
    expect(slack.callsTo('apps.connections.open').map((c) => c.status)).toEqual([200, 200]);
    expect(slack.totalConnections).toBe(1);
  });

  it('exits 0 at once on SIGTERM while a reconnect is still opening its connection', async () => {
    const daemon = await listen();
    slack.holdNextConnection();
    slack.dropAll();
    await slack.waitForHeldConnection();
    daemon.child.kill('SIGTERM');
    // The SDK's 30 s wait for a close handshake must not hold the process once it has stopped.
    expect((await daemon.exited).code).toBe(0);
  });

  it('exits 0 on SIGTERM while its first connection is still being asked for (Slack not answering)', async () => {
    // A supervisor stopping a listen that cannot reach Slack must not wait for it to give up (hours of retries).
    slack.failNext('apps.connections.open', { hang: true });
    const daemon = startIrbot(['listen'], ws);
    await slack.waitForHung('apps.connections.open');
    daemon.child.kill('SIGTERM');
    await daemon.waitFor(/stopped before Slack was reached/);
    expect(slack.releaseHung()).toBe(1);
    expect((await daemon.exited).code).toBe(0);
    expect(slack.totalConnections).toBe(0);
  });

  it('exits 1 with one line naming the token when Slack refuses a reconnect for good, after finishing its work', async () => {
    const daemon = await listen();
    const alert = await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    slack.failNext('apps.connections.open', { error: 'invalid_auth' });
    slack.disconnectAll('refresh_requested');
    const result = await daemon.exited;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/apps\.connections\.open answered invalid_auth: check SOCKET_APP_TOKEN/);
    expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(result.stderr).toMatch(/\[stopped\]|"event":"stopped"/);
    const status = await runCli(['status', '--json'], ws);
    expect(JSON.parse(status.stdout)).toMatchObject([{ id: alert.id, state: 'active' }]);
  }, 20_000);

  it('marks a chat failed on an error retrying cannot fix, says how to fix it, and keeps serving', async () => {
    const daemon = await listen();
    const first = await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    slack.failNext('chat.postMessage', { error: 'not_in_channel', channel: 'C0FEED' });
    await slack.sendDm({ userId: 'U0HAROLD', text: 'what is this?' });
    await daemon.waitFor(new RegExp(`alert ${first.id}: PostInThread failed with not_in_channel \\(invite the bot`));
    await untilStatus(ws, (alerts) => alerts.some((a) => a.id === first.id && a.state === 'failed'));

    const second = await startChat();
    await slack.waitForCall((c) => posted(/^Sent message to/)(c) && c.args.thread_ts === second.ts);
    expect(await statusOf(second.id)).toMatchObject({ state: 'active' });
  });

  it('fails send-alert with the API error code and the fix, and never prints the token', async () => {
    const result = await runIrbot(['send-alert', 'pivot'], ws, { env: { SLACK_BOT_TOKEN: 'xoxb-wrong-secret-123' } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'irbot: chat.postMessage failed: invalid_auth (check SLACK_BOT_TOKEN: reinstall the app and update SLACK_BOT_TOKEN (OAuth & Permissions))',
    );
    const status = await runCli(['status', '--all', '--json'], ws);
    expect(JSON.parse(status.stdout)).toEqual([]);
  });
});

describe('LLM trouble', () => {
  it('times out a hanging LLM, retries, sends the offline text and says why in the thread', async () => {
    ws = await makeWorkspace({
      slackApiUrl: slack.apiUrl,
      openaiBaseUrl: openai.baseURL,
      config: 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nllm_timeout_seconds = 0.2\n',
    });
    openai.failNext({ hang: true }, 3);
    await listen();
    const alert = await startChat();
    const note = await slack.waitForCall(posted(/LLM was unavailable \(timeout\)/));
    expect(note.args.thread_ts).toBe(alert.ts);
    const greeting = await slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.channel === 'U0HAROLD');
    expect(text(greeting)).toMatch(/^\[offline\] /);
    expect(openai.requests.filter((r) => r.kind === 'greeting')).toHaveLength(3);
  });

  it('stops soon on SIGTERM while the LLM writes, sends no offline text for it, and greets after the restart', async () => {
    // A short lease: the next start's sweep (a third of it) finds the greeting the stop left, due a second later.
    // A 2 s LLM timeout: the stop's grace for a call under way (its timeout, at most 10 s) ends long before its
    // three tries, all held, would (about 7 s).
    ws = await makeWorkspace({
      slackApiUrl: slack.apiUrl,
      openaiBaseUrl: openai.baseURL,
      config: 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nlease_seconds = 5\nllm_timeout_seconds = 2\n',
    });
    openai.onChat(() => ({ hang: true }));
    const daemon = await listen();
    await startChat();
    await openai.waitForRequest((r) => r.kind === 'greeting');
    // Held, the call would keep the process for its timeout and retries, then send the offline text; it is let go
    // after the grace.
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    const toHarold = (c: RecordedCall) => c.method === 'chat.postMessage' && c.args.channel === 'U0HAROLD';
    expect(slack.calls.filter(toHarold)).toEqual([]);
    openai.onChat(undefined);
    openai.releaseHung();
    await listen();
    const greeting = await slack.waitForCall(toHarold);
    expect(text(greeting)).not.toMatch(/^\[offline\]/);
    expect(slack.calls.filter(toHarold)).toHaveLength(1);
  });

  it('treats a malformed classification as not answered yet, and says so', async () => {
    openai.onChat((body) =>
      body.tools ? { toolArgs: '{"has_answered": "yes"' } : { text: 'Hi Harold, were you aware?' },
    );
    await listen();
    await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    await slack.sendDm({ userId: 'U0HAROLD', text: 'yes it was me' });
    await slack.waitForCall(posted(/malformed/));
    await slack.waitForCall((c) => posted(/^Sent message to/)(c) && /were you aware/.test(text(c)) && c !== undefined);
    const row = (await runCli(['status', '--json'], ws)).stdout;
    expect(JSON.parse(row)[0]).toMatchObject({ state: 'active', nudges: 1 });
  });
});

describe('hostile input', () => {
  it('acks, logs and ignores malformed envelopes, and keeps running', async () => {
    const daemon = await listen();
    await slack.sendEnvelope('this is not json');
    const deliveries = [
      await slack.sendEnvelope({ envelope_id: 'e1', type: 'events_api' }),
      await slack.sendEnvelope({
        envelope_id: 'e2',
        type: 'interactive',
        payload: { type: 'block_actions', actions: 'x' },
      }),
      await slack.sendEnvelope({
        envelope_id: 'e3',
        type: 'interactive',
        payload: { type: 'block_actions', user: { id: 'U0ANALYST' }, actions: [{ action_id: 'rm_rf', value: 'x' }] },
      }),
      await slack.sendEnvelope({ envelope_id: 'e4', type: 'slash_commands', payload: { command: '/irbot' } }),
    ];
    await daemon.waitFor(/ignored: malformed envelope e1/);
    await daemon.waitFor(/ignored: unknown action rm_rf[\s\S]*ignored: envelope type slash_commands/);
    for (const delivery of deliveries) await slack.waitForAck(delivery);
    await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    await slack.sendDm({ userId: 'U0HAROLD', text: 'x'.repeat(100_000) });
    await slack.waitForCall(posted(/^Received message/));
  });

  it('relays what a person writes so that it cannot ping, forge a link or leave the quote', async () => {
    await listen();
    const alert = await startChat();
    await slack.waitForCall(posted(/^Sent message to/));
    await slack.sendDm({
      userId: 'U0HAROLD',
      text: '<!channel> hey <@U0LEAD> see <https://evil.example|google.com>\n*Verdict:* aware &lt;b&gt;',
    });
    const relay = await slack.waitForCall(posted(/^Received message/));
    expect(relay.args.thread_ts).toBe(alert.ts);
    expect(relaysIn(text(relay)).find((r) => r.startsWith('Received'))).toBe(
      'Received message from <@U0HAROLD>:\n' +
        '> `@channel` hey @U0LEAD see google.com (https://evil.example)\n' +
        '> *Verdict:* aware &lt;b&gt;',
    );
  });

  it('keeps tokens out of the store, the logs and status', async () => {
    const daemon = await listen();
    await startChat();
    await slack.waitForCall(posted(/^Sent message to/)); // a DM before the chat is active would be ignored
    await slack.sendDm({ userId: 'U0HAROLD', text: 'yes, it was me' });
    await slack.waitForCall(posted(/^Here is the summary/));
    const { stderr } = await daemon.stop('SIGTERM');
    const store = (await Promise.all([ws.dbPath, journalPathOf(ws.dbPath)].map((f) => readFile(f, 'utf8')))).join('');
    const status = await runCli(['status', '--all'], ws);
    for (const output of [store, stderr, status.stdout, status.stderr]) {
      expect(output).not.toMatch(/xoxb-|xapp-|sk-test/);
    }
  });
});

describe('the store', () => {
  it('is shared safely by several processes writing at once', async () => {
    const module = resolve('dist/store/lowdb-store.js');
    const dbPath = join(ws.dir, 'shared.json');
    const writer = (n: number) =>
      promisify(execFile)(process.execPath, [
        '--input-type=module',
        '-e',
        `const { openLowdbStore } = await import(${JSON.stringify(module)});
         const store = openLowdbStore(${JSON.stringify(dbPath)});
         for (let i = 0; i < 25; i++) await store.transact((d) => { d.seenEvents['w${n}-' + i] = 'x'; });`,
      ]);
    await Promise.all([1, 2, 3, 4].map(writer));
    const data = await openLowdbStore(dbPath).read();
    expect(Object.keys(data.seenEvents)).toHaveLength(100);
  });

  it('loses no change it said was written when the disk fills up, and stays readable', async () => {
    const module = resolve('dist/store/lowdb-store.js');
    const dbPath = join(ws.dir, 'full.json');
    // A file size limit of 16 KiB stands in for a full disk: the write that crosses it is cut short, and the
    // process is stopped (SIGXFSZ) on the next one, as a crash would stop it.
    const script = `const { openLowdbStore } = await import(${JSON.stringify(module)});
      const store = openLowdbStore(${JSON.stringify(dbPath)});
      for (let i = 0; i < 80; i++) {
        await store.transact((d) => { d.seenEvents['ev-' + i] = 'x'.repeat(300); });
        process.stdout.write('ok ' + i + '\\n');
      }`;
    const ended = await promisify(execFile)(
      'bash',
      [
        '-c',
        `ulimit -f 16 && exec "${process.execPath}" --input-type=module -e '${script.replace(/'/g, "'\\''")}'`,
        // Without the tests' read-back check, which would catch the short write itself.
      ],
      { env: { ...process.env, IRBOT_STORE_VERIFY: '0' } },
    ).then(
      () => ({ stdout: 'finished' }),
      (err: { stdout: string }) => err,
    );
    const written = ended.stdout.split('\n').flatMap((line) => (line.startsWith('ok ') ? [`ev-${line.slice(3)}`] : []));
    expect(written.length).toBeGreaterThan(5);
    expect(written.length).toBeLessThan(80);
    const data = await openLowdbStore(dbPath).read();
    expect(Object.keys(data.seenEvents)).toEqual(expect.arrayContaining(written));
  });
});
