// A batch of queued changes committed to PostgreSQL: first optimistically, in one statement that commits unless
// another replica's transaction in between changed what the batch read (then the changes run again on what it
// wrote), else under the lock.
import type { ClientBase, QueryResult } from 'pg';
import { type StoreData, syncWanted, type TransactOptions } from '../port.js';
import { type Applied, applyBatch } from './apply.js';
import { type Cache, catchUp, deltaFrom, deltaOf, deltaQuery, emptyCache } from './load.js';
import { TRANSACTION_LOCK } from './schema.js';
import { type Behind, commitAlone, isEmpty, type Past, replaceAll, writePlan } from './write.js';

/** A change waiting for its turn in a group commit. */
export interface Pending {
  change: (data: StoreData) => unknown;
  /** False: commit without waiting for the WAL flush; a later synced commit or `flush` makes it durable (TransactOptions). */
  sync: TransactOptions['sync'];
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * What a store keeps between its transactions: the working set (null: load it again whole), and whether a commit
 * since the last synced one was not.
 */
export interface Kept {
  cache: Cache | null;
  unsynced: boolean;
}

/** Optimistic turns of a batch before it takes the lock first: under contention it then waits, not loses again. */
const OPTIMISTIC_TRIES = 2;

/**
 * Commits `batch` on `client` and settles each change's promise ('done'), or hands it back to be redone one by one
 * ('redo': one of its changes threw). First optimistically: the changes run on the kept cache and go to the server
 * in one statement, which commits them unless a transaction in between changed what they read (their ReadScope;
 * all of it when they scanned); then it answers what came, the cache catches up, and they run again. After
 * OPTIMISTIC_TRIES such turns, the batch takes the lock first and runs under it. Throws what the database answered
 * (the caller decides who fails); `kept` is then as it should be.
 */
export async function commitBatch(client: ClientBase, kept: Kept, batch: Pending[]): Promise<'done' | 'redo'> {
  let working = kept.cache;
  kept.cache = null;
  for (let tries = 0; working && tries < OPTIMISTIC_TRIES; tries++) {
    const applied = applyBatch(
      working,
      batch.map((p) => p.change),
    );
    // A map swapped whole cannot be taken back: the copy is dropped, and the batch runs under the lock on a fresh one.
    if (applied.replaced) return underLock(client, kept, emptyCache(), batch);
    if (applied.threw) return threw(kept, batch, working, applied);
    const sync = batch.some((p, i) => syncWanted(p.sync, applied.answers[i]));
    const writes = !isEmpty(applied.plan);
    let answer: Behind | Past | null;
    try {
      answer = await commitAlone(client, working.mark, writes ? applied.plan : null, sync, applied.scope);
    } catch (err) {
      // Nothing was written, or all of it (a connection lost at the commit): the next catch-up brings it.
      applied.undo();
      kept.cache = working;
      throw err;
    }
    if (answer !== null && 'unlocked' in answer) {
      applied.undo();
      // Read outside the lock: the cache takes the highest rev among the rows, not the delta's own.
      working = await catchUp(client, working, answer.unlocked ?? (await deltaOf(client, working.mark)), false);
      continue;
    }
    applied.stand();
    if (answer === null) {
      if (writes) {
        working.mark += 1;
        kept.unsynced = !sync;
      }
      return settled(kept, batch, working, applied.answers);
    }
    if (answer.past !== null) kept.unsynced = !sync;
    return settled(kept, batch, await caughtUpPast(client, working, answer), applied.answers);
  }
  return underLock(client, kept, working ?? emptyCache(), batch);
}

/** The pessimistic way: takes the lock, catches up under it, runs the changes, writes and commits. */
async function underLock(client: ClientBase, kept: Kept, from: Cache, batch: Pending[]): Promise<'done' | 'redo'> {
  const results = (await client.query(
    `BEGIN; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK}); ${deltaQuery(from.mark)}`,
  )) as unknown as QueryResult[];
  const delta = deltaFrom(results.slice(2), from.mark);
  let working = from;
  try {
    // Under the lock every transaction up to delta.rev has committed.
    if (working.mark !== delta.rev) working = await catchUp(client, working, delta, true);
    const applied = applyBatch(
      working,
      batch.map((p) => p.change),
    );
    if (applied.threw) {
      await client.query('ROLLBACK');
      return threw(kept, batch, working, applied);
    }
    if (!applied.replaced && isEmpty(applied.plan)) {
      await client.query('COMMIT');
    } else {
      const rev = working.mark + 1;
      const sync = batch.some((p, i) => syncWanted(p.sync, applied.answers[i]));
      if (applied.replaced) await replaceAll(client, working.state, applied.archiving, rev);
      else await writePlan(client, applied.plan, rev);
      await client.query(sync ? 'COMMIT' : 'SET LOCAL synchronous_commit = off; COMMIT');
      applied.stand();
      working.mark = rev;
      // A synchronous commit waits for the WAL up to it, and with it for every commit before it.
      kept.unsynced = !sync;
    }
    return settled(kept, batch, working, applied.answers);
  } catch (err) {
    // The cache may hold part of the failed change: it is dropped, and loaded again by the next use.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The cache after its batch was committed past other replicas' commits that changed nothing it read (Past): caught
 * up on those, or, when that fails, null (loaded again whole at the next use). The batch is committed either way.
 */
async function caughtUpPast(client: ClientBase, working: Cache, { past, missed }: Past): Promise<Cache | null> {
  try {
    // What the commit read before the lock; its mark is the highest rev among its rows.
    let cache = missed ? await catchUp(client, working, missed, false) : working;
    // A batch that wrote nothing answered from what it read, which no commit since changed: its cache stands.
    if (past === null) return cache;
    // Commits that came after that read (or a rev taken and rolled back): read now, this batch's own rows left out.
    if (cache.mark < past - 1) cache = await catchUp(client, cache, await deltaOf(client, cache.mark), false, past);
    cache.mark = Math.max(cache.mark, past);
    return cache;
  } catch {
    return null;
  }
}

function settled(kept: Kept, batch: Pending[], working: Cache | null, answers: unknown[]): 'done' {
  kept.cache = working;
  for (const [i, p] of batch.entries()) p.resolve(answers[i]);
  return 'done';
}

/** A change threw: the batch is redone one change at a time, or that one change fails; the cache is as it was. */
function threw(kept: Kept, batch: Pending[], working: Cache, applied: Applied): 'done' | 'redo' {
  applied.undo();
  kept.cache = working;
  if (batch.length > 1) return 'redo';
  batch[0]?.reject(applied.threw?.error);
  return 'done';
}
