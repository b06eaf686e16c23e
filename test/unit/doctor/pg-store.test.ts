// Doctor's PostgreSQL check: connection, schema version, latency and autovacuum, creating nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPgStore } from '../../../src/doctor/pg-store.js';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import { SCHEMA_VERSION } from '../../../src/store/pg/schema.js';
import { ADMIN_URL, createTestDatabase, sql } from '../../support/pg.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

async function autovacuumOn(): Promise<boolean> {
  const [row] = await sql<{ on: boolean }>(
    db.url,
    "SELECT current_setting('autovacuum') = 'on' AND current_setting('track_counts') = 'on' AS on",
  );
  return row?.on === true;
}

describe('doctor on a PostgreSQL store', () => {
  it('warns of a database without irbot’s tables and creates none, then gives the schema and latency', async () => {
    const empty = await checkPgStore('store', db.url);
    expect(empty).toMatchObject({ ok: true, warning: true, fix: 'irbot creates its tables when it first starts' });
    expect(await sql(db.url, `SELECT to_regclass('irbot_schema') AS t`)).toEqual([{ t: null }]);
    const store = openPgStore(db.url);
    await store.read();
    await store.close();
    const ready = await checkPgStore('store', db.url);
    expect(ready).toMatchObject({ ok: true });
    expect(ready.detail).toMatch(
      new RegExp(
        `^postgres://root@127\\.0\\.0\\.1:5432/irbot_t_\\w+, schema ${SCHEMA_VERSION}, 0 alerts, round trip \\d+\\.\\d ms`,
      ),
    );
    // Whether autovacuum runs is the server's (this machine's has it off): said when off, silent when on.
    if (await autovacuumOn()) {
      expect(ready.warning).toBeUndefined();
      expect(ready.detail).toMatch(/ ms$/);
    } else {
      expect(ready).toMatchObject({ warning: true, fix: expect.stringMatching(/^turn it on \(autovacuum = on/) });
      expect(ready.detail).toMatch(/ ms; autovacuum is off on this server$/);
    }
  });

  it('warns when autovacuum is off for one of irbot’s tables', async () => {
    await sql(db.url, 'ALTER TABLE irbot_outbox SET (autovacuum_enabled = false)');
    const check = await checkPgStore('store', db.url);
    expect(check).toMatchObject({ ok: true, warning: true });
    expect(check.detail).toMatch(/; autovacuum is off (on this server and )?for irbot_outbox$/);
    await sql(db.url, 'ALTER TABLE irbot_outbox RESET (autovacuum_enabled)');
  });

  it('fails a store irbot could not write: read-only transactions, or a role that may only read', async () => {
    const reader = `irbot_ro_${db.name.slice('irbot_t_'.length)}`;
    const asReader = new URL(db.url);
    asReader.username = reader;
    await sql(db.url, `CREATE ROLE ${reader} LOGIN`);
    try {
      await sql(db.url, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${reader}`);
      const readOnlyRole = await checkPgStore('store', asReader.toString());
      expect(readOnlyRole).toMatchObject({ ok: false, fix: expect.stringMatching(/^point database_url/) });
      expect(readOnlyRole.detail).toMatch(/; irbot cannot write there: this role may not change all of irbot’s tables/);
      // The usual grant for a writer covers the tables, not the sequence every commit takes its next value from.
      await sql(db.url, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${reader}`);
      expect(await checkPgStore('store', asReader.toString())).toMatchObject({ ok: false });
      await sql(db.url, `GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${reader}`);
      expect(await checkPgStore('store', asReader.toString())).toMatchObject({ ok: true });
      // A database whose transactions are read-only (as a read replica's connections are refused writes).
      await sql(db.url, `ALTER DATABASE ${db.name} SET default_transaction_read_only = on`);
      const readOnly = await checkPgStore('store', db.url);
      expect(readOnly).toMatchObject({ ok: false });
      expect(readOnly.detail).toMatch(/; irbot cannot write there: its transactions are read-only/);
    } finally {
      // From another database: this one's connections are read-only now.
      await sql(ADMIN_URL, `ALTER DATABASE ${db.name} RESET default_transaction_read_only`);
      await sql(db.url, `DROP OWNED BY ${reader}; DROP ROLE ${reader}`);
    }
    expect(await checkPgStore('store', db.url)).toMatchObject({ ok: true });
  });

  it('fails on a server it cannot reach, with the password hidden', async () => {
    const check = await checkPgStore('store', 'postgres://root:hunter2@127.0.0.1:1/irbot');
    expect(check).toMatchObject({
      ok: false,
      detail: 'PostgreSQL at postgres://root:***@127.0.0.1:1/irbot cannot be reached (ECONNREFUSED)',
    });
  });
});
