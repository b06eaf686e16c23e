// Taking over from a process that died mid-post, through the real WebClient against the local Slack: when Slack
// answers the "did it land?" question with 429, irbot asks again after Retry-After instead of posting blind.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { buildSlack } from '../../src/cli/runtime.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { createPacer } from '../../src/slack/pacer.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import type { Store } from '../../src/store/port.js';

/** A pid no process has: the claim of a crashed irbot. */
const DEAD = 2 ** 22 + 12345;
let slack: LocalSlack;
let store: Store;
let app: App;

beforeEach(async () => {
  slack = await LocalSlack.start();
  store = openLowdbStore(join(await mkdtemp(join(tmpdir(), 'irbot-recovery-')), 'db.json'));
  let id = 0;
  app = new App(
    {
      slack: buildSlack(slack.botToken, slack.apiUrl, () => undefined),
      llm: createOfflineWriter(),
      store,
      clock: () => new Date(),
      newId: () => String(++id),
      log: () => undefined,
      pacer: createPacer({ scale: 100 }),
    },
    { feedChannelId: 'C0FEED', maxNudges: 1, nudgeAfterMs: 3_600_000, responders: [] },
  );
});
afterEach(() => slack.close());

/** A relay a dead process claimed; `landed`: its post reached Slack before the crash. */
async function leftByACrash(landed: boolean) {
  const { alert } = await app.postAlert({
    id: 'pivot',
    name: 'Pivoting',
    description: '',
    userId: 'U0HAROLD',
    properties: {},
  });
  const ts = alert.ts ?? '';
  const key = `${alert.id}:99`;
  await store.transact((data) => {
    data.alerts[alert.id]?.outbox.push({
      seq: 99,
      effect: { type: 'PostInThread', kind: 'note', text: 'left by a crash' },
      claim: { pid: DEAD, at: new Date().toISOString() },
    });
  });
  if (landed)
    await buildSlack(slack.botToken, slack.apiUrl, () => undefined).post({
      channel: 'C0FEED',
      threadTs: ts,
      text: 'note',
      key,
    });
  const keyed = () => slack.thread('C0FEED', ts).filter((m) => m.metadata?.event_payload?.key === key);
  return { alert, keyed };
}

describe('recovery under a rate-limited check', () => {
  it('asks again after Retry-After and does not post what had landed', async () => {
    const { alert, keyed } = await leftByACrash(true);
    slack.failNext('conversations.replies', { retryAfterSeconds: 0 });
    await app.recover();
    await app.idle();
    expect(slack.callsTo('conversations.replies').map((c) => c.status)).toEqual([429, 200]);
    expect(keyed()).toHaveLength(1);
    expect((await store.read()).alerts[alert.id]?.outbox).toEqual([]);
  });

  it('posts what had not landed, once, only after the check answered', async () => {
    const { keyed } = await leftByACrash(false);
    slack.failNext('conversations.replies', { retryAfterSeconds: 0 });
    await app.recover();
    await app.idle();
    expect(keyed()).toHaveLength(1);
    const calls = slack.calls.map((c) => `${c.method} ${c.status}`);
    const post = calls.lastIndexOf('chat.postMessage 200');
    expect(calls.slice(-3)).toEqual(['conversations.replies 429', 'conversations.replies 200', 'chat.postMessage 200']);
    expect(post).toBe(calls.length - 1);
  });
});
