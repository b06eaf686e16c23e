// The leases an App holds: a renewal that waited its turn while the work finished says nothing of that work; one
// that finds work taken over fences it and says so; work dropped by a change to the chat is said to be dropped.
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/app/context.js';
import { Leases } from '../../src/app/leases.js';
import { Claimant } from '../../src/claims.js';
import type { LogFields } from '../../src/log.js';
import { memoryStore } from '../support/memory-ports.js';
import { anAlert } from '../support/records.js';

const NOW = '2026-12-04T10:00:00.000Z';

/**
 * Leases of one run on a store holding an alert per id, each with one queued item claimed by that run; its
 * monotonic clock reads `at`. What it logs is kept as [event, alert, level].
 */
async function leasesOn(ids: string[], at = 0) {
  const store = memoryStore();
  const claimant = new Claimant({ leaseMs: 30_000 });
  await store.transact((data) => {
    for (const id of ids) {
      data.alerts[id] = anAlert({ id, outbox: [{ seq: 1, effect: { type: 'Nudge' }, claim: claimant.stamp(NOW) }] });
    }
  });
  const logged: Array<[string | undefined, string | undefined, string | undefined]> = [];
  const ctx = {
    claimant,
    monotonic: () => at,
    now: () => NOW,
    schedule: () => undefined,
    ports: {
      store,
      log: (_: string, fields?: LogFields) => void logged.push([fields?.event, fields?.alert, fields?.level]),
    },
  } as unknown as AppContext;
  const leases = new Leases(ctx);
  const claimsOf = (record: { outbox: Array<{ claim?: unknown }> }) =>
    record.outbox.map((item) => item.claim) as ReturnType<Parameters<Leases['hold']>[1]>;
  return { store, leases, logged, hold: (id: string, confirmedAt = 0) => leases.hold(id, claimsOf, confirmedAt) };
}

describe('Leases', () => {
  it('lets go quietly of work done while its renewal waited for the store, and fences work taken over', async () => {
    const { store, leases, logged, hold } = await leasesOn(['done', 'taken']);
    const other = new Claimant({ leaseMs: 30_000 });
    const done = hold('done');
    const taken = hold('taken');
    // The renewal is asked for; before its transaction runs, one piece of work is done and let go, and the other is
    // taken over by another run.
    const meanwhile = store.transact((data) => {
      data.alerts.done?.outbox.splice(0);
      const item = data.alerts.taken?.outbox[0];
      if (item) item.claim = other.stamp(NOW);
    });
    const renewal = leases.renew();
    leases.release(done);
    await Promise.all([meanwhile, renewal]);
    expect(logged).toEqual([['fenced', 'taken', 'warn']]);
    expect(taken.fenced).toBe(true);
    expect(done.fenced).toBe(false);
  });

  it('says nothing of work recorded done in a transaction before the renewal, even before it is let go', async () => {
    const { store, leases, logged, hold } = await leasesOn(['done']);
    const done = hold('done');
    // The lane's transaction records the work done (and says so on the hold, as lanes.ts does inside it); the
    // renewal's runs after it, and its answer comes before the lane has let the hold go.
    const recorded = store.transact((data) => {
      data.alerts.done?.outbox.splice(0);
      done.done = true;
    });
    await Promise.all([recorded, leases.renew()]);
    leases.release(done);
    expect(logged).toEqual([]);
    expect(done.fenced).toBe(false);
  });

  it('says work dropped while its lease was live is no longer queued, and work gone past its lease taken over', async () => {
    const { store, leases, logged, hold } = await leasesOn(['dropped', 'late'], 40_000);
    // One confirmed 10 s ago, the other 40 s ago (past its 30 s lease); a change drops both items meanwhile.
    const dropped = hold('dropped', 30_000);
    const late = hold('late', 0);
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
