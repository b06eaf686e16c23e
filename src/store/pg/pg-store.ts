// The PostgreSQL store: the Store port on a pg.Pool. Changes run on an in-memory working set that catches up on the
// rows other stores wrote since (rev), queued changes together (group commit), and commit in one statement that
// writes only the rows they touched, under the advisory lock every transaction takes, unless another transaction
// came in between: then they run again on what it wrote (commit.ts).

import type { Client, ClientBase, PoolClient } from 'pg';
import type { Log } from '../../log.js';
import { type AlertFacts, factsOf } from '../../report/facts.js';
import { clonePlain } from '../clone.js';
import type { AlertRecord, Store, StoreData, TransactOptions } from '../port.js';
import { commitBatch, type Kept, type Pending } from './commit.js';
import { pgDriver } from './driver.js';
import { PgRuntimeError, pgError } from './errors.js';
import { type Cache, catchUp, deltaOf, emptyCache } from './load.js';
import {
  type AlertRow,
  type EscalationRow,
  entryOf,
  escalationOf,
  itemOf,
  type OutboxRow,
  recordOf,
  type TranscriptRow,
} from './rows.js';
import { migrateSchema } from './schema.js';
import { redactUrl } from './url.js';

/** The channel each commit notifies (`irbot_write`, schema.ts), for `watch`. */
export const CHANNEL = 'irbot_changed';

/** Archived alerts read per query by a scan: only what `pick` keeps stays in memory. */
const ARCHIVE_PAGE = 2_000;

export interface PgStoreOptions {
  log?: Log | undefined;
  /** Connections at most (default 4): transactions run one at a time per store; reads and scans beside them. */
  poolSize?: number;
  /**
   * How long the server lets a transaction of this store sit idle before it ends the session (default
   * IDLE_IN_TRANSACTION_MS): a replica paused or cut off inside a transaction holds the lock every transaction
   * takes, and would stall all the others until it came back.
   */
  idleInTransactionMs?: number;
}

/** A transaction takes milliseconds; one idle this long has a paused or lost process behind it (the shortest lease). */
export const IDLE_IN_TRANSACTION_MS = 5_000;

export interface PgStore extends Store {
  /** Ends the pool. */
  close(): Promise<void>;
  /** Runs `fn` on a connection of the pool (doctor's checks, `store migrate`). */
  withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T>;
}

/** Archived alerts as records, in pages (keyset on rev, id), oldest archived first. */
const ARCHIVE_SQL = `
SELECT a.*,
  coalesce((SELECT json_agg(row_to_json(t) ORDER BY t.n) FROM irbot_transcript t WHERE t.alert_id = a.id), '[]') AS transcript,
  coalesce((SELECT json_agg(row_to_json(o) ORDER BY o.pos) FROM irbot_outbox o WHERE o.alert_id = a.id), '[]') AS outbox,
  (SELECT row_to_json(e) FROM irbot_escalations e WHERE e.alert_id = a.id) AS escalation
FROM irbot_alerts a
WHERE a.archived AND ($1::text IS NULL OR a.created_at >= $1) AND (a.rev, a.id) > ($2::bigint, $3::text)
  AND (NOT $4::boolean OR a.facts IS NULL)
ORDER BY a.rev, a.id
LIMIT ${ARCHIVE_PAGE}`;

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): what a change wrote was refused. */
function changeRefused(err: unknown): boolean {
  return err instanceof PgRuntimeError && /^2[23]/.test(err.code ?? '');
}

/** What a read returns: maps copied, records shared (a transaction replaces a record it changes rather than changing it). */
function copyOf({ state }: Cache): StoreData {
  return {
    version: state.version,
    alerts: { ...state.alerts },
    seenEvents: { ...state.seenEvents },
    ...(Object.keys(state.snoozes).length > 0 ? { snoozes: clonePlain(state.snoozes) } : {}),
  };
}

/**
 * The last transaction that took a rev (committed, or about to: the sequence is set before the commit). Equal to a
 * cache's mark, nothing committed since the cache caught up: a transaction takes its rev under the lock, after the
 * one before it committed.
 */
async function lastRev(client: ClientBase): Promise<number> {
  const { rows } = await client.query<{ last_value: string; is_called: boolean }>(LAST_REV);
  const seq = rows[0] as { last_value: string; is_called: boolean };
  return Number(seq.last_value) - (seq.is_called ? 0 : 1);
}

const LAST_REV = 'SELECT last_value, is_called FROM irbot_rev';

/** How soon a lost LISTEN connection is opened again, doubling up to the most. */
const WATCH_RETRY_MIN_MS = 100;
const WATCH_RETRY_MAX_MS = 5_000;

/** Whether `store` is a PostgreSQL store (the Slack budget then lives in its database too). */
export function isPgStore(store: Store): store is PgStore {
  return 'withClient' in store;
}

/** The PostgreSQL store at `url`; nothing connects until the first read or transaction. */
export function openPgStore(url: string, options: PgStoreOptions = {}): PgStore {
  const where = redactUrl(url);
  const pool = new (pgDriver().Pool)({
    connectionString: url,
    max: options.poolSize ?? 4,
    idle_in_transaction_session_timeout: options.idleInTransactionMs ?? IDLE_IN_TRANSACTION_MS,
    // A one-shot command's idle connections must not keep it alive.
    allowExitOnIdle: true,
    application_name: 'irbot',
  });
  const lost = (err: Error) =>
    options.log?.(`PostgreSQL connection lost: ${err.message}`, { event: 'store_pg', level: 'warn' });
  // An idle connection that breaks (a server restart) is dropped from the pool; the next query opens another.
  pool.on('error', lost);
  // Every connection always has a listener: one the pool is letting go (closing, out of the pool and its
  // listener) may still be ended by the server first (a restart, a dropped database), and an error nobody hears
  // would end the process. While idle in the pool or held, the listeners above log it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  let schema: Promise<void> | null = null;
  /** The working set and whether a commit was not synced: reads and transactions keep them, one at a time. */
  const kept: Kept = { cache: null, unsynced: false };
  let tail: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };

  const connect = async (): Promise<PoolClient> => {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw pgError(err, where);
    }
    // While held, a connection has no listener of the pool's: one that breaks between two statements would throw
    // its error out of the process. Said instead; the statement that follows fails, and the caller with it.
    client.on('error', lost);
    try {
      schema ??= migrateSchema(client, where).catch((err) => {
        schema = null;
        throw err;
      });
      await schema;
    } catch (err) {
      release(client);
      throw pgError(err, where);
    }
    return client;
  };

  const release = (client: PoolClient, destroy = false) => {
    client.off('error', lost);
    client.release(destroy);
  };

  const withClient = async <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await connect();
    try {
      const result = await fn(client);
      release(client);
      return result;
    } catch (err) {
      // An error of a statement leaves the connection usable; any other (a broken connection) drops it. So does
      // one the server ended the session with (FATAL: a restart, an administrator), which comes as the answer to
      // the statement in flight rather than as an 'error' of the connection: said as a lost connection too.
      const ended = err instanceof pgDriver().DatabaseError && err.severity === 'FATAL';
      if (ended) lost(err);
      release(client, ended || !(err instanceof pgDriver().DatabaseError));
      throw pgError(err, where);
    }
  };

  const read = (): Promise<StoreData> =>
    serial(() =>
      withClient(async (client) => {
        const { cache } = kept;
        if (cache && (await lastRev(client)) === cache.mark) return copyOf(cache);
        kept.cache = null;
        const current = cache ?? emptyCache();
        // One statement: one snapshot, no transaction needed.
        kept.cache = await catchUp(client, current, await deltaOf(client, current.mark), false);
        return copyOf(kept.cache);
      }),
    );

  /** The flush under way: a commit it did not cover set `unsynced` again after it started. */
  let flushing: Promise<void> | null = null;

  const flush = async (): Promise<void> => {
    if (!kept.unsynced) {
      // Nothing written since the last flush started; that one may still be on its way.
      if (flushing) await flushing;
      return;
    }
    kept.unsynced = false;
    // A commit that writes waits for the WAL up to it, and with it for every commit before it.
    const done = withClient(async (client) => {
      await client.query('BEGIN; SELECT txid_current(); COMMIT');
    });
    flushing = done;
    try {
      await done;
    } catch (err) {
      kept.unsynced = true;
      throw err;
    } finally {
      if (flushing === done) flushing = null;
    }
  };

  /**
   * Group commit: the changes queued while the previous transaction was under way are applied together in one
   * PostgreSQL transaction and written once. If one of them throws, the batch is redone one change at a time, so
   * that the others still land and the failing one changes nothing.
   */
  let queue: Pending[] = [];
  let scheduled = false;

  const drain = (): Promise<void> => {
    scheduled = false;
    const batch = queue;
    queue = [];
    return run(batch);
  };

  const run = async (batch: Pending[]): Promise<void> => {
    const outcome: 'done' | 'redo' | { failed: unknown } = await withClient((client) =>
      commitBatch(client, kept, batch),
    ).catch((err: unknown) => ({
      failed: err,
    }));
    // A batch the database refused for what one of its changes wrote (a constraint, bad data) is redone one change
    // at a time too: only that change fails.
    const refused = outcome !== 'done' && outcome !== 'redo' && changeRefused(outcome.failed);
    if (outcome === 'redo' || (refused && batch.length > 1)) for (const p of batch) await run([p]);
    else if (outcome !== 'done') for (const p of batch) p.reject(outcome.failed);
  };

  const transact = <T>(change: (data: StoreData) => T, options: TransactOptions<T> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const sync = options.sync as TransactOptions['sync'];
      queue.push({ change, sync, resolve: resolve as (value: unknown) => void, reject });
      if (scheduled) return;
      scheduled = true;
      void serial(drain);
    });

  /** Archived alerts through `pick`; `withoutFacts`: only those archived before their facts were kept with them. */
  const scanArchive = <T extends { id: string }>(
    createdSince: string | undefined,
    pick: (alert: AlertRecord) => T,
    withoutFacts = false,
  ): Promise<T[]> =>
    withClient(async (client) => {
      const byId = new Map<string, T>();
      let after: [string, string] = ['0', ''];
      for (;;) {
        const { rows } = await client.query<
          AlertRow & { transcript: TranscriptRow[]; outbox: OutboxRow[]; escalation: EscalationRow | null }
        >(ARCHIVE_SQL, [createdSince ?? null, ...after, withoutFacts]);
        for (const row of rows) {
          const record = recordOf(
            row,
            row.transcript.map(entryOf),
            row.outbox.map(itemOf),
            row.escalation ? escalationOf(row.escalation) : undefined,
          );
          byId.set(row.id, pick(record));
        }
        const last = rows.at(-1);
        if (!last || rows.length < ARCHIVE_PAGE) break;
        after = [String(last.rev), last.id];
      }
      return [...byId.values()];
    });

  return {
    path: where,
    files: [],
    read,
    transact,
    // The facts kept with each archived alert; those archived before irbot kept them are derived from the rows.
    async scanFacts(createdSince) {
      const kept = await withClient((client) =>
        client.query<{ facts: AlertFacts }>(
          'SELECT facts FROM irbot_alerts WHERE archived AND facts IS NOT NULL AND ($1::text IS NULL OR created_at >= $1)',
          [createdSince ?? null],
        ),
      );
      const derived = await scanArchive(createdSince, factsOf, true);
      return [...kept.rows.map((row) => row.facts), ...derived];
    },
    readArchive: () => scanArchive(undefined, (alert) => alert),
    flush,
    watch(onChange) {
      let stopped = false;
      let client: Client | undefined;
      let timer: NodeJS.Timeout | undefined;
      // A LISTEN connection that breaks (a database restart, a network cut) is opened again, sooner first.
      const listen = (retryMs: number): void => {
        const listener = new (pgDriver().Client)({ connectionString: url, application_name: 'irbot-watch' });
        client = listener;
        let lost = false;
        const again = (err: unknown) => {
          if (stopped || lost) return;
          lost = true;
          options.log?.(`PostgreSQL watch lost, listening again in ${retryMs} ms: ${pgError(err, where).message}`, {
            event: 'store_pg',
            level: 'warn',
          });
          void listener.end().catch(() => undefined);
          timer = setTimeout(() => listen(Math.min(retryMs * 2, WATCH_RETRY_MAX_MS)), retryMs);
        };
        listener.on('notification', () => onChange());
        listener.on('error', again);
        listener.on('end', () => again(new Error('connection ended')));
        listener
          .connect()
          .then(() => listener.query(`LISTEN ${CHANNEL}`))
          // Once listening: what changed before it was in place (or while it was away) is looked at too.
          .then(() => onChange(), again);
      };
      listen(WATCH_RETRY_MIN_MS);
      return () => {
        stopped = true;
        clearTimeout(timer);
        void client?.end().catch(() => undefined);
      };
    },
    withClient,
    close: () => pool.end(),
  };
}
