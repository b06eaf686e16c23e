// Doctor's check of a PostgreSQL store: the connection, the schema version, and one round trip's latency; it
// connects once and creates and changes nothing.
import { oneLine } from '../log.js';
import { pgDriver } from '../store/pg/driver.js';
import { PgStoreError, pgError } from '../store/pg/errors.js';
import { SCHEMA_VERSION, schemaVersion } from '../store/pg/schema.js';
import { redactUrl } from '../store/pg/url.js';
import { type CheckResult, fail, pass, warn } from './report.js';

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
    return pass(name, `${where}, schema ${version}, ${count} alert${count === 1 ? '' : 's'}, ${latency}`);
  } catch (err) {
    const mapped = pgError(err, where);
    if (mapped instanceof PgStoreError) return fail(name, mapped.problem, mapped.fix);
    return fail(name, oneLine(mapped), 'check database_url / DATABASE_URL and the server');
  } finally {
    await client.end().catch(() => undefined);
  }
}
