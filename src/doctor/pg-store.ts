// Doctor's check of a PostgreSQL store: the connection, the schema version, one round trip's latency, and whether
// autovacuum looks after irbot's tables, and whether irbot could write there; it connects once and creates and changes
// nothing.
import type { ClientBase } from 'pg';
import { oneLine } from '../log.js';
import { pgDriver } from '../store/pg/driver.js';
import { PgStoreError, pgError } from '../store/pg/errors.js';
import { SCHEMA_VERSION, schemaVersion } from '../store/pg/schema.js';
import { redactUrl } from '../store/pg/url.js';
import { type CheckResult, fail, pass, warn } from './report.js';

/**
 * Where autovacuum does not look after irbot's tables: 'on this server', 'for irbot_outbox, …' (a table's own
 * autovacuum_enabled = false), both, or null.
 */
async function withoutAutovacuum(client: ClientBase): Promise<string | null> {
  const { rows } = await client.query<{ server: boolean; tables: string[] }>(AUTOVACUUM);
  const where: string[] = [];
  if (rows[0]?.server === false) where.push('on this server');
  if (rows[0]?.tables.length) where.push(`for ${rows[0].tables.join(', ')}`);
  return where.length > 0 ? where.join(' and ') : null;
}

/**
 * Why no transaction of irbot's could commit here, or null: a standby (a read replica), transactions read-only by
 * default (for the database or the role), or a role that may not change one of irbot's tables or take its
 * sequence's next value (`GRANT … ON ALL TABLES` grants no sequence). Looked at, never tried.
 */
async function whyReadOnly(client: ClientBase): Promise<string | null> {
  const { rows } = await client.query<{ standby: boolean; read_only: boolean; writable: boolean }>(WRITABLE);
  const found = rows[0];
  if (found?.standby) return 'it is a standby (a read replica)';
  if (found?.read_only) return 'its transactions are read-only (default_transaction_read_only)';
  if (found && !found.writable) return 'this role may not change all of irbot’s tables and its sequence irbot_rev';
  return null;
}

const WRITABLE = `
SELECT pg_is_in_recovery() AS standby,
  current_setting('transaction_read_only') = 'on' AS read_only,
  coalesce((SELECT bool_and(CASE c.relkind
                  WHEN 'S' THEN has_sequence_privilege(current_user, c.oid, 'USAGE') AND has_sequence_privilege(current_user, c.oid, 'UPDATE')
                  ELSE has_table_privilege(current_user, c.oid, p)
                END)
            FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'S')
              AND c.relname LIKE 'irbot_%' AND c.relname <> 'irbot_schema'), true) AS writable`;

/** Autovacuum needs track_counts too: without it, it cannot tell which tables need it. */
const AUTOVACUUM = `
SELECT current_setting('autovacuum') = 'on' AND current_setting('track_counts') = 'on' AS server,
  ARRAY(SELECT c.relname::text FROM pg_class c
        WHERE c.relkind = 'r' AND c.relname LIKE 'irbot\\_%' AND c.relnamespace = current_schema()::regnamespace
          AND 'autovacuum_enabled=false' = ANY (c.reloptions)
        ORDER BY c.relname) AS tables`;

export async function checkPgStore(name: string, url: string): Promise<CheckResult> {
  const where = redactUrl(url);
  const { Client } = pgDriver();
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'irbot-doctor',
  });
  try {
    await client.connect();
    const started = process.hrtime.bigint();
    await client.query('SELECT 1');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const version = await schemaVersion(client);
    const latency = `round trip ${ms.toFixed(1)} ms`;
    if (version > SCHEMA_VERSION) {
      return fail(
        name,
        `${where} was written by a newer irbot (schema ${version}, this one knows ${SCHEMA_VERSION})`,
        'run that irbot version or a later one',
      );
    }
    if (version === 0) {
      return warn(name, `${where}, no irbot schema yet, ${latency}`, 'irbot creates its tables when it first starts');
    }
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM irbot_alerts WHERE NOT archived');
    const count = Number(rows[0]?.n ?? 0);
    const found = `${where}, schema ${version}, ${count} alert${count === 1 ? '' : 's'}, ${latency}`;
    const readOnly = await whyReadOnly(client);
    if (readOnly) {
      return fail(
        name,
        `${found}; irbot cannot write there: ${readOnly}`,
        'point database_url / DATABASE_URL at the primary, with a role that may change irbot’s tables (irbot records every event before it acts)',
      );
    }
    const unvacuumed = await withoutAutovacuum(client);
    if (unvacuumed) {
      return warn(
        name,
        `${found}; autovacuum is off ${unvacuumed}`,
        'turn it on (autovacuum = on, or ALTER TABLE … RESET (autovacuum_enabled)), or VACUUM ANALYZE irbot’s tables often: every step of a chat rewrites its rows, and unvacuumed they fill with dead ones and its queries lose their statistics',
      );
    }
    return pass(name, found);
  } catch (err) {
    const mapped = pgError(err, where);
    if (mapped instanceof PgStoreError) return fail(name, mapped.problem, mapped.fix);
    return fail(name, oneLine(mapped), 'check database_url / DATABASE_URL and the server');
  } finally {
    await client.end().catch(() => undefined);
  }
}
