// A SIEM runs one `irbot send-alert` per alert: eight at once, against a local Slack enforcing its rate limits.
// They share one store and one Slack budget (files beside it, under their locks): each alert is posted once, none
// gives up. Real processes start too unevenly to reach Slack at one moment: test/integration/shared-budget.test.ts
// starts twenty Apps at once and shows the shared budget keeps Slack's 429s away where a budget each meets ten.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { makeWorkspace, startIrbot } from '../support/irbot.js';

/** Slack's limits sped up this much (chat.postMessage: 10 a second per channel), in Slack and in irbot alike. */
const SCALE = 10;
const N = 8;
let slack: LocalSlack;

beforeEach(async () => {
  // The leeway absorbs a child process being scheduled late between taking its token and sending the request.
  slack = await LocalSlack.start({ rateLimits: { scale: SCALE, toleranceMs: 500 } });
});
afterEach(() => slack.close());

describe('a shared Slack budget', () => {
  it('posts 8 alerts from 8 concurrent send-alert processes, each once, with few 429s, all exiting 0', async () => {
    const ws = await makeWorkspace({
      slackApiUrl: slack.apiUrl,
      config: `feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nslack_rate_scale = ${SCALE}\n`,
    });
    const procs = Array.from({ length: N }, () => startIrbot(['send-alert', 'pivot', '--file', '-', '--json'], ws));
    await Promise.all(procs.map((p) => new Promise((spawned) => p.child.once('spawn', spawned))));
    // Each reads its alert from stdin: handed to all at once, they reach Slack together, as a SIEM's burst does.
    for (const [i, p] of procs.entries()) {
      p.child.stdin.end(
        JSON.stringify({ id: 'pivot', name: `Pivoting ${i}`, user_id: 'U0HAROLD', dedupe_key: `e${i}` }),
      );
    }
    const runs = await Promise.all(procs.map((p) => p.exited));
    expect(runs.map((r) => r.code)).toEqual(runs.map(() => 0));
    const alerts = slack.history('C0FEED').filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts);
    const names = alerts.map((m) => /Pivoting \d+/.exec(m.text)?.[0]).sort();
    expect(names).toEqual(Array.from({ length: N }, (_, i) => `Pivoting ${i}`).sort());
    // Each alert's details went into its own thread, once.
    for (const alert of alerts) expect(slack.thread('C0FEED', alert.ts)).toHaveLength(2);
    expect(slack.rateLimited['chat.postMessage'] ?? 0).toBeLessThanOrEqual(3);
  }, 60_000);
});
