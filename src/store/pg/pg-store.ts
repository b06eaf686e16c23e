// The PostgreSQL store: the Store port on a pg.Pool. Every transaction runs in one PostgreSQL transaction under
// an advisory lock, on an in-memory working set that catches up on the rows other stores wrote since (rev), and
// writes back only the rows the change touched.

import type * as Pg from 'pg';
import type { Client, ClientBase, PoolClient, QueryResult } from 'pg';
import { requireCjs } from '../../cjs.js';
import type { Log } from '../../log.js';
import { type AlertFacts, factsOf } from '../../report/facts.js';
import { type Changes, type Fields, track } from '../journal.js';
import {
  type AlertRecord,
  emptyStore,
  type Snooze,
  type Store,
  type StoreData,
  type TransactOptions,
} from '../port.js';
import { pgError } from './errors.js';
import {
  type AlertRow,
  type AlertWrite,
  alertWrite,
  appendedFrom,
  docOf,
  type EscalationRow,
  entryOf,
  escalationOf,
  itemOf,
  type OutboxRow,
  recordOf,
  type TranscriptRow,
  type WritePlan,
} from './rows.js';
import { migrateSchema, TRANSACTION_LOCK } from './schema.js';
import { redactUrl } from './url.js';

/** node-postgres, loaded when a PostgreSQL store is opened: commands on the lowdb store never pay for it. */
const pg = (): typeof Pg => requireCjs('pg') as typeof Pg;

/** A change function threw: its error goes to the caller as it is, and the connection is fine. */
class ChangeFailed extends Error {
  constructor(readonly original: unknown) {
    super('change failed');
  }
}

/** The channel each commit notifies, for `watch`. */
export const CHANNEL = 'irbot_changed';

/** Tombstones older than this many transactions are pruned; a cache further behind is loaded again whole. */
const TOMBSTONE_KEEP = 10_000;

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

/** The working set as this store last saw it, and the last transaction (rev) it has seen. */
interface Cache {
  state: StoreData & { snoozes: Record<string, Snooze> };
  heads: Map<string, Fields>;
  mark: number;
}

const emptyCache = (): Cache => ({ state: { ...emptyStore(), snoozes: {} }, heads: new Map(), mark: 0 });

/** The rows written since `mark`: a cache applies them to catch up. One round trip (several statements). */
function deltaQuery(mark: number): string {
  const m = String(mark);
  return `
SELECT pruned_rev FROM irbot_state;
SELECT kind, id FROM irbot_tombstones WHERE rev > ${m}${mark === 0 ? ' AND false' : ''} ORDER BY rev;
SELECT * FROM irbot_alerts WHERE rev > ${m}${mark === 0 ? ' AND NOT archived' : ''};
SELECT t.* FROM irbot_transcript t
  JOIN irbot_alerts a ON a.id = t.alert_id AND NOT a.archived WHERE t.rev > ${m};
SELECT o.* FROM irbot_outbox o JOIN irbot_alerts a ON a.id = o.alert_id AND NOT a.archived
  WHERE a.rev > ${m} ORDER BY o.alert_id, o.pos;
SELECT e.* FROM irbot_escalations e JOIN irbot_alerts a ON a.id = e.alert_id AND NOT a.archived WHERE a.rev > ${m};
SELECT id, seen_at, rev FROM irbot_seen_events WHERE rev > ${m};
SELECT doc, rev FROM irbot_snoozes WHERE rev > ${m};`;
}

/** A delta that does not follow on from the cache (a transcript line missing): the cache is loaded again whole. */
class Gap extends Error {}

/** Applies a delta's results to `cache`; returns the highest rev among its rows (0: none). */
function applyDelta(cache: Cache, results: QueryResult[]): number {
  const [, tombstones, alerts, transcript, outbox, escalations, seen, snoozes] = results.map((r) => r.rows) as [
    unknown,
    Array<{ kind: string; id: string }>,
    AlertRow[],
    TranscriptRow[],
    OutboxRow[],
    EscalationRow[],
    Array<{ id: string; seen_at: string; rev: string }>,
    Array<{ doc: Snooze; rev: string }>,
  ];
  const { state, heads } = cache;
  let top = 0;
  const seeRev = (rev: string) => {
    top = Math.max(top, Number(rev));
  };
  for (const { kind, id } of tombstones) {
    if (kind === 'alert') {
      delete state.alerts[id];
      heads.delete(id);
    } else if (kind === 'event') delete state.seenEvents[id];
    else delete state.snoozes[id];
  }
  const linesOf = groupBy(transcript, (row) => row.alert_id);
  const itemsOf = groupBy(outbox, (row) => row.alert_id);
  const escalationsOf = new Map(escalations.map((row) => [row.alert_id, escalationOf(row)]));
  for (const row of alerts) {
    seeRev(row.rev);
    heads.delete(row.id);
    if (row.archived) {
      delete state.alerts[row.id];
      continue;
    }
    // A new array: a reader may hold the old record (see `read`).
    const lines = (state.alerts[row.id]?.transcript ?? []).slice(0, row.transcript_length);
    for (const line of linesOf.get(row.id) ?? []) lines[line.n] = entryOf(line);
    if (lines.length !== row.transcript_length || lines.includes(undefined as never)) throw new Gap();
    const items = (itemsOf.get(row.id) ?? []).map(itemOf);
    state.alerts[row.id] = recordOf(row, lines, items, escalationsOf.get(row.id));
  }
  for (const row of seen) {
    seeRev(row.rev);
    state.seenEvents[row.id] = row.seen_at;
  }
  for (const row of snoozes) {
    seeRev(row.rev);
    state.snoozes[row.doc.id] = row.doc;
  }
  return top;
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** The write plan of a transaction, from what it changed and what each touched alert was before it. */
function planOf(
  changes: Changes,
  originals: Map<string, AlertRecord | undefined>,
  archiving: Record<string, AlertRecord> | undefined,
): WritePlan {
  const plan: WritePlan = { alerts: [], deleted: [], events: changes.events, snoozes: changes.snoozes };
  const archived = new Set(Object.keys(archiving ?? {}));
  // Archived first: a new alert may take up the dedupe key of one archived in the same transaction.
  for (const id of archived) {
    const record = archiving?.[id] as AlertRecord;
    const old = originals.get(id);
    plan.alerts.push(alertWrite(old, record, appendedFrom(old, record), true));
  }
  for (const change of changes.alerts) {
    if (archived.has(change.id)) continue;
    if (!change.record) plan.deleted.push(change.id);
    else plan.alerts.push(alertWrite(originals.get(change.id), change.record, change.t0, false));
  }
  return plan;
}

/** The plan that writes all of `data` (and the alerts it archives) into a database without its working set. */
export function planOfAll(data: StoreData, archived: AlertRecord[] = []): WritePlan {
  return {
    alerts: [
      ...archived.map((record) => alertWrite(undefined, record, 0, true)),
      ...Object.values(data.alerts).map((record) => alertWrite(undefined, record, 0, false)),
    ],
    deleted: [],
    events: new Map(Object.entries(data.seenEvents)),
    snoozes: new Map(Object.entries(data.snoozes ?? {})),
  };
}

/**
 * A change that swapped a map whole (tests do; the app does not): the working set is written again whole, and every
 * other store's cache is made to load it again whole (pruned_rev).
 */
async function replaceAll(
  client: ClientBase,
  data: StoreData,
  archiving: Record<string, AlertRecord> | undefined,
  rev: number,
): Promise<void> {
  await client.query(
    'DELETE FROM irbot_alerts WHERE NOT archived; DELETE FROM irbot_seen_events; DELETE FROM irbot_snoozes',
  );
  await writePlan(client, planOfAll(data, Object.values(archiving ?? {})), rev);
  await client.query('UPDATE irbot_state SET pruned_rev = $1', [rev]);
}

const ALERT_COLUMNS =
  'id, archived, template, user_id, channel_id, ts, created_at, last_activity_at, dedupe_key, chat_state, next_seq, transcript_length, doc, facts';

/** Writes `plan` as transaction `rev`, a statement per kind of row (rows of a kind go in arrays, one round trip). */
export async function writePlan(client: ClientBase, plan: WritePlan, rev: number): Promise<void> {
  const tombstones: Array<[string, string]> = [];
  if (plan.deleted.length > 0) {
    await client.query('DELETE FROM irbot_alerts WHERE id = ANY($1::text[])', [plan.deleted]);
    for (const id of plan.deleted) tombstones.push(['alert', id]);
  }
  const writes = plan.alerts;
  if (writes.length > 0) {
    const cols = (f: (w: AlertWrite) => unknown) => writes.map(f);
    await client.query(
      `INSERT INTO irbot_alerts (rev, ${ALERT_COLUMNS})
       SELECT $1, u.id, u.archived, u.template, u.user_id, u.channel_id, u.ts, u.created_at, u.last_activity_at,
              u.dedupe_key, u.chat_state, u.next_seq, u.transcript_length, u.doc::jsonb, u.facts::jsonb
       FROM unnest($2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                   $10::text[], $11::text[], $12::int[], $13::int[], $14::text[], $15::text[])
            WITH ORDINALITY AS u(${ALERT_COLUMNS}, k)
       ORDER BY u.k
       ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, archived = EXCLUDED.archived,
         template = EXCLUDED.template, user_id = EXCLUDED.user_id, channel_id = EXCLUDED.channel_id,
         ts = EXCLUDED.ts, created_at = EXCLUDED.created_at, last_activity_at = EXCLUDED.last_activity_at,
         dedupe_key = EXCLUDED.dedupe_key, chat_state = EXCLUDED.chat_state, next_seq = EXCLUDED.next_seq,
         transcript_length = EXCLUDED.transcript_length, doc = EXCLUDED.doc, facts = EXCLUDED.facts`,
      [
        rev,
        cols((w) => w.record.id),
        cols((w) => w.archived),
        cols((w) => w.record.template),
        cols((w) => w.record.userId),
        cols((w) => w.record.channelId),
        cols((w) => w.record.ts),
        cols((w) => w.record.createdAt),
        cols((w) => w.record.lastActivityAt),
        cols((w) => w.record.dedupeKey ?? null),
        cols((w) => w.record.chat.state),
        cols((w) => w.record.nextSeq),
        cols((w) => w.record.transcript.length),
        cols((w) => docOf(w.record)),
        // An archived alert's report facts, kept with it: a report reads them, never the whole alert.
        cols((w) => (w.archived ? JSON.stringify(factsOf(w.record)) : null)),
      ],
    );
  }
  const fresh = writes.filter((w) => w.fresh).map((w) => w.record.id);
  if (fresh.length > 0) {
    // An archived alert of the same id (ids are short) leaves no outbox or escalation to the new one.
    await client.query('DELETE FROM irbot_outbox WHERE alert_id = ANY($1::text[])', [fresh]);
    await client.query('DELETE FROM irbot_escalations WHERE alert_id = ANY($1::text[])', [fresh]);
  }
  const rewrites = writes.filter((w) => w.rewrite);
  if (rewrites.length > 0) {
    await client.query(
      `DELETE FROM irbot_transcript t USING unnest($1::text[], $2::int[]) AS u(id, n)
       WHERE t.alert_id = u.id AND t.n >= u.n`,
      [rewrites.map((w) => w.record.id), rewrites.map((w) => w.from)],
    );
  }
  const lines = writes.flatMap((w) =>
    w.record.transcript.slice(w.from).map((line, i) => ({ id: w.record.id, n: w.from + i, line })),
  );
  if (lines.length > 0) {
    await client.query(
      `INSERT INTO irbot_transcript (rev, alert_id, n, speaker, text, at, by, ts)
       SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
      [
        rev,
        lines.map((l) => l.id),
        lines.map((l) => l.n),
        lines.map((l) => l.line.from),
        lines.map((l) => l.line.text),
        lines.map((l) => l.line.at),
        lines.map((l) => l.line.by ?? null),
        lines.map((l) => l.line.ts ?? null),
      ],
    );
  }
  const gone = writes.flatMap((w) => w.outboxDeleted.map((seq) => ({ id: w.record.id, seq })));
  if (gone.length > 0) {
    await client.query(
      `DELETE FROM irbot_outbox o USING unnest($1::text[], $2::int[]) AS u(id, seq)
       WHERE o.alert_id = u.id AND o.seq = u.seq`,
      [gone.map((g) => g.id), gone.map((g) => g.seq)],
    );
  }
  const items = writes.flatMap((w) => w.outboxWritten.map(({ item, pos }) => ({ id: w.record.id, item, pos })));
  if (items.length > 0) {
    await client.query(
      `INSERT INTO irbot_outbox (alert_id, seq, effect, claim, retry_at, attempts, check_since, pos)
       SELECT u.id, u.seq, u.effect::jsonb, u.claim::jsonb, u.retry_at, u.attempts, u.check_since, u.pos
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::int[])
            AS u(id, seq, effect, claim, retry_at, attempts, check_since, pos)
       ON CONFLICT (alert_id, seq) DO UPDATE SET effect = EXCLUDED.effect, claim = EXCLUDED.claim,
         retry_at = EXCLUDED.retry_at, attempts = EXCLUDED.attempts, check_since = EXCLUDED.check_since,
         pos = EXCLUDED.pos`,
      [
        items.map((i) => i.id),
        items.map((i) => i.item.seq),
        items.map((i) => JSON.stringify(i.item.effect)),
        items.map((i) => (i.item.claim ? JSON.stringify(i.item.claim) : null)),
        items.map((i) => i.item.retryAt ?? null),
        items.map((i) => i.item.attempts ?? null),
        items.map((i) => i.item.checkSince ?? null),
        items.map((i) => i.pos),
      ],
    );
  }
  const unescalated = writes.filter((w) => w.escalation === null && !w.fresh).map((w) => w.record.id);
  if (unescalated.length > 0) {
    await client.query('DELETE FROM irbot_escalations WHERE alert_id = ANY($1::text[])', [unescalated]);
  }
  const escalated = writes.flatMap((w) => (w.escalation ? [{ id: w.record.id, e: w.escalation }] : []));
  if (escalated.length > 0) {
    await client.query(
      `INSERT INTO irbot_escalations (alert_id, outcome, reason, severity, at, mention, pagerduty)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[])
       ON CONFLICT (alert_id) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
         severity = EXCLUDED.severity, at = EXCLUDED.at, mention = EXCLUDED.mention, pagerduty = EXCLUDED.pagerduty`,
      [
        escalated.map((x) => x.id),
        escalated.map((x) => x.e.outcome),
        escalated.map((x) => x.e.reason),
        escalated.map((x) => x.e.severity),
        escalated.map((x) => x.e.at),
        escalated.map((x) => x.e.mention),
        escalated.map((x) => x.e.pagerduty),
      ],
    );
  }
  const seenSet = [...plan.events].filter((e): e is [string, string] => e[1] !== undefined);
  const seenGone = [...plan.events].filter(([, at]) => at === undefined).map(([id]) => id);
  if (seenSet.length > 0) {
    await client.query(
      `INSERT INTO irbot_seen_events (id, seen_at, rev) SELECT u.id, u.at, $1 FROM unnest($2::text[], $3::text[]) AS u(id, at)
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, rev = EXCLUDED.rev`,
      [rev, seenSet.map(([id]) => id), seenSet.map(([, at]) => at)],
    );
  }
  if (seenGone.length > 0) {
    await client.query('DELETE FROM irbot_seen_events WHERE id = ANY($1::text[])', [seenGone]);
    for (const id of seenGone) tombstones.push(['event', id]);
  }
  const snoozeSet = [...plan.snoozes].filter((s): s is [string, Snooze] => s[1] !== undefined);
  const snoozeGone = [...plan.snoozes].filter(([, s]) => s === undefined).map(([id]) => id);
  if (snoozeSet.length > 0) {
    await client.query(
      `INSERT INTO irbot_snoozes (id, rev, template, user_id, until, removed_at, doc)
       SELECT u.id, $1, u.template, u.user_id, u.until, u.removed_at, u.doc::jsonb
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
            AS u(id, template, user_id, until, removed_at, doc)
       ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, template = EXCLUDED.template, user_id = EXCLUDED.user_id,
         until = EXCLUDED.until, removed_at = EXCLUDED.removed_at, doc = EXCLUDED.doc`,
      [
        rev,
        snoozeSet.map(([id]) => id),
        snoozeSet.map(([, s]) => s.template),
        snoozeSet.map(([, s]) => s.user ?? null),
        snoozeSet.map(([, s]) => s.until),
        snoozeSet.map(([, s]) => s.removedAt ?? null),
        snoozeSet.map(([, s]) => JSON.stringify(s)),
      ],
    );
  }
  if (snoozeGone.length > 0) {
    await client.query('DELETE FROM irbot_snoozes WHERE id = ANY($1::text[])', [snoozeGone]);
    for (const id of snoozeGone) tombstones.push(['snooze', id]);
  }
  if (tombstones.length > 0) {
    await client.query(
      'INSERT INTO irbot_tombstones (rev, kind, id) SELECT $1, * FROM unnest($2::text[], $3::text[])',
      [rev, tombstones.map(([kind]) => kind), tombstones.map(([, id]) => id)],
    );
    await client.query(
      `WITH gone AS (DELETE FROM irbot_tombstones WHERE rev <= $1 RETURNING rev)
       UPDATE irbot_state SET pruned_rev = greatest(pruned_rev, (SELECT max(rev) FROM gone))
       WHERE EXISTS (SELECT 1 FROM gone)`,
      [rev - TOMBSTONE_KEEP],
    );
  }
}

/** Whether the plan writes nothing. */
function isEmpty(plan: WritePlan): boolean {
  return plan.alerts.length === 0 && plan.deleted.length === 0 && plan.events.size === 0 && plan.snoozes.size === 0;
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
  for (const [key, item] of entries) {
    if (typeof item === 'string') {
      if (item.includes('\u0000'))
        (value as Record<string | number, unknown>)[key] = item.replaceAll('\u0000', '\ufffd');
    } else if (typeof item === 'object' && item !== null) withoutNul(item);
  }
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
      if (err instanceof ChangeFailed) {
        release(client);
        throw err.original;
      }
      // An error of a statement leaves the connection usable; any other (a broken connection) drops it.
      release(client, !(err instanceof pg().DatabaseError));
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
        const { state } = current;
        // Maps copied, records shared: a transaction replaces a record it changes rather than changing it.
        return {
          version: state.version,
          alerts: { ...state.alerts },
          seenEvents: { ...state.seenEvents },
          ...(Object.keys(state.snoozes).length > 0 ? { snoozes: structuredClone(state.snoozes) } : {}),
        };
      }),
    );

  const transact = <T>(change: (data: StoreData) => T, options: TransactOptions = {}): Promise<T> =>
    serial(() =>
      withClient(async (client) => {
        const sync = options.sync ?? true;
        const results = (await client.query(
          `BEGIN; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK}); SELECT last_value, is_called FROM irbot_rev`,
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
          let result: T;
          try {
            result = change(tracked.view);
          } catch (err) {
            throw new ChangeFailed(err);
          }
          const { archiving } = tracked.view;
          const changes = tracked.changes();
          // Text in PostgreSQL holds no NUL: one in a person's reply or a webhook's field would fail the commit and
          // lose what it carried. It becomes U+FFFD in the records themselves (copies this transaction made), so
          // that this store's cache holds what the database does.
          for (const touched of changes.alerts) if (touched.record) withoutNul(touched.record);
          for (const record of Object.values(archiving ?? {})) withoutNul(record);
          for (const snooze of changes.snoozes.values()) if (snooze) withoutNul(snooze);
          const plan = planOf(changes, originals, archiving);
          if (!changes.replaced && isEmpty(plan)) {
            await client.query('COMMIT');
          } else {
            const rev = current + 1;
            if (changes.replaced) await replaceAll(client, state, archiving, rev);
            else await writePlan(client, plan, rev);
            await client.query(commitSql(rev, sync));
            working.mark = rev;
            // A synchronous commit waits for the WAL up to it, and with it for every commit before it.
            unsynced = !sync;
          }
          cache = working;
          return result;
        } catch (err) {
          // The cache may hold part of the failed change: it is dropped, and loaded again by the next use.
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );

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
