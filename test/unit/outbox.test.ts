// Tests of the outbox's bookkeeping when a chat fails: what is dropped, what still goes.
import { describe, expect, it } from 'vitest';
import { complete } from '../../src/outbox.js';
import { emptyStore, type OutboxItem } from '../../src/store/port.js';
import { anAlert } from '../support/records.js';

const rules = { maxNudges: 2, nudgeAfterMs: 3_600_000 };
const at = '2026-11-27T10:10:00.000Z';

function failingDm(feedReachable: boolean) {
  const data = emptyStore();
  const failedDm: OutboxItem = { seq: 1, effect: { type: 'SendDm', text: 'still there?', from: 'bot' } };
  const relay: OutboxItem = { seq: 2, effect: { type: 'PostInThread', kind: 'received', text: 'who, me?' } };
  const classify: OutboxItem = { seq: 3, effect: { type: 'Classify', upTo: 1 } };
  const chat = { ...anAlert().chat, state: 'active' as const, personMessages: 1 };
  data.alerts['pivot-1'] = anAlert({ chat, outbox: [failedDm, relay, classify], nextSeq: 4 });
  const event = { type: 'Failed' as const, reason: 'the DM to U0PERSON failed with user_disabled', at, feedReachable };
  complete(data, 'pivot-1', [failedDm], { events: [event] }, rules, at);
  return data.alerts['pivot-1']?.outbox.map((item) =>
    item.effect.type === 'PostInThread' ? `${item.effect.kind}` : item.effect.type,
  );
}

describe('a chat failing on a DM', () => {
  it('drops the person work queued behind it but keeps the relays of what the person said, then says why', () => {
    expect(failingDm(true)).toEqual(['received', 'UpdateAlert', 'note', 'StartNext']);
  });

  it('drops everything queued when the feed channel cannot be reached either', () => {
    expect(failingDm(false)).toEqual(['StartNext']);
  });
});

describe('person work done', () => {
  const relay = (seq: number): OutboxItem => ({
    seq,
    effect: { type: 'PostInThread', kind: 'received', text: 'who, me?' },
  });
  const classify: OutboxItem = { seq: 2, effect: { type: 'Classify', upTo: 1 } };
  const woken = (outbox: OutboxItem[]) => {
    const data = emptyStore();
    const chat = { ...anAlert().chat, state: 'active' as const, personMessages: 1 };
    data.alerts['pivot-1'] = anAlert({ chat, outbox, nextSeq: 10 });
    return complete(data, 'pivot-1', [classify], {}, rules, at);
  };

  it('wakes the thread lane for the posts that waited behind it', () => {
    expect(woken([classify, relay(3)])).toEqual([{ id: 'pivot-1', lanes: ['thread'] }]);
  });

  it('leaves the thread lane alone when its posts were queued ahead (a relay under way while its DM is classified)', () => {
    expect(woken([relay(1), classify])).toEqual([{ id: 'pivot-1', lanes: [] }]);
  });
});
