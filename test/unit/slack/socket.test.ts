// irbot's Socket Mode client against the local Slack: envelopes handled and acked, Slack's `disconnect` met with a
// new connection, a refusal reported, and a stop that waits for the work in flight and takes nothing new.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { LocalSlack } from '../../../src/sandbox/local-slack.js';
import type { Inbound } from '../../../src/slack/envelope.js';
import { connectSocket, type SocketEnvelope } from '../../../src/slack/socket.js';

let slack: LocalSlack;
let lines: string[];
const log = (line: string) => void lines.push(line);

beforeEach(async () => {
  slack = await LocalSlack.start();
  lines = [];
});
afterEach(() => slack.close());

interface Handled {
  inbound: Inbound;
  envelope: SocketEnvelope;
}

/** A connection whose handler records each envelope and acks it, once `gate` (if given) has opened. */
function connection(gate?: Promise<void>, more: Partial<Parameters<typeof connectSocket>[0]> = {}) {
  const handled: Handled[] = [];
  const socket = connectSocket({
    appToken: slack.appToken,
    slackApiUrl: slack.apiUrl,
    log,
    handle: async (inbound, ack, envelope) => {
      handled.push({ inbound, envelope });
      await gate;
      await ack();
    },
    ...more,
  });
  return { socket, handled };
}

describe('the Socket Mode client', () => {
  it('hands on each envelope decoded, with its retry attempt, and acks it by its id', async () => {
    const { socket, handled } = connection();
    await socket.start();
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'it was me' });
    await slack.waitForAck(dm);
    const again = await slack.redeliver(dm);
    await slack.waitForAck(again);
    expect(handled.map((h) => [h.inbound.kind, h.envelope])).toEqual([
      ['dm', { envelopeId: dm.envelopeId, retryAttempt: 0 }],
      ['dm', { envelopeId: again.envelopeId, retryAttempt: 1 }],
    ]);
    expect(slack.acks.map((a) => [a.envelopeId, a.payload])).toEqual([
      [dm.envelopeId, {}],
      [again.envelopeId, {}],
    ]);
    await socket.stop();
  });

  it('acks a button press not recorded within pressAckMs (Slack never re-delivers a click), and still applies it', async () => {
    const held: { kind: string; record: () => Promise<void> }[] = [];
    const applied: string[] = [];
    const socket = connectSocket({
      appToken: slack.appToken,
      slackApiUrl: slack.apiUrl,
      log,
      timing: { pressAckMs: 20 },
      // Held, as when the responder group or the person's zone waits on Slack: acked once `record` is called.
      handle: (inbound, ack) =>
        new Promise<void>((done) => {
          held.push({ kind: inbound.kind, record: () => ack().then(() => done(void applied.push(inbound.kind))) });
        }),
    });
    await socket.start();
    // A DM first: it is acked only once recorded, however long that takes (Slack re-delivers an event).
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'it was me' });
    const press = await slack.sendEnvelope({
      envelope_id: 'env-press',
      type: 'interactive',
      payload: {
        type: 'block_actions',
        user: { id: 'U0ANALYST' },
        actions: [{ action_id: 'start_chat_submit_action', value: 'pivot-000001', action_ts: '1.2' }],
      },
    });
    await slack.waitForAck(press);
    expect(held.map((h) => h.kind)).toEqual(['dm', 'button']);
    expect(applied).toEqual([]);
    expect(slack.acks.map((a) => a.envelopeId)).toEqual(['env-press']);
    expect(lines).toEqual(['button start on pivot-000001: not recorded within 20 ms, acked; applied once it is']);
    for (const h of held) await h.record();
    expect(applied).toEqual(['dm', 'button']);
    await slack.waitForAck(dm);
    await socket.stop();
    expect(slack.acks.map((a) => a.envelopeId)).toEqual(['env-press', dm.envelopeId]);
  });

  it('meets each disconnect with one new connection, and closes the old one once the new one is open', async () => {
    const { socket, handled } = connection();
    await socket.start();
    for (const round of [1, 2, 3]) {
      slack.disconnectAll('refresh_requested');
      // Routed to an open connection only: the one that was told to go takes no more.
      const dm = await slack.sendDm({ userId: 'U0HAROLD', text: `still here ${round}` });
      await slack.waitForAck(dm);
      expect(dm.connectionId).toBe(round + 1);
      await slack.waitForOnlyConnections(1);
      expect(slack.callsTo('apps.connections.open')).toHaveLength(round + 1);
    }
    expect(handled).toHaveLength(3);
    await socket.stop();
    expect(lines).toEqual([]);
  });

  it('acks an envelope still in flight when its connection was replaced, on the new one', async () => {
    let open: () => void = () => undefined;
    const { socket, handled } = connection(new Promise((resolve) => (open = resolve)));
    await socket.start();
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'slow to store' });
    await expect.poll(() => handled.length).toBe(1);
    slack.disconnectAll('refresh_requested');
    await slack.waitForOnlyConnections(1);
    open();
    await slack.waitForAck(dm);
    expect(slack.acks.find((a) => a.envelopeId === dm.envelopeId)?.connectionId).toBe(2);
    await socket.stop();
    expect(lines).toEqual([]);
  });

  it('waits before replacing a connection Slack dropped for too many connections, and says why', async () => {
    const { socket, handled } = connection(undefined, { timing: { retryStepMs: 50 } });
    await socket.start();
    slack.disconnectAll('too_many_websockets');
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'still here' });
    await slack.waitForAck(dm);
    expect(handled).toHaveLength(1);
    expect(lines).toEqual([
      'Socket Mode: Slack says this app has too many connections (at most 10): reconnecting in 0.05 s; run fewer replicas, or take events over HTTP',
    ]);
    await socket.stop();
  });

  it('settles `lost` when Slack turns Socket Mode off for the app (link_disabled), and asks for no new URL', async () => {
    const { socket } = connection();
    await socket.start();
    slack.disconnectAll('link_disabled');
    expect(String(await socket.lost)).toMatch(/turned Socket Mode off for this app \(disconnect: link_disabled\)/);
    await slack.waitForOnlyConnections(0);
    expect(slack.callsTo('apps.connections.open')).toHaveLength(1);
    await socket.stop();
  });

  it.each(['invalid_auth', 'missing_scope'])(
    'rejects its start with %s, a refusal of the app-level token, without trying again',
    async (error) => {
      slack.failNext('apps.connections.open', { error });
      const { socket } = connection();
      await expect(socket.start()).rejects.toMatchObject({ data: { error } });
      expect(slack.callsTo('apps.connections.open')).toHaveLength(1);
      expect(slack.totalConnections).toBe(0);
    },
  );

  it('settles `lost` when Slack refuses a reconnect for good', async () => {
    const { socket } = connection();
    await socket.start();
    slack.failNext('apps.connections.open', { error: 'account_inactive' });
    slack.dropAll();
    expect(await socket.lost).toMatchObject({ data: { error: 'account_inactive' } });
    await socket.stop();
  });

  it('replaces a connection it hears nothing on (a link that died without a word)', async () => {
    // A second of silence, judged every 0.1 s: far longer than this process can stall under the suite's load.
    const { socket, handled } = connection(undefined, { timing: { pingEveryMs: 100, silentMs: 1000 } });
    await socket.start();
    slack.silenceConnections();
    await slack.waitForConnections(1);
    const dm = await slack.sendDm({ userId: 'U0HAROLD', text: 'are you there?' });
    await slack.waitForAck(dm);
    expect(handled).toHaveLength(1);
    expect(lines[0]).toBe('Socket Mode: nothing from Slack for 1 s: reconnecting');
    await socket.stop();
  });

  it('as a one-shot command, gives up on a connection Slack will not open after three attempts', async () => {
    slack.refuseNextConnections(3);
    const { socket } = connection(undefined, { oneShot: true, timing: { retryStepMs: 1 } });
    await expect(socket.start()).rejects.toThrow(/503/);
    expect(slack.callsTo('apps.connections.open')).toHaveLength(3);
    expect(slack.totalConnections).toBe(0);
    expect(lines).toHaveLength(2); // the two attempts tried again
  });

  it('on stop, ends a pause between reconnect attempts at once, leaving no timer behind', async () => {
    const { socket } = connection(undefined, { timing: { retryStepMs: 60_000 } });
    await socket.start();
    slack.failNext('apps.connections.open', { error: 'internal_error' });
    slack.dropAll();
    await expect
      .poll(() => lines)
      .toEqual([expect.stringMatching(/^Socket Mode: reconnecting failed: .*internal_error/)]);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const pausing = timers();
    await socket.stop();
    expect(timers()).toBe(pausing - 1);
  });

  it('on stop, finishes the envelope in flight (its ack goes out), takes no new one, and closes its connection', async () => {
    let open: () => void = () => undefined;
    const { socket, handled } = connection(new Promise((resolve) => (open = resolve)));
    await socket.start();
    const first = await slack.sendDm({ userId: 'U0HAROLD', text: 'one' });
    await expect.poll(() => handled.length).toBe(1);
    const stopped = socket.stop();
    const second = await slack.sendDm({ userId: 'U0HAROLD', text: 'two' });
    open();
    await stopped;
    expect(slack.acks.map((a) => a.envelopeId)).toEqual([first.envelopeId]);
    expect(handled.map((h) => h.envelope.envelopeId)).toEqual([first.envelopeId]);
    expect(slack.acks.some((a) => a.envelopeId === second.envelopeId)).toBe(false);
    expect(slack.connectionCount).toBe(0);
    expect(slack.totalConnections).toBe(1);
  });
});

describe('a stop with slow work in flight', () => {
  it('closes its connection once what it took is acked, and only then waits for the slow part of the work', async () => {
    let finish: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let working: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => {
      working = resolve;
    });
    // The App acks once the DM is in the store, then talks to the LLM and Slack for a while.
    const socket = connectSocket({
      appToken: slack.appToken,
      slackApiUrl: slack.apiUrl,
      log,
      handle: async (_inbound, ack) => {
        await ack();
        working();
        await slow;
      },
    });
    await socket.start();
    const first = await slack.sendDm({ userId: 'U0HAROLD', text: 'one' });
    await taken;
    let stopped = false;
    const stopping = socket.stop().then(() => {
      stopped = true;
    });
    // Slack sees no connection of a process that takes nothing more, while its work goes on.
    await slack.waitForOnlyConnections(0);
    expect(stopped).toBe(false);
    expect(slack.acks.map((a) => a.envelopeId)).toEqual([first.envelopeId]);
    finish();
    await stopping;
    expect(stopped).toBe(true);
  });
});

describe('a disconnect before hello', () => {
  /** A Slack of its own: apps.connections.open always answers, and `onConnection` decides what each socket hears. */
  async function bareSlack(onConnection: (ws: WebSocket, n: number) => void) {
    let connections = 0;
    const wss = new WebSocketServer({ noServer: true });
    const server = createServer((_req, res) => {
      const { port } = server.address() as AddressInfo;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, url: `ws://127.0.0.1:${port}/link` }));
    });
    server.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, ++connections)),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      apiUrl: `http://127.0.0.1:${port}/api/`,
      connections: () => connections,
      close: async () => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  it('tries again once, from the loop opening it: refusals before hello never pile connections up', async () => {
    // Slack refuses three connections before their hello (too_many_websockets) and closes them; the fourth is greeted.
    const bare = await bareSlack((ws, n) => {
      if (n <= 3) {
        ws.send(JSON.stringify({ type: 'disconnect', reason: 'too_many_websockets' }));
        setImmediate(() => ws.close(1000));
      } else ws.send(JSON.stringify({ type: 'hello', num_connections: 1 }));
    });
    try {
      const socket = connectSocket({
        appToken: 'xapp-1-test',
        slackApiUrl: bare.apiUrl,
        log,
        handle: async (_inbound, ack) => ack(),
        timing: { retryStepMs: 0 },
      });
      await socket.start();
      await socket.stop();
      // One loop, one connection at a time: a second loop per refusal made five connections or more.
      expect(bare.connections()).toBe(4);
      expect(lines.filter((l) => l.includes('before saying hello (disconnect: too_many_websockets)'))).toHaveLength(3);
    } finally {
      await bare.close();
    }
  });
});
