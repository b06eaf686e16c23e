// The Slack port over the real WebClient, against the local Slack: posts marked with a key can be found again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSlack } from '../../../src/sandbox/local-slack.js';
import type { SlackPort } from '../../../src/slack/port.js';
import { createSlackPort, createWebClient } from '../../../src/slack/web-slack.js';

let slack: LocalSlack;
let port: SlackPort;
const since = new Date().toISOString();

beforeEach(async () => {
  slack = await LocalSlack.start();
  port = createSlackPort(createWebClient(slack.botToken, slack.apiUrl, () => undefined));
});
afterEach(() => slack.close());

describe('Slack port', () => {
  it('finds a keyed post in a thread after the fact, and only that one', async () => {
    const parent = await port.post({ channel: 'C0FEED', text: 'alert' });
    await port.post({ channel: 'C0FEED', threadTs: parent.ts, text: 'relay', key: 'pivot-1:7' });
    expect(await port.wasPosted({ channel: 'C0FEED', threadTs: parent.ts, key: 'pivot-1:7', since })).toBe(true);
    expect(await port.wasPosted({ channel: 'C0FEED', threadTs: parent.ts, key: 'pivot-1:8', since })).toBe(false);
  });

  it("counts only this bot's own message: another app's copy of the key is not our post landed", async () => {
    const parent = await port.post({ channel: 'C0FEED', text: 'alert', key: 'pivot-2:0' });
    const relay = await port.post({ channel: 'C0FEED', threadTs: parent.ts, text: 'relay', key: 'pivot-2:5' });
    slack.reassignToOtherApp('C0FEED', parent.ts);
    slack.reassignToOtherApp('C0FEED', relay.ts);
    expect(await port.findPost({ channel: 'C0FEED', key: 'pivot-2:0', since })).toBeUndefined();
    expect(await port.wasPosted({ channel: 'C0FEED', threadTs: parent.ts, key: 'pivot-2:5', since })).toBe(false);
  });

  it('finds a keyed DM among the latest ones', async () => {
    await port.post({ channel: 'U0HAROLD', text: 'hello', key: 'pivot-1:3' });
    expect(await port.wasPosted({ channel: 'U0HAROLD', key: 'pivot-1:3', since })).toBe(true);
    expect(await port.wasPosted({ channel: 'U0HAROLD', key: 'pivot-1:4', since })).toBe(false);
  });

  it('asks only about the window since the attempt, 15 a page, each call announced for pacing', async () => {
    const parent = await port.post({ channel: 'C0FEED', text: 'alert' });
    const before: string[] = [];
    const beforeCall = async (method: string) => before.push(method);
    // Thirty older replies: outside the window, never read.
    for (let i = 0; i < 30; i++) await port.post({ channel: 'C0FEED', threadTs: parent.ts, text: `old ${i}` });
    const attempt = new Date(Date.now() + 120_000).toISOString();
    expect(await port.wasPosted({ channel: 'C0FEED', threadTs: parent.ts, key: 'k', since: attempt, beforeCall })).toBe(
      false,
    );
    const [replies] = slack.callsTo('conversations.replies');
    expect(replies?.args).toMatchObject({ limit: '15', oldest: ((Date.parse(attempt) - 60_000) / 1000).toFixed(6) });
    expect(slack.callsTo('conversations.replies')).toHaveLength(1);
    expect(before).toEqual(['conversations.replies']);
    // A window that holds more than a page is read to its end, each page announced.
    before.length = 0;
    await port.post({ channel: 'C0FEED', threadTs: parent.ts, text: 'mine', key: 'k' });
    expect(await port.wasPosted({ channel: 'C0FEED', threadTs: parent.ts, key: 'k', since, beforeCall })).toBe(true);
    expect(before).toEqual(['conversations.replies', 'conversations.replies', 'conversations.replies']);
    await port.wasPosted({ channel: 'U0HAROLD', key: 'k', since, beforeCall });
    expect(before.slice(3)).toEqual(['conversations.open', 'conversations.history']);
    expect(slack.callsTo('conversations.history')[0]?.args).toMatchObject({ limit: '15' });
  });

  it('names a person by display name, then real name, then ID', async () => {
    expect(await port.userName('U0HAROLD')).toBe('Harold');
    await expect(port.userName('U0NOBODY')).rejects.toThrow(/user_not_found/);
  });

  it('gives a person’s time zone from users.info, cached with the name; null when Slack has none', async () => {
    const zone = await port.userZone?.('U0HAROLD');
    expect(zone).toMatchObject({ tz: 'Europe/Paris', name: 'Harold' });
    expect([3600, 7200]).toContain(zone?.offset); // CET or CEST, by the date the test runs
    expect(await port.userName('U0HAROLD')).toBe('Harold');
    expect(slack.calls.filter((c) => c.method === 'users.info')).toHaveLength(1);
    expect(await port.userZone?.('U0HFINCH')).toEqual({ tz: null, offset: null, name: 'Harold Finch' });
  });

  it('lists the members of a user group, and refuses an unknown one', async () => {
    expect(await port.usergroupMembers('S0SECOPS')).toEqual(['U0ANALYST']);
    await expect(port.usergroupMembers('S0NOBODY')).rejects.toThrow(/no_such_subteam/);
  });
});
