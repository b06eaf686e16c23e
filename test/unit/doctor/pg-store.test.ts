// Doctor's PostgreSQL check: connection, schema version and latency, creating nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPgStore } from '../../../src/doctor/pg-store.js';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import { SCHEMA_VERSION } from '../../../src/store/pg/schema.js';
import { createTestDatabase, sql } from '../../support/pg.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('doctor on a PostgreSQL store', () => {
  it('warns of a database without irbot’s tables and creates none, then passes with the schema and latency', async () => {
    const empty = await checkPgStore('store', db.url);
    expect(empty).toMatchObject({ ok: true, warning: true, fix: 'irbot creates its tables when it first starts' });
    expect(await sql(db.url, `SELECT to_regclass('irbot_schema') AS t`)).toEqual([{ t: null }]);
    const store = openPgStore(db.url);
    await store.read();
    await store.close();
    const ready = await checkPgStore('store', db.url);
    expect(ready).toMatchObject({ ok: true });
    expect(ready.warning).toBeUndefined();
    expect(ready.detail).toMatch(
      new RegExp(
        `^postgres://root@127\\.0\\.0\\.1:5432/irbot_t_\\w+, schema ${SCHEMA_VERSION}, 0 alerts, round trip \\d+\\.\\d ms$`,
      ),
    );
  });

  it('fails on a server it cannot reach, with the password hidden', async () => {
    const check = await checkPgStore('store', 'postgres://root:hunter2@127.0.0.1:1/irbot');
    expect(check).toMatchObject({
      ok: false,
      detail: 'PostgreSQL at postgres://root:***@127.0.0.1:1/irbot cannot be reached (ECONNREFUSED)',
    });
  });
});
