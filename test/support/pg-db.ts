// A PostgreSQL database of the test file's own on the machine's server, dropped afterwards: parallel test files and
// parallel runs never share state. IRBOT_TEST_PG_URL points at another server (its database part is replaced).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const SERVER = process.env.IRBOT_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

function urlOf(database: string): string {
  const url = new URL(SERVER);
  url.pathname = `/${database}`;
  return url.toString();
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `irbot_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: urlOf(name),
    async drop() {
      const client = new pg.Client({ connectionString: SERVER });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
