// The local Slack against the unmodified WebClient and SocketModeClient: Web API, Socket Mode, failures, teardown.

import { randomBytes } from 'node:crypto';
import { createConnection as connectTcp, type Socket } from 'node:net';
import { SocketModeClient } from '@slack/socket-mode';
import { retryPolicies, WebClient } from '@slack/web-api';
import { WebSocket } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { slackLogger } from '../../../src/log.js';
import { LocalSlack } from '../../../src/sandbox/local-slack.js';

/** irbot's own bridge from the SDKs' logger, to a log that drops everything. */
const silent = slackLogger(() => undefined, 'test');

const FEED = 'C0FEED';
const HAROLD = 'U0HAROLD';
const ANALYST = 'U0ANALYST';

const alertBlocks = [
  { type: 'section', text: { type: 'mrkdwn', text: '*Admin role granted* by <@U0HAROLD>' } },
  {
    type: 'actions',
    block_id: 'alert-actions',
    elements: [
      { type: 'button', action_id: 'start_chat', text: { type: 'plain_text', text: 'Start Chat' }, value: 'al-1' },
      { type: 'button', action_id: 'dismiss', text: { type: 'plain_text', text: 'Do Nothing' }, value: 'al-1' },
    ],
  },
];

interface Received {
  ack: () => Promise<void>;
  body: Record<string, unknown>;
  event?: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
}

let slack: LocalSlack;
let sockets: SocketModeClient[] = [];

beforeEach(async () => {
  slack = await LocalSlack.start();
});

afterEach(async () => {
  await Promise.all(sockets.map((s) => s.disconnect()));
  sockets = [];
  await slack.close();
});

function web(token = slack.botToken, options: Partial<ConstructorParameters<typeof WebClient>[1]> = {}) {
  return new WebClient(token, { slackApiUrl: slack.apiUrl, logger: silent, retryConfig: { retries: 0 }, ...options });
}

async function connect(): Promise<SocketModeClient> {
  const socket = new SocketModeClient({
    appToken: slack.appToken,
    logger: silent,
    // Also the delay before a reconnect, which is why it is short here.
    clientPingTimeout: 300,
    clientOptions: { slackApiUrl: slack.apiUrl },
  });
  sockets.push(socket);
  await socket.start();
  return socket;
}

function next(socket: SocketModeClient, event: string, filter: (r: Received) => boolean = () => true) {
  return new Promise<Received>((resolve) => {
    const listener = (received: Received) => {
      if (!filter(received)) return;
      socket.off(event, listener);
      resolve(received);
    };
    socket.on(event, listener);
  });
}

/**
 * A Socket Mode connection whose client sent a close frame and then went silent without closing TCP, as a process
 * killed mid-close leaves it: the server's socket stays closing, and sends to it fail, until its close times out.
 */
async function closingConnection(): Promise<Socket> {
  const { url } = await web(slack.appToken).apps.connections.open();
  const link = new URL(String(url));
  const tcp = connectTcp(Number(link.port), link.hostname);
  let received = Buffer.alloc(0);
  const receivedAtLeast = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (received.length < n) return;
        tcp.off('data', check);
        resolve();
      };
      tcp.on('data', check);
      check();
    });
  tcp.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  await new Promise((resolve) => tcp.once('connect', resolve));
  tcp.write(
    [
      `GET ${link.pathname}${link.search} HTTP/1.1`,
      `Host: ${link.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  );
  // The upgrade answer and hello: the server counts it open from then on.
  await slack.waitForConnections(2);
  const before = received.length;
  // A close frame (FIN, opcode 8, masked, no payload); the server answers with its own and waits for TCP to end.
  tcp.write(Buffer.concat([Buffer.from([0x88, 0x80]), randomBytes(4)]));
  await receivedAtLeast(before + 2);
  return tcp;
}

async function postAlert(): Promise<string> {
  const res = await web().chat.postMessage({ channel: FEED, text: 'Admin role granted', blocks: alertBlocks });
  return String(res.ts);
}

describe('Web API', () => {
  it('answers auth.test with the bot identity and its scopes', async () => {
    const res = await web().auth.test();
    expect(res).toMatchObject({ ok: true, user_id: 'U0IRBOT', bot_id: 'B0IRBOT', team_id: 'T0LOCAL' });
    expect(res.response_metadata?.scopes).toContain('im:write');
  });

  it('posts to a user id in the DM with that user, and records the decoded call', async () => {
    const res = await web().chat.postMessage({ channel: HAROLD, text: 'Hi Harold', blocks: alertBlocks.slice(0, 1) });

    expect(res.channel).toBe(slack.dmChannelOf(HAROLD));
    expect(res.channel).toMatch(/^D/);
    const [call] = slack.callsTo('chat.postMessage');
    expect(call).toMatchObject({ token: slack.botToken, status: 200, args: { channel: HAROLD, text: 'Hi Harold' } });
    expect(call?.args.blocks).toEqual(alertBlocks.slice(0, 1));
    expect(slack.history(String(res.channel))).toMatchObject([
      { ts: res.ts, text: 'Hi Harold', user: 'U0IRBOT', bot_id: 'B0IRBOT', blocks: [{ type: 'section' }] },
    ]);
  });

  it('gives strictly increasing timestamps and threads replies under their parent', async () => {
    const parent = await postAlert();
    const reply = await web().chat.postMessage({ channel: FEED, text: 'details', thread_ts: parent });
    const second = await web().chat.postMessage({ channel: FEED, text: 'more', thread_ts: String(reply.ts) });

    expect(Number(reply.ts)).toBeGreaterThan(Number(parent));
    expect(slack.thread(FEED, parent).map((m) => m.text)).toEqual(['Admin role granted', 'details', 'more']);
    expect(second.message?.thread_ts).toBe(parent);
    const replies = await web().conversations.replies({ channel: FEED, ts: parent });
    expect(replies.messages?.map((m) => m.text)).toEqual(['Admin role granted', 'details', 'more']);
    const history = await web().conversations.history({ channel: FEED });
    expect(history.messages).toMatchObject([{ ts: parent, reply_count: 2 }]);
  });

  it('refuses unknown channels, channels without the bot, missing text and invalid blocks', async () => {
    await slack.close();
    slack = await LocalSlack.start({ channels: [{ id: 'C0OTHER', name: 'other', members: [HAROLD] }] });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err: { data?: { error?: string } }) => err.data?.error,
      );

    expect(await code(web().chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).toBe('channel_not_found');
    expect(await code(web().chat.postMessage({ channel: 'C0OTHER', text: 'x' }))).toBe('not_in_channel');
    expect(await code(web().chat.postMessage({ channel: HAROLD, text: '' }))).toBe('no_text');
    const tooLong = [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }];
    expect(await code(web().chat.postMessage({ channel: HAROLD, text: 'x', blocks: tooLong }))).toBe('invalid_blocks');
    expect(slack.calls.map((c) => c.response.ok)).toEqual([false, false, false, false]);
  });

  it('updates a message in place and refuses unknown timestamps', async () => {
    const ts = await postAlert();
    const res = await web().chat.update({ channel: FEED, ts, text: 'Closed', blocks: [] });

    expect(res).toMatchObject({ ok: true, channel: FEED, ts, text: 'Closed' });
    const [stored] = slack.history(FEED);
    expect(stored).toMatchObject({ ts, text: 'Closed', edited: { user: 'U0IRBOT' } });
    expect(stored?.blocks).toBeUndefined();
    await expect(web().chat.update({ channel: FEED, ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
  });

  it('takes a user ID (for the DM) or a name only where Slack does: posting, not chat.update or history', async () => {
    await web().chat.postMessage({ channel: HAROLD, text: 'hi' });
    const [dm] = slack.history(slack.dmChannelOf(HAROLD));
    await expect(web().chat.update({ channel: HAROLD, ts: dm?.ts ?? '', text: 'x' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    await expect(web().conversations.history({ channel: HAROLD })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    await expect(web().conversations.history({ channel: slack.dmChannelOf(HAROLD) })).resolves.toMatchObject({
      ok: true,
    });
  });

  it("removes a message's blocks on a new text without blocks, as chat.update's docs say", async () => {
    const ts = await postAlert();
    expect(slack.history(FEED)[0]?.blocks).toBeDefined();
    await web().chat.update({ channel: FEED, ts, text: 'Closed' });
    expect(slack.history(FEED)[0]?.blocks).toBeUndefined();
  });

  it('tells the sandbox UI about posted and updated messages', async () => {
    const seen: string[] = [];
    slack.on('message', (m) => seen.push(`${m.change} ${m.channel} ${m.text}`));
    const ts = await postAlert();
    await web().chat.update({ channel: FEED, ts, text: 'Closed' });

    expect(seen).toEqual([`posted ${FEED} Admin role granted`, `updated ${FEED} Closed`]);
  });

  it('answers users.info, and user_not_found for strangers', async () => {
    const res = await web().users.info({ user: HAROLD });

    expect(res.user).toMatchObject({ id: HAROLD, name: 'harold', profile: { display_name: 'Harold' } });
    expect(slack.displayNameOf('U0HFINCH')).toBe('Harold Finch');
    await expect(web().users.info({ user: 'U0NOBODY' })).rejects.toMatchObject({ data: { error: 'user_not_found' } });
  });

  it("gives a user's email only to a token with users:read.email, as Slack does", async () => {
    const email = async () => (await web().users.info({ user: HAROLD })).user?.profile?.email;
    expect(await email()).toEqual(expect.stringContaining('@'));
    await slack.close();
    slack = await LocalSlack.start({ scopes: ['chat:write', 'im:write', 'users:read'] });
    expect(await email()).toBeUndefined();
  });

  it('opens and describes DMs, and sends ephemeral messages to members only', async () => {
    const opened = await web().conversations.open({ users: HAROLD });
    const info = await web().conversations.info({ channel: String(opened.channel?.id) });
    await web().chat.postEphemeral({ channel: FEED, user: ANALYST, text: 'only you' });

    expect(opened.channel?.id).toBe(slack.dmChannelOf(HAROLD));
    expect(info.channel).toMatchObject({ is_im: true, user: HAROLD });
    expect(slack.ephemerals(FEED)).toMatchObject([{ text: 'only you', visibleTo: ANALYST }]);
    expect(slack.history(FEED)).toEqual([]);
  });

  it('checks tokens: missing, wrong, and of the wrong kind', async () => {
    await expect(web('xoxb-wrong').auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    await expect(web('').auth.test()).rejects.toMatchObject({ data: { error: 'not_authed' } });
    await expect(web(slack.appToken).auth.test()).rejects.toMatchObject({ data: { error: 'not_allowed_token_type' } });
    await expect(web().apiCall('apps.connections.open')).rejects.toMatchObject({
      data: { error: 'not_allowed_token_type' },
    });
    expect(slack.calls.map((c) => c.token)).toEqual(['xoxb-wrong', undefined, slack.appToken, slack.botToken]);
  });

  it('answers unknown_method, and accepts JSON bodies', async () => {
    await expect(web().apiCall('chat.fly')).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    const res = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: FEED, text: 'as JSON', blocks: alertBlocks }),
    });

    expect(await res.json()).toMatchObject({ ok: true, channel: FEED });
    expect(slack.callsTo('chat.postMessage')[0]?.args.blocks).toEqual(alertBlocks);
  });

  it('fails the next call with 429 and Retry-After, which WebClient waits out and retries', async () => {
    slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 0 });
    const res = await web(slack.botToken, { retryConfig: retryPolicies.rapidRetryPolicy }).chat.postMessage({
      channel: FEED,
      text: 'after the limit',
    });

    expect(res.ok).toBe(true);
    expect(slack.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 200]);
    expect(slack.history(FEED)).toHaveLength(1);
  });

  it('sends the Retry-After seconds it was given', async () => {
    slack.failNext('users.info', { retryAfterSeconds: 7 });
    await expect(
      web(slack.botToken, { rejectRateLimitedCalls: true }).users.info({ user: HAROLD }),
    ).rejects.toMatchObject({ retryAfter: 7 });
  });

  it('fails the next calls with a Slack error, then answers normally', async () => {
    slack.failNext('chat.postMessage', { error: 'channel_is_archived' }, 2);
    const post = () => web().chat.postMessage({ channel: FEED, text: 'x' });

    await expect(post()).rejects.toMatchObject({ data: { error: 'channel_is_archived' } });
    await expect(post()).rejects.toMatchObject({ data: { error: 'channel_is_archived' } });
    await expect(post()).resolves.toMatchObject({ ok: true });
  });

  it('fails only a call to the channel a failure names, letting others through', async () => {
    slack.failNext('chat.postMessage', { error: 'not_in_channel', channel: FEED });
    await expect(web().chat.postMessage({ channel: HAROLD, text: 'a DM' })).resolves.toMatchObject({ ok: true });
    await expect(web().chat.postMessage({ channel: FEED, text: 'x' })).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    await expect(web().chat.postMessage({ channel: FEED, text: 'x' })).resolves.toMatchObject({ ok: true });
  });

  it('waits for a call that comes later, and explains a timeout with the recent calls', async () => {
    const waiting = slack.waitForCall((c) => c.method === 'users.info');
    await web().auth.test();
    await web().users.info({ user: HAROLD });

    expect((await waiting).args).toEqual({ user: HAROLD });
    await expect(slack.waitForCall((c) => c.method === 'chat.update', 20)).rejects.toThrow(
      /chat\.update|recent calls: auth\.test, users\.info/,
    );
  });
});

describe('Socket Mode', () => {
  it('greets a connection with hello after apps.connections.open with the app token', async () => {
    await connect();

    expect(slack.connectionCount).toBe(1);
    expect(slack.callsTo('apps.connections.open')[0]?.token).toBe(slack.appToken);
    expect(String(slack.callsTo('apps.connections.open')[0]?.response.url)).toMatch(
      /^ws:\/\/127\.0\.0\.1:\d+\/link\?ticket=/,
    );
  });

  it('refuses a WebSocket without a valid ticket', async () => {
    const ws = new WebSocket(`${slack.apiUrl.replace('http:', 'ws:').replace('/api/', '')}/link?ticket=forged`);
    await new Promise((resolve) => ws.addEventListener('error', resolve));

    expect(slack.connectionCount).toBe(0);
  });

  it('delivers a button click to the interactive listener and records the ack', async () => {
    const socket = await connect();
    const ts = await postAlert();
    const received = next(socket, 'interactive');

    const delivery = await slack.clickButton({ userId: ANALYST, actionId: 'start_chat', channel: FEED, messageTs: ts });
    const { ack, body } = await received;
    await ack();
    await slack.waitForAck(delivery);

    expect(body).toMatchObject({
      type: 'block_actions',
      user: { id: ANALYST, username: 'analyst', team_id: 'T0LOCAL' },
      channel: { id: FEED, name: 'security-alerts' },
      container: { type: 'message', message_ts: ts, channel_id: FEED },
      message: { ts, blocks: [{ type: 'section' }, { block_id: 'alert-actions' }] },
      actions: [{ action_id: 'start_chat', block_id: 'alert-actions', value: 'al-1', type: 'button' }],
      api_app_id: 'A0IRBOT',
    });
    expect(slack.acks.map((a) => a.envelopeId)).toEqual([delivery.envelopeId]);
  });

  it('delivers a DM from a person to the message listener, and stores it', async () => {
    const socket = await connect();
    const received = next(socket, 'message');

    const delivery = await slack.sendDm({ userId: HAROLD, text: 'yes that was me' });
    const { event, body } = await received;

    expect(event).toMatchObject({
      type: 'message',
      channel_type: 'im',
      channel: slack.dmChannelOf(HAROLD),
      user: HAROLD,
      text: 'yes that was me',
    });
    expect(body).toMatchObject({ type: 'event_callback', event_id: delivery.eventId, team_id: 'T0LOCAL' });
    expect(slack.history(slack.dmChannelOf(HAROLD))).toMatchObject([{ user: HAROLD, text: 'yes that was me' }]);
  });

  it('re-delivers with the same event_id, a new envelope id and retry_attempt 1', async () => {
    const socket = await connect();
    const first = await slack.sendDm({ userId: HAROLD, text: 'hello?' });
    const retried = next(socket, 'message', (r) => r.retry_num === 1);

    const again = await slack.redeliver(first);
    const received = await retried;

    expect(again.eventId).toBe(first.eventId);
    expect(again.envelopeId).not.toBe(first.envelopeId);
    expect(again.envelope).toMatchObject({ retry_attempt: 1, retry_reason: 'timeout' });
    expect(received).toMatchObject({ retry_num: 1, retry_reason: 'timeout', body: { event_id: first.eventId } });
  });

  it('re-delivers an unacknowledged envelope by itself when asked to', async () => {
    await slack.close();
    slack = await LocalSlack.start({ redeliverAfterMs: 20 });
    await connect();
    const retried = new Promise((resolve) => {
      slack.on('delivery', (d) => {
        if (d.envelope.retry_attempt === 1) resolve(d);
      });
    });

    const first = await slack.sendDm({ userId: HAROLD, text: 'anyone?' });

    expect(await retried).toMatchObject({ eventId: first.eventId, envelope: { retry_attempt: 1 } });
  });

  it('sends each envelope to one connection: round-robin, or the one asked for', async () => {
    await connect();
    await connect();
    await slack.waitForConnections(2);

    const deliveries = [
      await slack.sendDm({ userId: HAROLD, text: 'a' }),
      await slack.sendDm({ userId: HAROLD, text: 'b' }),
      await slack.sendDm({ userId: HAROLD, text: 'c' }),
      await slack.sendDm({ userId: HAROLD, text: 'd', to: 1 }),
      await slack.sendDm({ userId: HAROLD, text: 'e', to: 1 }),
    ];

    expect(deliveries.map((d) => d.connection)).toEqual([0, 1, 0, 1, 1]);
    expect(deliveries.map((d) => d.connectionId)).toEqual([1, 2, 1, 2, 2]);
  });

  it('hands an envelope to another connection when the one in turn is closing (its client died)', async () => {
    await connect();
    const dying = await closingConnection();
    try {
      await slack.waitForConnections(2);
      const deliveries = [];
      for (const text of ['a', 'b', 'c']) deliveries.push(await slack.sendDm({ userId: HAROLD, text }));

      // The closing one (connection 2) was tried once, let go, and every envelope went to the open one.
      expect(deliveries.map((d) => d.connectionId)).toEqual([1, 1, 1]);
      expect(slack.connectionCount).toBe(1);
    } finally {
      dying.destroy();
    }
  });

  it('echoes the bot’s own DM back to it, with bot_id', async () => {
    const socket = await connect();
    const echoed = next(socket, 'message');

    const res = await web().chat.postMessage({ channel: HAROLD, text: 'Hi Harold' });
    const { event } = await echoed;

    expect(event).toMatchObject({
      channel: res.channel,
      channel_type: 'im',
      user: 'U0IRBOT',
      bot_id: 'B0IRBOT',
      text: 'Hi Harold',
      ts: res.ts,
    });
  });

  it('sends envelopes as they are, for tests of malformed input', async () => {
    const socket = await connect();
    const received = next(socket, 'slack_event');

    await slack.sendEnvelope({ envelope_id: 'e-1', type: 'slash_commands', payload: { command: '/irbot' } });

    expect(await received).toMatchObject({ envelope_id: 'e-1', type: 'slash_commands', body: { command: '/irbot' } });
  });

  it('asks every connection to reconnect, and the client does', async () => {
    const socket = await connect();
    // The client's own word, not just our hello: disconnecting it mid-start leaves an unhandled rejection in the SDK.
    const reconnected = new Promise((resolve) => socket.once('connected', resolve));

    slack.disconnectAll();
    expect(slack.connectionCount).toBe(0);
    await reconnected;

    expect(slack.totalConnections).toBe(2);
    expect(slack.callsTo('apps.connections.open')).toHaveLength(2);
  });

  it('reconnects after a dropped connection too', async () => {
    const socket = await connect();
    const reconnected = new Promise((resolve) => socket.once('connected', resolve));

    slack.dropAll();
    await reconnected;

    expect(slack.totalConnections).toBe(2);
  });

  it('closes its server, sockets and timers', async () => {
    const count = (type: string) => process.getActiveResourcesInfo().filter((r) => r === type).length;
    const counts = () => ({
      servers: count('TCPServerWrap'),
      sockets: count('TCPSocketWrap'),
      timers: count('Timeout'),
    });
    // Node frees closed handles (the previous test's too) within a few turns of the event loop.
    const turns = async (n: number, until: () => boolean = () => false) => {
      for (let turn = 0; turn < n && !until(); turn++) await new Promise((resolve) => setImmediate(resolve));
    };
    await turns(10);
    const before = counts();
    const own = await LocalSlack.start({ pingIntervalMs: 10 });
    // A bare WebSocket that stays open, so that close() is what ends it.
    const { url } = await new WebClient(own.appToken, {
      slackApiUrl: own.apiUrl,
      logger: silent,
    }).apps.connections.open();
    const ws = new WebSocket(String(url));
    const closed = new Promise((resolve) => ws.addEventListener('close', resolve));
    await own.waitForConnections(1);
    const pending = expect(own.waitForCall(() => false)).rejects.toThrow(/closed/);

    await own.close();

    await pending;
    await closed;
    await expect(fetch(`${own.apiUrl}auth.test`, { method: 'POST' })).rejects.toThrow();
    const released = () => {
      const now = counts();
      return now.servers <= before.servers && now.sockets <= before.sockets && now.timers <= before.timers;
    };
    await turns(100, released);
    const after = counts();
    expect(after.servers).toBeLessThanOrEqual(before.servers);
    expect(after.sockets).toBeLessThanOrEqual(before.sockets);
    expect(after.timers).toBeLessThanOrEqual(before.timers);
  });
});
