// Texts past Slack's 40,000 characters: relayed and detailed whole, in several messages, each posted once.
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { buildSlack } from '../../src/cli/runtime.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { LocalSlack, type LocalSlack as LocalSlackType } from '../../src/sandbox/local-slack.js';
import type { Inbound } from '../../src/slack/envelope.js';
import { escapeText, quote } from '../../src/slack/mrkdwn.js';
import { MAX_MESSAGE_CHARS } from '../../src/slack/split.js';
import { memoryStore, PIVOT, replyTs, slackError, testApp } from '../support/memory-ports.js';

const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
const dm = (text: string, eventId = 'Ev1'): Inbound => ({
  kind: 'dm',
  eventId,
  userId: 'U0HAROLD',
  channelId: 'D0HAROLD',
  text,
  ts: replyTs(),
});

/** A reply of 39,000 characters over many lines, heavy in what escaping grows: 45,000+ once quoted and escaped. */
const LONG_REPLY = Array.from(
  { length: 600 },
  (_, i) => `line ${String(i).padStart(3, '0')} <b> & 😀 ${'x'.repeat(40)}`,
)
  .join('\n')
  .padEnd(39_000, 'y');

describe('the local Slack', () => {
  let slack: LocalSlackType;
  beforeEach(async () => {
    slack = await LocalSlack.start();
  });
  afterEach(() => slack.close());

  it('refuses a text over 40,000 characters with msg_too_long, as Slack does', async () => {
    const web = new WebClient(slack.botToken, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    await expect(web.chat.postMessage({ channel: 'C0FEED', text: 'x'.repeat(40_001) })).rejects.toMatchObject({
      data: { error: 'msg_too_long' },
    });
    await expect(web.chat.postMessage({ channel: 'C0FEED', text: 'x'.repeat(40_000) })).resolves.toMatchObject({
      ok: true,
    });
  });

  it('gets a 39,000-character reply relayed whole, in several messages in order, and a huge alert’s details', async () => {
    let id = 0;
    const app = new App(
      {
        slack: buildSlack(slack.botToken, slack.apiUrl, () => undefined),
        llm: createOfflineWriter(),
        store: memoryStore(),
        clock: () => new Date(),
        newId: () => String(++id),
        log: () => undefined,
      },
      { feedChannelId: 'C0FEED', maxNudges: 1, nudgeAfterMs: 3_600_000, responders: [] },
    );
    const properties = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key_${i}`, '<&>'.repeat(300)]));
    const description = '<'.repeat(30_000);
    const { alert } = await app.postAlert({ ...PIVOT, description, properties });
    await app.request(alert.id, 'start', analyst);
    await app.handleInbound(dm(LONG_REPLY));
    await app.idle();
    const thread = slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.thread_ts === alert.ts)
      .map((c) => ({ text: String(c.args.text), status: c.status }));
    for (const post of thread) {
      expect(post.status).toBe(200);
      expect(post.text.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    }
    const texts = thread.map((post) => post.text);
    const relay = `Received message from <@U0HAROLD>:\n${quote(LONG_REPLY)}`;
    expect(relay.length).toBeGreaterThan(MAX_MESSAGE_CHARS);
    const from = texts.findIndex((text) => text.startsWith('Received message'));
    const parts = texts.slice(from, from + Math.ceil(relay.length / MAX_MESSAGE_CHARS) + 1);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.join('')).toContain(relay);
    // The details: the description escaped to 120,000 characters, then every property, in order.
    const details = texts
      .slice(
        0,
        texts.findIndex((text) => text.startsWith('Sent message')),
      )
      .join('');
    expect(details).toContain(`*Description:* ${escapeText(description)}`);
    expect(details).toContain(`• *key_99:* ${escapeText('<&>'.repeat(300))}`);
  });
});

describe('a long post and exactly once', () => {
  /** A pid no process has: the claim of a crashed irbot. */
  const DEAD = 2 ** 22 + 12345;

  async function withLongRelayQueued() {
    const t = testApp();
    const { alert } = await t.app.postAlert(PIVOT);
    await t.app.request(alert.id, 'start', analyst);
    const thread = () => t.slack.calls.filter((c) => c.method === 'post' && c.threadTs === alert.ts);
    return { ...t, alert, thread };
  }

  it('posts only the parts that had not landed when it takes over from a process that died midway', async () => {
    const t = await withLongRelayQueued();
    const text = '&'.repeat(20_000); // 100,000 characters once escaped: three messages
    await t.store.transact((data) => {
      data.alerts[t.alert.id]?.outbox.push({
        seq: 99,
        effect: { type: 'PostInThread', kind: 'note', text },
        claim: { pid: DEAD, at: '2026-11-27T10:00:00.000Z' },
      });
    });
    // The dead process got the first two parts out.
    const where = { channel: 'C0FEED', threadTs: t.alert.ts ?? '' };
    await t.slack.post({ ...where, text: 'part 1', key: `${t.alert.id}:99` });
    await t.slack.post({ ...where, text: 'part 2', key: `${t.alert.id}:99/2` });
    await t.app.recover();
    const keys = t.thread().map((c) => c.key);
    expect(keys.filter((k) => k?.startsWith(`${t.alert.id}:99`))).toEqual([
      `${t.alert.id}:99`,
      `${t.alert.id}:99/2`,
      `${t.alert.id}:99/3`,
    ]);
    expect(t.store.data().alerts[t.alert.id]?.outbox).toEqual([]);
  });

  it('after a 429 on the second part, posts the rest and not the first again', async () => {
    const t = await withLongRelayQueued();
    const before = t.thread().length;
    const post = t.slack.post.bind(t.slack);
    let refused = false;
    t.slack.post = async (args) => {
      if (!refused && args.key?.endsWith('/2')) {
        refused = true;
        throw Object.assign(new Error('rate limited'), { code: 'slack_webapi_rate_limited_error', retryAfter: 0 });
      }
      return post(args);
    };
    await t.app.handleInbound(dm(LONG_REPLY));
    await t.app.recover();
    const relayed = t
      .thread()
      .slice(before)
      .filter((c) => c.key?.startsWith(`${t.alert.id}:`));
    const keys = relayed.map((c) => c.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(relayed.map((c) => c.text).join('')).toContain(quote(LONG_REPLY));
  });

  it('halves a message Slack still finds too long, instead of dropping it', async () => {
    const t = await withLongRelayQueued();
    const before = t.thread().length;
    const post = t.slack.post.bind(t.slack);
    // A Slack that counts otherwise: 10,000 characters at most.
    t.slack.post = async (args) => {
      if (args.text.length > 10_000) throw slackError('msg_too_long');
      return post(args);
    };
    await t.app.handleInbound(dm(LONG_REPLY));
    await t.app.idle();
    const relayed = t.thread().slice(before);
    expect(relayed.length).toBeGreaterThan(4);
    for (const c of relayed) expect(c.text?.length).toBeLessThanOrEqual(10_000);
    expect(relayed.map((c) => c.text).join('')).toContain(quote(LONG_REPLY));
    expect(t.logs.some((l) => l.includes('too long for Slack; posting it in parts'))).toBe(true);
    expect(t.logs.some((l) => l.includes('gave up'))).toBe(false);
  });

  it('sends a long analyst message to the person whole, in several DMs', async () => {
    const t = await withLongRelayQueued();
    await t.app.say(t.alert.id, '<'.repeat(15_000), analyst);
    await t.app.idle();
    const dms = t.slack.calls.filter((c) => c.method === 'post' && c.channel === 'U0HAROLD').slice(1);
    expect(dms.length).toBeGreaterThan(1);
    for (const c of dms) expect(c.text?.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(dms.map((c) => c.text).join('')).toBe(`*Message from the security team:* ${'&lt;'.repeat(15_000)}`);
  });
});
