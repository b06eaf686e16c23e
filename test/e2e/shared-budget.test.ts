// A SIEM runs one `irbot send-alert` per alert: twenty at once, against a local Slack enforcing its rate limits.
// They share one Slack budget (a file beside the store), so Slack barely ever says 429, and none gives up.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { makeWorkspace, startIrbot } from '../support/irbot.js';

/**
 * Slack's limits sped up this much (chat.postMessage: 10 a second per channel), in Slack and in irbot alike: forty
 * posts (each alert and its details) take about four seconds, less than twenty processes alone would ask for.
 */
const SCALE = 10;
const N = 20;
let slack: LocalSlack;

beforeEach(async () => {
  // The leeway absorbs a child process being scheduled late between taking its token and sending the request.
  slack = await LocalSlack.start({ rateLimits: { scale: SCALE, toleranceMs: 500 } });
});
afterEach(() => slack.close());

describe('a shared Slack budget', () => {
  it('posts 20 alerts from 20 concurrent send-alert processes, each once, with few 429s, all exiting 0', async () => {
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
