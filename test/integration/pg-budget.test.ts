// The Slack budget in PostgreSQL: two replicas (a pool each, as separate machines have) take from one bucket, a 429
// one of them met holds back the other, and a database that is away leaves each pacing itself alone until it is back.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BucketLimit, takeToken } from '../../src/slack/budget.js';
import { pgBudget } from '../../src/slack/pg-budget.js';
import { openPgStore } from '../../src/store/pg/pg-store.js';
import { createTestDatabase } from '../support/pg.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pools: pg.Pool[];

beforeAll(async () => {
  db = await createTestDatabase();
  pools = [new pg.Pool({ connectionString: db.url, max: 2 }), new pg.Pool({ connectionString: db.url, max: 2 })];
  // A connection still closing when the database is dropped (WITH FORCE) is ended by the server: not an error here.
  for (const pool of pools) {
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
  }
  // The store's migrations create the budget's table and its take.
  const store = openPgStore(db.url);
  await store.read();
  await store.close();
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await db.drop();
});

/** A 429's back-off is written without waiting for it (pg-budget.ts): until it is in the database. */
async function landed(key: string): Promise<void> {
  await vi.waitFor(async () => {
    const { rows } = await (pools[1] as pg.Pool).query('SELECT shut_until FROM irbot_slack_budget WHERE key = $1', [
      key,
    ]);
    expect(rows[0]?.shut_until).not.toBeNull();
    expect(rows[0]).toBeDefined();
  });
}

/** Slow enough that nothing refills while the test runs: one token a day. */
const SLOW: BucketLimit = { perMs: 1 / 86_400_000, burst: 3 };

describe('the Slack budget in PostgreSQL', () => {
  it('gives two replicas one bucket between them: its burst, then a wait', async () => {
    const [a, b] = pools.map((pool) => pgBudget(pool));
    const waits = [
      await a?.take('chat.postMessage:C1', SLOW, false),
      await b?.take('chat.postMessage:C1', SLOW, false),
    ];
    waits.push(await a?.take('chat.postMessage:C1', SLOW, false));
    expect(waits).toEqual([0, 0, 0]);
    const fourth = Number(await b?.take('chat.postMessage:C1', SLOW, false));
    expect(fourth).toBeGreaterThan(86_000_000);
    // Another bucket is untouched.
    expect(await b?.take('chat.postMessage:C2', SLOW, false)).toBe(0);
  });

  it('takes only from a full bucket when asked for a whole one, as the pure take does', async () => {
    const budget = pgBudget(pools[0] as pg.Pool);
    expect(await budget.take('chat.update', SLOW, true)).toBe(0);
    // What the pure take answers, less what refilled in the milliseconds between the two takes.
    const pure = takeToken({ tokens: 2, at: 0 }, SLOW, true, 0).wait;
    const wait = Number(await budget.take('chat.update', SLOW, true));
    expect(wait).toBeLessThanOrEqual(pure);
    expect(wait).toBeGreaterThan(pure - 1000);
    expect(await budget.take('chat.update', SLOW, false)).toBe(0);
  });

  it('gives a token one replica gave back to another, never above the burst', async () => {
    const [a, b] = pools.map((pool) => pgBudget(pool));
    for (let i = 0; i < 3; i++) expect(await a?.take('chat.postMessage:C9', SLOW, false)).toBe(0);
    expect(Number(await b?.take('chat.postMessage:C9', SLOW, false))).toBeGreaterThan(0);
    await a?.refund('chat.postMessage:C9', SLOW);
    expect(await b?.take('chat.postMessage:C9', SLOW, false)).toBe(0);
    expect(Number(await b?.take('chat.postMessage:C9', SLOW, false))).toBeGreaterThan(0);
    // A full bucket stays full: a whole take then leaves one short of the burst.
    await a?.take('chat.postMessage:C8', SLOW, false);
    await a?.refund('chat.postMessage:C8', SLOW);
    await a?.refund('chat.postMessage:C8', SLOW);
    expect(await b?.take('chat.postMessage:C8', SLOW, true)).toBe(0);
    expect(Number(await b?.take('chat.postMessage:C8', SLOW, true))).toBeGreaterThan(0);
  });

  it('takes the next token ahead when there is none: each replica’s wait after the other’s, none asked twice', async () => {
    const [a, b] = pools.map((pool) => pgBudget(pool));
    const key = 'chat.postMessage:C7';
    const day = 86_400_000;
    for (let i = 0; i < 3; i++) expect(await a?.takeAhead?.(key, SLOW)).toEqual({ wait: 0, reserved: false });
    const first = await b?.takeAhead?.(key, SLOW);
    const second = await a?.takeAhead?.(key, SLOW);
    expect(first?.reserved).toBe(true);
    expect(second?.reserved).toBe(true);
    // Due one after the other: the second a token's time (a day here) after the first.
    expect(Number(first?.wait)).toBeGreaterThan(day - 60_000);
    expect(Number(first?.wait)).toBeLessThanOrEqual(day);
    expect(Number(second?.wait) - Number(first?.wait)).toBeGreaterThan(day - 60_000);
    // A plain take waits behind both.
    expect(Number(await b?.take(key, SLOW, false))).toBeGreaterThan(3 * day - 60_000);
    // A 429 another replica meets shuts the bucket and leaves the tokens taken ahead owed: it refills after them.
    b?.backOff(key, SLOW, 1_000);
    await landed(key);
    const { rows } = await (pools[1] as pg.Pool).query('SELECT tokens FROM irbot_slack_budget WHERE key = $1', [key]);
    expect(Number(rows[0]?.tokens)).toBeLessThan(-1.9);
    // A shut bucket answers its wait and takes nothing ahead.
    const fast: BucketLimit = { perMs: 1, burst: 100 };
    a?.backOff('chat.postMessage:C6', fast, 60_000);
    await landed('chat.postMessage:C6');
    const shut = await b?.takeAhead?.('chat.postMessage:C6', fast);
    expect(shut?.reserved).toBe(false);
    expect(Number(shut?.wait)).toBeGreaterThan(55_000);
  });

  it('holds every replica back after a 429 one of them met', async () => {
    const [a, b] = pools.map((pool) => pgBudget(pool));
    const fast: BucketLimit = { perMs: 1, burst: 100 };
    a?.backOff('conversations.replies', fast, 60_000);
    await landed('conversations.replies');
    const wait = Number(await b?.take('conversations.replies', fast, false));
    expect(wait).toBeGreaterThan(55_000);
    expect(wait).toBeLessThanOrEqual(60_000);
  });

  it('paces alone while the database is away, says so once, and uses it again when it is back', async () => {
    const errors: unknown[] = [];
    const away = new pg.Pool({ connectionString: 'postgres://root@127.0.0.1:1/none', max: 1 });
    const budget = pgBudget(away, { onError: (err) => errors.push(err) });
    expect(await budget.take('chat.postMessage:C9', SLOW, false)).toBe(0);
    expect(await budget.take('chat.postMessage:C9', SLOW, false)).toBe(0);
    expect(await budget.take('chat.postMessage:C9', SLOW, false)).toBe(0);
    expect(await budget.take('chat.postMessage:C9', SLOW, false)).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    await away.end();
  });
});
