// The PostgreSQL store's cache of the working set, and how it catches up: the rows written since the last
// transaction it saw (rev), as one JSON document in one round trip; deletions through tombstones.
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
}

export const emptyCache = (): Cache => ({ state: { ...emptyStore(), snoozes: {} }, heads: new Map(), mark: 0 });

/** The rows written since `mark` (src/store/pg/schema.ts, migration 7), as `irbot_delta` gives them. */
export interface Delta {
  /** The last rev taken (committed, or about to be: read under the lock, every one up to it has committed). */
  rev: number;
  pruned: number;
  tombstones: Array<{ kind: string; id: string }>;
  alerts: AlertRow[];
  transcript: TranscriptRow[];
  outbox: OutboxRow[];
  escalations: EscalationRow[];
  seen: Array<{ id: string; seen_at: string; rev: number }>;
  snoozes: Array<{ doc: Snooze; rev: number }>;
}

/** The statement that gives the delta since `mark`, in one round trip; its one column is `delta`. */
export function deltaQuery(mark: number): string {
  return `SELECT irbot_delta(${Math.trunc(mark)}) AS delta`;
}

/** A delta that does not follow on from the cache (a transcript line missing): the cache is loaded again whole. */
export class Gap extends Error {}

/** Whether a cache at `mark` cannot catch up from `delta`: tombstones it has not seen were pruned since. */
export function tooFarBehind(mark: number, delta: Delta): boolean {
  return mark > 0 && mark < delta.pruned;
}

/** Applies a delta to `cache`; returns the highest rev among its rows (0: none). */
export function applyDelta(cache: Cache, delta: Delta): number {
  const { state, heads } = cache;
  let top = 0;
  const seeRev = (rev: string | number) => {
    top = Math.max(top, Number(rev));
  };
  for (const { kind, id } of delta.tombstones) {
    if (kind === 'alert') {
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
