// The PostgreSQL store: the Store port on a pg.Pool. Changes run on an in-memory working set that catches up on the
// rows other stores wrote since (rev), queued changes together (group commit), and commit in one statement that
// writes only the rows they touched, under the advisory lock every transaction takes, unless another transaction
// came in between: then they run again on what it wrote (see `commit`).

import type * as Pg from 'pg';
import type { Client, ClientBase, PoolClient, QueryResult } from 'pg';
import { requireCjs } from '../../cjs.js';
import type { Log } from '../../log.js';
import { type AlertFacts, factsOf } from '../../report/facts.js';
import type { AlertRecord, Store, StoreData, TransactOptions } from '../port.js';
import { type Applied, applyBatch } from './apply.js';
import { PgRuntimeError, pgError } from './errors.js';
import { applyDelta, type Cache, type Delta, deltaFrom, deltaQuery, emptyCache, Gap, tooFarBehind } from './load.js';
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
import { commitAlone, isEmpty, replaceAll, writePlan } from './write.js';

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

/** Optimistic turns of a batch before it takes the lock first (see `commit`): under contention it then waits, rather than loses again. */
const OPTIMISTIC_TRIES = 2;

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

/** The rows written since `mark` (0: the working set whole), in the caller's transaction or snapshot. */
async function deltaOf(client: ClientBase, mark: number): Promise<Delta> {
  const results = (await client.query(deltaQuery(mark))) as unknown as QueryResult | QueryResult[];
  return deltaFrom(Array.isArray(results) ? results : [results], mark);
}

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

  /**
   * Brings `current` up to date with `delta` (the rows since its mark), or loads the working set again whole when the
   * delta does not follow on from it. What was read under the lock (`locked`: the delta; 'held': the reload too) has
   * the last committed rev, which becomes the mark; else the mark is the highest rev among the rows (a transaction
   * in flight may have taken a rev already).
   */
  const catchUp = async (
    client: ClientBase,
    current: Cache,
    delta: Delta,
    locked: 'no' | 'delta' | 'held',
  ): Promise<Cache> => {
    const caughtUp = (cache: Cache, from: Delta, exact: boolean): Cache => {
      const top = applyDelta(cache, from);
      cache.mark = exact ? from.rev : Math.max(cache.mark, top);
      return cache;
    };
    if (!tooFarBehind(current.mark, delta)) {
      try {
        return caughtUp(current, delta, locked !== 'no');
      } catch (err) {
        if (!(err instanceof Gap) || current.mark === 0) throw err;
      }
    }
    return caughtUp(emptyCache(), await deltaOf(client, 0), locked === 'held');
  };

  const read = (): Promise<StoreData> =>
    serial(() =>
      withClient(async (client) => {
        const current = cache ?? emptyCache();
        if (cache && (await lastRev(client)) === cache.mark) return copyOf(cache);
        cache = null;
        // One statement: one snapshot, no transaction needed.
        cache = await catchUp(client, current, await deltaOf(client, current.mark), 'no');
        return copyOf(cache);
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
    const outcome: 'done' | 'redo' | { failed: unknown } = await commit(batch).catch((err: unknown) => ({
      failed: err,
    }));
    // A batch the database refused for what one of its changes wrote (a constraint, bad data) is redone one change
    // at a time too: only that change fails.
    const refused = outcome !== 'done' && outcome !== 'redo' && changeRefused(outcome.failed);
    if (outcome === 'redo' || (refused && batch.length > 1)) for (const p of batch) await run([p]);
    else if (outcome !== 'done') for (const p of batch) p.reject(outcome.failed);
  };

  /**
   * Commits `batch` and settles each change's promise ('done'), or hands it back to be redone one by one. First
   * optimistically: the changes run on the cache and go to the server in one statement, which commits them unless
   * another transaction came in between; then it answers what came, the cache catches up, and they run again.
   * After OPTIMISTIC_TRIES such turns, the batch takes the lock first and runs under it.
   */
  const commit = (batch: Pending[]): Promise<'done' | 'redo'> =>
    withClient(async (client) => {
      let working = cache;
      cache = null;
      for (let tries = 0; working && tries < OPTIMISTIC_TRIES; tries++) {
        const applied = applyBatch(
          working,
          batch.map((p) => p.change),
        );
        if (applied.replaced) break; // cannot be taken back: written whole, under the lock
        if (applied.threw) return threw(batch, working, applied);
        const sync = batch.some((p) => p.sync);
        const writes = !isEmpty(applied.plan);
        let delta: Delta | null;
        try {
          delta = await commitAlone(client, working.mark, writes ? applied.plan : null, sync);
        } catch (err) {
          // Nothing was written, or all of it (a connection lost at the commit): the next catch-up brings it.
          applied.undo();
          cache = working;
          throw err;
        }
        if (delta === null) {
          if (writes) {
            working.mark += 1;
            unsynced = !sync;
          }
          return settled(batch, working, applied.answers);
        }
        applied.undo();
        working = await catchUp(client, working, delta, 'delta');
      }
      return underLock(client, working ?? emptyCache(), batch);
    });

  /** The pessimistic way: takes the lock, catches up under it, runs the changes, writes and commits. */
  const underLock = async (client: ClientBase, from: Cache, batch: Pending[]): Promise<'done' | 'redo'> => {
    const results = (await client.query(
      `BEGIN; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK}); ${deltaQuery(from.mark)}`,
    )) as unknown as QueryResult[];
    const delta = deltaFrom(results.slice(2), from.mark);
    let working = from;
    try {
      // Under the lock every transaction up to delta.rev has committed.
      if (working.mark !== delta.rev) working = await catchUp(client, working, delta, 'held');
      const applied = applyBatch(
        working,
        batch.map((p) => p.change),
      );
      if (applied.threw) {
        await client.query('ROLLBACK');
        return threw(batch, working, applied);
      }
      if (!applied.replaced && isEmpty(applied.plan)) {
        await client.query('COMMIT');
      } else {
        const rev = working.mark + 1;
        const sync = batch.some((p) => p.sync);
        if (applied.replaced) await replaceAll(client, working.state, applied.archiving, rev);
        else await writePlan(client, applied.plan, rev);
        await client.query(sync ? 'COMMIT' : 'SET LOCAL synchronous_commit = off; COMMIT');
        working.mark = rev;
        // A synchronous commit waits for the WAL up to it, and with it for every commit before it.
        unsynced = !sync;
      }
      return settled(batch, working, applied.answers);
    } catch (err) {
      // The cache may hold part of the failed change: it is dropped, and loaded again by the next use.
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  };

  const settled = (batch: Pending[], working: Cache, answers: unknown[]): 'done' => {
    cache = working;
    for (const [i, p] of batch.entries()) p.resolve(answers[i]);
    return 'done';
  };

  /** A change threw: the batch is redone one change at a time, or that one change fails; the cache is as it was. */
  const threw = (batch: Pending[], working: Cache, applied: Applied): 'done' | 'redo' => {
    applied.undo();
    cache = working;
    if (batch.length > 1) return 'redo';
    batch[0]?.reject(applied.threw?.error);
    return 'done';
  };

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
