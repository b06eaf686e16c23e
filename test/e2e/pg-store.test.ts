// The real binary on a PostgreSQL store (DATABASE_URL): an alert sent by one process is in the database, read by
// another, and no store file is written.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { runIrbot } from '../support/irbot.js';
import { createTestDatabase, sql } from '../support/pg.js';

const h = useHarness();
let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('send-alert stores the alert in PostgreSQL, status reads it from there, and the process exits', async () => {
  const ws = { ...h.ws, env: { ...h.ws.env, DATABASE_URL: db.url } };
  const sent = await runIrbot(['send-alert', 'pivot', '--json'], ws);
  expect(sent.stderr).toBe('');
  expect(sent.code).toBe(0);
  const { id } = JSON.parse(sent.stdout) as { id: string };
  expect(await sql(db.url, 'SELECT id, template, chat_state FROM irbot_alerts')).toEqual([
    { id, template: 'pivot', chat_state: 'posted' },
  ]);
  const status = await runCli(['status', '--all', '--json'], ws);
  expect(JSON.parse(status.stdout)).toMatchObject([{ id }]);
  expect(existsSync(ws.dbPath)).toBe(false);
});
