// The PostgreSQL store's writes: a transaction's changes as a plan of rows (only what it touched), written one
// statement per kind of row; and the whole working set at once, for `store migrate` and for a map swapped whole.
import { createHash } from 'node:crypto';
import type { ClientBase } from 'pg';
import { factsOf } from '../../report/facts.js';
import type { Changes } from '../journal.js';
import type { AlertRecord, Snooze, StoreData } from '../port.js';
import { type AlertWrite, alertWrite, appendedFrom, docOf, type WritePlan } from './rows.js';

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

const ALERT_COLUMNS =
  'id, archived, template, user_id, channel_id, ts, created_at, last_activity_at, dedupe_key, chat_state, next_seq, transcript_length, doc, facts';

/** The name each statement text is prepared under (on each connection once, by node-postgres). */
const names = new Map<string, string>();

/**
 * Runs a statement of the write plan as a prepared statement: PostgreSQL parses and plans each text once per
 * connection rather than on every transaction, a good part of a small transaction's time.
 */
function prepared(client: ClientBase, text: string, values: unknown[]): Promise<unknown> {
  let name = names.get(text);
  if (name === undefined) {
    name = `irbot_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return client.query({ name, text, values });
}

/** Writes `plan` as transaction `rev`, a statement per kind of row (rows of a kind go in arrays, one round trip). */
export async function writePlan(client: ClientBase, plan: WritePlan, rev: number): Promise<void> {
  const tombstones: Array<[string, string]> = [];
  if (plan.deleted.length > 0) {
    await prepared(client, 'DELETE FROM irbot_alerts WHERE id = ANY($1::text[])', [plan.deleted]);
    for (const id of plan.deleted) tombstones.push(['alert', id]);
  }
  const writes = plan.alerts;
  if (writes.length > 0) {
    const cols = (f: (w: AlertWrite) => unknown) => writes.map(f);
    await prepared(
      client,
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
    await prepared(client, 'DELETE FROM irbot_outbox WHERE alert_id = ANY($1::text[])', [fresh]);
    await prepared(client, 'DELETE FROM irbot_escalations WHERE alert_id = ANY($1::text[])', [fresh]);
  }
  const rewrites = writes.filter((w) => w.rewrite);
  if (rewrites.length > 0) {
    await prepared(
      client,
      `DELETE FROM irbot_transcript t USING unnest($1::text[], $2::int[]) AS u(id, n)
       WHERE t.alert_id = u.id AND t.n >= u.n`,
      [rewrites.map((w) => w.record.id), rewrites.map((w) => w.from)],
    );
  }
  const lines = writes.flatMap((w) =>
    w.record.transcript.slice(w.from).map((line, i) => ({ id: w.record.id, n: w.from + i, line })),
  );
  if (lines.length > 0) {
    await prepared(
      client,
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
    await prepared(
      client,
      `DELETE FROM irbot_outbox o USING unnest($1::text[], $2::int[]) AS u(id, seq)
       WHERE o.alert_id = u.id AND o.seq = u.seq`,
      [gone.map((g) => g.id), gone.map((g) => g.seq)],
    );
  }
  const items = writes.flatMap((w) => w.outboxWritten.map(({ item, pos }) => ({ id: w.record.id, item, pos })));
  if (items.length > 0) {
    await prepared(
      client,
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
    await prepared(client, 'DELETE FROM irbot_escalations WHERE alert_id = ANY($1::text[])', [unescalated]);
  }
  const escalated = writes.flatMap((w) => (w.escalation ? [{ id: w.record.id, e: w.escalation }] : []));
  if (escalated.length > 0) {
    await prepared(
      client,
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
    await prepared(
      client,
      `INSERT INTO irbot_seen_events (id, seen_at, rev) SELECT u.id, u.at, $1 FROM unnest($2::text[], $3::text[]) AS u(id, at)
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, rev = EXCLUDED.rev`,
      [rev, seenSet.map(([id]) => id), seenSet.map(([, at]) => at)],
    );
  }
  if (seenGone.length > 0) {
    await prepared(client, 'DELETE FROM irbot_seen_events WHERE id = ANY($1::text[])', [seenGone]);
    for (const id of seenGone) tombstones.push(['event', id]);
  }
  const snoozeSet = [...plan.snoozes].filter((s): s is [string, Snooze] => s[1] !== undefined);
  const snoozeGone = [...plan.snoozes].filter(([, s]) => s === undefined).map(([id]) => id);
  if (snoozeSet.length > 0) {
    await prepared(
      client,
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
    await prepared(client, 'DELETE FROM irbot_snoozes WHERE id = ANY($1::text[])', [snoozeGone]);
    for (const id of snoozeGone) tombstones.push(['snooze', id]);
  }
  if (tombstones.length > 0) {
    await prepared(
      client,
      'INSERT INTO irbot_tombstones (rev, kind, id) SELECT $1, * FROM unnest($2::text[], $3::text[])',
      [rev, tombstones.map(([kind]) => kind), tombstones.map(([, id]) => id)],
    );
    await prepared(
      client,
      `WITH gone AS (DELETE FROM irbot_tombstones WHERE rev <= $1 RETURNING rev)
       UPDATE irbot_state SET pruned_rev = greatest(pruned_rev, (SELECT max(rev) FROM gone))
       WHERE EXISTS (SELECT 1 FROM gone)`,
      [rev - TOMBSTONE_KEEP],
    );
  }
}

/** Whether the plan writes nothing. */
export function isEmpty(plan: WritePlan): boolean {
  return plan.alerts.length === 0 && plan.deleted.length === 0 && plan.events.size === 0 && plan.snoozes.size === 0;
}
