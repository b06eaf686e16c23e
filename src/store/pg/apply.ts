// A batch of changes applied to the PostgreSQL store's cache: what they answered, the rows they wrote, and how to
// take them back (a commit that found another replica's transaction in between runs them again on what it wrote).
import { track } from '../journal.js';
import type { AlertRecord, StoreData } from '../port.js';
import type { Cache } from './load.js';
import type { WritePlan } from './rows.js';
import { planOf } from './write.js';

export interface Applied {
  /** The changes' answers, in order; absent when one of them threw (`threw`). */
  answers: unknown[];
  threw?: { error: unknown };
  plan: WritePlan;
  /** A change swapped a map whole: the working set is written whole, and cannot be taken back. */
  replaced: boolean;
  archiving: Record<string, AlertRecord> | undefined;
  /** Puts the cache back as it was before the changes (not after `replaced`). */
  undo(): void;
}

/** Runs `changes` in order on the cache's state, each alert they touch copied first (readers keep theirs). */
export function applyBatch(cache: Cache, changes: Array<(data: StoreData) => unknown>): Applied {
  const { state } = cache;
  const originals = new Map<string, AlertRecord | undefined>();
  const tracked = track(state, cache.heads, {
    beforeTouch: (id) => {
      const record = Object.hasOwn(state.alerts, id) ? state.alerts[id] : undefined;
      originals.set(id, record);
      if (record) state.alerts[id] = structuredClone(record);
    },
  });
  const undo = () => {
    tracked.undo();
    for (const [id, record] of originals) {
      if (record) state.alerts[id] = record;
      else delete state.alerts[id];
    }
  };
  const answers: unknown[] = [];
  for (const change of changes) {
    try {
      answers.push(change(tracked.view));
    } catch (error) {
      const empty = { alerts: [], deleted: [], events: new Map(), snoozes: new Map() };
      return { answers: [], threw: { error }, plan: empty, replaced: false, archiving: undefined, undo };
    }
  }
  const { archiving } = tracked.view;
  const found = tracked.changes();
  // Text in PostgreSQL holds no NUL: one in a person's reply or a webhook's field would fail the commit and lose
  // what it carried. It becomes U+FFFD in the records themselves (copies this batch made), so that the cache
  // holds what the database does.
  for (const touched of found.alerts) if (touched.record) alertWithoutNul(touched.record, touched.t0);
  for (const record of Object.values(archiving ?? {})) withoutNul(record);
  for (const snooze of found.snoozes.values()) if (snooze) withoutNul(snooze);
  return { answers, plan: planOf(found, originals, archiving), replaced: found.replaced, archiving, undo };
}

/** Replaces every NUL character in the strings of `value`, in place (see `applyBatch`). */
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
