// A batch of changes applied to the PostgreSQL store's cache: what they answered, the rows they wrote, and how to
// take them back (a commit that found another replica's transaction in between runs them again on what it wrote).
import { clonePlain } from '../clone.js';
import { type ReadScope, track } from '../journal.js';
import type { AlertRecord, StoreData } from '../port.js';
import { type Cache, forgetAlert, noteAlert, peopleOf } from './load.js';
import type { WritePlan } from './rows.js';
import { storable, storableAlert } from './text.js';
import { planOf } from './write.js';

export interface Applied {
  /** The changes' answers, in order; absent when one of them threw (`threw`). */
  answers: unknown[];
  threw?: { error: unknown };
  plan: WritePlan;
  /** What the changes read, when they read only alerts by id or by person and event ids by key (ReadScope). */
  scope: ReadScope | null;
  /** A change swapped a map whole: the working set is written whole, and cannot be taken back. */
  replaced: boolean;
  archiving: Record<string, AlertRecord> | undefined;
  /** Puts the cache back as it was before the changes (not after `replaced`). */
  undo(): void;
  /** Once they are committed: the cache's alerts by person learn those they added and forget those they removed. */
  stand(): void;
}

/**
 * A copy a change may alter while readers keep the original: all of it but the transcript's lines, which are never
 * changed once written (lines are appended or inserted, as the journal assumes), so that a long chat's transaction
 * does not copy its whole transcript.
 */
function copyOf(record: AlertRecord): AlertRecord {
  const { transcript, ...rest } = record;
  return { ...clonePlain(rest), transcript: [...transcript] };
}

/** Runs `changes` in order on the cache's state, each alert they touch copied first (readers keep theirs). */
export function applyBatch(cache: Cache, changes: Array<(data: StoreData) => unknown>): Applied {
  const { state } = cache;
  // Made before the changes run: made from a state a change had altered, it would lack what an undo brings back.
  const people = peopleOf(cache);
  const originals = new Map<string, AlertRecord | undefined>();
  const tracked = track(state, cache.heads, {
    beforeTouch: (id) => {
      const record = Object.hasOwn(state.alerts, id) ? state.alerts[id] : undefined;
      originals.set(id, record);
      if (record) state.alerts[id] = copyOf(record);
    },
    idsOfPerson: (userId) => people.get(userId) ?? [],
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
      const none = { plan: empty, scope: null, replaced: false, archiving: undefined, stand: () => undefined };
      return { answers: [], threw: { error }, ...none, undo };
    }
  }
  const { archiving } = tracked.view;
  const found = tracked.changes();
  // What PostgreSQL cannot hold (a NUL, half a surrogate pair) becomes U+FFFD in the records themselves (copies
  // this batch made), so that the cache holds what the database does (see text.ts).
  for (const touched of found.alerts) if (touched.record) storableAlert(touched.record, touched.t0);
  for (const record of Object.values(archiving ?? {})) storable(record);
  for (const snooze of found.snoozes.values()) if (snooze) storable(snooze);
  const plan = planOf(found, originals, archiving);
  const stand = () => {
    // A map swapped whole: made again from it at the next look by person.
    if (found.replaced) cache.people = undefined;
    for (const { id, record } of found.alerts) {
      if (record) noteAlert(cache, record.userId, id);
      else forgetAlert(cache, originals.get(id)?.userId, id);
    }
  };
  return { answers, plan, scope: tracked.scope(), replaced: found.replaced, archiving, undo, stand };
}
