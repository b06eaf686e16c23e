// The PostgreSQL store: the Store port on a pg.Pool. Every transaction runs in one PostgreSQL transaction under
// an advisory lock, on an in-memory working set that catches up on the rows other stores wrote since (rev), and
// writes back only the rows the change touched.

import type * as Pg from 'pg';
import type { Client, ClientBase, PoolClient, QueryResult } from 'pg';
import { requireCjs } from '../../cjs.js';
import type { Log } from '../../log.js';
import { type AlertFacts, factsOf } from '../../report/facts.js';
import { track } from '../journal.js';
import type { AlertRecord, Store, StoreData, TransactOptions } from '../port.js';
import { PgRuntimeError, pgError } from './errors.js';
import { applyDelta, type Cache, deltaQuery, emptyCache, Gap } from './load.js';
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
import { migrateSchema, TRANSACTION_LOCK } from './schema.js';
import { redactUrl } from './url.js';
import { isEmpty, planOf, replaceAll, writePlan } from './write.js';

/** node-postgres, loaded when a PostgreSQL store is opened: commands on the lowdb store never pay for it. */
const pg = (): typeof Pg => requireCjs('pg') as typeof Pg;

/** A change waiting for its turn in a group commit (see `transact`). */
interface Pending {
  change: (data: StoreData) => unknown;
  /** False: commit without waiting for the WAL flush; a later synced commit or `flush` makes it durable. */
  sync: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** The channel each commit notifies, for `watch`. */
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

/** Commits transaction `rev` (advances the sequence, notifies watchers); `sync: false` does not wait for the WAL flush. */
function commitSql(rev: number, sync: boolean): string {
  return `${sync ? '' : 'SET LOCAL synchronous_commit = off; '}SELECT setval('irbot_rev', ${rev}); NOTIFY ${CHANNEL}, '${rev}'; COMMIT`;
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

/** Replaces every NUL character in the strings of `value`, in place (see `transact`). */
function withoutNul(value: object): void {
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? [...value.entries()]
    : Object.entries(value);
  for (const [key, item] of entries) scrub(value as Record<string | number, unknown>, key, item);
}

function scrub(container: Record<string | number, unknown>, key: string | number, item: unknown): void {
  if (typeof item === 'string') {
    if (item.includes('\u0000')) container[key] = item.replaceAll('\u0000', '\ufffd');
  } else if (typeof item === 'object' && item !== null) withoutNul(item);
}

/**
 * The same for an alert a transaction changed, whose transcript lines before `from` are as committed (scrubbed
 * then): a long transcript is not walked again on every change.
 */
function alertWithoutNul(record: AlertRecord, from: number): void {
  for (const [key, item] of Object.entries(record)) {
    if (key === 'transcript') for (const line of record.transcript.slice(from)) withoutNul(line);
    else scrub(record as unknown as Record<string, unknown>, key, item);
  }
}

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
    ...(Object.keys(state.snoozes).length > 0 ? { snoozes: structuredClone(state.snoozes) } : {}),
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
  const pool = new (pg().Pool)({
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
  let cache: Cache | null = null;
  /** Cache work (reads and transactions) runs one at a time: the cache is one. */
  let tail: Promise<unknown> = Promise.resolve();
  let unsynced = false;

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
      const ended = err instanceof pg().DatabaseError && err.severity === 'FATAL';
      if (ended) lost(err);
      release(client, ended || !(err instanceof pg().DatabaseError));
      throw pgError(err, where);
    }
  };

  /** Brings the cache up to date inside the caller's transaction; returns the highest rev seen. */
  const catchUp = async (client: ClientBase, current: Cache): Promise<{ cache: Cache; top: number }> => {
    for (const from of [current, emptyCache()]) {
      const results = (await client.query(deltaQuery(from.mark))) as unknown as QueryResult[];
      const pruned = Number((results[0]?.rows[0] as { pruned_rev: string } | undefined)?.pruned_rev ?? 0);
      if (from.mark > 0 && from.mark < pruned) continue;
      try {
        return { cache: from, top: applyDelta(from, results) };
      } catch (err) {
        if (!(err instanceof Gap) || from.mark === 0) throw err;
      }
    }
    throw new Error('unreachable: a whole load always follows on');
  };

  const read = (): Promise<StoreData> =>
    serial(() =>
      withClient(async (client) => {
        let current = cache ?? emptyCache();
        if (cache && (await lastRev(client)) === cache.mark) return copyOf(cache);
        cache = null;
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          const { cache: caught, top } = await catchUp(client, current);
          await client.query('COMMIT');
          current = caught;
          // Rows of a transaction in flight have a higher rev than any committed one: none is skipped.
          current.mark = Math.max(current.mark, top);
          cache = current;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        return copyOf(current);
      }),
    );

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
    const outcome = await commit(batch).catch((err: unknown) => ({ failed: err }));
    // A batch the database refused for what one of its changes wrote (a constraint, bad data) is redone one change
    // at a time too: only that change fails.
    const refused = outcome !== 'done' && outcome !== 'redo' && changeRefused(outcome.failed);
    if (outcome === 'redo' || (refused && batch.length > 1)) for (const p of batch) await run([p]);
    else if (outcome !== 'done') for (const p of batch) p.reject(outcome.failed);
  };

  /** Commits `batch` and settles each change's promise ('done'), or hands it back to be redone one by one. */
  const commit = (batch: Pending[]): Promise<'done' | 'redo' | { failed: unknown }> =>
    withClient(async (client) => {
      const results = (await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK}); ${LAST_REV}`,
      )) as unknown as QueryResult[];
      const seq = results[2]?.rows[0] as { last_value: string; is_called: boolean };
      // Under the lock every transaction up to `current` has committed.
      const current = Number(seq.last_value) - (seq.is_called ? 0 : 1);
      let working = cache ?? emptyCache();
      cache = null;
      try {
        if (working.mark !== current) working = (await catchUp(client, working)).cache;
        working.mark = current;
        const { state } = working;
        // Each alert a change touches is copied first: readers keep the record they were given.
        const originals = new Map<string, AlertRecord | undefined>();
        const tracked = track(state, working.heads, {
          beforeTouch: (id) => {
            const record = Object.hasOwn(state.alerts, id) ? state.alerts[id] : undefined;
            originals.set(id, record);
            if (record) state.alerts[id] = structuredClone(record);
          },
        });
        const answers: unknown[] = [];
        for (const p of batch) {
          try {
            answers.push(p.change(tracked.view));
          } catch (err) {
            // The cache holds part of the failed change: it is dropped (below), and loaded again by the next use.
            await client.query('ROLLBACK');
            if (batch.length > 1) return 'redo';
            p.reject(err);
            return 'done';
          }
        }
        const { archiving } = tracked.view;
        const changes = tracked.changes();
        // Text in PostgreSQL holds no NUL: one in a person's reply or a webhook's field would fail the commit and
        // lose what it carried. It becomes U+FFFD in the records themselves (copies this transaction made), so
        // that this store's cache holds what the database does.
        for (const touched of changes.alerts) if (touched.record) alertWithoutNul(touched.record, touched.t0);
        for (const record of Object.values(archiving ?? {})) withoutNul(record);
        for (const snooze of changes.snoozes.values()) if (snooze) withoutNul(snooze);
        const plan = planOf(changes, originals, archiving);
        if (!changes.replaced && isEmpty(plan)) {
          await client.query('COMMIT');
        } else {
          const rev = current + 1;
          const sync = batch.some((p) => p.sync);
          if (changes.replaced) await replaceAll(client, state, archiving, rev);
          else await writePlan(client, plan, rev);
          await client.query(commitSql(rev, sync));
          working.mark = rev;
          // A synchronous commit waits for the WAL up to it, and with it for every commit before it.
          unsynced = !sync;
        }
        cache = working;
        for (const [i, p] of batch.entries()) p.resolve(answers[i]);
        return 'done';
      } catch (err) {
        // The cache may hold part of the failed change: it is dropped, and loaded again by the next use.
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });

  const transact = <T>(change: (data: StoreData) => T, options: TransactOptions = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ change, sync: options.sync ?? true, resolve: resolve as (value: unknown) => void, reject });
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
        after = [last.rev, last.id];
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
    async flush() {
      if (!unsynced) return;
      unsynced = false;
      // A commit that writes waits for the WAL up to it, and with it for every commit before it.
      await withClient(async (client) => {
        await client.query('BEGIN; SELECT txid_current(); COMMIT');
      });
    },
    watch(onChange) {
      let stopped = false;
      let client: Client | undefined;
      let timer: NodeJS.Timeout | undefined;
      // A LISTEN connection that breaks (a database restart, a network cut) is opened again, sooner first.
      const listen = (retryMs: number): void => {
        const listener = new (pg().Client)({ connectionString: url, application_name: 'irbot-watch' });
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
