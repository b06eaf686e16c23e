// Tests of the outbox's bookkeeping: what a failing chat drops, what a finished effect wakes, and what a take-over
// claims (and whether it counts as one that may have landed).
import { describe, expect, it } from 'vitest';
import { Claimant } from '../../src/claims.js';
import { claim, complete } from '../../src/outbox.js';
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

describe('taking over work another run claimed', () => {
  // Runs on other machines (the pid check never applies) with leases of a second.
  const run = () => new Claimant({ leaseMs: 1_000, host: `host-${Math.random()}` });
  const t = (s: number) => new Date(Date.parse(at) + s * 1000).toISOString();
  const dm: OutboxItem = { seq: 1, effect: { type: 'SendDm', text: 'were you aware?', from: 'bot' } };
  const relay = (seq: number): OutboxItem => ({
    seq,
    effect: { type: 'PostInThread', kind: 'received', text: `line ${seq}` },
  });
  const withOutbox = (outbox: OutboxItem[]) => {
    const data = emptyStore();
    data.alerts['pivot-1'] = anAlert({ outbox: structuredClone(outbox), nextSeq: 10 });
    return data;
  };
  const seqs = (taken: ReturnType<typeof claim>) => taken?.items.map((item) => item.seq);

  it('still asks Slack when the taker takes it again without having performed it (its first claim went unused)', () => {
    const [a, b] = [run(), run()];
    const data = withOutbox([dm]);
    claim(data, 'pivot-1', 'person', t(0), a);
    const first = claim(data, 'pivot-1', 'person', t(2), b);
    expect(first).toMatchObject({ recovered: true, checkSince: t(0) });
    // B's claim was dropped (a lane loop started meanwhile); the loop takes the head again, now under B's claim.
    const again = claim(data, 'pivot-1', 'person', t(2.1), b);
    expect(again).toMatchObject({ recovered: true, checkSince: t(0) });
  });

  it('asks Slack since the first claim when the taker too lost its lease before posting', () => {
    const [a, b, c] = [run(), run(), run()];
    const data = withOutbox([dm]);
    claim(data, 'pivot-1', 'person', t(0), a);
    claim(data, 'pivot-1', 'person', t(2), b);
    // A's post may have landed after B's claim: C's window starts at A's claim, not at B's.
    expect(claim(data, 'pivot-1', 'person', t(4), c)).toMatchObject({ recovered: true, checkSince: t(0) });
  });

  it('takes a thread message taken over as the message it was, again and again, nothing added', () => {
    const [a, b] = [run(), run()];
    const data = withOutbox([relay(1), relay(2)]);
    expect(seqs(claim(data, 'pivot-1', 'thread', t(0), a))).toEqual([1, 2]);
    data.alerts['pivot-1']?.outbox.push(relay(3));
    expect(seqs(claim(data, 'pivot-1', 'thread', t(2), b))).toEqual([1, 2]);
    expect(claim(data, 'pivot-1', 'thread', t(2.1), b)).toMatchObject({ recovered: true, checkSince: t(0) });
    expect(seqs(claim(data, 'pivot-1', 'thread', t(2.2), b))).toEqual([1, 2]);
  });

  it('takes the alert updates the dead run had taken with their head, leaving none under its claim', () => {
    const [a, b] = [run(), run()];
    const update = (seq: number): OutboxItem => ({ seq, effect: { type: 'UpdateAlert' } });
    const data = withOutbox([update(1), update(2)]);
    expect(seqs(claim(data, 'pivot-1', 'alert', t(0), a))).toEqual([1, 2]);
    expect(seqs(claim(data, 'pivot-1', 'alert', t(2), b))).toEqual([1, 2]);
  });

  it('leaves a post that may have landed out of a fresh message', () => {
    const a = run();
    const unsure = { ...relay(2), checkSince: t(0) };
    const data = withOutbox([relay(1), unsure, relay(3)]);
    expect(seqs(claim(data, 'pivot-1', 'thread', t(1), a))).toEqual([1]);
  });
});
