// `irbot store migrate --to`: the lowdb store (snapshot, journal, archive, snoozes) copied whole into an empty
// PostgreSQL database, counted, the files left as they were; a database that holds anything is refused.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSnooze } from '../../../src/snoozes.js';
import { archivePathOf, journalPathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import { archiveAlert } from '../../../src/store/port.js';
import { runCli } from '../../support/cli.js';
import { makeWorkspace } from '../../support/irbot.js';
import { createTestDatabase } from '../../support/pg.js';
import { aLine, anAlert } from '../../support/records.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('irbot store migrate', () => {
  it('copies working set, journal, archive, snoozes and event ids, prints the counts, and refuses to copy twice', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const lowdb = openLowdbStore(ws.dbPath);
    await lowdb.transact((data) => {
      data.alerts.a1 = anAlert({ id: 'a1', transcript: [aLine('one'), aLine('two')], dedupeKey: 'siem-1' });
      data.alerts.a2 = anAlert({ id: 'a2', transcript: [aLine('three')] });
      data.alerts.a3 = anAlert({ id: 'a3', outbox: [{ seq: 1, effect: { type: 'Nudge' } }] });
      data.seenEvents.Ev1 = '2026-12-01T00:00:00.000Z';
      addSnooze(
        data,
        { template: 'pivot', forMs: 60_000, reason: 'cron', by: { id: 'ana', via: 'terminal' } },
        new Date('2026-12-05T10:00:00.000Z'),
        () => '1',
      );
    });
    await lowdb.transact((data) => archiveAlert(data, 'a2'));
    await lowdb.transact((data) => {
      data.alerts.a1?.transcript.push(aLine('four')); // in the journal only
    });
    const files = async () =>
      Promise.all([ws.dbPath, journalPathOf(ws.dbPath), archivePathOf(ws.dbPath)].map((f) => readFile(f, 'utf8')));
    const before = await files();

    const copied = await runCli(['store', 'migrate', '--to', db.url], ws);
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
    expect(copied.stdout).toBe(
      `Copied ${ws.dbPath} into ${db.url}:\n` +
        '  alerts (working set)         2\n' +
        '  alerts (archived)            1\n' +
        '  transcript lines             4\n' +
        '  snoozes                      1\n' +
        '  seen event ids               1\n' +
        'The files are left as they were. Set database_url in config.toml (or DATABASE_URL) to use the database.\n',
    );
    expect(await files()).toEqual(before);
    const pg = openPgStore(db.url);
    try {
      expect(await pg.read()).toEqual(await lowdb.read());
      expect(await pg.readArchive()).toEqual(await lowdb.readArchive());
    } finally {
      await pg.close();
    }

    const again = await runCli(['store', 'migrate', '--to', db.url], ws);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /^irbot: Database postgres:\/\/.* is not empty \(3 alerts, 1 snoozes, 1 event ids\): migrate into a new, empty database/,
    );
  });

  it('refuses a target that is not a PostgreSQL URL, in one line', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const result = await runCli(['store', 'migrate', '--to', 'mysql://root@db/irbot'], ws);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'irbot: --to must be a PostgreSQL URL starting with postgres:// or postgresql://, e.g. postgres://db.example:5432/irbot\n',
    );
  });
});
