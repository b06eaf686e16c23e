// Fifty alerts and fifty chats at once through the real WebClient, with Slack answering 429 now and then:
// every message the flow needs lands exactly once.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { buildSlack, serve } from '../../src/cli/runtime.js';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { ACTION_IDS } from '../../src/slack/blocks.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { asModel } from '../support/memory-ports.js';
import { relaysIn } from '../support/relays.js';

const N = 50;
const people = Array.from({ length: N }, (_, i) => `U0P${String(i).padStart(3, '0')}`);
let slack: LocalSlack;

beforeEach(async () => {
  slack = await LocalSlack.start({
    users: [
      ...people.map((id) => ({ id, name: id.toLowerCase(), displayName: `Person ${id}`, realName: id })),
      { id: 'U0ANALYST', name: 'analyst', displayName: 'Sam', realName: 'Sam Analyst' },
    ],
  });
});
afterEach(() => slack.close());

describe('a burst under 429s', () => {
  it('posts 50 alerts and runs 50 chats to the end, every message exactly once', async () => {
    const store = openLowdbStore(join(await mkdtemp(join(tmpdir(), 'irbot-burst-')), 'db.json'));
    let id = 0;
    const app = new App(
      {
        slack: buildSlack(slack.botToken, slack.apiUrl, () => undefined),
        llm: asModel(), // a model's verdicts: an aware answer closes the chat
        store,
        clock: () => new Date(),
        newId: () => String(++id),
        log: () => undefined,
      },
      { feedChannelId: 'C0FEED', maxNudges: 1, nudgeAfterMs: 3_600_000, responders: [] },
    );
    slack.failNext('chat.postMessage', { retryAfterSeconds: 0 }, 10);
    slack.failNext('chat.update', { retryAfterSeconds: 0 }, 5);
    const serving = await serve(app, { appToken: slack.appToken, slackApiUrl: slack.apiUrl }, () => undefined);
    try {
      const posted = await Promise.all(
        people.map((userId, i) =>
          app.postAlert({ id: `a${i}`, name: `Alert ${i}`, description: 'burst', userId, properties: {} }),
        ),
      );
      let summaries = 0;
      const allSummarised = new Promise<void>((resolve) =>
        slack.on('message', (m) => {
          if (m.channel !== 'C0FEED' || m.change !== 'posted') return;
          summaries += relaysIn(m.text).filter((r) => r.startsWith('Here is the summary')).length;
          if (summaries === N) resolve();
        }),
      );
      slack.on('message', (m) => {
        // Each person answers the greeting at once.
        if (m.change === 'posted' && m.bot_id && m.channel.startsWith('D') && /were you aware/i.test(m.text)) {
          const person = people.find((p) => slack.dmChannelOf(p) === m.channel);
          if (person) void slack.sendDm({ userId: person, text: 'yes, that was me' });
        }
      });
      await Promise.all(
        posted.map(({ alert }) =>
          slack.clickButton({
            userId: 'U0ANALYST',
            actionId: ACTION_IDS.start,
            value: alert.id,
            channel: 'C0FEED',
            messageTs: alert.ts ?? '',
          }),
        ),
      );
      await allSummarised;
      await app.idle();
      for (const { alert } of posted) {
        const relays = slack
          .thread('C0FEED', alert.ts ?? '')
          .slice(1)
          .flatMap((m) => relaysIn(m.text));
        expect(relays.map((r) => r.split('\n')[0])).toEqual([
          `*Alert* \`${alert.id}\``,
          `Sent message to <@${alert.userId}>:`,
          `Received message from <@${alert.userId}>:`,
          `Sent message to <@${alert.userId}>:`,
          'Here is the summary of the chat:',
        ]);
        const dms = slack.history(slack.dmChannelOf(alert.userId)).filter((m) => m.bot_id);
        expect(dms.map((m) => m.text)).toEqual([expect.stringMatching(/were you aware/i), 'Thanks for your time!']);
      }
      const data = await store.read();
      expect(Object.values(data.alerts).every((a) => a.chat.outcome === 'answered' && a.outbox.length === 0)).toBe(
        true,
      );
      expect(slack.calls.filter((c) => c.status === 429)).toHaveLength(15);
    } finally {
      await serving.stop();
    }
  }, 60_000);
});
