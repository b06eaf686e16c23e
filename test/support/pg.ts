// A PostgreSQL database of its own for a test file: created from IRBOT_TEST_PG_URL's server (default the machine's
// PostgreSQL, as root), dropped with everything connected to it when the file is done.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where test databases are created: any database of the server, by a user that may create databases. */
export const ADMIN_URL = process.env.IRBOT_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

/** The URL of the database `name` on the test server. */
export function urlOf(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty database; `drop` removes it, closing whatever is still connected to it. */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `irbot_t_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: urlOf(name),
    drop: () => admin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/** Runs one statement on the database at `url` (a test's look behind the store). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
