// The delivery drain keeps the leases of what it is sending: renewed every third of a lease until the send ends.
import { describe, expect, it } from 'vitest';
import { Claimant } from '../../../src/claims.js';
import { DeliveryDrain } from '../../../src/deliver/drain.js';
import type { DeliveryTarget, Transport } from '../../../src/deliver/port.js';
import { enqueueDelivery } from '../../../src/deliver/queue.js';
import type { AlertRecord } from '../../../src/store/port.js';
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
});
