// Which chat a DM from the person belongs to, and as what: an answer only once a DM of that chat may have reached
// them; else a late reply to the chat that had (when it ended lately), else an early line of the chat they are in.
import { describe, expect, it } from 'vitest';
import { compareTs, dmTarget, mayAnswer } from '../../src/app/dm-target.js';
import { ARCHIVE_AFTER_MS } from '../../src/app/sweep.js';
import { newChat } from '../../src/chat/engine.js';
import type { ChatState } from '../../src/chat/types.js';
import type { AlertRecord, OutboxItem } from '../../src/store/port.js';
import { anAlert } from '../support/records.js';

const AT = '2026-11-27T10:05:00.000Z';
/** Slack's ts of a moment, and the moment of a Slack ts: the two clocks agree here. */
const tsAt = (iso: string, micro = '000100') => `${Date.parse(iso) / 1000}.${micro}`;
const NOW = Date.parse('2026-11-27T11:00:00.000Z');

/** A chat in `state` whose first DM to the person (if any) went out at Slack time `firstDm`. */
function chatOf(id: string, state: ChatState, firstDm?: string, overrides: Partial<AlertRecord> = {}): AlertRecord {
  return anAlert({
    id,
    chat: { ...newChat(), state, endedAt: state === 'ended' ? new Date(NOW - 60_000).toISOString() : null },
    transcript: firstDm ? [{ from: 'bot', text: 'Hi', at: AT, ts: firstDm }] : [],
    ...overrides,
  });
}

const greeting = (more: Partial<OutboxItem> = {}): OutboxItem => ({
  seq: 1,
  effect: { type: 'SendDm', text: 'Hi', from: 'bot' },
  ...more,
});

describe('compareTs', () => {
  it('orders Slack timestamps, seconds then microseconds', () => {
    expect(compareTs('1700000000.000101', '1700000000.000100')).toBe(1);
    expect(compareTs('1700000000.000100', '1700000000.000100')).toBe(0);
    expect(compareTs('999999999.999999', '1700000000.000000')).toBe(-1);
    expect(compareTs('1700000001', '1700000000.999999')).toBe(1);
  });
});

describe('mayAnswer', () => {
  it('takes a DM written after the chat first reached the person, never one written before', () => {
    const active = chatOf('a', 'active', '1700000010.000100');
    expect(mayAnswer(active, '1700000011.000100')).toBe(true);
    expect(mayAnswer(active, '1700000009.000100')).toBe(false);
    // An analyst's line is a DM of the chat too.
    const byAnalyst = chatOf('b', 'active', undefined, {
      transcript: [{ from: 'analyst', text: 'Hi', at: AT, by: 'U0ANA', ts: '1700000005.000100' }],
    });
    expect(mayAnswer(byAnalyst, '1700000006.000100')).toBe(true);
    // A first DM recorded without its ts (found in Slack after a crash): as before, any.
    const unstamped = chatOf('c', 'active', undefined, { transcript: [{ from: 'bot', text: 'Hi', at: AT }] });
    expect(mayAnswer(unstamped, '1700000001.000100')).toBe(true);
  });

  it('takes, before any DM is recorded, one written since a DM was first tried: claimed, or tried and unsure', () => {
    const claimedAt = '2026-11-27T10:10:00.000Z';
    expect(mayAnswer(chatOf('a', 'active'), tsAt(claimedAt))).toBe(false);
    expect(mayAnswer(chatOf('a', 'active', undefined, { outbox: [greeting()] }), tsAt(claimedAt))).toBe(false);
    const claim = { pid: 1, run: 'r', at: claimedAt };
    const sending = chatOf('a', 'active', undefined, { outbox: [greeting({ claim })] });
    expect(mayAnswer(sending, tsAt('2026-11-27T10:10:03.000Z'))).toBe(true);
    // Written before the greeting was even tried: a line of the last chat's answer, however the greeting fares.
    expect(mayAnswer(sending, tsAt('2026-11-27T10:09:58.000Z'))).toBe(false);
    // A post that failed unseen (a timeout) may have landed since its attempt: the person may be answering it.
    const unsure = chatOf('a', 'active', undefined, {
      outbox: [greeting({ checkSince: claimedAt, retryAt: '2026-11-27T10:11:00.000Z' })],
    });
    expect(mayAnswer(unsure, tsAt('2026-11-27T10:10:30.000Z'))).toBe(true);
    expect(mayAnswer(unsure, tsAt('2026-11-27T10:09:00.000Z'))).toBe(false);
  });

  it('takes a DM without a ts as before', () => {
    expect(mayAnswer(chatOf('a', 'active'), undefined)).toBe(true);
  });
});

describe('dmTarget', () => {
  const ended = chatOf('ended', 'ended', '1700000001.000100');
  const older = chatOf('older', 'ended', '1700000000.000100');
  const next = chatOf('next', 'active', '1700000010.000100');
  const target = (alerts: AlertRecord[], ts: string, now = NOW) => {
    const found = dmTarget(alerts, ts, now);
    return found && `${found.as} ${found.record.id}`;
  };

  it('is the active chat for a DM written after it reached the person', () => {
    expect(target([older, ended, next], '1700000011.000100')).toBe('answer next');
  });

  it('is the chat that reached the person last before they wrote, when it ended lately: a late reply', () => {
    // A second line of the answer that ended the last chat, crossing the next chat's greeting.
    expect(target([next, ended, older], '1700000002.000100')).toBe('late ended');
    expect(target([next, ended, older], '1700000000.500000')).toBe('late older');
    // The next chat has not written to the person yet.
    expect(target([chatOf('next', 'active'), ended], '1700000020.000100')).toBe('late ended');
    // After every chat ended.
    expect(target([ended, older], '1700000020.000100')).toBe('late ended');
  });

  it('is an early line of the active chat when no chat had reached the person lately, or the last one failed', () => {
    expect(target([next, ended, older], '1699999999.000100')).toBe('early next');
    const longAgo = NOW + ARCHIVE_AFTER_MS;
    expect(target([next, ended], '1700000002.000100', longAgo)).toBe('early next');
    const failed = chatOf('failed', 'failed', '1700000005.000100');
    expect(target([older, failed, next], '1700000006.000100')).toBe('early next');
  });

  it('is none without an active chat when the chat that reached the person last failed, or ended long ago', () => {
    const failed = chatOf('failed', 'failed', '1700000005.000100');
    // Not the older chat past it: the person was answering the failed one.
    expect(dmTarget([older, failed], '1700000006.000100', NOW)).toBeUndefined();
    // The newer chat archived, an older one kept for its deliveries: no reply goes to that one.
    expect(dmTarget([older], '1700000020.000100', NOW + ARCHIVE_AFTER_MS)).toBeUndefined();
    const dismissed = chatOf('dismissed', 'dismissed');
    const queued = chatOf('queued', 'queued');
    expect(dmTarget([dismissed, queued], '1700000020.000100', NOW)).toBeUndefined();
    expect(dmTarget([], '1700000020.000100', NOW)).toBeUndefined();
  });
});
