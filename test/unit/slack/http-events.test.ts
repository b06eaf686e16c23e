// Tests of the HTTP events receiver in-process: signed requests only, url_verification, and the answer waiting for
// the App to record the event (200), or telling Slack to retry (503) when it cannot or not in time.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import type { Inbound } from '../../../src/slack/envelope.js';
import {
  EVENTS_PATH,
  HEALTH_REUSE_MS,
  type HttpEvents,
  type HttpEventsOptions,
  MAX_BODIES_READING,
  readSlackRequest,
  startHttpEvents,
} from '../../../src/slack/http-events.js';
import { signSlackRequest } from '../../../src/slack/signature.js';
import { testApp } from '../../support/memory-ports.js';

const SECRET = 'test-signing-secret-0123456789abcdef';

const dmBody = (eventId = 'Ev0001', text = 'it was me') =>
  JSON.stringify({
    type: 'event_callback',
    team_id: 'T0LOCAL',
    api_app_id: 'A0IRBOT',
    event_id: eventId,
    event_time: 1_700_000_000,
    event: {
      type: 'message',
      channel_type: 'im',
      user: 'U0HAROLD',
      channel: 'D0HAROLD',
      text,
      ts: '1700000000.000100',
    },
  });

const clickBody = (alertId = 'pivot-000001') =>
  new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions',
      user: { id: 'U0ANALYST' },
      container: { type: 'message', channel_id: 'C0FEED', message_ts: '1700000000.000001' },
      channel: { id: 'C0FEED' },
      message: { ts: '1700000000.000001' },
      actions: [{ action_id: 'start_chat_submit_action', value: alertId, action_ts: '1700000001.000002' }],
    }),
  }).toString();

let receiver: HttpEvents | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

type Handle = HttpEventsOptions['handle'];

async function start(handle: Handle, more: Partial<HttpEventsOptions> = {}, logs: string[] = []) {
  receiver = await startHttpEvents({
    host: '127.0.0.1',
    port: 0,
    signingSecret: SECRET,
    log: (line) => logs.push(line),
    clock: () => new Date(),
    handle,
    ...more,
  });
  return receiver.address.url;
}

/** POSTs `body` signed now (or as `sign` says), as JSON unless it is a form. */
function post(
  url: string,
  body: string,
  opts: { headers?: Record<string, string>; secret?: string; at?: number; form?: boolean } = {},
) {
  const timestamp = String(Math.floor((opts.at ?? Date.now()) / 1000));
  return fetch(`${url}${EVENTS_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': opts.form ? 'application/x-www-form-urlencoded' : 'application/json',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(opts.secret ?? SECRET, timestamp, body),
      ...opts.headers,
    },
    body,
  });
}

/** A handle that records what it got and acks at once, as the App does once the event is in the store. */
function acking(got: Inbound[] = []): Handle {
  return async (inbound, ack) => {
    got.push(inbound);
    await ack();
  };
}

describe('readSlackRequest', () => {
  it('reads an event callback as the events_api envelope Socket Mode would carry', () => {
    expect(readSlackRequest('application/json', dmBody())).toEqual({
      kind: 'envelope',
      type: 'events_api',
      payload: JSON.parse(dmBody()),
    });
  });

  it("reads a form's payload field as the interactive envelope, whatever the charset parameter", () => {
    const request = readSlackRequest('application/x-www-form-urlencoded; charset=utf-8', clickBody());
    expect(request).toMatchObject({ kind: 'envelope', type: 'interactive', payload: { type: 'block_actions' } });
  });

  it('reads url_verification and its challenge', () => {
    const body = JSON.stringify({ token: 'x', challenge: 'abc123', type: 'url_verification' });
    expect(readSlackRequest('application/json', body)).toEqual({ kind: 'url_verification', challenge: 'abc123' });
  });

  it('names what is wrong with a body it cannot read', () => {
    expect(readSlackRequest('application/json', '{"type":')).toEqual({
      kind: 'bad',
      reason: 'the body is not a JSON object',
    });
    expect(readSlackRequest('application/json', '{"type":"url_verification"}')).toMatchObject({ kind: 'bad' });
    expect(readSlackRequest('application/x-www-form-urlencoded', 'x=1')).toEqual({
      kind: 'bad',
      reason: 'a form without a payload field',
    });
    expect(readSlackRequest('text/plain', 'hi')).toMatchObject({ kind: 'bad' });
  });
});

describe('the HTTP events receiver', () => {
  it('answers url_verification with its challenge once the request is signed', async () => {
    const url = await start(acking());
    const body = JSON.stringify({ token: 'x', challenge: 'c-3f9a', type: 'url_verification' });
    const res = await post(url, body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: 'c-3f9a' });
    expect((await post(url, body, { secret: 'another-secret' })).status).toBe(401);
  });

  it('hands a signed DM and a signed click to the App decoded like Socket Mode, and answers 200 on its ack', async () => {
    const got: Inbound[] = [];
    const url = await start(acking(got));
    const dm = await post(url, dmBody());
    expect(dm.status).toBe(200);
    expect(await dm.text()).toBe('');
    expect((await post(url, clickBody(), { form: true })).status).toBe(200);
    expect(got).toEqual([
      {
        kind: 'dm',
        eventId: 'Ev0001',
        userId: 'U0HAROLD',
        channelId: 'D0HAROLD',
        text: 'it was me',
        ts: '1700000000.000100',
      },
      expect.objectContaining({ kind: 'button', action: 'start', alertId: 'pivot-000001', userId: 'U0ANALYST' }),
    ]);
  });

  it('refuses with 401, before the App sees it: no signature, a wrong one, a tampered body, an old or early timestamp', async () => {
    const got: Inbound[] = [];
    const logs: string[] = [];
    const url = await start(acking(got), {}, logs);
    const unsigned = await fetch(`${url}${EVENTS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: dmBody(),
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ error: 'missing X-Slack-Signature or X-Slack-Request-Timestamp' });
    expect((await post(url, dmBody(), { secret: 'not-the-secret' })).status).toBe(401);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const tampered = await fetch(`${url}${EVENTS_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-slack-request-timestamp': timestamp,
        'x-slack-signature': signSlackRequest(SECRET, timestamp, dmBody('Ev0001', 'no')),
      },
      body: dmBody('Ev0001', 'yes'),
    });
    expect(tampered.status).toBe(401);
    expect((await post(url, dmBody(), { at: Date.now() - 6 * 60_000 })).status).toBe(401);
    expect((await post(url, dmBody(), { at: Date.now() + 6 * 60_000 })).status).toBe(401);
    expect(got).toEqual([]);
    expect(logs).toContain(`slack POST ${EVENTS_PATH} 401 X-Slack-Signature does not match`);
    expect(logs.join('\n')).not.toContain(SECRET);
  });

  it('answers 413 for a body over the limit, 404 elsewhere, 405 for a GET, 400 for an unreadable signed body', async () => {
    const url = await start(acking(), { maxBodyBytes: 1024 });
    expect((await post(url, JSON.stringify({ type: 'event_callback', pad: 'x'.repeat(2000) }))).status).toBe(413);
    expect((await fetch(`${url}/slack/other`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${url}${EVENTS_PATH}`)).status).toBe(405);
    const bad = await post(url, 'not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'the body is not a JSON object' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('answers 503 when the App has not recorded the event in time, and never 200 before it has', async () => {
    let release: () => Promise<void> = async () => undefined;
    const logs: string[] = [];
    const url = await start(
      (_inbound, ack) =>
        new Promise<void>((done) => {
          release = () => ack().then(done);
        }),
      { ackWithinMs: 50 },
      logs,
    );
    const res = await post(url, dmBody('Ev0009'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'not recorded within 50 ms' });
    await release(); // recorded after the answer: Slack's retry will be a duplicate
    expect(logs).toContain(`slack POST ${EVENTS_PATH} 503 dm Ev0009: not recorded in time`);
  });

  it('answers a button press 200 when the App has not recorded it in time (Slack never retries a click), and applies it after', async () => {
    let release: () => Promise<void> = async () => undefined;
    const logs: string[] = [];
    const applied: string[] = [];
    const url = await start(
      (inbound, ack) =>
        new Promise<void>((done) => {
          release = () =>
            ack().then(() => {
              applied.push(inbound.kind);
              done();
            });
        }),
      { ackWithinMs: 50 },
      logs,
    );
    const res = await post(url, clickBody(), { form: true });
    expect(res.status).toBe(200);
    expect(applied).toEqual([]);
    await release();
    expect(applied).toEqual(['button']);
    expect(logs).toContain(
      `slack POST ${EVENTS_PATH} 200 button start on pivot-000001: not recorded within 50 ms, answered; applied once it is`,
    );
  });

  it('answers 503 with Retry-After when the store cannot be read, so that Slack retries; 200 once it can', async () => {
    const { app, store } = testApp();
    let broken = true;
    const transact = store.transact.bind(store);
    store.transact = (change) =>
      broken ? Promise.reject(new ConfigError('Store file db.json is not valid JSON')) : transact(change);
    const logs: string[] = [];
    const url = await start(
      (inbound, ack) => app.handleInbound(inbound, ack),
      { health: async () => (broken ? 'store unreadable' : undefined) },
      logs,
    );
    const refused = await post(url, dmBody('Ev0100'));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toEqual({ error: 'store unreadable' });
    expect(logs).toContain(`slack POST ${EVENTS_PATH} 503 dm Ev0100: Store file db.json is not valid JSON`);
    expect(store.data().seenEvents).toEqual({});

    broken = false;
    const retried = await post(url, dmBody('Ev0100'), {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_error' },
    });
    expect(retried.status).toBe(200);
    expect(Object.keys(store.data().seenEvents)).toEqual(['Ev0100']);
    expect(logs).toContain(`slack POST ${EVENTS_PATH} 200 dm Ev0100 (retry 1 http_error)`);
  });

  it("refuses from the headers alone, without waiting for the body, a request that cannot be Slack's", async () => {
    const got: Inbound[] = [];
    const url = await start(acking(got));
    const now = String(Math.floor(Date.now() / 1000));
    // Each declares a body of a MiB and sends a KiB of it: answered at once, not once the body came (it never does).
    const stale = await stalledRequest(url, { timestamp: '1', signature: `v0=${'0'.repeat(64)}` });
    expect(stale.status).toBe(401);
    expect(stale.text).toContain('X-Slack-Request-Timestamp is more than 5 minutes away from now');
    const misshapen = await stalledRequest(url, { timestamp: now, signature: 'v0=x' });
    expect(misshapen.status).toBe(401);
    expect(misshapen.text).toContain('X-Slack-Signature is not v0= and 64 hex digits');
    expect(got).toEqual([]);
  });

  it(`reads ${MAX_BODIES_READING} bodies at once at most: past that, 503 until one is done`, async () => {
    const logs: string[] = [];
    const url = await start(acking(), {}, logs);
    const headers = { timestamp: String(Math.floor(Date.now() / 1000)), signature: `v0=${'0'.repeat(64)}` };
    // Well-shaped headers with a fresh timestamp, and bodies that stall: read until they end, or time out. Whichever
    // request the server takes last, one past the limit, is the one answered, and answered 503.
    const stalled = await Promise.all(Array.from({ length: MAX_BODIES_READING + 1 }, () => openStalled(url, headers)));
    const first = await Promise.race(stalled.map(answerOf));
    expect(first.status).toBe(503);
    expect(first.text).toContain('too many requests at once');
    // A client that goes away is its own trouble: answered 400, logged as a warning, not as our 500.
    const gone = waitForLog(logs, `slack POST ${EVENTS_PATH} 400 the request ended before its body did`);
    for (const socket of stalled) socket.destroy();
    await gone;
    expect(logs.some((l) => l.includes(' 500 '))).toBe(false);
    expect((await post(url, dmBody('Ev0200'))).status).toBe(200);
  });

  it(`answers /healthz from one look at the store for everyone who asks within ${HEALTH_REUSE_MS} ms`, async () => {
    let looks = 0;
    let at = Date.parse('2026-12-05T10:00:00Z');
    const url = await start(acking(), {
      clock: () => new Date(at),
      health: async () => {
        looks++;
        return undefined;
      },
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/healthz`)));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(looks).toBe(1);
    at += HEALTH_REUSE_MS;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(looks).toBe(2);
  });
});

/** A POST that declares a MiB of body and sends a KiB, then waits for its answer: the status and what came. */
async function stalledRequest(
  url: string,
  headers: { timestamp: string; signature: string },
): Promise<{ status: number; text: string }> {
  const socket = await openStalled(url, headers);
  const answer = await answerOf(socket);
  socket.destroy();
  return answer;
}

/** The whole answer that comes on `socket`: its status and its text. */
function answerOf(socket: Socket): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const body = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (body >= 0 && length !== undefined && text.length >= body + 4 + Number(length)) {
        resolve({ status: Number(text.slice(9, 12)), text });
      }
    });
    socket.on('error', reject);
  });
}

/** A connection that has sent the headers and a KiB of a declared MiB, once the server has them. */
function openStalled(url: string, headers: { timestamp: string; signature: string }): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `POST ${EVENTS_PATH} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
          `X-Slack-Request-Timestamp: ${headers.timestamp}\r\nX-Slack-Signature: ${headers.signature}\r\n` +
          `Content-Length: 1048576\r\n\r\n${'a'.repeat(1024)}`,
        () => resolve(socket),
      );
    });
    socket.on('error', reject);
  });
}

/** Resolves once `logs` holds `line` (the receiver logs through a push, watched here). */
function waitForLog(logs: string[], line: string): Promise<void> {
  return new Promise((resolve) => {
    const push = logs.push.bind(logs);
    logs.push = (...items: string[]) => {
      const n = push(...items);
      if (items.includes(line)) resolve();
      return n;
    };
  });
}
