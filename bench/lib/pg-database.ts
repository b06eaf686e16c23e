// A PostgreSQL database of the bench's own (irbot_bench_<random>) on the machine's server, dropped when done: the
// PostgreSQL scenarios never touch a database they did not create.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server's maintenance database, by a user that may create databases (BENCH_PG_URL, else the machine's). */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  /** Runs one statement on it (the bench's look behind the store). */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Drops it, closing whatever is still connected. */
  drop(): Promise<void>;
}

async function once<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `irbot_bench_${randomBytes(5).toString('hex')}`;
  await once(PG_ADMIN_URL, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  return {
    name,
    url: dbUrl,
    sql: (text, values = []) => once(dbUrl, async (client) => (await client.query(text, values)).rows),
    drop: () =>
      once(PG_ADMIN_URL, async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/**
 * The server's version and whether autovacuum runs, for the report: without it (this machine's server) nothing
 * analyses or vacuums the tables during a run, and they fill with the dead rows every commit leaves.
 */
export async function serverNote(db: Pick<BenchDatabase, 'sql'>): Promise<string> {
  try {
    const [row] = await db.sql<{ version: string; autovacuum: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('autovacuum') AS autovacuum",
    );
    return `PostgreSQL ${row?.version ?? '?'}, autovacuum ${row?.autovacuum ?? '?'}${row?.autovacuum === 'off' ? ' (nothing analyses or vacuums the tables during the run)' : ''}.`;
  } catch (err) {
    return `PostgreSQL's version could not be read: ${String(err)}.`;
  }
}
