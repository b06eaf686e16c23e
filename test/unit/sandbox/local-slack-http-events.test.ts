// Tests of the local Slack delivering over HTTP: signed events and clicks POSTed to the Request URL, a failed
// event retried with X-Slack-Retry-Num as Slack does, a failed click not.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSlack, type LocalSlackOptions } from '../../../src/sandbox/local-slack.js';
import { checkSlackSignature } from '../../../src/slack/signature.js';

interface Received {
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

const SECRET = 'unit-signing-secret-abcdef';

let slack: LocalSlack;
let server: Server;
let received: Received[];
/** The statuses the app answers with, in turn (`late`: only once the test says so); 200 once they run out. */
let statuses: Array<number | 'late'>;
let answerLate: () => void = () => undefined;
let wake: () => void = () => undefined;

beforeEach(async () => {
  received = [];
  statuses = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = statuses.shift() ?? 200;
      if (status === 'late') answerLate = () => res.writeHead(200).end();
      else res.writeHead(status).end();
      wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  slack = await startSlack();
});

/** A local Slack POSTing to the app, retrying at once. */
async function startSlack(more: LocalSlackOptions = {}): Promise<LocalSlack> {
  const local = await LocalSlack.start({ signingSecret: SECRET, httpRetryDelaysMs: [0, 0, 0], ...more });
  local.deliverOverHttp(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);
  return local;
}

afterEach(async () => {
  await slack.close();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
});

/** Resolves once the app has received `n` requests. */
function requests(n: number): Promise<Received[]> {
  return new Promise((resolve) => {
    wake = () => {
      if (received.length >= n) resolve(received);
    };
    wake();
  });
}

const signed = (r: Received) =>
  checkSlackSignature(
    SECRET,
    {
      timestamp: r.headers['x-slack-request-timestamp'] as string,
      signature: r.headers['x-slack-signature'] as string,
      body: r.body,
    },
    new Date(),
  );

describe('the local Slack over HTTP', () => {
  it('POSTs a DM as a signed event callback and records the 2xx answer as the ack', async () => {
    const delivery = await slack.sendDm({ userId: 'U0HAROLD', text: 'hello' });
    expect(delivery.status).toBe(200);
    expect(slack.connectionCount).toBe(0);
    const [request] = received;
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-slack-retry-num']).toBeUndefined();
    expect(signed(request as Received)).toEqual({ ok: true });
    expect(JSON.parse(request?.body ?? '')).toMatchObject({
      type: 'event_callback',
      event_id: delivery.eventId,
      event: { type: 'message', channel_type: 'im', user: 'U0HAROLD', text: 'hello' },
    });
    await slack.waitForAck(delivery);
  });

  it('retries an event answered with a 5xx, counting in X-Slack-Retry-Num, until a 2xx', async () => {
    statuses = [503, 500];
    const first = await slack.sendDm({ userId: 'U0HAROLD', text: 'hello' });
    expect(first.status).toBe(503);
    const [, second, third] = await requests(3);
    expect([second?.headers['x-slack-retry-num'], third?.headers['x-slack-retry-num']]).toEqual(['1', '2']);
    expect(third?.headers['x-slack-retry-reason']).toBe('http_error');
    expect(new Set(received.map((r) => JSON.parse(r.body).event_id))).toEqual(new Set([first.eventId]));
    expect(received.map(signed)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
  });

  it('spreads requests over several Request URLs in turn (a retry too), or sends one where `to` says', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    slack.deliverOverHttp([`${base}/a`, `${base}/b`]);
    const deliveries = [];
    for (const text of ['one', 'two', 'three']) deliveries.push(await slack.sendDm({ userId: 'U0HAROLD', text }));
    expect(deliveries.map((d) => d.connection)).toEqual([0, 1, 0]);
    await slack.sendDm({ userId: 'U0HAROLD', text: 'four', to: 1 });
    statuses = [503];
    await slack.sendDm({ userId: 'U0HAROLD', text: 'five' }); // to b, which fails; its retry goes to a
    await requests(6);
    expect(received.map((r) => r.url)).toEqual(['/a', '/b', '/a', '/b', '/b', '/a']);
    expect(received[5]?.headers['x-slack-retry-num']).toBe('1');
  });

  it('retries an event not answered in time, as http_timeout', async () => {
    statuses = ['late'];
    await slack.close();
    slack = await startSlack({ httpTimeoutMs: 50 });
    const first = await slack.sendDm({ userId: 'U0HAROLD', text: 'hello' });
    expect(first.status).toBe(0);
    const [, retry] = await requests(2);
    answerLate();
    expect(retry?.headers['x-slack-retry-num']).toBe('1');
    expect(retry?.headers['x-slack-retry-reason']).toBe('http_timeout');
  });

  it('POSTs a click as a signed form with the payload, and does not retry it', async () => {
    const posted = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: 'C0FEED',
        text: 'alert',
        blocks: [
          {
            type: 'actions',
            elements: [{ type: 'button', action_id: 'go', value: 'a-1', text: { type: 'plain_text', text: 'Go' } }],
          },
        ],
      }),
    });
    const { ts } = (await posted.json()) as { ts: string };
    statuses = [500];
    const delivery = await slack.clickButton({ userId: 'U0ANALYST', actionId: 'go', channel: 'C0FEED', messageTs: ts });
    expect(delivery.status).toBe(500);
    const [request] = received;
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(signed(request as Received)).toEqual({ ok: true });
    const payload = JSON.parse(new URLSearchParams(request?.body).get('payload') ?? '');
    expect(payload).toMatchObject({ type: 'block_actions', actions: [{ action_id: 'go', value: 'a-1' }] });
    await slack.sendDm({ userId: 'U0HAROLD', text: 'after' });
    expect(received).toHaveLength(2); // the click, then the DM: no retry of the click between them
  });
});
