// Which chat a DM from the person belongs to: the one whose first DM had reached them when they wrote it.
import { describe, expect, it } from 'vitest';
import { compareTs, dmTarget, mayAnswer } from '../../src/app/dm-target.js';
import { newChat } from '../../src/chat/engine.js';
import type { ChatState } from '../../src/chat/types.js';
import type { AlertRecord } from '../../src/store/port.js';
import { anAlert } from '../support/records.js';

const AT = '2026-11-27T10:05:00.000Z';

/** A chat in `state` whose first DM to the person (if any) went out at Slack time `firstDm`. */
function chatOf(id: string, state: ChatState, firstDm?: string, overrides: Partial<AlertRecord> = {}): AlertRecord {
  return anAlert({
    id,
    chat: { ...newChat(), state },
    transcript: firstDm ? [{ from: 'bot', text: 'Hi', at: AT, ts: firstDm }] : [],
    ...overrides,
  });
}

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
  });

  it('takes none before the chat wrote to the person, unless a DM of it may be on its way', () => {
    const greeting = { seq: 1, effect: { type: 'SendDm', text: 'Hi', from: 'bot' } } as const;
    expect(mayAnswer(chatOf('a', 'active'), '1700000011.000100')).toBe(false);
    expect(mayAnswer(chatOf('a', 'active', undefined, { outbox: [greeting] }), '1700000011.000100')).toBe(false);
    const claim = { pid: 1, host: 'h', at: AT, run: 'r' };
    const sending = chatOf('a', 'active', undefined, { outbox: [{ ...greeting, claim }] });
    expect(mayAnswer(sending, '1700000011.000100')).toBe(true);
  });

  it('takes a DM without a ts as before', () => {
    expect(mayAnswer(chatOf('a', 'active'), undefined)).toBe(true);
  });
});

describe('dmTarget', () => {
  const ended = chatOf('ended', 'ended', '1700000001.000100');
  const older = chatOf('older', 'ended', '1700000000.000100');
  const next = chatOf('next', 'active', '1700000010.000100');

  it('is the active chat for a DM written after it reached the person', () => {
    expect(dmTarget([older, ended, next], '1700000011.000100')?.id).toBe('next');
  });

  it('is the ended chat that last reached the person for one written before the active chat did', () => {
    // A second line of the answer that ended the last chat, crossing the next chat's greeting.
    expect(dmTarget([next, ended, older], '1700000002.000100')?.id).toBe('ended');
    expect(dmTarget([next, ended, older], '1700000000.500000')?.id).toBe('older');
    // Before any of them reached the person: none.
    expect(dmTarget([next, ended, older], '1699999999.000100')).toBeUndefined();
    // The next chat has not written to the person yet.
    expect(dmTarget([chatOf('next', 'active'), ended], '1700000020.000100')?.id).toBe('ended');
  });

  it('is the ended chat for a DM after every chat ended, and none for chats that never reached the person', () => {
    expect(dmTarget([ended, older], '1700000020.000100')?.id).toBe('ended');
    const dismissed = chatOf('dismissed', 'dismissed');
    const failed = chatOf('failed', 'failed', '1700000003.000100');
    const queued = chatOf('queued', 'queued');
    expect(dmTarget([dismissed, failed, queued], '1700000020.000100')).toBeUndefined();
    expect(dmTarget([], '1700000020.000100')).toBeUndefined();
  });
});
