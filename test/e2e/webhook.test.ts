// `irbot listen --webhook` with the real binary: alerts over HTTP, from 202 to SIGTERM, against the local Slack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSlack, type RecordedCall } from '../../src/sandbox/local-slack.js';
import { type FakeOpenAi, startFakeOpenAi } from '../support/fake-openai.js';
import { makeWorkspace, type Running, runIrbot, startIrbot, type Workspace } from '../support/irbot.js';
import { expectHugeDetailsWhole, headlinesIn, textOf as text } from '../support/relays.js';

const TOKEN = 'e2e-webhook-token-abcdef0123456789';
const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', properties: { source_host: 'build-7' } };

let slack: LocalSlack;
let openai: FakeOpenAi;
let ws: Workspace;
let daemon: Running;
let url: string;

beforeAll(async () => {
  slack = await LocalSlack.start();
  openai = await startFakeOpenAi();
  ws = await makeWorkspace({
    slackApiUrl: slack.apiUrl,
    openaiBaseUrl: openai.baseURL,
    env: { IRBOT_WEBHOOK_TOKEN: TOKEN },
  });
  daemon = startIrbot(['listen', '--webhook', '127.0.0.1:0'], ws);
  await daemon.waitFor(/listening on Socket Mode/);
  const port = /webhook listening on http:\/\/127\.0\.0\.1:(\d+)\b/.exec(daemon.stderr)?.[1];
  url = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await daemon.stop('SIGKILL');
  await slack.close();
  await openai.close();
});

const headlines = () => headlinesIn(slack);

function post(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('listen --webhook', () => {
  it('answers 202 once the alert is recorded and posted', async () => {
    const before = headlines().length;
    const res = await post(pivot);
    expect(res.status).toBe(202);
    const { ids, duplicates } = (await res.json()) as { ids: string[]; duplicates: string[] };
    expect(ids).toEqual([expect.stringMatching(/^pivot-[0-9a-z]{10}$/)]);
    expect(duplicates).toEqual([]);
    expect(headlines().slice(before)).toEqual(['Incident: Pivoting with user <@U0HAROLD>']);
    const details = slack.callsTo('chat.postMessage').at(-1);
    expect(text(details as RecordedCall)).toContain('build-7');
    await daemon.waitFor(new RegExp(`webhook POST /alerts 202 posted ${ids[0]}`));
  });

  it('posts a retried delivery once: the same dedupe_key comes back under duplicates', async () => {
    const before = headlines().length;
    const alert = { ...pivot, dedupe_key: 'siem-event-77' };
    const first = (await (await post(alert)).json()) as { ids: string[] };
    const again = await post(alert);
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ ids: first.ids, duplicates: first.ids });
    expect(headlines().length - before).toBe(1);
  });

  it('refuses requests without or with a wrong token: 401', async () => {
    const without = await fetch(`${url}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(pivot),
    });
    expect(without.status).toBe(401);
    expect((await post(pivot, { authorization: 'Bearer e2e-webhook-token-abcdef012345678X' })).status).toBe(401);
    expect((await post(pivot, { authorization: 'Bearer short' })).status).toBe(401);
  });

  it('answers 400 naming the bad field when no alert is good, and for invalid JSON', async () => {
    const { user_id: _, ...noUser } = pivot;
    const bad = await post([noUser]);
    expect(bad.status).toBe(400);
    const error = "request body: alert #1 (id 'pivot'): missing 'user_id'";
    expect(await bad.json()).toEqual({ error, rejected: [{ index: 0, error }] });
    const broken = await post('{"id": "pivot",');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: string }).error).toMatch(/^request body: invalid JSON: /);
  });

  it('posts the good alerts of a mixed batch and lists the bad ones; a huge description goes out whole in parts', async () => {
    const { user_id: _, ...noUser } = pivot;
    const huge = { ...pivot, id: 'huge', description: '<'.repeat(39_000) };
    const tooBig = { ...pivot, id: 'toobig', description: 'x'.repeat(200_000) };
    const res = await post([pivot, noUser, huge, tooBig]);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { ids: string[]; duplicates: string[]; rejected: unknown[] };
    expect(body.ids).toEqual([expect.stringMatching(/^pivot-/), expect.stringMatching(/^huge-/)]);
    expect(body.duplicates).toEqual([]);
    expect(body.rejected).toEqual([
      { index: 1, error: "request body: alert #2 (id 'pivot'): missing 'user_id'" },
      { index: 3, error: "request body: alert #4 (id 'toobig'): 'description' is longer than 40000 characters" },
    ]);
    const hugeId = body.ids[1] ?? '';
    // The details reach Slack after the 202: wait for the last part.
    const ending = `${'&lt;'.repeat(100)}\n• *source_host:* build-7`;
    await slack.waitForCall((c) => c.method === 'chat.postMessage' && text(c).endsWith(ending));
    expectHugeDetailsWhole(slack, hugeId);
  });

  it('answers 413 for a 300 KiB body, 415 for other content types, 404 elsewhere', async () => {
    const before = slack.callsTo('chat.postMessage').length;
    const big = await post({ ...pivot, description: 'x'.repeat(300 * 1024) });
    expect(big.status).toBe(413);
    expect((await post(pivot, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await fetch(`${url}/other`, { method: 'POST' })).status).toBe(404);
    expect(slack.callsTo('chat.postMessage').length).toBe(before);
  });

  it('serves GET /healthz without a token', async () => {
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('starts the chat of an auto_chat alert: the greeting DM goes to the person', async () => {
    const res = await post({ ...pivot, user_id: 'U0ALICE', auto_chat: true });
    expect(res.status).toBe(202);
    const { ids } = (await res.json()) as { ids: string[] };
    const greeting = await slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.channel === 'U0ALICE');
    expect(text(greeting)).toContain('Hi Alice');
    await daemon.waitFor(new RegExp(`alert ${ids[0]}: auto_chat started the chat`));
  });

  it('never logs the token or a body, and stops on SIGTERM with exit 0', async () => {
    const result = await daemon.stop('SIGTERM');
    expect(result.code).toBe(0);
    // One JSON object per line, each naming its event.
    const lines = result.stderr
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { event?: string; msg: string });
    expect(lines.slice(-2).map((l) => [l.event, l.msg])).toEqual([
      ['stopping', 'SIGTERM: finishing what is in flight'],
      ['stopped', 'stopped'],
    ]);
    expect(lines.every((l) => typeof l.event === 'string')).toBe(true);
    expect(result.stderr).not.toContain(TOKEN);
    expect(result.stderr).not.toContain('build-7');
    expect(result.stderr).not.toContain('xxxxxxxx');
  });
});

describe('listen --webhook configuration', () => {
  it('needs IRBOT_WEBHOOK_TOKEN, long enough, and a valid address: exit 2, one line', async () => {
    const lone = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const missing = await runIrbot(['listen', '--webhook', '0'], lone);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^irbot: Missing required environment variable: IRBOT_WEBHOOK_TOKEN \(.*\)\n$/);
    const short = await runIrbot(['listen', '--webhook', '0'], lone, { env: { IRBOT_WEBHOOK_TOKEN: 'too-short' } });
    expect(short.code).toBe(2);
    expect(short.stderr).toBe(
      'irbot: IRBOT_WEBHOOK_TOKEN is too short: use at least 16 characters (e.g. openssl rand -hex 32)\n',
    );
    const address = await runIrbot(['listen', '--webhook', 'nowhere'], lone, { env: { IRBOT_WEBHOOK_TOKEN: TOKEN } });
    expect(address.code).toBe(2);
    expect(address.stderr).toMatch(/^irbot: --webhook "nowhere": not an address/);
  });
});
