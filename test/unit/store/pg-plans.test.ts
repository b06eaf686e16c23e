// The PostgreSQL store's functions find their rows by index whatever the planner knows: PL/pgSQL's generic plans
// (after five calls in a session) and tables autovacuum has not analysed yet (the first minute of a busy database)
// made each catch-up and most writes read the alerts, the outbox and the transcript whole (schema.ts, migration 13).
// The plans are read from auto_explain, which says them to the client that ran the statement.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import { createTestDatabase } from '../../support/pg.js';

const ARCHIVED = 20_000;
const ALERTS = 3_000;
/** The last rev taken. */
const LAST = ARCHIVED + ALERTS;
/** Calls of each function: PL/pgSQL plans the sixth and later with a generic plan. */
const CALLS = 8;
/** The tables a scan of which grows with the working set (or with what was deleted from it). */
const WHOLE_SCAN = /Seq Scan on (irbot_alerts|irbot_outbox|irbot_transcript|irbot_seen_events)\b/;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;
const plans: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const store = openPgStore(db.url, { poolSize: 1 });
  await store.read(); // the schema
  await store.close();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // 20,000 alerts archived (revs 1..20000), then a working set of 3,000 (revs 20001..23000), each with two outbox
  // items and four transcript lines, and as many outbox rows again deleted (items done): never analysed, as in a
  // database's first minute.
  await client.query(`
    INSERT INTO irbot_alerts (rev, id, archived, template, user_id, channel_id, created_at, last_activity_at,
                              chat_state, next_seq, transcript_length, doc)
      SELECT g, 'z' || g, true, 't', 'U' || g, 'C1', '2026-12-04T00:00:00Z', '2026-12-04T00:00:00Z', 'ended', 1, 0, '{}'
      FROM generate_series(1, ${ARCHIVED}) g;
    INSERT INTO irbot_alerts (rev, id, template, user_id, channel_id, created_at, last_activity_at, chat_state,
                              next_seq, transcript_length, doc)
      SELECT ${ARCHIVED} + g, 'a' || g, 't', 'U' || g, 'C1', '2026-12-05T00:00:00Z', '2026-12-05T00:00:00Z', 'active',
             3, 4, '{}'
      FROM generate_series(1, ${ALERTS}) g;
    INSERT INTO irbot_outbox (alert_id, seq, effect, pos)
      SELECT 'a' || g, s, '{"type":"Relay"}', s FROM generate_series(1, ${ALERTS}) g, generate_series(1, 4) s;
    DELETE FROM irbot_outbox WHERE seq > 2;
    INSERT INTO irbot_transcript (alert_id, n, rev, speaker, text, at)
      SELECT 'a' || g, n, ${ARCHIVED} + g, 'bot', 'line', '2026-12-05T00:00:00Z'
      FROM generate_series(1, ${ALERTS}) g, generate_series(0, 3) n;
    INSERT INTO irbot_seen_events (id, seen_at, rev)
      SELECT 'Ev' || g, '2026-12-05T00:00:00Z', ${ARCHIVED} + g FROM generate_series(1, ${ALERTS}) g;
    SELECT setval('irbot_rev', ${LAST});
  `);
  client.on('notice', (notice) => plans.push(notice.message ?? ''));
  await client.query(`
    LOAD 'auto_explain';
    SET auto_explain.log_min_duration = 0;
    SET auto_explain.log_nested_statements = on;
    SET auto_explain.log_level = notice;
  `);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** The plans of `calls` runs of `text` (the last ones generic), each in a transaction rolled back. */
async function plansOf(text: string, values: (i: number) => unknown[]): Promise<string[]> {
  plans.length = 0;
  for (let i = 0; i < CALLS; i++) {
    await client.query('BEGIN');
    await client.query(text, values(i));
    await client.query('ROLLBACK');
  }
  return [...plans];
}

describe('PostgreSQL store: plans', () => {
  it("catching up reads only what changed since the cache's mark, by index", async () => {
    const seen = await plansOf('SELECT irbot_delta($1)', (i) => [LAST - 5 - i]);
    expect(seen.join('\n')).toMatch(/Index Scan|Bitmap Index Scan/);
    expect(seen.filter((plan) => WHOLE_SCAN.test(plan))).toEqual([]);
  });

  it('a commit checks what its batch read by index', async () => {
    const scope = JSON.stringify({ alerts: ['a7'], people: ['U9'], events: ['Ev11'] });
    const seen = await plansOf('SELECT irbot_scope_changed($1, $2)', (i) => [LAST - 5 - i, scope]);
    expect(seen.join('\n')).toMatch(/Index Scan|Bitmap Index Scan/);
    expect(seen.filter((plan) => WHOLE_SCAN.test(plan))).toEqual([]);
  });

  it('a write deletes outbox items, transcript lines and event ids by key', async () => {
    const plan = (i: number) =>
      JSON.stringify({
        outboxGone: [{ id: `a${10 + i}`, seq: 1 }],
        rewrites: [{ id: `a${20 + i}`, n: 2 }],
        fresh: [`a${30 + i}`],
        unescalated: [`a${40 + i}`],
        seenGone: [`Ev${50 + i}`],
        deleted: [`a${60 + i}`],
      });
    const seen = await plansOf('SELECT irbot_write($1, $2, 10000)', (i) => [LAST + 1 + i, plan(i)]);
    expect(seen.join('\n')).toMatch(/Index Scan|Bitmap Index Scan/);
    expect(seen.filter((plan) => WHOLE_SCAN.test(plan))).toEqual([]);
  });
});
