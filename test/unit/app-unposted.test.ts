// Alerts recorded and not yet posted (a crash, a failure that may have reached Slack): posted once, by a retry of
// their dedupe key or by the sweep of `listen`, after asking Slack whether they landed.
import { describe, expect, it } from 'vitest';
import { AlertBusyError } from '../../src/app.js';
import { parseAlertBatch } from '../../src/config/alerts.js';
import { startWebhook } from '../../src/intake/webhook.js';
import type { AlertRecord } from '../../src/store/port.js';
import { PIVOT, slackError, testApp } from '../support/memory-ports.js';

/** A pid no process has: the claim of a crashed irbot. */
const DEAD = 2 ** 22 + 12345;

/** A request error as @slack/web-api throws it when fetch got no answer, with the system's error code. */
function requestError(code: string | undefined): Error {
  const cause = code
    ? Object.assign(new Error(`connect ${code}`), { code })
    : new DOMException('aborted', 'TimeoutError');
  const original = code ? Object.assign(new TypeError('fetch failed'), { cause }) : cause;
  return Object.assign(new Error(`A request error occurred: ${original.message}`), {
    code: 'slack_webapi_request_error',
    original,
  });
}

type T = ReturnType<typeof testApp>;

const WEBHOOK_TOKEN = 'test-webhook-token-0123456789';

/** The alert with dedupe_key siem-7 delivered again through the webhook, in front of this app. */
async function deliver(t: T): Promise<Response> {
  const webhook = await startWebhook(t.app, (body) => parseAlertBatch('json', body, 'request body'), {
    host: '127.0.0.1',
    port: 0,
    token: WEBHOOK_TOKEN,
    log: () => undefined,
  });
  try {
    const res = await fetch(`${webhook.address.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', dedupe_key: 'siem-7' }),
    });
    await res.clone().arrayBuffer();
    return res;
  } finally {
    await webhook.close();
  }
}

const alertPosts = (t: T) => t.slack.calls.filter((c) => c.method === 'post' && c.channel === 'C0FEED' && !c.threadTs);
const only = (t: T): AlertRecord => {
  const [record, ...more] = Object.values(t.store.data().alerts);
  if (!record || more.length > 0) throw new Error('expected one alert');
  return record;
};

/** send-alert recorded the alert and was killed while its post hung; `landed`: the post had reached Slack. */
async function crashedWhilePosting(opts: { landed: boolean; autoChat?: boolean }): Promise<T> {
  const t = testApp();
  t.slack.failNext(requestError(undefined));
  await expect(
    t.app.postAlert(PIVOT, { dedupeKey: 'siem-7', ...(opts.autoChat ? { autoChat: true } : {}) }),
  ).rejects.toThrow(/kept and will be posted once/);
  const { id } = only(t);
  await t.store.transact((data) => {
    const record = data.alerts[id] as AlertRecord;
    record.pending = { ...record.pending, claim: { pid: DEAD, run: 'crashed', at: record.createdAt } };
  });
  if (opts.landed) await t.slack.post({ channel: 'C0FEED', text: 'the alert', key: `${id}:0` });
  t.slack.calls.length = 0;
  return t;
}

describe('an alert whose post a crash left unconfirmed', () => {
  it('is posted by a retry of its dedupe key, once, and counts as posted from then on', async () => {
    const t = await crashedWhilePosting({ landed: false });
    const retry = await t.app.postAlert(PIVOT, { dedupeKey: 'siem-7' });
    expect(retry.duplicate).toBe(false);
    expect(retry.alert.ts).not.toBeNull();
    expect(alertPosts(t)).toHaveLength(1);
    expect(only(t).pending).toBeUndefined();
    const again = await t.app.postAlert(PIVOT, { dedupeKey: 'siem-7' });
    expect(again).toMatchObject({ duplicate: true, alert: { ts: retry.alert.ts } });
    expect(alertPosts(t)).toHaveLength(1);
  });

  it('is not posted again when it had landed: the retry records the ts Slack has', async () => {
    const t = await crashedWhilePosting({ landed: true });
    const retry = await t.app.postAlert(PIVOT, { dedupeKey: 'siem-7' });
    expect(alertPosts(t)).toHaveLength(0);
    expect(retry.alert.ts).toMatch(/^\d+\.\d+$/);
    expect(only(t).ts).toBe(retry.alert.ts);
    expect(t.logs.some((l) => l.includes('had landed before a crash, not posted again'))).toBe(true);
    // Its details follow in its thread, as for any alert.
    expect(t.slack.calls.filter((c) => c.threadTs === retry.alert.ts)).toHaveLength(1);
  });

  it('is posted by the sweep of listen, once, and its auto_chat chat is started', async () => {
    const t = await crashedWhilePosting({ landed: false, autoChat: true });
    await t.app.recover();
    await t.app.recover();
    expect(alertPosts(t)).toHaveLength(1);
    expect(only(t)).toMatchObject({ chat: { state: 'active' } });
    expect(t.slack.calls.some((c) => c.method === 'post' && c.channel === 'U0HAROLD')).toBe(true);
  });

  it('is posted once by a webhook delivery retried with its dedupe_key', async () => {
    const t = await crashedWhilePosting({ landed: false });
    const res = await deliver(t);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ids: [only(t).id], duplicates: [] });
    expect(alertPosts(t)).toHaveLength(1);
    expect(only(t).ts).not.toBeNull();
  });

  it('has its auto_chat chat started by the sweep when its poster died between the post and the start', async () => {
    const t = testApp();
    await t.app.postAlert(PIVOT, { autoChat: true }); // posted; the chat start (intake/post.ts) never came
    await t.store.transact((data) => {
      const record = Object.values(data.alerts)[0] as AlertRecord;
      expect(record.pending).toMatchObject({ autoChat: true });
      record.pending = { autoChat: true, claim: { pid: DEAD, run: 'crashed', at: record.createdAt } };
    });
    await t.app.recover();
    expect(only(t)).toMatchObject({ chat: { state: 'active', startedBy: { id: 'irbot auto_chat' } } });
    expect(only(t).pending).toBeUndefined();
    await t.app.recover();
    expect(t.slack.calls.filter((c) => c.method === 'post' && c.channel === 'U0HAROLD')).toHaveLength(1);
  });

  it('is found landed by the sweep, and not posted again', async () => {
    const t = await crashedWhilePosting({ landed: true });
    await t.app.recover();
    expect(alertPosts(t)).toHaveLength(0);
    expect(only(t).ts).not.toBeNull();
  });

  it('is left alone while the process posting it lives: its retry is told to try again', async () => {
    const t = await crashedWhilePosting({ landed: false });
    await t.store.transact((data) => {
      const record = Object.values(data.alerts)[0] as AlertRecord;
      record.pending = { claim: { pid: process.ppid, run: 'alive', at: record.createdAt } };
    });
    await expect(t.app.postAlert(PIVOT, { dedupeKey: 'siem-7' })).rejects.toBeInstanceOf(AlertBusyError);
    const res = await deliver(t);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/being posted by irbot process \d+/) });
    await t.app.recover();
    expect(alertPosts(t)).toHaveLength(0);
  });

  it('is posted once when its retry arrives while this process posts it', async () => {
    const t = await crashedWhilePosting({ landed: false });
    const [swept, retry] = await Promise.all([t.app.recover(), t.app.postAlert(PIVOT, { dedupeKey: 'siem-7' })]);
    expect(swept).toBeUndefined();
    expect(retry.alert.ts).not.toBeNull();
    expect(alertPosts(t)).toHaveLength(1);
  });
});

describe('a post that fails', () => {
  it('tells a retry that waited on it to try again (busy: the webhook answers 503), not a bare error (500)', async () => {
    // The first delivery's post waits for Slack's budget, and is refused once its turn comes.
    let reached: () => void = () => undefined;
    const atGate = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const pacer = {
      backOff: () => undefined,
      retake: () => null,
      take: async (method: string) => {
        if (method !== 'chat.postMessage') return 0;
        reached();
        await gate;
        return 0;
      },
    };
    const t = testApp({}, undefined, pacer);
    t.slack.failNext(slackError('channel_not_found'), 1);
    const first = t.app.postAlert(PIVOT, { dedupeKey: 'siem-8' });
    await atGate;
    // The retry's own transaction finds the first in flight here, and waits for it.
    const transact = t.store.transact.bind(t.store);
    let landed: () => void = () => undefined;
    const retryLanded = new Promise<void>((resolve) => {
      landed = resolve;
    });
    t.store.transact = (change) => transact(change).finally(landed);
    const retry = t.app.postAlert(PIVOT, { dedupeKey: 'siem-8' });
    await retryLanded;
    open();
    await expect(first).rejects.toThrow(/channel_not_found/);
    await expect(retry).rejects.toBeInstanceOf(AlertBusyError);
    await expect(retry).rejects.toThrow(/could not be posted yet by the delivery before this one; try again shortly/);
  });

  it('drops the new alert when Slack said no, or the request provably never reached Slack', async () => {
    for (const err of [slackError('channel_not_found'), requestError('ECONNREFUSED'), requestError('ENOTFOUND')]) {
      const t = testApp();
      t.slack.failNext(err);
      await expect(t.app.postAlert(PIVOT, { dedupeKey: 'siem-8' })).rejects.toThrow(/^chat\.postMessage failed/);
      expect(t.store.data().alerts).toEqual({});
    }
  });

  it.each(['internal_error', 'fatal_error'])(
    'keeps the alert after Slack answered %s (which, Slack says, may follow a post that happened): posted once',
    async (code) => {
      const t = testApp();
      const post = t.slack.post.bind(t.slack);
      let once = true;
      t.slack.post = async (args) => {
        const posted = await post(args); // it landed…
        if (once && !args.threadTs) {
          once = false;
          throw slackError(code); // …and Slack answered with an error all the same
        }
        return posted;
      };
      await expect(t.app.postAlert(PIVOT, { dedupeKey: 'siem-10' })).rejects.toThrow(/kept/);
      expect(only(t)).toMatchObject({ ts: null, pending: expect.any(Object) });
      await t.app.recover();
      expect(alertPosts(t)).toHaveLength(1);
      expect(only(t).ts).not.toBeNull();
    },
  );

  it('keeps the alert pending after a timeout, for the retry or listen, which post it once', async () => {
    const t = testApp();
    t.slack.failNext(requestError(undefined));
    await expect(t.app.postAlert(PIVOT, { dedupeKey: 'siem-9' })).rejects.toThrow(
      /^chat\.postMessage failed: timed out \(could not reach Slack at .*\); alert pivot-\d+ is kept/,
    );
    expect(only(t)).toMatchObject({ ts: null, pending: { lastError: expect.stringMatching(/^timed out/) } });
    expect(only(t).pending?.claim).toBeUndefined();
    await t.app.recover();
    expect(alertPosts(t)).toHaveLength(1);
    expect(only(t).ts).not.toBeNull();
  });

  it('makes listen try again later, waiting longer each time, when its own try fails', async () => {
    const t = testApp();
    t.slack.failNext(requestError(undefined));
    await expect(t.app.postAlert(PIVOT)).rejects.toThrow(/kept/);
    t.slack.failNext(requestError('ECONNREFUSED'));
    await t.app.recover();
    expect(only(t).pending).toMatchObject({ attempts: 1, retryAt: '2026-11-27T10:00:05.000Z' });
    await t.app.recover(); // not due yet
    expect(alertPosts(t)).toHaveLength(0);
    t.clock.advance(5_000);
    await t.app.recover();
    expect(alertPosts(t)).toHaveLength(1);
  });
});
