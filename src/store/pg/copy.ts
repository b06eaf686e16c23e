// Copies a store's data (working set, archive, snoozes, seen event ids) into an empty PostgreSQL database in one
// transaction, and counts what landed: what `irbot store migrate` does.
import type { ClientBase } from 'pg';
import type { AlertRecord, StoreData } from '../port.js';
import { PgStoreError } from './errors.js';
import { TRANSACTION_LOCK } from './schema.js';
import { storable, storableAlert, storableText } from './text.js';
import { planOfAll, writePlan } from './write.js';

export interface Counts {
  working: number;
  archived: number;
  transcriptLines: number;
  snoozes: number;
  seenEvents: number;
}

/** The counts by name, in the order they are shown. */
export const COUNTED: ReadonlyArray<readonly [string, keyof Counts]> = [
  ['alerts (working set)', 'working'],
  ['alerts (archived)', 'archived'],
  ['transcript lines', 'transcriptLines'],
  ['snoozes', 'snoozes'],
  ['seen event ids', 'seenEvents'],
];

/** What copying `data` and `archived` should give. */
export function countsOf(data: StoreData, archived: AlertRecord[]): Counts {
  const working = Object.values(data.alerts);
  return {
    working: working.length,
    archived: archived.length,
    transcriptLines: [...working, ...archived].reduce((n, alert) => n + alert.transcript.length, 0),
    snoozes: Object.keys(data.snoozes ?? {}).length,
    seenEvents: Object.keys(data.seenEvents).length,
  };
}

/** What the database holds. */
export async function countRows(client: ClientBase): Promise<Counts> {
  const { rows } = await client.query<Record<keyof Counts, string>>(`SELECT
    (SELECT count(*) FROM irbot_alerts WHERE NOT archived) AS working,
    (SELECT count(*) FROM irbot_alerts WHERE archived) AS archived,
    (SELECT count(*) FROM irbot_transcript) AS "transcriptLines",
    (SELECT count(*) FROM irbot_snoozes) AS snoozes,
    (SELECT count(*) FROM irbot_seen_events) AS "seenEvents"`);
  const row = rows[0] as Record<keyof Counts, string>;
  return {
    working: Number(row.working),
    archived: Number(row.archived),
    transcriptLines: Number(row.transcriptLines),
    snoozes: Number(row.snoozes),
    seenEvents: Number(row.seenEvents),
  };
}

/**
 * Writes `data` and the `archived` alerts (those not also in the working set: the working copy wins) into the
 * database in one transaction, under the store's lock; refuses a database that holds anything already, and
 * commits only when the rows counted match the store. Returns the counts.
 */
export async function copyInto(
  client: ClientBase,
  where: string,
  data: StoreData,
  archived: AlertRecord[],
): Promise<Counts> {
  // A large store's rows take the client a while to prepare between statements: not a stalled replica.
  await client.query(
    `BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK})`,
  );
  try {
    const found = await countRows(client);
    const held = found.working + found.archived + found.snoozes + found.seenEvents;
    if (held > 0) {
      throw new PgStoreError(
        `Database ${where} is not empty (${found.working + found.archived} alerts, ${found.snoozes} snoozes, ${found.seenEvents} event ids)`,
        'migrate into a new, empty database (createdb), so that nothing in it is overwritten',
      );
    }
    // What PostgreSQL cannot hold becomes U+FFFD here too, as in every transaction (text.ts).
    for (const record of [...Object.values(data.alerts), ...archived]) storableAlert(record, 0);
    for (const snooze of Object.values(data.snoozes ?? {})) storable(snooze);
    // A seen event's id too: an archived alert's `dedupe:<key>` from before intake refused such keys.
    data.seenEvents = Object.fromEntries(Object.entries(data.seenEvents).map(([id, at]) => [storableText(id), at]));
    const { rows } = await client.query<{ rev: string }>(`SELECT nextval('irbot_rev') AS rev`);
    await writePlan(client, planOfAll(data, archived), Number(rows[0]?.rev));
    const counts = await countRows(client);
    const expected = countsOf(data, archived);
    const wrong = COUNTED.filter(([, key]) => counts[key] !== expected[key]);
    if (wrong.length > 0) {
      const what = wrong.map(([name, key]) => `${name}: ${expected[key]} in the store, ${counts[key]} copied`);
      throw new Error(`The copy into ${where} does not match the store, nothing was kept (${what.join('; ')})`);
    }
    await client.query('COMMIT');
    return counts;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
