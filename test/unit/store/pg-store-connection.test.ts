// The PostgreSQL store when the server cuts its connection (a restart, pg_terminate_backend): between two
// statements, while the store holds the connection, the process must not die of it; the next use reconnects.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import { TRANSACTION_LOCK } from '../../../src/store/pg/schema.js';
import { createTestDatabase, sql } from '../../support/pg.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('fails the work in hand, not the process, when its connection is cut between two statements; then goes on', async () => {
  const lines: string[] = [];
  const store = openPgStore(db.url, { poolSize: 1, log: (line) => void lines.push(line) });
  try {
    await store.transact((data) => {
      data.seenEvents.Ev1 = '2026-12-04T00:00:00.000Z';
    });
    const cut = store.withClient(async (client) => {
      const [row] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      const ended = new Promise((resolve) => client.once('end', resolve));
      await sql(db.url, 'SELECT pg_terminate_backend($1)', [row?.pid]);
      await ended; // the server's goodbye came while no statement was running
      await client.query('SELECT 1');
    });
    await expect(cut).rejects.toThrow(
      /^PostgreSQL error on postgres:\/\/.+: Client has encountered a connection error/,
    );
    expect(lines[0]).toBe('PostgreSQL connection lost: terminating connection due to administrator command');
    expect((await store.read()).seenEvents).toEqual({ Ev1: '2026-12-04T00:00:00.000Z' });
  } finally {
    await store.close();
  }
});

it('says so when the server ends the session under a statement in flight, drops that connection, and goes on', async () => {
  const lines: string[] = [];
  const store = openPgStore(db.url, { poolSize: 1, log: (line) => void lines.push(line) });
  try {
    await store.read();
    const cut = store.withClient(async (client) => {
      const [row] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      const sleeping = client.query('SELECT pg_sleep(30)');
      sleeping.catch(() => undefined); // it fails while the termination is asked for; awaited below
      await sql(db.url, 'SELECT pg_terminate_backend($1)', [row?.pid]);
      await sleeping;
    });
    await expect(cut).rejects.toThrow(/PostgreSQL error 57P01 .*terminating connection due to administrator command/);
    expect(lines).toContain('PostgreSQL connection lost: terminating connection due to administrator command');
    // The pool's one connection was the dead one: it was dropped, and a new one serves.
    expect((await store.read()).version).toBeGreaterThan(0);
  } finally {
    await store.close();
  }
});

it('does not let a replica paused inside a transaction stall the others: the server ends its session', async () => {
  const paused = openPgStore(db.url, { poolSize: 1, idleInTransactionMs: 200 });
  const other = openPgStore(db.url, { poolSize: 1 });
  try {
    await paused.read();
    let locked: () => void = () => undefined;
    const held = paused.withClient(async (client) => {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK})`);
      locked();
      await new Promise((resolve) => client.once('end', resolve)); // stops here, as a process under SIGSTOP
      await client.query('COMMIT');
    });
    const holding = held.then(
      () => 'committed',
      (err: Error) => err.message,
    );
    await new Promise<void>((resolve) => {
      locked = resolve;
    });
    await other.transact((data) => {
      data.seenEvents.Ev2 = '2026-12-04T00:00:00.000Z';
    });
    expect(await holding).toMatch(/^PostgreSQL error/);
    expect((await paused.read()).seenEvents).toMatchObject({ Ev2: '2026-12-04T00:00:00.000Z' });
  } finally {
    await Promise.all([paused.close(), other.close()]);
  }
});
