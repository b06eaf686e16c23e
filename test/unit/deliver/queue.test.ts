// The delivery queue over plain store data: one key per event and target, order per alert and target, claims
// taken over from dead processes only, backoff, Retry-After, permanent failures and the 24-hour limit.
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import { Claimant } from '../../../src/claims.js';
import { deliveryBody, enqueueSinkEvent, eventsOfMove, sinkTarget } from '../../../src/deliver/events.js';
import {
  backoffMs,
  claimDelivery,
  type DeliveryRef,
  dueDeliveries,
  enqueueDelivery,
  hasPendingDeliveries,
  RETRY_FOR_MS,
  recordAttempt,
  renewDelivery,
} from '../../../src/deliver/queue.js';
import { type AlertRecord, emptyStore, type StoreData } from '../../../src/store/port.js';
import { anAlert } from '../../support/records.js';

const AT = '2026-11-27T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(AT) + ms);
/** No process has this pid (Linux's largest is 4194304). */
const DEAD_PID = 99_999_999;
const claimant = new Claimant();

function storeWith(...alerts: AlertRecord[]): StoreData {
  const data = emptyStore();
  for (const alert of alerts) data.alerts[alert.id] = alert;
  return data;
}

function queued(
  data: StoreData,
  id: string,
  event: 'posted' | 'started' | 'ended',
  target: 'sink:0' | 'sink:1' = 'sink:0',
  when = AT,
) {
  const record = data.alerts[id] as AlertRecord;
  return enqueueDelivery(record, { target, event, body: `{"event":"${event}"}`, at: when });
}

const ref = (alertId: string, event: string, target: 'sink:0' | 'sink:1' = 'sink:0'): DeliveryRef => ({
  alertId,
  target,
  key: `${alertId}:${event}`,
});
const none = () => false;

describe('enqueueDelivery', () => {
  it('keys a delivery by alert and event, once per target', () => {
    const data = storeWith(anAlert({ id: 'a' }));
    expect(queued(data, 'a', 'posted')?.key).toBe('a:posted');
    expect(queued(data, 'a', 'posted')).toBeUndefined();
    expect(queued(data, 'a', 'posted', 'sink:1')?.key).toBe('a:posted');
    expect(data.alerts.a?.deliveries?.map((d) => [d.target, d.key, d.attempts])).toEqual([
      ['sink:0', 'a:posted', 0],
      ['sink:1', 'a:posted', 0],
    ]);
  });
});

describe('dueDeliveries', () => {
  it('hands out the first pending delivery of each alert and target, oldest first', () => {
    const data = storeWith(anAlert({ id: 'a' }), anAlert({ id: 'b' }));
    queued(data, 'b', 'posted', 'sink:0', at(-1000).toISOString());
    queued(data, 'a', 'posted');
    queued(data, 'a', 'started');
    queued(data, 'a', 'started', 'sink:1');
    expect(dueDeliveries(data, AT, none, claimant)).toEqual([
      ref('b', 'posted'),
      ref('a', 'posted'),
      ref('a', 'started', 'sink:1'),
    ]);
  });

  it('waits for a retry that is not due, and for a live claim, but not for a dead one', () => {
    const data = storeWith(anAlert({ id: 'a' }), anAlert({ id: 'b' }), anAlert({ id: 'c' }));
    const waiting = queued(data, 'a', 'posted');
    if (waiting) waiting.retryAt = at(1000).toISOString();
    const live = queued(data, 'b', 'posted');
    if (live) live.claim = { pid: process.ppid, run: 'another run', at: AT };
    const dead = queued(data, 'c', 'posted');
    if (dead) dead.claim = { pid: DEAD_PID, run: 'a run that crashed', at: AT };
    expect(dueDeliveries(data, AT, none, claimant)).toEqual([ref('c', 'posted')]);
    expect(dueDeliveries(data, at(1000).toISOString(), none, claimant)).toEqual([
      ref('a', 'posted'),
      ref('c', 'posted'),
    ]);
    // The one this process sends already is left out, and so is what comes after it.
    queued(data, 'c', 'started');
    expect(dueDeliveries(data, AT, (r) => r.alertId === 'c', claimant)).toEqual([]);
  });
});

describe('claimDelivery', () => {
  it('takes a free delivery once, and takes over the claim of a process that died', () => {
    const data = storeWith(anAlert({ id: 'a' }), anAlert({ id: 'b' }));
    queued(data, 'a', 'posted');
    const claimed = claimDelivery(data, ref('a', 'posted'), AT, claimant);
    expect(claimed?.claim).toEqual(claimant.stamp(AT));
    expect(claimDelivery(data, ref('a', 'posted'), AT, claimant)?.claim).toEqual(claimant.stamp(AT)); // the drain skips its own
    const dead = queued(data, 'b', 'posted');
    if (dead) dead.claim = { pid: DEAD_PID, run: 'crashed', at: AT };
    expect(claimDelivery(data, ref('b', 'posted'), AT, claimant)?.claim?.pid).toBe(process.pid);
  });

  it('leaves a delivery claimed by another live process', () => {
    const data = storeWith(anAlert({ id: 'a' }));
    const live = queued(data, 'a', 'posted');
    if (live) live.claim = { pid: process.ppid, run: 'another run', at: AT };
    expect(claimDelivery(data, ref('a', 'posted'), AT, claimant)).toBeNull();
  });
});

describe('renewDelivery', () => {
  it("extends the lease of its own claim, and leaves another run's alone", () => {
    const data = storeWith(anAlert({ id: 'a' }));
    queued(data, 'a', 'posted');
    claimDelivery(data, ref('a', 'posted'), AT, claimant);
    expect(renewDelivery(data, ref('a', 'posted'), at(20_000).toISOString(), claimant)).toBe(true);
    expect(data.alerts.a?.deliveries?.[0]?.claim?.until).toBe(at(50_000).toISOString());
    expect(renewDelivery(data, ref('a', 'posted'), at(20_000).toISOString(), new Claimant())).toBe(false);
    expect(data.alerts.a?.deliveries?.[0]?.claim?.until).toBe(at(50_000).toISOString());
  });

  it('a delivery whose lease ran out is taken over by another run', () => {
    const data = storeWith(anAlert({ id: 'a' }));
    queued(data, 'a', 'posted');
    const other = new Claimant({ host: 'another-machine' });
    claimDelivery(data, ref('a', 'posted'), AT, other);
    expect(claimDelivery(data, ref('a', 'posted'), at(29_999).toISOString(), claimant)).toBeNull();
    expect(claimDelivery(data, ref('a', 'posted'), at(30_000).toISOString(), claimant)?.claim?.run).toBe(claimant.run);
  });
});

describe('recordAttempt', () => {
  function claimedOne() {
    const data = storeWith(anAlert({ id: 'a' }));
    queued(data, 'a', 'ended');
    claimDelivery(data, ref('a', 'ended'), AT, claimant);
    const delivery = () => data.alerts.a?.deliveries?.[0];
    return { data, delivery };
  }

  it('marks a delivered one done', () => {
    const { data, delivery } = claimedOne();
    expect(recordAttempt(data, ref('a', 'ended'), { ok: true, status: 200 }, at(5))).toEqual({ kind: 'delivered' });
    expect(delivery()).toMatchObject({ deliveredAt: at(5).toISOString(), attempts: 1 });
    expect(delivery()?.claim).toBeUndefined();
    expect(hasPendingDeliveries(data.alerts.a as AlertRecord)).toBe(false);
  });

  it('retries a failure that may pass after 1 s, 2 s, 4 s …, or after Retry-After when given', () => {
    const { data, delivery } = claimedOne();
    const busy = { ok: false, retry: true, reason: 'HTTP 503' } as const;
    expect(recordAttempt(data, ref('a', 'ended'), busy, at(0))).toMatchObject({ kind: 'retry', attempts: 1 });
    expect(delivery()?.retryAt).toBe(at(1000).toISOString());
    recordAttempt(data, ref('a', 'ended'), busy, at(1000));
    expect(delivery()?.retryAt).toBe(at(3000).toISOString());
    recordAttempt(data, ref('a', 'ended'), { ...busy, retryAfterMs: 30_000 }, at(3000));
    expect(delivery()?.retryAt).toBe(at(33_000).toISOString());
    expect(hasPendingDeliveries(data.alerts.a as AlertRecord)).toBe(true);
    expect([1, 2, 3, 10, 11, 50].map(backoffMs)).toEqual([1000, 2000, 4000, 512_000, 600_000, 600_000]);
  });

  it('waits at least its own backoff and at most ten minutes, whatever Retry-After asks (0, a date past, a year)', () => {
    const { data, delivery } = claimedOne();
    const busy = { ok: false, retry: true, reason: 'HTTP 503' } as const;
    recordAttempt(data, ref('a', 'ended'), { ...busy, retryAfterMs: 0 }, at(0));
    expect(delivery()?.retryAt).toBe(at(1000).toISOString());
    recordAttempt(data, ref('a', 'ended'), { ...busy, retryAfterMs: 365 * 24 * 3_600_000 }, at(1000));
    expect(delivery()?.retryAt).toBe(at(1000 + 600_000).toISOString());
  });

  it('records a refusal for good as the failure, at once', () => {
    const { data, delivery } = claimedOne();
    const refused = { ok: false, retry: false, reason: 'HTTP 400' } as const;
    expect(recordAttempt(data, ref('a', 'ended'), refused, at(0))).toEqual({
      kind: 'failed',
      reason: 'HTTP 400',
      attempts: 1,
    });
    expect(delivery()).toMatchObject({ failure: 'HTTP 400' });
    expect(hasPendingDeliveries(data.alerts.a as AlertRecord)).toBe(false);
    expect(dueDeliveries(data, at(RETRY_FOR_MS).toISOString(), none, claimant)).toEqual([]);
  });

  it('tries a last time at 24 hours from enqueue, then gives up', () => {
    const { data, delivery } = claimedOne();
    const busy = { ok: false, retry: true, reason: 'HTTP 503', retryAfterMs: RETRY_FOR_MS } as const;
    recordAttempt(data, ref('a', 'ended'), busy, at(RETRY_FOR_MS - 60_000));
    expect(delivery()?.retryAt).toBe(at(RETRY_FOR_MS).toISOString());
    expect(recordAttempt(data, ref('a', 'ended'), busy, at(RETRY_FOR_MS))).toMatchObject({ kind: 'failed' });
    expect(delivery()?.failure).toBe('gave up after 24 hours of failures: HTTP 503');
  });
});

describe('sink events', () => {
  const record = anAlert({
    id: 'pivot-000001',
    dedupeKey: 'siem-42',
    transcript: [
      { from: 'bot', text: 'Hi Harold', at: AT, ts: '1.1' },
      { from: 'analyst', text: 'thanks', at: AT, by: 'U0ANALYST' },
    ],
  });

  it('carries the alert, the verdict once closed, and the transcript', () => {
    const ended = {
      ...record,
      chat: { ...newChat(), state: 'ended' as const, outcome: 'answered' as const, aware: true },
    };
    expect(JSON.parse(deliveryBody(ended, 'ended', AT, 'Harold migrated the host.'))).toEqual({
      event: 'ended',
      at: AT,
      alert: {
        id: 'pivot-000001',
        template: 'pivot',
        name: 'Impossible travel',
        user_id: 'U0PERSON',
        properties: { ip: '203.0.113.7', country: 'NZ' },
        dedupe_key: 'siem-42',
      },
      verdict: { outcome: 'answered', aware: true, verified: null, summary: 'Harold migrated the host.' },
      transcript: [
        { from: 'bot', text: 'Hi Harold', at: AT },
        { from: 'analyst', text: 'thanks', at: AT, by: 'U0ANALYST' },
      ],
    });
    const failed = { ...record, chat: { ...newChat(), state: 'failed' as const, verified: 'denied' as const } };
    expect(JSON.parse(deliveryBody(failed, 'ended', AT)).verdict).toEqual({
      outcome: 'failed',
      aware: null,
      verified: 'denied',
      summary: null,
    });
    const posted = JSON.parse(deliveryBody({ ...record, dedupeKey: undefined } as AlertRecord, 'posted', AT));
    expect(posted.verdict).toBeNull();
    expect(posted.alert.dedupe_key).toBeNull();
  });

  it('queues an event for the sinks that ask for it, with one body', () => {
    const copy = structuredClone(record);
    const sinks = [
      { url: 'https://a.example', secretEnv: 'A', events: ['ended' as const] },
      { url: 'https://b.example', secretEnv: 'B', events: ['posted' as const, 'ended' as const] },
    ];
    expect(enqueueSinkEvent(copy, 'posted', sinks, AT)).toBe(1);
    expect(enqueueSinkEvent(copy, 'ended', sinks, AT)).toBe(2);
    expect(enqueueSinkEvent(copy, 'dismissed', sinks, AT)).toBe(0);
    expect(copy.deliveries?.map((d) => `${d.target} ${d.key}`)).toEqual([
      'sink:b.example#cc54b396 pivot-000001:posted',
      'sink:a.example#251f5d14 pivot-000001:ended',
      'sink:b.example#cc54b396 pivot-000001:ended',
    ]);
  });

  it('names a sink by what it is, not by its place: reordered or removed, its queued events stay its own', () => {
    const a = { url: 'https://a.example/in?token=x', secretEnv: 'A', events: ['ended' as const] };
    const b = { url: 'https://a.example/in?token=x', secretEnv: 'B', events: ['ended' as const] };
    expect(sinkTarget(a)).toBe(sinkTarget({ url: a.url, secretEnv: a.secretEnv })); // its events may change
    expect(sinkTarget(a)).not.toBe(sinkTarget(b)); // one receiver, two subscriptions
    expect(sinkTarget(a)).toMatch(/^sink:a\.example#[0-9a-f]{8}$/); // the host, never the path or query
  });

  it('follows the chat: started when active, dismissed, ended at once unless a summary is on its way', () => {
    const chat = newChat();
    expect(eventsOfMove('posted', { ...chat, state: 'active' }, [])).toEqual(['started']);
    expect(eventsOfMove('queued', { ...chat, state: 'active' }, [])).toEqual(['started']);
    expect(eventsOfMove('posted', { ...chat, state: 'queued' }, [])).toEqual([]);
    expect(eventsOfMove('posted', { ...chat, state: 'dismissed' }, [])).toEqual(['dismissed']);
    expect(eventsOfMove('active', { ...chat, state: 'ended' }, [{ type: 'Summarise' }])).toEqual([]);
    expect(eventsOfMove('queued', { ...chat, state: 'ended' }, [{ type: 'UpdateAlert' }])).toEqual(['ended']);
    expect(eventsOfMove('active', { ...chat, state: 'failed' }, [])).toEqual(['ended']);
    expect(eventsOfMove('active', { ...chat, state: 'active' }, [{ type: 'Nudge' }])).toEqual([]);
  });
});
