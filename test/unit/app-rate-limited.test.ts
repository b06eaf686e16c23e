// A one-shot command under Slack's 429s: it waits as long as Retry-After says, within five minutes in all, and says
// so; its alert's details are waited for too. In-memory ports; sleeping moves a fake clock.
import { describe, expect, it } from 'vitest';
import { App, MAX_RATE_LIMITED_WAIT_MS } from '../../src/app.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { fakeClock, memoryStore, PIVOT, recordingSlack } from '../support/memory-ports.js';

const rateLimited = (seconds: number) =>
  Object.assign(new Error('A rate limit was exceeded'), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter: seconds,
  });

function oneShotApp() {
  const store = memoryStore();
  const slack = recordingSlack();
  const clock = fakeClock();
  const slept: number[] = [];
  const waits: number[] = [];
  const app = new App(
    {
      slack,
      llm: createOfflineWriter(),
      store,
      clock: clock.now,
      newId: () => 'abc123',
      log: () => undefined,
      schedule: () => undefined,
      sleep: async (ms) => {
        slept.push(ms);
        clock.advance(ms);
      },
      waiting: (ms) => waits.push(ms),
      oneShot: true,
    },
    { feedChannelId: 'C0FEED', maxNudges: 2, nudgeAfterMs: 3_600_000, responders: [] },
  );
  const posts = () => slack.calls.filter((c) => c.method === 'post');
  return { app, store, slack, slept, waits, posts };
}

describe('a one-shot command rate limited by Slack', () => {
  it('waits out as many 429s as Slack sends within five minutes, and says how long each time', async () => {
    const t = oneShotApp();
    t.slack.failNext(rateLimited(30), 9);
    const { alert } = await t.app.postAlert(PIVOT);
    expect(alert.ts).not.toBeNull();
    expect(t.waits).toEqual(Array(9).fill(30_000));
    expect(t.slept.slice(0, 9)).toEqual(Array(9).fill(30_000));
    expect(t.posts()).toHaveLength(2); // the alert, and its details
  });

  it('gives up past five minutes of waiting, with Slack’s code, and keeps no half-posted alert', async () => {
    const t = oneShotApp();
    t.slack.failNext(rateLimited(120), 3);
    await expect(t.app.postAlert(PIVOT)).rejects.toThrow('chat.postMessage failed: ratelimited');
    expect(t.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(MAX_RATE_LIMITED_WAIT_MS);
    expect(Object.keys(t.store.data().alerts)).toEqual([]);
  });

  it('waits for its alert’s details when Slack asked to post them later, instead of leaving them behind', async () => {
    const t = oneShotApp();
    const post = t.slack.post.bind(t.slack);
    let first = true;
    t.slack.post = async (args) => {
      const posted = await post(args);
      if (first) t.slack.failNext(rateLimited(20)); // after the alert: its details are answered 429
      first = false;
      return posted;
    };
    const { alert } = await t.app.postAlert(PIVOT);
    expect(t.posts().map((c) => c.threadTs)).toEqual([undefined, alert.ts]);
    expect(t.waits).toEqual([20_000]);
    expect(t.store.data().alerts[alert.id]?.outbox).toEqual([]);
  });
});
