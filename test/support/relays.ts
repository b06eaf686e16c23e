// Thread posts that back up are coalesced into one message, separated by a blank line: tests count relays.
import { expect } from 'vitest';
import { RELAY_SEPARATOR } from '../../src/app.js';
import type { LocalSlack, RecordedCall } from '../../src/sandbox/local-slack.js';

export const textOf = (c: RecordedCall): string => String(c.args.text ?? '');

/** The relays one message carries. */
export const relaysIn = (text: string): string[] => text.split(RELAY_SEPARATOR);

/** Every chat.postMessage split into one pseudo-call per relay, so that coalescing never changes a count. */
export function perRelay(calls: RecordedCall[]): RecordedCall[] {
  return calls.flatMap((c) =>
    c.method === 'chat.postMessage' ? relaysIn(textOf(c)).map((text) => ({ ...c, args: { ...c.args, text } })) : [c],
  );
}

/** A successful post to `channel` with a relay matching `pattern`. */
export const isPost =
  (channel: string, pattern: RegExp) =>
  (c: RecordedCall): boolean =>
    c.method === 'chat.postMessage' &&
    c.args.channel === channel &&
    c.status === 200 &&
    relaysIn(textOf(c)).some((relay) => pattern.test(relay));

/** The alert messages posted to the feed channel (not thread replies), by their text. */
export const headlinesIn = (slack: LocalSlack): string[] =>
  slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === 'C0FEED' && c.args.thread_ts === undefined)
    .map(textOf);

/** The thread posts that carry an alert's details (several when they are over Slack's limit), in order. */
export function detailsParts(slack: LocalSlack, alertId: string): RecordedCall[] {
  const threadOf = (c: RecordedCall) => String(c.args.thread_ts ?? '');
  const replies = slack.callsTo('chat.postMessage').filter((c) => threadOf(c) !== '');
  const first = replies.find((c) => textOf(c).includes(alertId));
  return first ? replies.filter((c) => threadOf(c) === threadOf(first)) : [];
}

/**
 * The huge alert both intake tests send (a description of 39,000 `<`, one property): its details went out whole,
 * in more than three parts, each accepted by Slack and within its 40,000-character limit.
 */
export function expectHugeDetailsWhole(slack: LocalSlack, alertId: string): void {
  const parts = detailsParts(slack, alertId);
  expect(parts.length).toBeGreaterThan(3);
  for (const part of parts) {
    expect(part.status).toBe(200);
    expect(textOf(part).length).toBeLessThanOrEqual(40_000);
  }
  expect(parts.map(textOf).join('')).toBe(
    `*Alert* \`${alertId}\`\n*Description:* ${'&lt;'.repeat(39_000)}\n• *source_host:* build-7`,
  );
}
