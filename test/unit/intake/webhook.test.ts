// Tests of the webhook in-process: the real App over in-memory ports behind the real HTTP server, asked with fetch.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostedAlert } from '../../../src/app.js';
import { parseAlertBatch } from '../../../src/config/alerts.js';
import type { AlertSink } from '../../../src/intake/post.js';
import { startWebhook, type Webhook } from '../../../src/intake/webhook.js';
import { slackError, testApp } from '../../support/memory-ports.js';

const TOKEN = 'test-webhook-token-0123456789';
const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', properties: { host: 'a' } };
const parse = (body: string) => parseAlertBatch('json', body, 'request body');

let webhook: Webhook | undefined;
afterEach(async () => {
  await webhook?.close();
  webhook = undefined;
});

async function start(app: AlertSink = testApp().app, logs: string[] = []) {
  webhook = await startWebhook(app, parse, { host: '127.0.0.1', port: 0, token: TOKEN, log: (l) => logs.push(l) });
  return webhook.address.url;
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('POST /alerts', () => {
  it('records and posts each alert, in order, then answers 202 with the ids', async () => {
    const { app, slack, store } = testApp();
    const logs: string[] = [];
    const url = await start(app, logs);
    const res = await post(url, [pivot, { ...pivot, id: 'privesc', name: 'Privileged Escalation' }]);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { ids: string[]; duplicates: string[] };
    expect(body).toEqual({ ids: ['pivot-000001', 'privesc-000002'], duplicates: [] });
    const headlines = slack.calls.filter((c) => c.method === 'post' && !c.threadTs).map((c) => c.text);
    expect(headlines).toEqual([
      'Incident: Pivoting with user <@U0HAROLD>',
      'Incident: Privileged Escalation with user <@U0HAROLD>',
    ]);
    expect(Object.keys(store.data().alerts)).toEqual(body.ids);
    expect(logs).toEqual(['webhook POST /alerts 202 posted pivot-000001, privesc-000002']);
  });

  it('posts a retried delivery once: the same dedupe_key is listed under duplicates', async () => {
    const { app, slack } = testApp();
    const url = await start(app);
    const first = await post(url, { ...pivot, dedupe_key: 'siem-42' });
    const again = await post(url, [
      { ...pivot, dedupe_key: 'siem-42' },
      { ...pivot, dedupe_key: 'siem-43' },
    ]);
    expect(await first.json()).toEqual({ ids: ['pivot-000001'], duplicates: [] });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ ids: ['pivot-000001', 'pivot-000002'], duplicates: ['pivot-000001'] });
    expect(slack.calls.filter((c) => c.method === 'post' && !c.threadTs)).toHaveLength(2);
  });

  it('starts the chat of an auto_chat alert: the greeting goes to the person', async () => {
    const { app, slack } = testApp();
    const logs: string[] = [];
    const url = await start(app, logs);
    expect((await post(url, { ...pivot, auto_chat: true })).status).toBe(202);
    await webhook?.close(); // waits for the chat start in flight
    expect(slack.calls.some((c) => c.method === 'post' && c.channel === 'U0HAROLD')).toBe(true);
    expect(logs).toContain('alert pivot-000001: auto_chat started the chat');
  });

  it('refuses a missing or wrong token with 401, whatever its length', async () => {
    const url = await start();
    const without = await fetch(`${url}/alerts`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer');
    expect(await without.json()).toEqual({ error: 'missing or wrong bearer token' });
    for (const wrong of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}X`, 'Bearer x', `Basic ${TOKEN}`, TOKEN]) {
      expect((await post(url, pivot, { authorization: wrong })).status, wrong).toBe(401);
    }
    expect((await post(url, pivot, { authorization: `bearer  ${TOKEN}` })).status).toBe(202);
  });

  it('answers 400 naming the bad field when no alert is good, or the JSON problem', async () => {
    const url = await start();
    const { user_id: _, ...noUser } = pivot;
    const bad = await post(url, [noUser]);
    expect(bad.status).toBe(400);
    const error = "request body: alert #1 (id 'pivot'): missing 'user_id'";
    expect(await bad.json()).toEqual({ error, rejected: [{ index: 0, error }] });
    const broken = await post(url, '{"id": "pivot", "name": ');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: string }).error).toMatch(/^request body: invalid JSON: /);
    expect((await post(url, '')).status).toBe(400);
  });

  it('posts the good alerts of a batch and lists each bad one by index and field: one bad alert blocks none', async () => {
    const { app, slack, store } = testApp();
    const logs: string[] = [];
    const url = await start(app, logs);
    const { user_id: _, ...noUser } = pivot;
    const batch = [
      noUser,
      pivot,
      { ...pivot, description: 'x'.repeat(200_000) },
      { ...pivot, id: 'i'.repeat(2001) },
      { ...pivot, user_id: 'harold' },
      { ...pivot, properties: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v'])) },
      { ...pivot, id: 'privesc', properties: { big: 'v'.repeat(2001) } },
      { ...pivot, id: 'ok.2', name: 'Second good one' },
    ];
    const res = await post(url, batch);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { ids: string[]; rejected: { index: number; error: string }[] };
    expect(body.ids).toEqual(['pivot-000001', 'ok.2-000002']);
    expect(body.rejected.map((r) => r.index)).toEqual([0, 2, 3, 4, 5, 6]);
    const errors = body.rejected.map((r) => r.error);
    expect(errors[0]).toBe("request body: alert #1 (id 'pivot'): missing 'user_id'");
    expect(errors[1]).toBe("request body: alert #3 (id 'pivot'): 'description' is longer than 40000 characters");
    expect(errors[2]).toMatch(/^request body: alert #4 \(id 'i{40}…'\): 'id' must be at most 64 letters, digits/);
    expect(errors[3]).toMatch(/alert #5 .*user_id 'harold' is not a Slack user ID \(U… or W…\)/);
    expect(errors[4]).toMatch(/alert #6 .*'properties' has 101 entries, more than 100/);
    expect(errors[5]).toMatch(/alert #7 .*property 'big' is longer than 2000 characters/);
    expect(Object.keys(store.data().alerts)).toEqual(body.ids);
    expect(slack.calls.filter((c) => c.method === 'post' && !c.threadTs)).toHaveLength(2);
    expect(logs).toEqual(['webhook POST /alerts 202 posted pivot-000001, ok.2-000002; refused #1, #3, #4, #5, #6, #7']);
  });

  it('wants JSON: 415 otherwise', async () => {
    const url = await start();
    expect((await post(url, pivot, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(url, pivot, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post(url, pivot, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(202);
    expect((await post(url, pivot, { 'content-type': 'application/vnd.siem+json' })).status).toBe(202);
  });

  it('answers 413 for a body over 256 KiB, declared or streamed', async () => {
    const { app, slack } = testApp();
    const url = await start(app);
    const big = JSON.stringify({ ...pivot, description: 'x'.repeat(300 * 1024) });
    const res = await post(url, big);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: 'request body is larger than 262144 bytes' });
    // Chunked, without Content-Length: refused once the limit is passed, before the end is sent.
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${url}/alerts`,
        { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('x'.repeat(200 * 1024));
      req.write('x'.repeat(100 * 1024)); // never ended: the answer cannot wait for the rest
    });
    expect(streamed).toBe(413);
    expect(slack.calls).toHaveLength(0);
  });

  it('answers 502 with Slack’s error code when posting fails, and nothing stays recorded', async () => {
    const { app, slack, store } = testApp();
    const url = await start(app);
    slack.failNext(slackError('channel_not_found'));
    const res = await post(url, pivot);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: 'channel_not_found', ids: [], duplicates: [] });
    expect(store.data().alerts).toEqual({});
  });
});

describe('other requests', () => {
  it('GET /healthz needs no token; other paths 404, other methods 405', async () => {
    const url = await start();
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const get = await fetch(`${url}/alerts`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await fetch(`${url}/healthz`, { method: 'DELETE' })).status).toBe(405);
  });

  it('logs one line per request, never the token or the body', async () => {
    const logs: string[] = [];
    const url = await start(testApp().app, logs);
    await post(url, { ...pivot, description: 'secret description' });
    await post(url, { ...pivot, user_id: 'nobody' });
    await post(url, pivot, { authorization: 'Bearer wrong-token-but-long-enough' });
    await fetch(`${url}/healthz?token=${TOKEN}`);
    expect(logs).toEqual([
      'webhook POST /alerts 202 posted pivot-000001',
      expect.stringMatching(
        /^webhook POST \/alerts 400 request body: alert #1 \(id 'pivot'\): user_id 'nobody' is not/,
      ),
      'webhook POST /alerts 401',
      'webhook GET /healthz 200',
    ]);
    expect(logs.join('\n')).not.toMatch(/secret description|wrong-token|test-webhook-token/);
  });
});

describe('close', () => {
  it('stops accepting, finishes the request in flight, then resolves', async () => {
    const { app } = testApp();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => undefined;
    const inPost = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow: AlertSink = {
      postAlert: async (template, opts): Promise<PostedAlert> => {
        entered();
        await gate;
        return app.postAlert(template, opts);
      },
      request: (...args) => app.request(...args),
    };
    const url = await start(slow);
    const pending = post(url, pivot);
    await inPost;
    let closed = false;
    const closing = webhook?.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    release();
    expect((await pending).status).toBe(202);
    await closing;
    expect(closed).toBe(true);
  });
});
