// The delivery drain keeps the leases of what it is sending: renewed every third of a lease until the send ends.
import { describe, expect, it } from 'vitest';
import { Claimant } from '../../../src/claims.js';
import { DeliveryDrain } from '../../../src/deliver/drain.js';
import type { DeliveryTarget, Transport } from '../../../src/deliver/port.js';
import { claimDelivery, enqueueDelivery, RETRY_FOR_MS, recordAttempt } from '../../../src/deliver/queue.js';
import { type AlertRecord, emptyStore } from '../../../src/store/port.js';
import { fakeClock, memoryStore } from '../../support/memory-ports.js';
import { anAlert } from '../../support/records.js';

describe('DeliveryDrain', () => {
  it('renews the lease of a delivery while a slow target answers', async () => {
    const clock = fakeClock();
    const store = memoryStore();
    await store.transact((data) => {
      data.alerts.a = anAlert({ id: 'a' });
      enqueueDelivery(data.alerts.a as AlertRecord, { target: 'sink:0', event: 'posted', body: '{}', at: '' });
    });
    let sending: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => {
      sending = resolve;
    });
    let answer: () => void = () => undefined;
    const slow: Transport = {
      send: () => {
        sending();
        return new Promise((resolve) => {
          answer = () => resolve({ ok: true, status: 200 });
        });
      },
    };
    const timers: { ms: number; fn: () => void }[] = [];
    const drain = new DeliveryDrain({
      store,
      clock: clock.now,
      log: () => undefined,
      transports: new Map<DeliveryTarget, Transport>([['sink:0', slow]]),
      schedule: (ms, fn) => timers.push({ ms, fn }),
      claimant: new Claimant({ leaseMs: 30_000 }),
    });
    drain.kick();
    await sent;
    const until = () => store.data().alerts.a?.deliveries?.[0]?.claim?.until;
    expect(until()).toBe('2026-11-27T10:00:30.000Z');
    clock.advance(10_000);
    for (const timer of timers.splice(0)) if (timer.ms === 10_000) timer.fn();
    await store.transact(() => undefined);
    expect(until()).toBe('2026-11-27T10:00:40.000Z');
    answer();
    await drain.idle();
    expect(store.data().alerts.a?.deliveries?.[0]?.deliveredAt).toBeDefined();
  });

  it('leaves a target it has no transport for to a replica that has one, and fails it only after 24 hours', async () => {
    const clock = fakeClock();
    const store = memoryStore();
    await store.transact((data) => {
      data.alerts.a = anAlert({ id: 'a' });
      const at = clock.now().toISOString();
      enqueueDelivery(data.alerts.a as AlertRecord, { target: 'pagerduty', event: 'escalated', body: '{}', at });
    });
    const drainWith = (transports: Map<DeliveryTarget, Transport>) =>
      new DeliveryDrain({ store, clock: clock.now, log: () => undefined, transports, claimant: new Claimant() });
    // A replica of the config before PAGERDUTY_ROUTING_KEY was set looks first: it leaves the page alone.
    const older = drainWith(new Map());
    older.kick();
    await older.idle();
    expect(store.data().alerts.a?.deliveries?.[0]).toMatchObject({ attempts: 0 });
    expect(store.data().alerts.a?.deliveries?.[0]?.failure).toBeUndefined();
    const paged: string[] = [];
    const newer = drainWith(
      new Map<DeliveryTarget, Transport>([
        [
          'pagerduty',
          {
            send: async (d) => {
              paged.push(d.key);
              return { ok: true, status: 202 };
            },
          },
        ],
      ]),
    );
    newer.kick();
    await newer.idle();
    expect(paged).toEqual(['a:escalated']);
    // One no irbot could send: failed once its day is over, saying why.
    await store.transact((data) => {
      const at = clock.now().toISOString();
      enqueueDelivery(data.alerts.a as AlertRecord, { target: 'sink:3', event: 'ended', body: '{}', at });
    });
    clock.advance(RETRY_FOR_MS);
    older.kick();
    await older.idle();
    expect(store.data().alerts.a?.deliveries?.find((d) => d.target === 'sink:3')?.failure).toBe(
      'no irbot that had sink:3 configured sent it within 24 hours',
    );
  });

  it('records no late result of a delivery another process took over while this one sent it', () => {
    const store = { ...emptyStore(), alerts: { a: anAlert({ id: 'a' }) } };
    const record = store.alerts.a as AlertRecord;
    enqueueDelivery(record, { target: 'sink:0', event: 'posted', body: '{}', at: '2026-11-27T10:00:00.000Z' });
    const ref = { alertId: 'a', target: 'sink:0' as const, key: 'a:posted' };
    const late = new Claimant();
    const taker = new Claimant();
    const now = '2026-11-27T10:00:00.000Z';
    claimDelivery(store, ref, now, late);
    // Its lease ran out while it sent (paused): another took the delivery over and is sending it now.
    const later = '2026-11-27T10:05:00.000Z';
    claimDelivery(store, ref, later, taker);
    const busy = { ok: false, retry: true, reason: 'HTTP 503' } as const;
    expect(recordAttempt(store, ref, busy, new Date(later), late)).toEqual({ kind: 'gone' });
    expect(record.deliveries?.[0]?.claim).toMatchObject({ run: taker.run });
    expect(recordAttempt(store, ref, { ok: true, status: 200 }, new Date(later), taker)).toEqual({ kind: 'delivered' });
  });
});
