// The PostgreSQL store's cache of the working set, and how it catches up: the rows written since the last
// transaction it saw (rev), applied in one round trip; deletions through tombstones.
import type { QueryResult } from 'pg';
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

/** The rows written since `mark`: a cache applies them to catch up. One round trip (several statements). */
export function deltaQuery(mark: number): string {
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
export class Gap extends Error {}

/** Applies a delta's results to `cache`; returns the highest rev among its rows (0: none). */
export function applyDelta(cache: Cache, results: QueryResult[]): number {
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
