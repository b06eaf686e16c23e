// Alert records as rows and back: the scalar columns the queries need, the transcript and the outbox as rows of
// their own, the escalation as a row, and the rest of the record as JSONB. Pure.
import type { AlertRecord, EscalationRecord, OutboxItem, Snooze, TranscriptEntry } from '../port.js';

/** The record's keys that have columns or tables of their own; every other key goes to `doc`. */
const OWN_KEYS = new Set([
  'id',
  'template',
  'userId',
  'channelId',
  'ts',
  'createdAt',
  'lastActivityAt',
  'dedupeKey',
  'nextSeq',
  'transcript',
  'outbox',
  'escalation',
]);

export interface AlertRow {
  id: string;
  /** A bigint: a string as a column, a number inside JSON. */
  rev: string | number;
  archived: boolean;
  template: string;
  user_id: string;
  channel_id: string;
  ts: string | null;
  created_at: string;
  last_activity_at: string;
  dedupe_key: string | null;
  chat_state: string;
  next_seq: number;
  transcript_length: number;
  doc: Record<string, unknown>;
}

export interface TranscriptRow {
  alert_id: string;
  n: number;
  /** The entry's `from`: a word SQL keeps for itself. */
  speaker: TranscriptEntry['from'];
  text: string;
  at: string;
  by: string | null;
  ts: string | null;
}

export interface OutboxRow {
  alert_id: string;
  seq: number;
  effect: OutboxItem['effect'];
  claim: OutboxItem['claim'] | null;
  retry_at: string | null;
  attempts: number | null;
  check_since: string | null;
}

export interface EscalationRow {
  alert_id: string;
  outcome: EscalationRecord['outcome'];
  reason: string;
  severity: EscalationRecord['severity'];
  at: string;
  mention: string | null;
  pagerduty: boolean;
}

/**
 * The record's fields without their own columns or tables: `doc`. Its properties go as [name, value] pairs: jsonb
 * orders an object's keys shortest first, and the details, the case file and the prompts list them as the source
 * sent them.
 */
export function docOf(record: AlertRecord): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (!OWN_KEYS.has(key) && value !== undefined) doc[key] = value;
  if (record.properties) doc.properties = Object.entries(record.properties);
  return doc;
}

/**
 * The record of `row`, built on its `doc`, which becomes the record: a row is read once, and a load of the working
 * set builds thousands (set field by field, as spreading each doc into a new object cost most of a load).
 */
export function recordOf(
  row: AlertRow,
  transcript: TranscriptEntry[],
  outbox: OutboxItem[],
  escalation: EscalationRecord | undefined,
): AlertRecord {
  const record = row.doc as unknown as AlertRecord;
  // Pairs since schema 14's irbot; an object (in jsonb's order) in a row written before.
  const properties: unknown = record.properties;
  if (Array.isArray(properties)) record.properties = Object.fromEntries(properties as [string, string][]);
  record.id = row.id;
  record.template = row.template;
  record.userId = row.user_id;
  record.channelId = row.channel_id;
  record.ts = row.ts;
  record.createdAt = row.created_at;
  record.lastActivityAt = row.last_activity_at;
  // A doc never holds the keys with columns of their own (docOf): those left unset stay absent.
  if (row.dedupe_key !== null) record.dedupeKey = row.dedupe_key;
  record.nextSeq = row.next_seq;
  record.transcript = transcript;
  record.outbox = outbox;
  if (escalation) record.escalation = escalation;
  return record;
}

export function entryOf(row: Pick<TranscriptRow, 'speaker' | 'text' | 'at' | 'by' | 'ts'>): TranscriptEntry {
  return {
    from: row.speaker,
    text: row.text,
    at: row.at,
    ...(row.by !== null ? { by: row.by } : {}),
    ...(row.ts !== null ? { ts: row.ts } : {}),
  };
}

export function itemOf(row: OutboxRow): OutboxItem {
  return {
    seq: row.seq,
    effect: row.effect,
    ...(row.claim !== null ? { claim: row.claim } : {}),
    ...(row.retry_at !== null ? { retryAt: row.retry_at } : {}),
    ...(row.attempts !== null ? { attempts: row.attempts } : {}),
    ...(row.check_since !== null ? { checkSince: row.check_since } : {}),
  };
}

export function escalationOf(row: EscalationRow): EscalationRecord {
  return {
    outcome: row.outcome,
    reason: row.reason,
    severity: row.severity,
    at: row.at,
    mention: row.mention,
    pagerduty: row.pagerduty,
  };
}

/** What one alert's commit writes: its row, and its transcript and outbox rows that changed. */
export interface AlertWrite {
  record: AlertRecord;
  archived: boolean;
  /** Transcript lines from this index on are written; with `rewrite`, those stored from it on are deleted first. */
  from: number;
  rewrite: boolean;
  /** New to the database: its outbox and escalation rows (of an archived namesake) are cleared first. */
  fresh: boolean;
  outboxDeleted: number[];
  /** Items new or changed, or moved: with their place in the outbox (`pos`), which is its order, not `seq`. */
  outboxWritten: Array<{ item: OutboxItem; pos: number }>;
  /** undefined: unchanged; null: deleted. */
  escalation: EscalationRecord | null | undefined;
}

/** Everything one commit writes. */
export interface WritePlan {
  alerts: AlertWrite[];
  deleted: string[];
  events: Map<string, string | undefined>;
  snoozes: Map<string, Snooze | undefined>;
}

/** The write of `record`, which was `old` (undefined: new) with lines before `t0` unchanged. */
export function alertWrite(
  old: AlertRecord | undefined,
  record: AlertRecord,
  t0: number,
  archived: boolean,
): AlertWrite {
  // An item's place is part of what is stored: a DM's relay is queued where the DM was, ahead of later seqs.
  const stored = (item: OutboxItem, pos: number) => `${pos} ${JSON.stringify(item)}`;
  const before = new Map((old?.outbox ?? []).map((item, pos) => [item.seq, stored(item, pos)]));
  const after = new Set(record.outbox.map((item) => item.seq));
  const from = old ? Math.min(t0, old.transcript.length) : 0;
  const escalationChanged = JSON.stringify(old?.escalation) !== JSON.stringify(record.escalation);
  return {
    record,
    archived,
    from,
    rewrite: old === undefined || from < old.transcript.length,
    fresh: old === undefined,
    outboxDeleted: [...before.keys()].filter((seq) => !after.has(seq)),
    outboxWritten: record.outbox
      .map((item, pos) => ({ item, pos }))
      .filter(({ item, pos }) => before.get(item.seq) !== stored(item, pos)),
    escalation: escalationChanged || old === undefined ? (record.escalation ?? null) : undefined,
  };
}

/** The index from which `record`'s transcript differs from `old`'s, comparing the line at the seam. */
export function appendedFrom(old: AlertRecord | undefined, record: AlertRecord): number {
  if (!old) return 0;
  const n = old.transcript.length;
  if (record.transcript.length < n) return 0;
  if (n === 0) return 0;
  return JSON.stringify(old.transcript[n - 1]) === JSON.stringify(record.transcript[n - 1]) ? n : 0;
}
