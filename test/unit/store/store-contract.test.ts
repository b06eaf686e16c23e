// The store port's contract, one suite run against both stores: the lowdb files and PostgreSQL (a database of
// this file's own). Each test opens its stores afresh on an empty store, as separate processes or replicas would.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { factsOf } from '../../../src/report/facts.js';
import { addSnooze, removeSnooze, snoozesOf } from '../../../src/snoozes.js';
import { openLowdbStore } from '../../../src/store/lowdb-store.js';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import {
  type AlertRecord,
  alertsOf,
  archiveAlert,
  archivedWithKey,
  factsSince,
  type SnoozeActor,
  type Store,
} from '../../../src/store/port.js';
import { createTestDatabase, sql } from '../../support/pg.js';
import { aLine, anAlert } from '../../support/records.js';

interface Kind {
  name: string;
  /** Before each test: an empty store. */
  reset(): Promise<void>;
  /** A handle of its own on the store (another process, another replica). */
  open(): Store;
  setUp?(): Promise<void>;
  tearDown?(): Promise<void>;
}

const opened: Store[] = [];
const track = (store: Store): Store => {
  opened.push(store);
  return store;
};

function lowdb(): Kind {
  let path = '';
  return {
    name: 'lowdb',
    async reset() {
      path = join(await mkdtemp(join(tmpdir(), 'irbot-contract-')), 'db.json');
    },
    open: () => track(openLowdbStore(path)),
  };
}

function postgres(): Kind {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
  return {
    name: 'PostgreSQL',
    async setUp() {
      db = await createTestDatabase();
    },
    async tearDown() {
      await db?.drop();
    },
    async reset() {
      if (!db) throw new Error('no test database');
      // DELETE, not TRUNCATE: on a few rows it takes a millisecond rather than a file rewrite per table.
      await sql(
        db.url,
        `DO $$ BEGIN IF to_regclass('irbot_alerts') IS NOT NULL THEN
           DELETE FROM irbot_alerts; DELETE FROM irbot_seen_events; DELETE FROM irbot_snoozes; DELETE FROM irbot_tombstones;
         END IF; END $$`,
      );
    },
    open: () => track(openPgStore(db?.url ?? '', { poolSize: 2 })),
  };
}

const ANA: SnoozeActor = { id: 'ana', via: 'terminal' };
const NOW = new Date('2026-12-05T10:00:00.000Z');

describe.each([lowdb(), postgres()])('store contract: $name', (kind) => {
  beforeAll(async () => kind.setUp?.());
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close?.()));
    await kind.tearDown?.();
  });
  beforeEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close?.()));
    await kind.reset();
  });

  it('reads an empty store before anything was written', async () => {
    expect(await kind.open().read()).toEqual({ version: 3, alerts: {}, seenEvents: {} });
  });

  it('loses no update when two handles increment one counter at once, and claims no item twice', async () => {
    const replicas = [kind.open(), kind.open()];
    await replicas[0]?.transact((data) => {
      data.alerts.a = anAlert({
        id: 'a',
        nextSeq: 0,
        outbox: Array.from({ length: 20 }, (_, i) => ({ seq: i + 1, effect: { type: 'Nudge' } })),
      });
    });
    const claimed: string[][] = [[], []];
    await Promise.all(
      replicas.map(async (store, r) => {
        for (let i = 0; i < 15; i++) {
          // What a change answers comes from its run that was committed: a store may run it more than once.
          const seq = await store.transact((data) => {
            const alert = data.alerts.a as AlertRecord;
            alert.nextSeq++;
            const free = alert.outbox.find((item) => !item.claim);
            if (!free) return null;
            free.claim = { pid: r, at: NOW.toISOString() };
            return String(free.seq);
          });
          if (seq !== null) claimed[r]?.push(seq);
        }
      }),
    );
    const alert = (await kind.open().read()).alerts.a as AlertRecord;
    expect(alert.nextSeq).toBe(30);
    const all = [...(claimed[0] ?? []), ...(claimed[1] ?? [])];
    expect(new Set(all).size).toBe(20);
    expect(all).toHaveLength(20);
    expect(alert.outbox.every((item) => item.claim !== undefined)).toBe(true);
  });

  it('loses no event id, snooze or alert change when two handles change all three at once, deletions too', async () => {
    const replicas = [kind.open(), kind.open()];
    await replicas[0]?.transact((data) => {
      data.seenEvents.count = '0';
      addSnooze(data, { template: 'pivot', forMs: 60_000, reason: '0', by: ANA }, NOW, () => 'z');
    });
    const snoozeId = Object.keys((await kind.open().read()).snoozes ?? {})[0] as string;
    // Both at once, round by round: one of each pair commits on a copy the other's commit has made stale.
    for (let i = 0; i < 12; i++) {
      await Promise.all(
        replicas.map((store, r) =>
          store.transact((data) => {
            data.seenEvents.count = String(Number(data.seenEvents.count) + 1);
            const snooze = data.snoozes?.[snoozeId];
            if (snooze) snooze.reason = String(Number(snooze.reason) + 1);
            // Event ids and an alert of each handle's own come and go: a run taken back must leave no trace of
            // them, since the other handle's commit does not write them again.
            const id = `e${r}${i % 3}`;
            if (data.seenEvents[id]) delete data.seenEvents[id];
            else data.seenEvents[id] = String(r);
            const flip = `flip${r}`;
            if (data.alerts[flip]) delete data.alerts[flip];
            else data.alerts[flip] = anAlert({ id: flip });
          }),
        ),
      );
      // Each toggle applied once: an id is there after an odd number of them.
      const read = await kind.open().read();
      const toggled = (k: number) => Math.floor((i - k) / 3) + 1;
      const ids = [0, 1].flatMap((r) =>
        [0, 1, 2].filter((k) => k <= i && toggled(k) % 2 === 1).map((k) => `e${r}${k}`),
      );
      expect(
        Object.keys(read.seenEvents)
          .filter((id) => id.startsWith('e'))
          .sort(),
      ).toEqual(ids.sort());
      expect(Object.keys(read.alerts).sort()).toEqual(i % 2 === 0 ? ['flip0', 'flip1'] : []);
    }
    for (const store of [...replicas, kind.open()]) {
      const read = await store.read();
      expect(read.seenEvents.count).toBe('24');
      expect(read.snoozes?.[snoozeId]?.reason).toBe('24');
      // 12 flips of each handle's alert, 4 of each of its event ids: every one applied once.
      expect(Object.keys(read.alerts)).toEqual([]);
      expect(Object.keys(read.seenEvents).filter((id) => id.startsWith('e'))).toEqual([]);
    }
  });

  it('lets a throwing change change nothing while the others land', async () => {
    const store = kind.open();
    const results = await Promise.allSettled([
      store.transact((data) => {
        data.seenEvents.a = '1';
        return 'a';
      }),
      store.transact((data) => {
        data.seenEvents.bad = 'half-written';
        (data.alerts['pivot-1'] as AlertRecord | undefined)?.transcript.push(aLine('never'));
        throw new Error('boom');
      }),
      store.transact((data) => {
        data.seenEvents.c = '3';
        return 'c';
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('boom'));
    expect((await store.read()).seenEvents).toEqual({ a: '1', c: '3' });
    expect((await kind.open().read()).seenEvents).toEqual({ a: '1', c: '3' });
  });

  it('sees what another handle wrote since its own last write, deletions too', async () => {
    const mine = kind.open();
    const theirs = kind.open();
    await mine.transact((data) => {
      data.seenEvents.mine = '1';
      data.seenEvents.old = '0';
      data.alerts.gone = anAlert({ id: 'gone' });
    });
    await theirs.transact((data) => {
      data.seenEvents.theirs = '2';
      delete data.seenEvents.old;
      delete data.alerts.gone;
    });
    expect((await mine.read()).alerts).toEqual({});
    await mine.transact((data) => {
      data.seenEvents.again = '3';
    });
    expect(Object.keys((await mine.read()).seenEvents).sort()).toEqual(['again', 'mine', 'theirs']);
  });

  it("keeps an outbox in its order, not its items' order of creation, for every handle", async () => {
    // A DM's "sent" relay goes where the DM was queued: before a "received" relay queued while it was sent.
    const item = (seq: number, text: string) => ({
      seq,
      effect: { type: 'PostInThread' as const, kind: 'sent' as const, text },
    });
    const mine = kind.open();
    await mine.transact((data) => {
      data.alerts.o1 = anAlert({ id: 'o1', outbox: [item(4, 'dm'), item(5, 'received')], nextSeq: 6 });
    });
    await mine.transact((data) => {
      const record = data.alerts.o1 as AlertRecord;
      record.outbox.splice(0, 1, item(7, 'sent'));
      record.outbox.push(item(8, 'later'));
    });
    for (const reader of [mine, kind.open()]) {
      const outbox = (await reader.read()).alerts.o1?.outbox;
      expect(outbox?.map((i) => i.seq)).toEqual([7, 5, 8]);
    }
    await kind.open().transact((data) => {
      const record = data.alerts.o1 as AlertRecord;
      record.outbox.reverse();
    });
    expect((await mine.read()).alerts.o1?.outbox.map((i) => i.seq)).toEqual([8, 5, 7]);
    await mine.transact((data) => {
      delete data.alerts.o1;
    });
  });

  it('catches up on transcript lines another handle appended, in order, and on its undoing of a change', async () => {
    const mine = kind.open();
    const theirs = kind.open();
    await mine.transact((data) => {
      data.alerts['pivot-1'] = anAlert({ transcript: [aLine('one')] });
    });
    await mine.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('two'));
    });
    await theirs.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('three'));
    });
    await theirs.transact((data) => {
      const record = data.alerts['pivot-1'] as AlertRecord;
      record.transcript.push(aLine('four'), { ...aLine('five'), by: 'U0ANA', ts: '1.2' });
      record.chat = { ...record.chat, state: 'active' };
      record.name = 'MFA reset';
    });
    const state = await mine.transact((data) => {
      const record = data.alerts['pivot-1'] as AlertRecord;
      record.transcript.push(aLine('six'));
      record.name = 'Impossible travel';
      return { state: record.chat.state, lines: record.transcript.map((l) => l.text) };
    });
    expect(state).toEqual({ state: 'active', lines: ['one', 'two', 'three', 'four', 'five', 'six'] });
    const read = (await kind.open().read()).alerts['pivot-1'];
    expect(read?.transcript.map((l) => l.text)).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
    expect(read?.transcript[4]).toEqual({ ...aLine('five'), by: 'U0ANA', ts: '1.2' });
    expect(read?.name).toBe('Impossible travel');
  });

  it('leaves what a read returned as it was when a later change appends, inserts or alters', async () => {
    const store = kind.open();
    await store.transact((data) => {
      data.alerts.a = anAlert({
        id: 'a',
        transcript: [aLine('one'), aLine('three')],
        outbox: [{ seq: 1, effect: { type: 'Nudge' } }],
      });
    });
    const before = (await store.read()).alerts.a as AlertRecord;
    const copy = structuredClone(before);
    await store.transact((data) => {
      const record = data.alerts.a as AlertRecord;
      record.transcript.push(aLine('four'));
      record.transcript.splice(1, 0, aLine('two'));
      (record.outbox[0] as AlertRecord['outbox'][number]).claim = { pid: 1, at: NOW.toISOString() };
      record.chat.state = 'active';
    });
    await store
      .transact(() => {
        throw new Error('refused');
      })
      .catch(() => undefined);
    expect(before).toEqual(copy);
    const after = (await kind.open().read()).alerts.a as AlertRecord;
    expect(after.transcript.map((l) => l.text)).toEqual(['one', 'two', 'three', 'four']);
    expect(after.chat.state).toBe('active');
    expect(after.outbox[0]?.claim?.pid).toBe(1);
  });

  it('reads back a record exactly as written, every optional field included', async () => {
    const record = anAlert({
      dedupeKey: 'siem-42',
      stepUp: true,
      severity: 'critical',
      personName: 'Harold',
      personTz: { tz: 'Pacific/Auckland', offset: 46800 },
      urgent: true,
      pending: { autoChat: true, attempts: 2, retryAt: NOW.toISOString(), lastError: 'ratelimited' },
      escalation: {
        outcome: 'not_aware',
        reason: 'Harold was not aware',
        severity: 'critical',
        at: NOW.toISOString(),
        mention: null,
        pagerduty: true,
      },
      outbox: [
        {
          seq: 3,
          effect: { type: 'SendDm', text: 'hi', from: 'bot' },
          claim: { pid: 7, run: 'r1', at: 'x' },
          attempts: 1,
        },
        { seq: 4, effect: { type: 'Nudge' }, retryAt: 'later', checkSince: 'then' },
      ],
      transcript: [aLine('hello', 'bot'), { ...aLine('it was me'), ts: '1700000000.1' }],
      ts: null,
      nextSeq: 5,
    });
    await kind.open().transact((data) => {
      data.alerts[record.id] = structuredClone(record);
    });
    expect((await kind.open().read()).alerts[record.id]).toEqual(record);
    await kind.open().transact((data) => {
      const alert = data.alerts[record.id] as AlertRecord;
      delete alert.escalation;
      alert.outbox.shift();
    });
    const { escalation: _, ...rest } = record;
    expect((await kind.open().read()).alerts[record.id]).toEqual({ ...rest, outbox: record.outbox.slice(1) });
  });

  it('makes a change with sync: false visible at once, and flush resolves', async () => {
    const store = kind.open();
    await store.flush();
    await store.transact(
      (data) => {
        data.seenEvents.Ev1 = 'lax';
      },
      { sync: false },
    );
    expect((await kind.open().read()).seenEvents).toEqual({ Ev1: 'lax' });
    await store.flush();
    await store.flush();
  });

  it('sees a change that swapped a map whole, from another handle', async () => {
    const mine = kind.open();
    await mine.transact((data) => {
      data.seenEvents.Ev1 = 'one';
      data.alerts.a = anAlert({ id: 'a' });
    });
    await kind.open().transact((data) => {
      data.seenEvents = { Ev2: 'two' };
    });
    const read = await mine.read();
    expect(read.seenEvents).toEqual({ Ev2: 'two' });
    expect(Object.keys(read.alerts)).toEqual(['a']);
  });

  describe('archive', () => {
    it('moves closed alerts out of the working set, oldest archived first; another handle sees them go', async () => {
      const store = kind.open();
      const other = kind.open();
      await store.transact((data) => {
        for (const id of ['a', 'b', 'c']) data.alerts[id] = anAlert({ id, transcript: [aLine(id)] });
      });
      expect(Object.keys((await other.read()).alerts).sort()).toEqual(['a', 'b', 'c']);
      await store.transact((data) => archiveAlert(data, 'c'));
      await store.transact((data) => {
        (data.alerts.a as AlertRecord).transcript.push(aLine('bye'));
        archiveAlert(data, 'a');
      });
      expect(Object.keys((await other.read()).alerts)).toEqual(['b']);
      const archived = await other.readArchive();
      expect(archived.map((r) => r.id)).toEqual(['c', 'a']);
      expect(archived[1]?.transcript.map((l) => l.text)).toEqual(['a', 'bye']);
    });

    it("keeps an archived alert's dedupe_key with the seen events, for another handle and a fresh one", async () => {
      const store = kind.open();
      await store.transact((data) => {
        data.alerts.k = anAlert({ id: 'k', dedupeKey: 'siem-7' });
      });
      await store.transact((data) => archiveAlert(data, 'k', '2026-11-27T10:00:00.000Z'));
      for (const reader of [store, kind.open()]) {
        const data = await reader.read();
        expect(data.alerts.k).toBeUndefined();
        expect(archivedWithKey(data, 'siem-7')).toBe('k');
        expect(archivedWithKey(data, 'siem-8')).toBeUndefined();
      }
    });

    it('gives the facts of the alerts created since a time, working copies winning', async () => {
      const store = kind.open();
      const at = (day: number) => `2026-11-${String(day).padStart(2, '0')}T10:00:00.000Z`;
      await store.transact((data) => {
        for (const day of [1, 2, 3, 4]) data.alerts[`d${day}`] = anAlert({ id: `d${day}`, createdAt: at(day) });
      });
      await store.transact((data) => {
        for (const day of [1, 2, 3]) archiveAlert(data, `d${day}`);
      });
      // In no order the port promises (a table gives its rows in the order they happen to lie in).
      const facts = (await kind.open().scanFacts(at(2))).sort((a, b) => a.id.localeCompare(b.id));
      expect(facts.map((f) => [f.id, f.createdAt])).toEqual([
        ['d2', at(2)],
        ['d3', at(3)],
      ]);
      expect(facts[0]).toEqual(factsOf(anAlert({ id: 'd2', createdAt: at(2) })));
      expect((await factsSince(kind.open(), at(3))).map((a) => a.id)).toEqual(['d3', 'd4']);
    });
  });

  describe('snoozes', () => {
    it('writes only the snoozes a change touched, keeps a removed one, and another handle reads them', async () => {
      const store = kind.open();
      await store.transact((data) => {
        addSnooze(data, { template: 'a', forMs: 60_000, reason: 'r', by: ANA }, NOW, () => '1');
        addSnooze(data, { template: 'b', forMs: 60_000, reason: 'r', by: ANA }, NOW, () => '2');
      });
      const other = kind.open();
      expect(snoozesOf(await other.read()).map((s) => s.id)).toEqual(['sz-1', 'sz-2']);
      await store.transact((data) => {
        snoozesOf(data);
        alertsOf(data);
        removeSnooze(data, 'sz-2', ANA, NOW);
      });
      expect(snoozesOf(await other.read()).map((s) => [s.id, s.removedAt ?? null])).toEqual([
        ['sz-1', null],
        ['sz-2', NOW.toISOString()],
      ]);
    });
  });
});
