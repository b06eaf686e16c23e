// The PostgreSQL store's schema: ordered migrations (kept as strings in the code, so dist/ needs no SQL files), the
// version table, and applying them at open under an advisory lock.
import type { ClientBase, PoolClient } from 'pg';
import { PgStoreError } from './errors.js';

/**
 * Advisory lock keys of this schema (any constant would do; these spell "irbot" and a purpose). Every transaction
 * takes TRANSACTION_LOCK, so that replicas on several machines are serialised as processes on one machine are by
 * the lowdb store's file lock.
 */
export const TRANSACTION_LOCK = 0x6972626f74_01;
export const MIGRATION_LOCK = 0x6972626f74_02;

/**
 * Times are ISO strings as the app writes them (text, compared as text like the app does): a record reads back
 * exactly as it was written. `rev` is the transaction that last wrote a row: a store catches up on rev > its own.
 */
const INIT = `
CREATE SEQUENCE irbot_rev;

CREATE TABLE irbot_alerts (
  id text PRIMARY KEY,
  rev bigint NOT NULL,
  -- Closed alerts moved out of the working set (archiveAlert).
  archived boolean NOT NULL DEFAULT false,
  template text NOT NULL,
  user_id text NOT NULL,
  channel_id text NOT NULL,
  ts text,
  created_at text NOT NULL,
  last_activity_at text NOT NULL,
  dedupe_key text,
  chat_state text NOT NULL,
  next_seq integer NOT NULL,
  transcript_length integer NOT NULL,
  -- The rest of the record (name, properties, chat, pending, deliveries…).
  doc jsonb NOT NULL
);
CREATE INDEX irbot_alerts_rev ON irbot_alerts (rev);
CREATE INDEX irbot_alerts_archive ON irbot_alerts (created_at) WHERE archived;
CREATE INDEX irbot_alerts_working ON irbot_alerts (id) WHERE NOT archived;
-- A retrying source's second delivery posts nothing: the app looks the key up in the working set.
CREATE UNIQUE INDEX irbot_alerts_dedupe_key ON irbot_alerts (dedupe_key) WHERE dedupe_key IS NOT NULL AND NOT archived;
-- "Is the person busy": their open chats.
CREATE INDEX irbot_alerts_open_chats ON irbot_alerts (user_id)
  WHERE NOT archived AND chat_state IN ('queued', 'scheduled', 'active');

-- Append only, but for a rewrite from line n on.
CREATE TABLE irbot_transcript (
  alert_id text NOT NULL REFERENCES irbot_alerts (id) ON DELETE CASCADE,
  n integer NOT NULL,
  rev bigint NOT NULL,
  speaker text NOT NULL,
  text text NOT NULL,
  at text NOT NULL,
  by text,
  ts text,
  PRIMARY KEY (alert_id, n)
);
CREATE INDEX irbot_transcript_rev ON irbot_transcript (rev);

CREATE TABLE irbot_outbox (
  alert_id text NOT NULL REFERENCES irbot_alerts (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  effect jsonb NOT NULL,
  claim jsonb,
  retry_at text,
  attempts integer,
  check_since text,
  PRIMARY KEY (alert_id, seq)
);
CREATE INDEX irbot_outbox_retry ON irbot_outbox (retry_at) WHERE retry_at IS NOT NULL;

CREATE TABLE irbot_escalations (
  alert_id text PRIMARY KEY REFERENCES irbot_alerts (id) ON DELETE CASCADE,
  outcome text NOT NULL,
  reason text NOT NULL,
  severity text NOT NULL,
  at text NOT NULL,
  mention text,
  pagerduty boolean NOT NULL
);

-- An event id is applied once: a re-delivered envelope is dropped by this key.
CREATE TABLE irbot_seen_events (
  id text PRIMARY KEY,
  seen_at text NOT NULL,
  rev bigint NOT NULL
);
CREATE INDEX irbot_seen_events_expiry ON irbot_seen_events (seen_at);
CREATE INDEX irbot_seen_events_rev ON irbot_seen_events (rev);

CREATE TABLE irbot_snoozes (
  id text PRIMARY KEY,
  rev bigint NOT NULL,
  template text NOT NULL,
  user_id text,
  until text NOT NULL,
  removed_at text,
  doc jsonb NOT NULL
);
CREATE INDEX irbot_snoozes_rev ON irbot_snoozes (rev);

-- Rows deleted (an alert, an expired event id, a snooze), so that another store's cache drops them too. Pruned
-- once old; a cache older than pruned_rev is loaded again whole.
CREATE TABLE irbot_tombstones (
  rev bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('alert', 'event', 'snooze')),
  id text NOT NULL
);
CREATE INDEX irbot_tombstones_rev ON irbot_tombstones (rev);
CREATE TABLE irbot_state (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  pruned_rev bigint NOT NULL DEFAULT 0
);
INSERT INTO irbot_state DEFAULT VALUES;
`;

/**
 * Migration 2: the Slack budget all replicas share (src/slack/pg-budget.ts), a row per bucket; times are the
 * database's clock in ms. The take is the pure `takeToken` of src/slack/budget.ts in SQL, under the bucket row's
 * lock: refilled to now, then a token taken if it has one (with `whole`, only from a full bucket) and it is not
 * shut, else the milliseconds to wait. A new bucket starts full. `full_at` (when it is full and open again) lets
 * idle rows be dropped by anyone.
 */
const SLACK_BUDGET = `
CREATE TABLE irbot_slack_budget (
  key text PRIMARY KEY,
  tokens float8 NOT NULL,
  at float8 NOT NULL,
  shut_until float8,
  full_at float8 NOT NULL
);
CREATE OR REPLACE FUNCTION irbot_take_token(k text, per_ms float8, burst float8, whole boolean) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  v_now float8 := (extract(epoch from clock_timestamp()) * 1000)::float8;
  b irbot_slack_budget%ROWTYPE;
  v_tokens float8;
  v_wait float8 := 0;
BEGIN
  INSERT INTO irbot_slack_budget (key, tokens, at, full_at) VALUES (k, burst, v_now, v_now)
    ON CONFLICT (key) DO NOTHING;
  SELECT * INTO b FROM irbot_slack_budget WHERE key = k FOR UPDATE;
  v_now := GREATEST(v_now, b.at);
  v_tokens := LEAST(burst, b.tokens + (v_now - b.at) * per_ms);
  IF b.shut_until > v_now THEN
    v_wait := b.shut_until - v_now;
  ELSIF v_tokens < 1 THEN
    v_wait := CEIL((1 - v_tokens) / per_ms);
  ELSIF whole AND v_tokens < burst - 1e-9 THEN
    v_wait := CEIL(LEAST(burst - v_tokens, 1) / per_ms);
  ELSE
    v_tokens := v_tokens - 1;
  END IF;
  UPDATE irbot_slack_budget SET tokens = v_tokens, at = v_now,
    shut_until = CASE WHEN b.shut_until > v_now THEN b.shut_until END,
    full_at = GREATEST(v_now + (burst - v_tokens) / per_ms, COALESCE(b.shut_until, 0))
  WHERE key = k;
  RETURN v_wait;
END $$`;

/**
 * Migration 3: a person is in one chat at a time. Their other alerts' chats wait as `queued` (src/chat/engine.ts:
 * a start finds the person busy in the transaction that applies it); this makes a bug that broke it fail its commit
 * instead of writing to the person twice at once. Checked at commit (deferred), not row by row: a transaction may end
 * one chat and start the next in either order.
 */
const ONE_CHAT_PER_PERSON = `
ALTER TABLE irbot_alerts ADD CONSTRAINT irbot_alerts_one_chat_per_person
  EXCLUDE USING btree (user_id WITH =) WHERE (NOT archived AND chat_state IN ('active', 'scheduled'))
  DEFERRABLE INITIALLY DEFERRED;
`;

/**
 * Migration 4: the report's facts (src/report/facts.ts) of an archived alert, written as it is archived, so that
 * `irbot report` reads a short row per alert instead of its transcript and outbox.
 */
const ARCHIVED_FACTS = `
ALTER TABLE irbot_alerts ADD COLUMN facts jsonb;
`;

/**
 * Migration 5: the archive scans (`report`, `status --all`, `transcript`) page through archived alerts in (rev, id)
 * order; without this index every page sorted all the archived rows left (report --since all over 98,000 archived
 * alerts read whole: 12 s; with it 5 s, bench scenario report-pg; the report now reads the facts column instead).
 */
const ARCHIVE_SCAN = 'CREATE INDEX irbot_alerts_archive_scan ON irbot_alerts (rev, id) WHERE archived';

/**
 * Migration 6: an outbox's order is its own, not its items' order of creation (a DM's "sent" relay goes where the
 * DM was queued, ahead of a "received" relay queued meanwhile); read in seq order, another replica coalesced a
 * thread post with an item it had already taken, and posted a relay line twice.
 */
const OUTBOX_ORDER = `
ALTER TABLE irbot_outbox ADD COLUMN pos integer;
UPDATE irbot_outbox SET pos = seq;
ALTER TABLE irbot_outbox ALTER COLUMN pos SET NOT NULL;
`;

/** Migration n takes the schema from version n - 1 to n. */
export const MIGRATIONS: readonly string[] = [
  INIT,
  SLACK_BUDGET,
  ONE_CHAT_PER_PERSON,
  ARCHIVED_FACTS,
  ARCHIVE_SCAN,
  OUTBOX_ORDER,
];

/** The schema version this irbot writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The schema version of the database (0: none yet), read without a lock. */
export async function schemaVersion(client: ClientBase): Promise<number> {
  const table = await client.query<{ exists: boolean }>(`SELECT to_regclass('irbot_schema') IS NOT NULL AS exists`);
  if (!table.rows[0]?.exists) return 0;
  const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM irbot_schema');
  return rows[0]?.version ?? 0;
}

/**
 * Brings the database up to SCHEMA_VERSION, each migration in its own transaction, under an advisory lock (two
 * replicas starting at once: the second waits, then finds it done). Refuses a database of a newer irbot.
 */
export async function migrateSchema(client: PoolClient, where: string): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS irbot_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const current = await schemaVersion(client);
    if (current > SCHEMA_VERSION) {
      throw new PgStoreError(
        `Database ${where} was written by a newer irbot (schema ${current}, this one knows ${SCHEMA_VERSION})`,
        'run that irbot version or a later one; this one will not write to it',
      );
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await client.query('BEGIN');
      try {
        await client.query(MIGRATIONS[version - 1] as string);
        await client.query('INSERT INTO irbot_schema (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
