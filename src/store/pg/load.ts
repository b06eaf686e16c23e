// The PostgreSQL store's cache of the working set, and how it catches up: the rows written since the last
// transaction it saw (rev), as one JSON document in one round trip (irbot_delta); deletions through tombstones.
import type { ClientBase, QueryResult } from 'pg';
import type { Fields } from '../journal.js';
import { emptyStore, type Snooze, type StoreData } from '../port.js';
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

/** The working set as this store last saw it, and the last transaction (rev) it has seen. */
export interface Cache {
  state: StoreData & { snoozes: Record<string, Snooze> };
  heads: Map<string, Fields>;
  mark: number;
  /** The ids of each person's alerts in `state`, made at the first look by person (see `peopleOf`). */
  people?: Map<string, Set<string>>;
}

/**
 * The ids of each person's alerts in the cache: every one of them, kept so by catching up (`applyDelta`) and by the
 * commits of this store (`noteAlert`, `forgetAlert`); a change finds a person's alerts without a scan of them all.
 */
export function peopleOf(cache: Cache): Map<string, Set<string>> {
  if (!cache.people) {
    cache.people = new Map();
    for (const record of Object.values(cache.state.alerts)) noteAlert(cache, record.userId, record.id);
  }
  return cache.people;
}

export function noteAlert(cache: Cache, userId: string, id: string): void {
  const ids = cache.people?.get(userId);
  if (ids) ids.add(id);
  else cache.people?.set(userId, new Set([id]));
}

export function forgetAlert(cache: Cache, userId: string | undefined, id: string): void {
  if (userId === undefined) return;
  const ids = cache.people?.get(userId);
  ids?.delete(id);
  if (ids?.size === 0) cache.people?.delete(userId);
}

export const emptyCache = (): Cache => ({ state: { ...emptyStore(), snoozes: {} }, heads: new Map(), mark: 0 });

/** The rows written since `mark` (src/store/pg/schema.ts, migration 7), as `irbot_delta` gives them. */
export interface Delta {
  /** The last rev taken (committed, or about to be: read under the lock, every one up to it has committed). */
  rev: number;
  pruned: number;
  /** `rev`: since migration 10 (absent in a delta of a server function from before it). */
  tombstones: Array<{ kind: string; id: string; rev?: number | string }>;
  alerts: AlertRow[];
  transcript: TranscriptRow[];
  outbox: OutboxRow[];
  escalations: EscalationRow[];
  seen: Array<{ id: string; seen_at: string; rev: number | string }>;
  snoozes: Array<{ doc: Snooze; rev: number | string }>;
}

/**
 * The working set whole, as rows (a delta from 0): from the working set's alerts to their rows, each alert's by its
 * key. As rows, not as one JSON document: building that in the server costs more than the rows, for a load this big.
 */
const WHOLE = `
SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END AS rev, (SELECT pruned_rev FROM irbot_state) AS pruned
  FROM irbot_rev;
SELECT id, rev, archived, template, user_id, channel_id, ts, created_at, last_activity_at, dedupe_key, chat_state,
       next_seq, transcript_length, doc
  FROM irbot_alerts WHERE NOT archived;
SELECT t.* FROM irbot_alerts a CROSS JOIN LATERAL (
  SELECT t.alert_id, t.n, t.speaker, t.text, t.at, t.by, t.ts FROM irbot_transcript t WHERE t.alert_id = a.id OFFSET 0) t
  WHERE NOT a.archived;
SELECT o.* FROM irbot_alerts a CROSS JOIN LATERAL (
  SELECT o.alert_id, o.seq, o.effect, o.claim, o.retry_at, o.attempts, o.check_since, o.pos FROM irbot_outbox o
  WHERE o.alert_id = a.id OFFSET 0) o
  WHERE NOT a.archived ORDER BY o.alert_id, o.pos;
SELECT e.* FROM irbot_alerts a CROSS JOIN LATERAL (
  SELECT e.* FROM irbot_escalations e WHERE e.alert_id = a.id OFFSET 0) e
  WHERE NOT a.archived;
SELECT id, seen_at, rev FROM irbot_seen_events;
SELECT doc, rev FROM irbot_snoozes;`;

const DELTA = 'SELECT irbot_delta($1) AS delta';

/** The statements that give the rows written since `mark` (0: the working set whole) in one round trip. */
export function deltaQuery(mark: number): string {
  return mark === 0 ? WHOLE : `SELECT irbot_delta(${Math.trunc(mark)}) AS delta`;
}

/** The delta in the results of `deltaQuery(mark)` (the caller's statements before them left out). */
export function deltaFrom(results: QueryResult[], mark: number): Delta {
  if (mark !== 0) return (results[0] as QueryResult<{ delta: Delta }>).rows[0]?.delta as Delta;
  const [head, alerts, transcript, outbox, escalations, seen, snoozes] = results.map((r) => r.rows);
  const { rev, pruned } = (head?.[0] ?? {}) as { rev: string; pruned: string };
  return {
    rev: Number(rev),
    pruned: Number(pruned),
    tombstones: [],
    alerts: alerts as AlertRow[],
    transcript: transcript as TranscriptRow[],
    outbox: outbox as OutboxRow[],
    escalations: escalations as EscalationRow[],
    seen: seen as Delta['seen'],
    snoozes: snoozes as Delta['snoozes'],
  };
}

/** A delta that does not follow on from the cache (a transcript line missing): the cache is loaded again whole. */
export class Gap extends Error {}

/** Whether a cache at `mark` cannot catch up from `delta`: tombstones it has not seen were pruned since. */
export function tooFarBehind(mark: number, delta: Delta): boolean {
  return mark > 0 && mark < delta.pruned;
}

/**
 * The rows written since `mark` (0: the working set whole), in the caller's transaction (`inTransaction`), or else in
 * a snapshot of their own: the working set whole is several statements, and outside a transaction each would see
 * the commits made before it ran, so a transcript could come longer than its alert says (a Gap, at every load
 * while replicas write).
 */
export async function deltaOf(client: ClientBase, mark: number, inTransaction = false): Promise<Delta> {
  if (mark !== 0) {
    // Prepared once a connection: a replica reads a delta after most commits of the others.
    const result = await client.query<{ delta: Delta }>({ name: 'irbot_delta', text: DELTA, values: [mark] });
    return result.rows[0]?.delta as Delta;
  }
  if (inTransaction) {
    const results = (await client.query(deltaQuery(mark))) as unknown as QueryResult[];
    return deltaFrom(results, mark);
  }
  try {
    const results = (await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${WHOLE} COMMIT`,
    )) as unknown as QueryResult[];
    return deltaFrom(results.slice(1, -1), mark);
  } catch (err) {
    // A statement that failed leaves the transaction open and aborted: closed before the connection goes back.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Brings `current` up to date with `delta` (the rows since its mark), or loads the working set again whole when the
 * delta does not follow on from it. Read under the lock (`underLock`: the delta, and the reload in the caller's
 * transaction), the delta has the last committed rev, which becomes the mark; else the mark is the highest rev among
 * the rows (a transaction in flight may have taken a rev already). `own`: a transaction this cache committed past
 * the others in the delta (a scoped commit, write.ts): its alerts' rows are what the cache holds already, and every
 * rev up to it had committed.
 */
export async function catchUp(
  client: ClientBase,
  current: Cache,
  delta: Delta,
  underLock: boolean,
  own = 0,
): Promise<Cache> {
  const caughtUp = (cache: Cache, from: Delta, skip: number): Cache => {
    const top = applyDelta(cache, from, skip);
    cache.mark = underLock ? from.rev : Math.max(cache.mark, top, own);
    return cache;
  };
  if (!tooFarBehind(current.mark, delta)) {
    try {
      return caughtUp(current, delta, own);
    } catch (err) {
      if (!(err instanceof Gap) || current.mark === 0) throw err;
    }
  }
  return caughtUp(emptyCache(), await deltaOf(client, 0, underLock), 0);
}

/** Applies a delta to `cache`, but the alerts of transaction `skip`; returns the highest rev among its rows (0: none). */
export function applyDelta(cache: Cache, delta: Delta, skip = 0): number {
  const { state, heads } = cache;
  let top = 0;
  const seeRev = (rev: string | number) => {
    top = Math.max(top, Number(rev));
  };
  for (const { kind, id, rev } of delta.tombstones) {
    if (rev !== undefined) seeRev(rev);
    if (kind === 'alert') {
      forgetAlert(cache, state.alerts[id]?.userId, id);
      delete state.alerts[id];
      heads.delete(id);
    } else if (kind === 'event') delete state.seenEvents[id];
    else delete state.snoozes[id];
  }
  const linesOf = groupBy(delta.transcript, (row) => row.alert_id);
  const itemsOf = groupBy(delta.outbox, (row) => row.alert_id);
  const escalationsOf = new Map(delta.escalations.map((row) => [row.alert_id, escalationOf(row)]));
  for (const row of delta.alerts) {
    seeRev(row.rev);
    if (skip > 0 && Number(row.rev) === skip) continue;
    heads.delete(row.id);
    if (row.archived) {
      forgetAlert(cache, row.user_id, row.id);
      delete state.alerts[row.id];
      continue;
    }
    noteAlert(cache, row.user_id, row.id);
    // A new array: a reader may hold the old record (see `read`).
    const lines = (state.alerts[row.id]?.transcript ?? []).slice(0, row.transcript_length);
    for (const line of linesOf.get(row.id) ?? []) lines[line.n] = entryOf(line);
    if (lines.length !== row.transcript_length || lines.includes(undefined as never)) throw new Gap();
    const items = (itemsOf.get(row.id) ?? []).map(itemOf);
    state.alerts[row.id] = recordOf(row, lines, items, escalationsOf.get(row.id));
  }
  for (const row of delta.seen) {
    seeRev(row.rev);
    state.seenEvents[row.id] = row.seen_at;
  }
  for (const row of delta.snoozes) {
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
