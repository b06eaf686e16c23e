// The PostgreSQL store's writes: a transaction's changes as a plan of rows (only what it touched), written by one
// statement run in the server (irbot_write, or irbot_commit_scoped with its check: schema.ts, migrations 7 and 11);
// and the whole working set at once, for `store migrate` and for a map swapped whole.
import type { ClientBase } from 'pg';
import { factsOf } from '../../report/facts.js';
import type { Changes, ReadScope } from '../journal.js';
import type { AlertRecord, StoreData } from '../port.js';
import type { Delta } from './load.js';
import { alertWrite, appendedFrom, docOf, type WritePlan } from './rows.js';

/** Tombstones kept: a cache further behind than this loads the working set again whole. */
const TOMBSTONE_KEEP = 10_000;

/** The write plan of a transaction, from what it changed and what each touched alert was before it. */
export function planOf(
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
export async function replaceAll(
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

/** A write plan as `irbot_write` takes it (migration 7): each key an array of rows, absent when there are none. */
type PlanRows = Record<string, unknown[]>;

/** The plan's rows, by the keys `irbot_write` reads; empty kinds left out, so that it skips their statements. */
function rowsOf(plan: WritePlan): PlanRows {
  const writes = plan.alerts;
  const rows: PlanRows = {
    deleted: plan.deleted,
    alerts: writes.map(({ record, archived }) => ({
      id: record.id,
      archived,
      template: record.template,
      user_id: record.userId,
      channel_id: record.channelId,
      ts: record.ts,
      created_at: record.createdAt,
      last_activity_at: record.lastActivityAt,
      dedupe_key: record.dedupeKey ?? null,
      chat_state: record.chat.state,
      next_seq: record.nextSeq,
      transcript_length: record.transcript.length,
      doc: docOf(record),
      // An archived alert's report facts, kept with it: a report reads them, never the whole alert.
      facts: archived ? factsOf(record) : null,
    })),
    // An archived alert of the same id (ids are short) leaves no outbox or escalation to the new one.
    fresh: writes.filter((w) => w.fresh).map((w) => w.record.id),
    rewrites: writes.filter((w) => w.rewrite).map((w) => ({ id: w.record.id, n: w.from })),
    lines: writes.flatMap((w) =>
      w.record.transcript.slice(w.from).map((line, i) => ({
        alert_id: w.record.id,
        n: w.from + i,
        speaker: line.from,
        text: line.text,
        at: line.at,
        by: line.by ?? null,
        ts: line.ts ?? null,
      })),
    ),
    outboxGone: writes.flatMap((w) => w.outboxDeleted.map((seq) => ({ id: w.record.id, seq }))),
    outbox: writes.flatMap((w) =>
      w.outboxWritten.map(({ item, pos }) => ({
        alert_id: w.record.id,
        seq: item.seq,
        effect: item.effect,
        claim: item.claim ?? null,
        retry_at: item.retryAt ?? null,
        attempts: item.attempts ?? null,
        check_since: item.checkSince ?? null,
        pos,
      })),
    ),
    unescalated: writes.filter((w) => w.escalation === null && !w.fresh).map((w) => w.record.id),
    escalations: writes.flatMap((w) => (w.escalation ? [{ alert_id: w.record.id, ...w.escalation }] : [])),
    seen: [...plan.events].flatMap(([id, at]) => (at === undefined ? [] : [{ id, at }])),
    seenGone: [...plan.events].flatMap(([id, at]) => (at === undefined ? [id] : [])),
    snoozes: [...plan.snoozes].flatMap(([id, snooze]) =>
      snooze === undefined
        ? []
        : [
            {
              id,
              template: snooze.template,
              user_id: snooze.user ?? null,
              until: snooze.until,
              removed_at: snooze.removedAt ?? null,
              doc: snooze,
            },
          ],
    ),
    snoozesGone: [...plan.snoozes].flatMap(([id, snooze]) => (snooze === undefined ? [id] : [])),
  };
  for (const [key, list] of Object.entries(rows)) if (list.length === 0) delete rows[key];
  return rows;
}

/** Alerts written per statement: a whole store copied (`store migrate`) goes in pieces, not as one huge document. */
const ALERTS_PER_WRITE = 1_000;

/**
 * Writes `plan` as transaction `rev` in one statement (`irbot_write`, run in the server; a plan of more alerts than
 * ALERTS_PER_WRITE in several), which also advances the rev and notifies watchers; the caller commits.
 */
export async function writePlan(client: ClientBase, plan: WritePlan, rev: number): Promise<void> {
  for (let from = 0; from === 0 || from < plan.alerts.length; from += ALERTS_PER_WRITE) {
    const alerts = plan.alerts.slice(from, from + ALERTS_PER_WRITE);
    const part = from === 0 ? { ...plan, alerts } : { alerts, deleted: [], events: new Map(), snoozes: new Map() };
    await client.query({
      name: 'irbot_write',
      text: WRITE,
      values: [rev, JSON.stringify(rowsOf(part)), TOMBSTONE_KEEP],
    });
  }
}

const WRITE = 'SELECT irbot_write($1, $2, $3)';

/**
 * What a commit from a cache that was behind answers when another commit since changed what the batch read: the
 * delta since its mark, read outside the lock (its rev may be a transaction in flight: catch up to the highest rev
 * among its rows), or null when the cache fell behind while the commit waited for the lock (read the delta, also
 * outside it). Nothing was written.
 */
export interface Behind {
  unlocked: Delta | null;
}

/**
 * What it answers when the commits since changed nothing the batch read (its ReadScope): the batch was written, as
 * transaction `past` (null: it wrote nothing), after those commits, which the cache has still to catch up on:
 * `missed` holds them as read before the lock (null when there were none yet; commits may have come after it).
 */
export interface Past {
  past: number | null;
  missed: Delta | null;
}

/**
 * Commits `plan` (null: nothing to write) as the next transaction, in one statement of its own
 * (`irbot_commit_scoped`, schema.ts, migration 11): if no other came after `expected`, null; if others came but
 * changed nothing in `scope`, Past; else nothing is written, and Behind says what to read.
 */
export async function commitAlone(
  client: ClientBase,
  expected: number,
  plan: WritePlan | null,
  sync: boolean,
  scope: ReadScope | null,
): Promise<Behind | Past | null> {
  const rows = plan ? JSON.stringify(rowsOf(plan)) : null;
  const { rows: answer } = await client.query<{ answer: Behind | Past | null }>({
    name: 'irbot_commit_scoped',
    text: COMMIT_ALONE,
    values: [expected, rows, TOMBSTONE_KEEP, sync, scope && JSON.stringify(scope)],
  });
  return answer[0]?.answer ?? null;
}

const COMMIT_ALONE = 'SELECT irbot_commit_scoped($1, $2, $3, $4, $5) AS answer';

/** Whether the plan writes nothing. */
export function isEmpty(plan: WritePlan): boolean {
  return plan.alerts.length === 0 && plan.deleted.length === 0 && plan.events.size === 0 && plan.snoozes.size === 0;
}
