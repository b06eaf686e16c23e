// What is the PostgreSQL store's own: constraints, schema versions, connection failures in one line, rows written
// only for what a change touched, and watch().

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { factsOf } from '../../../src/report/facts.js';
import { copyInto } from '../../../src/store/pg/copy.js';
import { openPgStore, type PgStore } from '../../../src/store/pg/pg-store.js';
import { MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION, TRANSACTION_LOCK } from '../../../src/store/pg/schema.js';
import { type AlertRecord, alertsOf, alertsOfPerson, archiveAlert, type StoreData } from '../../../src/store/port.js';
import { createTestDatabase, sql, urlOf } from '../../support/pg.js';
import { aLine, anAlert } from '../../support/records.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const stores: PgStore[] = [];
const open = (url = db.url): PgStore => {
  const store = openPgStore(url, { poolSize: 2 });
  stores.push(store);
  return store;
};
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await db.drop();
});

describe('PostgreSQL store', () => {
  it('migrates a new database once when two replicas open it at once', async () => {
    await Promise.all([open().read(), open().read()]);
    // Each migration once, in order.
    expect(await sql(db.url, 'SELECT version FROM irbot_schema ORDER BY version')).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
    );
  });

  it('opens an up-to-date database without the migration lock (held here by a replica that is migrating)', async () => {
    await open().read();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await open().transact((data) => {
        data.seenEvents.EvLockFree = 'x';
      });
      expect((await open().read()).seenEvents).toMatchObject({ EvLockFree: 'x' });
    } finally {
      await holder.end();
    }
  });

  it('keeps text holding half a surrogate pair (a webhook field "\\ud800"), as U+FFFD, names of properties too', async () => {
    const store = open();
    await store.transact((data) => {
      data.alerts.s1 = anAlert({
        id: 's1',
        description: 'lone \ud800 high',
        properties: { 'host\udc00': 'a \udc00 low', pair: 'fine \ud83d\ude00' },
        transcript: [aLine('reply \ud800')],
      });
    });
    for (const reader of [store, open()]) {
      const record = (await reader.read()).alerts.s1;
      expect(record?.description).toBe('lone \ufffd high');
      expect(record?.properties).toEqual({ 'host\ufffd': 'a \ufffd low', pair: 'fine \ud83d\ude00' });
      expect(record?.transcript.map((line) => line.text)).toEqual(['reply \ufffd']);
    }
    await store.transact((data) => {
      delete data.alerts.s1;
    });
  });

  it('keeps a reply holding NUL characters, as U+FFFD (PostgreSQL text has no NUL), in its cache and for others', async () => {
    const store = open();
    const nul = 'it was me\u0000\u0000 honest';
    await store.transact((data) => {
      data.alerts.n1 = anAlert({ id: 'n1', name: 'Piv\u0000ot', transcript: [aLine(nul)] });
    });
    await store.transact((data) => {
      data.alerts.n1?.transcript.push(aLine(`${nul} again`));
    });
    for (const reader of [store, open()]) {
      const record = (await reader.read()).alerts.n1;
      expect(record?.name).toBe('Piv\ufffdot');
      expect(record?.transcript.map((line) => line.text)).toEqual([
        'it was me\ufffd\ufffd honest',
        'it was me\ufffd\ufffd honest again',
      ]);
    }
    await store.transact((data) => {
      delete data.alerts.n1;
    });
  });

  it('refuses a second alert with the dedupe key of one in the working set (SQLSTATE 23505), and changes nothing', async () => {
    const store = open();
    await store.transact((data) => {
      data.alerts.d1 = anAlert({ id: 'd1', dedupeKey: 'siem-1' });
    });
    const twice = store.transact((data) => {
      data.alerts.d2 = anAlert({ id: 'd2', dedupeKey: 'siem-1' });
      data.seenEvents.EvDup = 'x';
    });
    await expect(twice).rejects.toThrow(/PostgreSQL error 23505/);
    const read = await store.read();
    expect(Object.keys(read.alerts)).toEqual(['d1']);
    expect(read.seenEvents).not.toHaveProperty('EvDup');
  });

  it('commits changes queued together in one transaction, and one the database refuses fails alone', async () => {
    const store = open();
    await store.transact((data) => {
      data.alerts.g1 = anAlert({ id: 'g1', dedupeKey: 'siem-g' });
    });
    const [{ rev }] = (await sql(db.url, 'SELECT last_value AS rev FROM irbot_rev')) as [{ rev: string }];
    const together = await Promise.allSettled([
      store.transact((data) => {
        data.seenEvents.EvG1 = 'x';
      }),
      store.transact((data) => {
        data.seenEvents.EvG2 = 'x';
      }),
    ]);
    expect(together.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await sql(db.url, 'SELECT last_value AS rev FROM irbot_rev')).toEqual([{ rev: String(Number(rev) + 1) }]);
    const withBad = await Promise.allSettled([
      store.transact((data) => {
        data.seenEvents.EvG3 = 'x';
      }),
      store.transact((data) => {
        data.alerts.g2 = anAlert({ id: 'g2', dedupeKey: 'siem-g' });
      }),
      store.transact((data) => {
        data.seenEvents.EvG4 = 'x';
      }),
    ]);
    expect(withBad.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((withBad[1] as PromiseRejectedResult).reason)).toMatch(/PostgreSQL error 23505/);
    const read = await open().read();
    expect(read.seenEvents).toMatchObject({ EvG1: 'x', EvG2: 'x', EvG3: 'x', EvG4: 'x' });
    expect(read.alerts).not.toHaveProperty('g2');
    await store.transact((data) => {
      delete data.alerts.g1;
    });
  });

  it('refuses a second active chat with one person, and changes nothing; one waiting for working hours may be beside it', async () => {
    const store = open();
    const chatWith = (id: string, state: 'active' | 'scheduled' | 'queued') =>
      anAlert({ id, userId: 'U0ONE', chat: { ...anAlert().chat, state } });
    await store.transact((data) => {
      data.alerts.c1 = chatWith('c1', 'active');
      data.alerts.c2 = chatWith('c2', 'queued');
      // An urgent chat went ahead of one waiting for the person's hours (src/app/inbound.ts): both stay.
      data.alerts.c4 = chatWith('c4', 'scheduled');
    });
    const second = store.transact((data) => {
      data.alerts.c3 = chatWith('c3', 'active');
    });
    await expect(second).rejects.toThrow(/PostgreSQL error 23P01/);
    expect((await store.read()).alerts).not.toHaveProperty('c3');
    await store.transact((data) => {
      delete data.alerts.c4;
    });
    // The queued one may start as the first ends, whichever row is written first.
    await store.transact((data) => {
      // The queued one touched first: its row is written before the first one's.
      const next = data.alerts.c2;
      const first = data.alerts.c1;
      if (next) next.chat.state = 'active';
      if (first) first.chat.state = 'ended';
    });
    expect(Object.keys((await store.read()).alerts)).toEqual(expect.arrayContaining(['c1', 'c2']));
    await store.transact((data) => {
      delete data.alerts.c1;
      delete data.alerts.c2;
    });
  });

  it('keeps the report facts of an alert as it is archived, and derives those of alerts archived before', async () => {
    const store = open();
    await store.transact((data) => {
      for (const id of ['f1', 'f2']) data.alerts[id] = anAlert({ id, name: `Facts ${id}` });
    });
    await store.transact((data) => {
      archiveAlert(data, 'f1');
      archiveAlert(data, 'f2');
    });
    const rows = await sql<{ id: string; facts: unknown }>(
      db.url,
      "SELECT id, facts FROM irbot_alerts WHERE id IN ('f1', 'f2') ORDER BY id",
    );
    expect(rows).toEqual([
      { id: 'f1', facts: factsOf(anAlert({ id: 'f1', name: 'Facts f1' })) },
      { id: 'f2', facts: factsOf(anAlert({ id: 'f2', name: 'Facts f2' })) },
    ]);
    // As an alert archived before irbot kept its facts: derived from its rows.
    await sql(db.url, "UPDATE irbot_alerts SET facts = NULL WHERE id = 'f2'");
    const facts = (await open().scanFacts(undefined)).filter((f) => f.id.startsWith('f'));
    expect(facts.map((f) => f.name).sort()).toEqual(['Facts f1', 'Facts f2']);
  });

  it('writes only the alert a change touched, of 50 it scanned', async () => {
    const store = open();
    await store.transact((data) => {
      for (let i = 0; i < 50; i++) data.alerts[`s${i}`] = anAlert({ id: `s${i}` });
    });
    const [before] = await sql<{ rev: string }>(db.url, 'SELECT max(rev) AS rev FROM irbot_alerts');
    await store.transact((data) => {
      const found = Object.values(data.alerts).filter((a) => a.id.startsWith('s'));
      expect(found).toHaveLength(50);
      (data.alerts.s7 as NonNullable<(typeof data.alerts)[string]>).name = 'changed';
    });
    const written = await sql<{ id: string }>(db.url, 'SELECT id FROM irbot_alerts WHERE rev > $1', [before?.rev]);
    expect(written).toEqual([{ id: 's7' }]);
  });

  it('tells a watcher of another replica’s commit', async () => {
    const calls: Array<() => void> = [];
    const next = () => new Promise<void>((resolve) => calls.push(resolve));
    const listening = next();
    const stop = open().watch?.(() => calls.shift()?.()) as () => void;
    try {
      await listening; // once at the start: LISTEN is in place
      const heard = next();
      await open().transact((data) => {
        data.seenEvents.EvWatched = 'x';
      });
      await heard;
    } finally {
      stop();
    }
  });

  it('listens again after its connection is cut (a database restart), and hears the commits after', async () => {
    const calls: Array<() => void> = [];
    const next = () => new Promise<void>((resolve) => calls.push(resolve));
    const listening = next();
    const logged: string[] = [];
    const store = openPgStore(db.url, { poolSize: 1, log: (message) => void logged.push(message) });
    stores.push(store);
    const stop = store.watch?.(() => calls.shift()?.()) as () => void;
    try {
      await listening;
      const back = next();
      await sql(
        db.url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'irbot-watch'",
        [db.name],
      );
      await back; // listening again, and told once in case it missed a commit meanwhile
      expect(logged.join('\n')).toMatch(/PostgreSQL watch lost, listening again in \d+ ms/);
      const heard = next();
      await open().transact((data) => {
        data.seenEvents.EvAfterCut = 'x';
      });
      await heard;
    } finally {
      stop();
    }
  });

  it('writes the lock every transaction takes, as migrations 7, 9 and 11 spell it out, as TRANSACTION_LOCK', () => {
    expect(MIGRATIONS[6]).toContain(`pg_advisory_xact_lock(${TRANSACTION_LOCK})`);
    expect(MIGRATIONS[8]).toContain(`pg_advisory_xact_lock(${TRANSACTION_LOCK})`);
    expect(MIGRATIONS[10]).toContain(`pg_advisory_xact_lock(${TRANSACTION_LOCK})`);
  });

  it('runs a change again on what another replica committed after its cache was read, and answers from that run', async () => {
    const [a, b] = [open(), open()];
    await a.transact((data) => {
      data.seenEvents.count = '0';
    });
    await Promise.all([a.read(), b.read()]);
    const runs: string[] = [];
    await b.transact((data) => {
      data.seenEvents.count = '1';
    });
    const answer = await a.transact((data) => {
      runs.push(data.seenEvents.count as string);
      data.seenEvents.count = String(Number(data.seenEvents.count) + 1);
      return data.seenEvents.count;
    });
    // The first run saw the cache as read (0); the commit found b's and ran it again on it.
    expect(runs).toEqual(['0', '1']);
    expect(answer).toBe('2');
    expect((await b.read()).seenEvents.count).toBe('2');
    expect((await a.read()).seenEvents.count).toBe('2');
  });

  it('catches up past another replica’s commit that only deleted: its own change then runs twice, not three times', async () => {
    const [a, b] = [open(), open()];
    await a.transact((data) => {
      data.alerts.dropped = anAlert({ id: 'dropped' });
      data.seenEvents.kept = '0';
    });
    await Promise.all([a.read(), b.read()]);
    await b.transact((data) => {
      delete data.alerts.dropped;
    });
    const runs: string[] = [];
    await a.transact((data) => {
      runs.push(data.alerts.dropped ? 'there' : 'gone');
      data.seenEvents.kept = '1';
    });
    // Once on its copy, once on b's commit (its tombstone's rev is the copy's new mark), and it commits.
    expect(runs).toEqual(['there', 'gone']);
    expect((await b.read()).alerts.dropped).toBeUndefined();
  });

  it('commits a change past another replica’s commit about other alerts at once, and catches up on that commit', async () => {
    const [a, b] = [open(), open()];
    await a.transact((data) => {
      data.alerts.mine = anAlert({ id: 'mine', userId: 'U0MINE' });
      data.alerts.theirs = anAlert({ id: 'theirs', userId: 'U0THEIRS' });
    });
    await Promise.all([a.read(), b.read()]);
    await b.transact((data) => {
      const record = data.alerts.theirs as AlertRecord;
      record.transcript.push(aLine('from b'));
      record.lastActivityAt = '2026-11-27T11:00:00.000Z';
    });
    const runs: number[] = [];
    const answer = await a.transact((data) => {
      const record = data.alerts.mine as AlertRecord;
      runs.push(record.transcript.length);
      record.transcript.push(aLine('from a'));
      // What it read: this alert, an alert that is not there, the alerts of its person, an event id.
      const missing = data.alerts.nowhere;
      const busy = alertsOfPerson(data, 'U0MINE').length;
      data.seenEvents.EvA = '2026-11-27T11:00:00.000Z';
      return { missing, busy };
    });
    // Once: b's commit changed nothing it read, so it was not run again on it.
    expect(runs).toEqual([0]);
    expect(answer).toEqual({ missing: undefined, busy: 1 });
    const [seenByA, seenByB] = [await a.read(), await b.read()];
    for (const seen of [seenByA, seenByB]) {
      expect(seen.alerts.mine?.transcript.map((l) => l.text)).toEqual(['from a']);
      expect(seen.alerts.theirs?.transcript.map((l) => l.text)).toEqual(['from b']);
      expect(seen.alerts.theirs?.lastActivityAt).toBe('2026-11-27T11:00:00.000Z');
      expect(seen.seenEvents.EvA).toBe('2026-11-27T11:00:00.000Z');
    }
    // The next change on a's copy commits without running again: it caught up past both commits.
    const next: number[] = [];
    await a.transact((data) => {
      next.push((data.alerts.theirs as AlertRecord).transcript.length);
      (data.alerts.theirs as AlertRecord).transcript.push(aLine('a again'));
    });
    expect(next).toEqual([1]);
    expect((await b.read()).alerts.theirs?.transcript.map((l) => l.text)).toEqual(['from b', 'a again']);
  });

  it('commits past a rev taken and never committed (a rolled-back commit), then commits the next change at once', async () => {
    const [a, b] = [open(), open()];
    await a.transact((data) => {
      data.alerts.gap = anAlert({ id: 'gap' });
    });
    await b.read();
    // The sequence is not transactional: a commit that failed leaves its rev taken, with no rows.
    await sql(db.url, "SELECT setval('irbot_rev', (SELECT last_value FROM irbot_rev) + 1)");
    let runs = 0;
    const change = (data: StoreData) => {
      runs += 1;
      (data.alerts.gap as AlertRecord).nextSeq += 1;
    };
    await b.transact(change);
    await b.transact(change);
    expect(runs).toBe(2);
    expect((await a.read()).alerts.gap?.nextSeq).toBe(3);
  });

  it('finds a person’s alerts without a scan: added or archived by another replica, added or removed by the same batch', async () => {
    const [a, b] = [open(), open()];
    const both = (data: StoreData) => {
      const found = alertsOfPerson(data, 'U0P')
        .map((r) => r.id)
        .sort();
      // What a scan of every alert finds.
      expect(found).toEqual(
        alertsOf(data)
          .filter((r) => r.userId === 'U0P')
          .map((r) => r.id)
          .sort(),
      );
      return found;
    };
    await a.transact((data) => {
      data.alerts.p1 = anAlert({ id: 'p1', userId: 'U0P' });
      data.alerts.q1 = anAlert({ id: 'q1', userId: 'U0Q' });
    });
    expect(await a.transact(both)).toEqual(['p1']);
    await b.transact((data) => {
      data.alerts.p2 = anAlert({ id: 'p2', userId: 'U0P' });
      archiveAlert(data, 'p1');
    });
    expect(await a.transact(both)).toEqual(['p2']);
    const inBatch = a.transact((data) => {
      data.alerts.p3 = anAlert({ id: 'p3', userId: 'U0P' });
      delete data.alerts.p2;
      return both(data);
    });
    const afterwards = a.transact(both);
    expect(await inBatch).toEqual(['p3']);
    expect(await afterwards).toEqual(['p3']);
    // A change that throws is taken back: the alert it deleted is found again.
    await expect(
      a.transact((data) => {
        delete data.alerts.p3;
        throw new Error('taken back');
      }),
    ).rejects.toThrow('taken back');
    expect(await a.transact(both)).toEqual(['p3']);
    // A change run again on another replica's commit: its first run's new alert is not kept, its second run's is.
    await b.read();
    await b.transact((data) => {
      (data.alerts.p3 as AlertRecord).nextSeq += 1;
    });
    let runs = 0;
    await a.transact((data) => {
      runs += 1;
      (data.alerts.p3 as AlertRecord).nextSeq += 1;
      data.alerts[`p4-${runs}`] = anAlert({ id: `p4-${runs}`, userId: 'U0P' });
    });
    expect(runs).toBe(2);
    expect(await a.transact(both)).toEqual(['p3', 'p4-2']);
    expect(await b.transact(both)).toEqual(['p3', 'p4-2']);
  });

  it('finds a person’s alerts after a change that removed one and looked them up was taken back', async () => {
    const a = open();
    await a.transact((data) => {
      data.alerts.d1 = anAlert({ id: 'd1', userId: 'U0D' });
      data.alerts.d2 = anAlert({ id: 'd2', userId: 'U0D' });
    });
    // A fresh copy: its alerts by person are made at the first change that looks at them.
    const fresh = open();
    await fresh.read();
    await expect(
      fresh.transact((data) => {
        delete data.alerts.d1;
        expect(alertsOfPerson(data, 'U0D').map((r) => r.id)).toEqual(['d2']);
        throw new Error('taken back');
      }),
    ).rejects.toThrow('taken back');
    const found = await fresh.transact((data) => alertsOfPerson(data, 'U0D').map((r) => r.id));
    expect(found.sort()).toEqual(['d1', 'd2']);
  });

  /** What a change read, and what the commit in between changes so that it is among that. */
  const reads: Array<[string, (data: StoreData) => unknown, 'shared' | 'fresh' | 'person' | 'event' | 'other']> = [
    ['an alert it changed', (data) => data.alerts.shared?.nextSeq, 'shared'],
    ['an alert it looked for and did not find', (data) => data.alerts.fresh, 'fresh'],
    ['an alert it asked about with `in`', (data) => 'fresh' in data.alerts, 'fresh'],
    ['the alerts of a person it looked at', (data) => alertsOfPerson(data, 'U0SHARED'), 'person'],
    ['every alert (a scan)', (data) => alertsOf(data), 'other'],
    ['an event id it read', (data) => data.seenEvents.EvShared, 'event'],
    ['every event id (a scan)', (data) => Object.keys(data.seenEvents), 'other'],
    ['a snooze', (data) => data.snoozes?.any, 'other'],
  ];
  it.each(reads)('runs a change again when the commit in between changed what it read: %s', async (_, read, what) => {
    const [a, b] = [open(), open()];
    await a.transact((data) => {
      data.alerts.shared = anAlert({ id: 'shared', userId: 'U0SHARED' });
      data.alerts.other = anAlert({ id: 'other', userId: 'U0OTHER' });
      data.alerts.own = anAlert({ id: 'own', userId: 'U0OWN' });
      delete data.alerts.fresh;
      delete data.seenEvents.EvShared;
    });
    await Promise.all([a.read(), b.read()]);
    await b.transact((data) => {
      if (what === 'shared') (data.alerts.shared as AlertRecord).nextSeq += 1;
      if (what === 'fresh') data.alerts.fresh = anAlert({ id: 'fresh', userId: 'U0FRESH' });
      if (what === 'person') data.alerts.also = anAlert({ id: 'also', userId: 'U0SHARED' });
      if (what === 'event') data.seenEvents.EvShared = '2026-11-27T11:00:00.000Z';
      if (what === 'other') (data.alerts.other as AlertRecord).nextSeq += 1;
    });
    let runs = 0;
    await a.transact((data) => {
      runs += 1;
      read(data);
      (data.alerts.own as AlertRecord).nextSeq += 1;
    });
    expect(runs).toBe(2);
    await a.transact((data) => {
      delete data.alerts.fresh;
      delete data.alerts.also;
    });
  });

  it('catches a cache that is behind up without the lock every writer takes (held here), then commits under it', async () => {
    const [a, b] = [open(), open()];
    await a.transact((data) => {
      data.seenEvents.behind = '0';
    });
    await Promise.all([a.read(), b.read()]);
    await b.transact((data) => {
      data.seenEvents.behind = '1';
    });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [TRANSACTION_LOCK]);
      const runs: string[] = [];
      const committed = a.transact((data) => {
        runs.push(data.seenEvents.behind as string);
        data.seenEvents.behind = String(Number(data.seenEvents.behind) + 1);
        return data.seenEvents.behind;
      });
      // Told it was behind before the lock, it ran again on b's commit while the lock is still held elsewhere.
      await vi.waitFor(() => expect(runs).toEqual(['0', '1']), { timeout: 5_000 });
      await holder.query('SELECT pg_advisory_unlock($1)', [TRANSACTION_LOCK]);
      expect(await committed).toBe('2');
      expect((await b.read()).seenEvents.behind).toBe('2');
    } finally {
      await holder.end();
    }
  });

  it('loads the working set whole in one snapshot: a fresh reader never fails while another replica writes', async () => {
    const own = await createTestDatabase();
    const writer = openPgStore(own.url, { poolSize: 1 });
    try {
      await writer.transact((data) => {
        data.alerts.busy = anAlert({ id: 'busy', transcript: [aLine('first')] });
      });
      let writing = true;
      // Another replica appends a line at a time: the alert's row and its transcript rows change in each commit.
      const writes = (async () => {
        for (let n = 0; writing; n++) {
          await writer.transact((data) => {
            data.alerts.busy?.transcript.push(aLine(`line ${n}`));
          });
        }
      })();
      const failures: string[] = [];
      for (let i = 0; i < 40; i++) {
        // A fresh handle (`irbot status`, a replica starting) loads the working set whole.
        const reader = openPgStore(own.url, { poolSize: 1 });
        try {
          const alert = (await reader.read()).alerts.busy;
          if (!alert?.transcript.every((line) => line !== undefined)) failures.push(`read ${i}: a hole`);
        } catch (err) {
          failures.push(`read ${i}: ${String(err)}`);
        } finally {
          await reader.close();
        }
      }
      writing = false;
      await writes;
      expect(failures).toEqual([]);
    } finally {
      await writer.close();
      await own.drop();
    }
  });

  it('runs a change that swaps a map whole once, on a copy read again', async () => {
    const store = open();
    await store.transact((data) => {
      data.seenEvents.swaps = '0';
    });
    await store.transact((data) => {
      data.seenEvents = { ...data.seenEvents, swaps: String(Number(data.seenEvents.swaps) + 1) };
    });
    expect((await store.read()).seenEvents.swaps).toBe('1');
    expect((await open().read()).seenEvents.swaps).toBe('1');
  });

  it('copies a store of more alerts than one statement writes, in pieces', async () => {
    const target = await createTestDatabase();
    try {
      const store = openPgStore(target.url, { poolSize: 1 });
      const working = Array.from({ length: 1_500 }, (_, i) => anAlert({ id: `w${i}`, transcript: [aLine(`w${i}`)] }));
      const archived = Array.from({ length: 1_200 }, (_, i) => anAlert({ id: `x${i}`, transcript: [aLine(`x${i}`)] }));
      // What PostgreSQL cannot hold is made storable as it is copied, as in a transaction.
      working[0] = anAlert({ id: 'w0', transcript: [aLine('nul \u0000 and half \ud800')] });
      const data = { version: 3, alerts: Object.fromEntries(working.map((a) => [a.id, a])), seenEvents: { E1: 'x' } };
      const counts = await store.withClient((client) => copyInto(client, target.url, data, archived));
      expect(counts).toMatchObject({ working: 1_500, archived: 1_200, seenEvents: 1 });
      const read = await open(target.url).read();
      expect(Object.keys(read.alerts)).toHaveLength(1_500);
      expect(read.alerts.w1499?.transcript.map((line) => line.text)).toEqual(['w1499']);
      expect(read.alerts.w0?.transcript.map((line) => line.text)).toEqual(['nul \ufffd and half \ufffd']);
      await store.close();
    } finally {
      await target.drop();
    }
  });

  it('refuses a database of a newer irbot, in one line', async () => {
    await sql(db.url, 'INSERT INTO irbot_schema (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
    try {
      const err = await open()
        .read()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^Database postgres://root@127\\.0\\.0\\.1:5432/irbot_t_\\w+ was written by a newer irbot \\(schema ${SCHEMA_VERSION + 1}, this one knows ${SCHEMA_VERSION}\\): run that irbot`,
        ),
      );
    } finally {
      await sql(db.url, 'DELETE FROM irbot_schema WHERE version > $1', [SCHEMA_VERSION]);
    }
  });

  it('names a server it cannot reach, a database that is not there, with the password hidden', async () => {
    const refused = await open('postgres://root:hunter2@127.0.0.1:1/irbot')
      .read()
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      'PostgreSQL at postgres://root:***@127.0.0.1:1/irbot cannot be reached (ECONNREFUSED): start the server, or fix the host and port in database_url / DATABASE_URL',
    );
    const missing = await open(urlOf('irbot_t_not_there'))
      .read()
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toMatch(/has no such database \(SQLSTATE 3D000\): create it/);
  });
});
