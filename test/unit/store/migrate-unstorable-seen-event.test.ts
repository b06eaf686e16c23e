// `irbot store migrate` of a JSON store whose archived alert kept a dedupe_key with a NUL or half a surrogate pair
// (accepted at intake before it refused them): the seen event `dedupe:<key>` archiveAlert keeps is made storable like
// the rest, where it failed the whole copy (22P05 / 22P02).
import { afterAll, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../../src/store/lowdb-store.js';
import { archiveAlert } from '../../../src/store/port.js';
import { runCli } from '../../support/cli.js';
import { makeWorkspace } from '../../support/irbot.js';
import { createTestDatabase } from '../../support/pg.js';
import { anAlert } from '../../support/records.js';

const dbs: Array<Awaited<ReturnType<typeof createTestDatabase>>> = [];
afterAll(async () => {
  for (const db of dbs) await db.drop();
});

describe('irbot store migrate, seen event ids PostgreSQL text cannot hold', () => {
  it.each([
    ['a NUL', 'siem-7\u0000'],
    ['a lone surrogate', 'siem-7\ud83d'],
  ])('copies a store whose archived alert kept a dedupe_key with %s', async (_what, key) => {
    const db = await createTestDatabase();
    dbs.push(db);
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const lowdb = openLowdbStore(ws.dbPath);
    await lowdb.transact((data) => {
      data.alerts.a1 = anAlert({ id: 'a1', dedupeKey: key });
      data.alerts.a2 = anAlert({ id: 'a2', userId: 'U0OTHER' });
    });
    await lowdb.transact((data) => archiveAlert(data, 'a1', '2026-12-05T10:00:00.000Z'));
    await lowdb.close?.();
    const copied = await runCli(['store', 'migrate', '--to', db.url], ws);
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
  });
});
