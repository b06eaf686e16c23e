// The leases an App holds: a renewal that waited its turn while the work finished says nothing of that work.
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/app/context.js';
import { Leases } from '../../src/app/leases.js';
import { Claimant } from '../../src/claims.js';
import type { LogFields } from '../../src/log.js';
import { memoryStore } from '../support/memory-ports.js';
import { anAlert } from '../support/records.js';

describe('Leases', () => {
  it('lets go quietly of work done while its renewal waited for the store, and fences work taken over', async () => {
    const store = memoryStore();
    const claimant = new Claimant({ leaseMs: 30_000 });
    const other = new Claimant({ leaseMs: 30_000 });
    const now = '2026-12-04T10:00:00.000Z';
    await store.transact((data) => {
      for (const id of ['done', 'taken']) {
        data.alerts[id] = anAlert({ id, outbox: [{ seq: 1, effect: { type: 'Greet' }, claim: claimant.stamp(now) }] });
      }
    });
    const logged: Array<LogFields | undefined> = [];
    const ctx = {
      claimant,
      monotonic: () => 0,
      now: () => now,
      schedule: () => undefined,
      ports: { store, log: (_: string, fields?: LogFields) => void logged.push(fields) },
    } as unknown as AppContext;
    const leases = new Leases(ctx);
    const claimsOf = (record: { outbox: Array<{ claim?: unknown }> }) =>
      record.outbox.map((item) => item.claim) as ReturnType<Parameters<Leases['hold']>[1]>;
    const done = leases.hold('done', claimsOf, 0);
    const taken = leases.hold('taken', claimsOf, 0);
    // The renewal is asked for; before its transaction runs, one piece of work is done and let go, and the other is
    // taken over by another run.
    const meanwhile = store.transact((data) => {
      data.alerts.done?.outbox.splice(0);
      const item = data.alerts.taken?.outbox[0];
      if (item) item.claim = other.stamp(now);
    });
    const renewal = leases.renew();
    leases.release(done);
    await Promise.all([meanwhile, renewal]);
    expect(logged.map((fields) => [fields?.event, fields?.alert])).toEqual([['fenced', 'taken']]);
    expect(taken.fenced).toBe(true);
    expect(done.fenced).toBe(false);
  });

  it('says nothing of work recorded done in a transaction before the renewal, even before it is let go', async () => {
    const store = memoryStore();
    const claimant = new Claimant({ leaseMs: 30_000 });
    const now = '2026-12-04T10:00:00.000Z';
    await store.transact((data) => {
      data.alerts.done = anAlert({
        id: 'done',
        outbox: [{ seq: 1, effect: { type: 'Greet' }, claim: claimant.stamp(now) }],
      });
    });
    const logged: Array<LogFields | undefined> = [];
    const ctx = {
      claimant,
      monotonic: () => 0,
      now: () => now,
      schedule: () => undefined,
      ports: { store, log: (_: string, fields?: LogFields) => void logged.push(fields) },
    } as unknown as AppContext;
    const leases = new Leases(ctx);
    const hold = leases.hold('done', (record) => record.outbox.map((item) => item.claim), 0);
    // The lane's transaction records the work done (and says so on the hold, as lanes.ts does inside it); the
    // renewal's runs after it, and its answer comes before the lane has let the hold go.
    const recorded = store.transact((data) => {
      data.alerts.done?.outbox.splice(0);
      hold.done = true;
    });
    await Promise.all([recorded, leases.renew()]);
    leases.release(hold);
    expect(logged).toEqual([]);
    expect(hold.fenced).toBe(false);
  });

  it('says work dropped while its lease was live is no longer queued, and work gone past its lease taken over', async () => {
    const store = memoryStore();
    const claimant = new Claimant({ leaseMs: 30_000 });
    const now = '2026-12-04T10:00:00.000Z';
    await store.transact((data) => {
      for (const id of ['dropped', 'late']) {
        data.alerts[id] = anAlert({ id, outbox: [{ seq: 1, effect: { type: 'Nudge' }, claim: claimant.stamp(now) }] });
      }
    });
    const logged: Array<[string | undefined, string | undefined, string | undefined]> = [];
    const ctx = {
      claimant,
      monotonic: () => 40_000,
      now: () => now,
      schedule: () => undefined,
      ports: {
        store,
        log: (_: string, fields?: LogFields) => void logged.push([fields?.event, fields?.alert, fields?.level]),
      },
    } as unknown as AppContext;
    const leases = new Leases(ctx);
    const claimsOf = (record: { outbox: Array<{ claim?: unknown }> }) =>
      record.outbox.map((item) => item.claim) as ReturnType<Parameters<Leases['hold']>[1]>;
    // One confirmed 10 s ago, the other 40 s ago (past its 30 s lease); a change drops both items meanwhile.
    const dropped = leases.hold('dropped', claimsOf, 30_000);
    const late = leases.hold('late', claimsOf, 0);
    await store.transact((data) => {
      for (const id of ['dropped', 'late']) data.alerts[id]?.outbox.splice(0);
    });
    await leases.renew();
    expect(logged).toEqual([
      ['work_dropped', 'dropped', undefined],
      ['fenced', 'late', 'warn'],
    ]);
    expect([dropped.fenced, late.fenced]).toEqual([true, true]);
  });
});
