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

/**
 * Migration 7: a transaction's reads and writes in one statement each, run in the server. `irbot_delta(mark)` is a
 * cache's catching up (every row written since transaction `mark` > 0, and the last rev taken) as one JSON document;
 * `irbot_write(rev, plan, keep)` writes a transaction's plan (src/store/pg/write.ts), its tombstones (keeping the
 * last `keep` revs), and advances and notifies the rev. Eight statements a catch-up and up to fifteen a write, each
 * a round trip under the lock every transaction takes, were most of a transaction's time, and with several
 * replicas most of the lock's (bench campaign-pg-x3).
 */
const ONE_STATEMENT = `
CREATE OR REPLACE FUNCTION irbot_delta(mark bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
  -- mark > 0: a whole load reads the working set by its own query (src/store/pg/load.ts), as rows.
  RETURN json_build_object(
    'rev', (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM irbot_rev),
    'pruned', (SELECT pruned_rev FROM irbot_state),
    'tombstones', (SELECT coalesce(json_agg(json_build_object('kind', s.kind, 'id', s.id) ORDER BY s.rev), '[]')
      FROM irbot_tombstones s WHERE s.rev > mark),
    'alerts', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT a.id, a.rev, a.archived, a.template, a.user_id, a.channel_id, a.ts, a.created_at, a.last_activity_at,
             a.dedupe_key, a.chat_state, a.next_seq, a.transcript_length, a.doc
      FROM irbot_alerts a WHERE a.rev > mark) r),
    'transcript', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT t.alert_id, t.n, t.speaker, t.text, t.at, t.by, t.ts
      FROM irbot_transcript t JOIN irbot_alerts a ON a.id = t.alert_id AND NOT a.archived WHERE t.rev > mark) r),
    'outbox', (SELECT coalesce(json_agg(r ORDER BY r.alert_id, r.pos), '[]') FROM (
      SELECT o.alert_id, o.seq, o.effect, o.claim, o.retry_at, o.attempts, o.check_since, o.pos
      FROM irbot_outbox o JOIN irbot_alerts a ON a.id = o.alert_id AND NOT a.archived WHERE a.rev > mark) r),
    'escalations', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT e.* FROM irbot_escalations e JOIN irbot_alerts a ON a.id = e.alert_id AND NOT a.archived
      WHERE a.rev > mark) r),
    'seen', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'seen_at', s.seen_at, 'rev', s.rev)), '[]')
      FROM irbot_seen_events s WHERE s.rev > mark),
    'snoozes', (SELECT coalesce(json_agg(json_build_object('doc', z.doc, 'rev', z.rev)), '[]')
      FROM irbot_snoozes z WHERE z.rev > mark));
END $$;

CREATE OR REPLACE FUNCTION irbot_write(p_rev bigint, plan json, keep bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  gone boolean := false;
BEGIN
  IF plan->'deleted' IS NOT NULL THEN
    DELETE FROM irbot_alerts WHERE id IN (SELECT json_array_elements_text(plan->'deleted'));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'alert', x FROM json_array_elements_text(plan->'deleted') x;
    gone := true;
  END IF;
  IF plan->'alerts' IS NOT NULL THEN
    INSERT INTO irbot_alerts (rev, id, archived, template, user_id, channel_id, ts, created_at, last_activity_at,
                              dedupe_key, chat_state, next_seq, transcript_length, doc, facts)
    SELECT p_rev, u.id, u.archived, u.template, u.user_id, u.channel_id, u.ts, u.created_at, u.last_activity_at,
           u.dedupe_key, u.chat_state, u.next_seq, u.transcript_length, u.doc, u.facts
    FROM ROWS FROM (json_to_recordset(plan->'alerts') AS (id text, archived boolean, template text, user_id text,
           channel_id text, ts text, created_at text, last_activity_at text, dedupe_key text, chat_state text,
           next_seq integer, transcript_length integer, doc jsonb, facts jsonb)) WITH ORDINALITY
         AS u(id, archived, template, user_id, channel_id, ts, created_at, last_activity_at, dedupe_key, chat_state,
              next_seq, transcript_length, doc, facts, k)
    ORDER BY u.k
    ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, archived = EXCLUDED.archived,
      template = EXCLUDED.template, user_id = EXCLUDED.user_id, channel_id = EXCLUDED.channel_id,
      ts = EXCLUDED.ts, created_at = EXCLUDED.created_at, last_activity_at = EXCLUDED.last_activity_at,
      dedupe_key = EXCLUDED.dedupe_key, chat_state = EXCLUDED.chat_state, next_seq = EXCLUDED.next_seq,
      transcript_length = EXCLUDED.transcript_length, doc = EXCLUDED.doc, facts = EXCLUDED.facts;
  END IF;
  IF plan->'fresh' IS NOT NULL THEN
    DELETE FROM irbot_outbox WHERE alert_id IN (SELECT json_array_elements_text(plan->'fresh'));
    DELETE FROM irbot_escalations WHERE alert_id IN (SELECT json_array_elements_text(plan->'fresh'));
  END IF;
  IF plan->'rewrites' IS NOT NULL THEN
    DELETE FROM irbot_transcript t USING json_to_recordset(plan->'rewrites') AS u(id text, n integer)
    WHERE t.alert_id = u.id AND t.n >= u.n;
  END IF;
  IF plan->'lines' IS NOT NULL THEN
    INSERT INTO irbot_transcript (rev, alert_id, n, speaker, text, at, by, ts)
    SELECT p_rev, u.alert_id, u.n, u.speaker, u.text, u.at, u.by, u.ts
    FROM json_to_recordset(plan->'lines')
      AS u(alert_id text, n integer, speaker text, text text, at text, by text, ts text);
  END IF;
  IF plan->'outboxGone' IS NOT NULL THEN
    DELETE FROM irbot_outbox o USING json_to_recordset(plan->'outboxGone') AS u(id text, seq integer)
    WHERE o.alert_id = u.id AND o.seq = u.seq;
  END IF;
  IF plan->'outbox' IS NOT NULL THEN
    INSERT INTO irbot_outbox (alert_id, seq, effect, claim, retry_at, attempts, check_since, pos)
    SELECT u.alert_id, u.seq, u.effect, u.claim, u.retry_at, u.attempts, u.check_since, u.pos
    FROM json_to_recordset(plan->'outbox') AS u(alert_id text, seq integer, effect jsonb, claim jsonb,
      retry_at text, attempts integer, check_since text, pos integer)
    ON CONFLICT (alert_id, seq) DO UPDATE SET effect = EXCLUDED.effect, claim = EXCLUDED.claim,
      retry_at = EXCLUDED.retry_at, attempts = EXCLUDED.attempts, check_since = EXCLUDED.check_since,
      pos = EXCLUDED.pos;
  END IF;
  IF plan->'unescalated' IS NOT NULL THEN
    DELETE FROM irbot_escalations WHERE alert_id IN (SELECT json_array_elements_text(plan->'unescalated'));
  END IF;
  IF plan->'escalations' IS NOT NULL THEN
    INSERT INTO irbot_escalations (alert_id, outcome, reason, severity, at, mention, pagerduty)
    SELECT u.alert_id, u.outcome, u.reason, u.severity, u.at, u.mention, u.pagerduty
    FROM json_to_recordset(plan->'escalations') AS u(alert_id text, outcome text, reason text, severity text,
      at text, mention text, pagerduty boolean)
    ON CONFLICT (alert_id) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
      severity = EXCLUDED.severity, at = EXCLUDED.at, mention = EXCLUDED.mention, pagerduty = EXCLUDED.pagerduty;
  END IF;
  IF plan->'seen' IS NOT NULL THEN
    INSERT INTO irbot_seen_events (id, seen_at, rev)
    SELECT u.id, u.at, p_rev FROM json_to_recordset(plan->'seen') AS u(id text, at text)
    ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, rev = EXCLUDED.rev;
  END IF;
  IF plan->'seenGone' IS NOT NULL THEN
    DELETE FROM irbot_seen_events WHERE id IN (SELECT json_array_elements_text(plan->'seenGone'));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'event', x FROM json_array_elements_text(plan->'seenGone') x;
    gone := true;
  END IF;
  IF plan->'snoozes' IS NOT NULL THEN
    INSERT INTO irbot_snoozes (id, rev, template, user_id, until, removed_at, doc)
    SELECT u.id, p_rev, u.template, u.user_id, u.until, u.removed_at, u.doc
    FROM json_to_recordset(plan->'snoozes')
      AS u(id text, template text, user_id text, until text, removed_at text, doc jsonb)
    ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, template = EXCLUDED.template, user_id = EXCLUDED.user_id,
      until = EXCLUDED.until, removed_at = EXCLUDED.removed_at, doc = EXCLUDED.doc;
  END IF;
  IF plan->'snoozesGone' IS NOT NULL THEN
    DELETE FROM irbot_snoozes WHERE id IN (SELECT json_array_elements_text(plan->'snoozesGone'));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'snooze', x FROM json_array_elements_text(plan->'snoozesGone') x;
    gone := true;
  END IF;
  IF gone THEN
    WITH pruned AS (DELETE FROM irbot_tombstones WHERE rev <= p_rev - keep RETURNING rev)
    UPDATE irbot_state SET pruned_rev = greatest(pruned_rev, (SELECT max(rev) FROM pruned))
    WHERE EXISTS (SELECT 1 FROM pruned);
  END IF;
  PERFORM setval('irbot_rev', p_rev);
  PERFORM pg_notify('irbot_changed', p_rev::text);
END $$;

-- A whole transaction in one statement (run on its own, it is its own transaction): under the lock every
-- transaction takes (TRANSACTION_LOCK, written out: a migration does not change), if no transaction came after
-- expected, writes plan (NULL: nothing, the change only read) as the next rev and answers NULL; else writes
-- nothing and answers the delta since expected, for the caller to catch up and run its changes again.
CREATE OR REPLACE FUNCTION irbot_commit(expected bigint, plan json, keep bigint, sync boolean) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  current bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(115939998659585);
  SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO current FROM irbot_rev;
  IF current <> expected THEN
    RETURN irbot_delta(expected);
  END IF;
  IF plan IS NOT NULL THEN
    IF NOT sync THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM irbot_write(expected + 1, plan, keep);
  END IF;
  RETURN NULL;
END $$;
`;

/**
 * Migration 8: `irbot_write` reads its plan as jsonb, parsed once. As json, each of its twenty `plan->'…'` parsed
 * the whole text again: 0.2 ms a transaction of one alert, and about 2 ms of PostgreSQL's time for each group commit
 * of a campaign (bench campaign-pg-x1), where a plan carries dozens. Migration 7's text stays as it ran.
 */
const PLAN_AS_JSONB = `
CREATE OR REPLACE FUNCTION irbot_write(p_rev bigint, plan json, keep bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  gone boolean := false;
  p jsonb := plan::jsonb;
BEGIN
  IF p ? 'deleted' THEN
    DELETE FROM irbot_alerts WHERE id IN (SELECT jsonb_array_elements_text(p->'deleted'));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'alert', x FROM jsonb_array_elements_text(p->'deleted') x;
    gone := true;
  END IF;
  IF p ? 'alerts' THEN
    INSERT INTO irbot_alerts (rev, id, archived, template, user_id, channel_id, ts, created_at, last_activity_at,
                              dedupe_key, chat_state, next_seq, transcript_length, doc, facts)
    SELECT p_rev, u.id, u.archived, u.template, u.user_id, u.channel_id, u.ts, u.created_at, u.last_activity_at,
           u.dedupe_key, u.chat_state, u.next_seq, u.transcript_length, u.doc, u.facts
    FROM ROWS FROM (jsonb_to_recordset(p->'alerts') AS (id text, archived boolean, template text, user_id text,
           channel_id text, ts text, created_at text, last_activity_at text, dedupe_key text, chat_state text,
           next_seq integer, transcript_length integer, doc jsonb, facts jsonb)) WITH ORDINALITY
         AS u(id, archived, template, user_id, channel_id, ts, created_at, last_activity_at, dedupe_key, chat_state,
              next_seq, transcript_length, doc, facts, k)
    ORDER BY u.k
    ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, archived = EXCLUDED.archived,
      template = EXCLUDED.template, user_id = EXCLUDED.user_id, channel_id = EXCLUDED.channel_id,
      ts = EXCLUDED.ts, created_at = EXCLUDED.created_at, last_activity_at = EXCLUDED.last_activity_at,
      dedupe_key = EXCLUDED.dedupe_key, chat_state = EXCLUDED.chat_state, next_seq = EXCLUDED.next_seq,
      transcript_length = EXCLUDED.transcript_length, doc = EXCLUDED.doc, facts = EXCLUDED.facts;
  END IF;
  IF p ? 'fresh' THEN
    DELETE FROM irbot_outbox WHERE alert_id IN (SELECT jsonb_array_elements_text(p->'fresh'));
    DELETE FROM irbot_escalations WHERE alert_id IN (SELECT jsonb_array_elements_text(p->'fresh'));
  END IF;
  IF p ? 'rewrites' THEN
    DELETE FROM irbot_transcript t USING jsonb_to_recordset(p->'rewrites') AS u(id text, n integer)
    WHERE t.alert_id = u.id AND t.n >= u.n;
  END IF;
  IF p ? 'lines' THEN
    INSERT INTO irbot_transcript (rev, alert_id, n, speaker, text, at, by, ts)
    SELECT p_rev, u.alert_id, u.n, u.speaker, u.text, u.at, u.by, u.ts
    FROM jsonb_to_recordset(p->'lines')
      AS u(alert_id text, n integer, speaker text, text text, at text, by text, ts text);
  END IF;
  IF p ? 'outboxGone' THEN
    DELETE FROM irbot_outbox o USING jsonb_to_recordset(p->'outboxGone') AS u(id text, seq integer)
    WHERE o.alert_id = u.id AND o.seq = u.seq;
  END IF;
  IF p ? 'outbox' THEN
    INSERT INTO irbot_outbox (alert_id, seq, effect, claim, retry_at, attempts, check_since, pos)
    SELECT u.alert_id, u.seq, u.effect, u.claim, u.retry_at, u.attempts, u.check_since, u.pos
    FROM jsonb_to_recordset(p->'outbox') AS u(alert_id text, seq integer, effect jsonb, claim jsonb,
      retry_at text, attempts integer, check_since text, pos integer)
    ON CONFLICT (alert_id, seq) DO UPDATE SET effect = EXCLUDED.effect, claim = EXCLUDED.claim,
      retry_at = EXCLUDED.retry_at, attempts = EXCLUDED.attempts, check_since = EXCLUDED.check_since,
      pos = EXCLUDED.pos;
  END IF;
  IF p ? 'unescalated' THEN
    DELETE FROM irbot_escalations WHERE alert_id IN (SELECT jsonb_array_elements_text(p->'unescalated'));
  END IF;
  IF p ? 'escalations' THEN
    INSERT INTO irbot_escalations (alert_id, outcome, reason, severity, at, mention, pagerduty)
    SELECT u.alert_id, u.outcome, u.reason, u.severity, u.at, u.mention, u.pagerduty
    FROM jsonb_to_recordset(p->'escalations') AS u(alert_id text, outcome text, reason text, severity text,
      at text, mention text, pagerduty boolean)
    ON CONFLICT (alert_id) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
      severity = EXCLUDED.severity, at = EXCLUDED.at, mention = EXCLUDED.mention, pagerduty = EXCLUDED.pagerduty;
  END IF;
  IF p ? 'seen' THEN
    INSERT INTO irbot_seen_events (id, seen_at, rev)
    SELECT u.id, u.at, p_rev FROM jsonb_to_recordset(p->'seen') AS u(id text, at text)
    ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, rev = EXCLUDED.rev;
  END IF;
  IF p ? 'seenGone' THEN
    DELETE FROM irbot_seen_events WHERE id IN (SELECT jsonb_array_elements_text(p->'seenGone'));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'event', x FROM jsonb_array_elements_text(p->'seenGone') x;
    gone := true;
  END IF;
  IF p ? 'snoozes' THEN
    INSERT INTO irbot_snoozes (id, rev, template, user_id, until, removed_at, doc)
    SELECT u.id, p_rev, u.template, u.user_id, u.until, u.removed_at, u.doc
    FROM jsonb_to_recordset(p->'snoozes')
      AS u(id text, template text, user_id text, until text, removed_at text, doc jsonb)
    ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, template = EXCLUDED.template, user_id = EXCLUDED.user_id,
      until = EXCLUDED.until, removed_at = EXCLUDED.removed_at, doc = EXCLUDED.doc;
  END IF;
  IF p ? 'snoozesGone' THEN
    DELETE FROM irbot_snoozes WHERE id IN (SELECT jsonb_array_elements_text(p->'snoozesGone'));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'snooze', x FROM jsonb_array_elements_text(p->'snoozesGone') x;
    gone := true;
  END IF;
  IF gone THEN
    WITH pruned AS (DELETE FROM irbot_tombstones WHERE rev <= p_rev - keep RETURNING rev)
    UPDATE irbot_state SET pruned_rev = greatest(pruned_rev, (SELECT max(rev) FROM pruned))
    WHERE EXISTS (SELECT 1 FROM pruned);
  END IF;
  PERFORM setval('irbot_rev', p_rev);
  PERFORM pg_notify('irbot_changed', p_rev::text);
END $$;
`;

/**
 * Migration 9: `irbot_commit_checked`, the commit stores make now. A cache already behind is answered before the
 * lock every writer takes: irbot_commit built the delta since (dozens to hundreds of alerts while three replicas
 * wrote) while holding that lock, and every other replica's commit waited for it. Read outside the lock, the delta's
 * own rev may be a transaction still in flight: the caller takes the highest rev among its rows. A cache that fell
 * behind while it waited for the lock is told so at once (`unlocked` null), and reads the delta outside the lock.
 * irbot_commit stays for replicas of the version before, during a rolling deploy.
 */
const CHECK_BEFORE_LOCK = `
CREATE FUNCTION irbot_commit_checked(expected bigint, plan json, keep bigint, sync boolean) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  current bigint;
BEGIN
  SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO current FROM irbot_rev;
  IF current <> expected THEN
    RETURN json_build_object('unlocked', CASE WHEN expected > 0 THEN irbot_delta(expected) END);
  END IF;
  PERFORM pg_advisory_xact_lock(115939998659585);
  SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO current FROM irbot_rev;
  IF current <> expected THEN
    RETURN json_build_object('unlocked', NULL);
  END IF;
  IF plan IS NOT NULL THEN
    IF NOT sync THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM irbot_write(expected + 1, plan, keep);
  END IF;
  RETURN NULL;
END $$;
`;

/**
 * Migration 10: `irbot_delta` gives each tombstone its rev. A copy that catches up outside the lock (migration 9)
 * takes the highest rev it saw: after a commit that only deleted (an alert never posted, dropped), it saw none, stayed
 * behind, and its next change ran three times (twice found behind, then under the lock). Replicas of the version
 * before read the tombstones as they did. Migration 7's text stays as it ran.
 */
const TOMBSTONE_REVS = `
CREATE OR REPLACE FUNCTION irbot_delta(mark bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
  -- mark > 0: a whole load reads the working set by its own query (src/store/pg/load.ts), as rows.
  RETURN json_build_object(
    'rev', (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM irbot_rev),
    'pruned', (SELECT pruned_rev FROM irbot_state),
    'tombstones', (SELECT coalesce(json_agg(json_build_object('kind', s.kind, 'id', s.id, 'rev', s.rev) ORDER BY s.rev), '[]')
      FROM irbot_tombstones s WHERE s.rev > mark),
    'alerts', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT a.id, a.rev, a.archived, a.template, a.user_id, a.channel_id, a.ts, a.created_at, a.last_activity_at,
             a.dedupe_key, a.chat_state, a.next_seq, a.transcript_length, a.doc
      FROM irbot_alerts a WHERE a.rev > mark) r),
    'transcript', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT t.alert_id, t.n, t.speaker, t.text, t.at, t.by, t.ts
      FROM irbot_transcript t JOIN irbot_alerts a ON a.id = t.alert_id AND NOT a.archived WHERE t.rev > mark) r),
    'outbox', (SELECT coalesce(json_agg(r ORDER BY r.alert_id, r.pos), '[]') FROM (
      SELECT o.alert_id, o.seq, o.effect, o.claim, o.retry_at, o.attempts, o.check_since, o.pos
      FROM irbot_outbox o JOIN irbot_alerts a ON a.id = o.alert_id AND NOT a.archived WHERE a.rev > mark) r),
    'escalations', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT e.* FROM irbot_escalations e JOIN irbot_alerts a ON a.id = e.alert_id AND NOT a.archived
      WHERE a.rev > mark) r),
    'seen', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'seen_at', s.seen_at, 'rev', s.rev)), '[]')
      FROM irbot_seen_events s WHERE s.rev > mark),
    'snoozes', (SELECT coalesce(json_agg(json_build_object('doc', z.doc, 'rev', z.rev)), '[]')
      FROM irbot_snoozes z WHERE z.rev > mark));
END $$;
`;

/**
 * Migration 11: `irbot_commit_scoped`, a commit checked against what its batch read. Checked against every commit
 * since its cache's mark (migration 9), a third of three replicas' commits were found behind and ran again, most of
 * them for commits about other alerts. A batch that read only alerts by id, the alerts of some people and event ids
 * by key (src/store/journal.ts, ReadScope) now commits unless a commit since changed one of those (rows with a
 * higher rev, tombstones of them, or tombstones that are gone); it then answers `past` with its rev and `missed`,
 * the others' rows read before the lock (the caller reads the rest, if a commit came in between), to catch up on.
 * A scope of null is checked as before. Checked again under the lock, where every rev taken has committed: a row
 * written by a transaction in flight cannot be missed.
 */
const SCOPED_COMMIT = `
CREATE FUNCTION irbot_scope_changed(expected bigint, scope jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  ids text[] := ARRAY(SELECT jsonb_array_elements_text(scope->'alerts'));
  people text[] := ARRAY(SELECT jsonb_array_elements_text(scope->'people'));
  events text[] := ARRAY(SELECT jsonb_array_elements_text(scope->'events'));
BEGIN
  RETURN (SELECT pruned_rev FROM irbot_state) > expected
    OR EXISTS (SELECT 1 FROM irbot_alerts a WHERE a.rev > expected AND (a.id = ANY (ids) OR a.user_id = ANY (people)))
    OR EXISTS (SELECT 1 FROM irbot_seen_events s WHERE s.rev > expected AND s.id = ANY (events))
    -- A deleted alert's tombstone does not say whose it was: any of them counts for a batch that read by person.
    OR EXISTS (SELECT 1 FROM irbot_tombstones t WHERE t.rev > expected
               AND ((t.kind = 'alert' AND (cardinality(people) > 0 OR t.id = ANY (ids)))
                    OR (t.kind = 'event' AND t.id = ANY (events))));
END $$;

CREATE FUNCTION irbot_commit_scoped(expected bigint, plan json, keep bigint, sync boolean, scope jsonb)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  current bigint;
  missed json;
BEGIN
  SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO current FROM irbot_rev;
  IF current <> expected THEN
    IF scope IS NULL OR expected = 0 OR irbot_scope_changed(expected, scope) THEN
      RETURN json_build_object('unlocked', CASE WHEN expected > 0 THEN irbot_delta(expected) END);
    END IF;
    -- What the cache has to catch up on, read before the lock: built under it, it would hold every writer back.
    missed := irbot_delta(expected);
  END IF;
  PERFORM pg_advisory_xact_lock(115939998659585);
  SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO current FROM irbot_rev;
  IF current <> expected AND (scope IS NULL OR expected = 0 OR irbot_scope_changed(expected, scope)) THEN
    -- What changed its scope most likely came while it waited for the lock, after 'missed': read afresh.
    RETURN json_build_object('unlocked', NULL);
  END IF;
  IF plan IS NOT NULL THEN
    IF NOT sync THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM irbot_write(current + 1, plan, keep);
  END IF;
  IF current = expected THEN
    RETURN NULL;
  END IF;
  RETURN json_build_object('past', CASE WHEN plan IS NOT NULL THEN current + 1 END, 'missed', missed);
END $$;
`;

/**
 * Migration 12: `irbot_take_token_ahead`, the take of src/slack/pg-budget.ts `takeAhead`. Where the bucket has no
 * token yet (and is not shut), the next one is taken ahead: the bucket goes below zero and the answer is the wait
 * until it is due, which the caller waits out and then spends without asking again. Three replicas polling a bucket
 * each asked again when their wait was over, and two of three found the token taken by another: a third of their
 * takes (about 3,000 statements a campaign). `irbot_take_token` stays (whole takes, replicas of the version before).
 */
const TAKE_AHEAD = `
CREATE FUNCTION irbot_take_token_ahead(k text, per_ms float8, burst float8, OUT wait float8, OUT reserved boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_now float8 := (extract(epoch from clock_timestamp()) * 1000)::float8;
  b irbot_slack_budget%ROWTYPE;
  v_tokens float8;
BEGIN
  wait := 0;
  reserved := false;
  INSERT INTO irbot_slack_budget (key, tokens, at, full_at) VALUES (k, burst, v_now, v_now)
    ON CONFLICT (key) DO NOTHING;
  SELECT * INTO b FROM irbot_slack_budget WHERE key = k FOR UPDATE;
  v_now := GREATEST(v_now, b.at);
  v_tokens := LEAST(burst, b.tokens + (v_now - b.at) * per_ms);
  IF b.shut_until > v_now THEN
    wait := b.shut_until - v_now;
  ELSE
    IF v_tokens < 1 THEN
      wait := CEIL((1 - v_tokens) / per_ms);
      reserved := true;
    END IF;
    v_tokens := v_tokens - 1;
  END IF;
  UPDATE irbot_slack_budget SET tokens = v_tokens, at = v_now,
    shut_until = CASE WHEN b.shut_until > v_now THEN b.shut_until END,
    full_at = GREATEST(v_now + (burst - v_tokens) / per_ms, COALESCE(b.shut_until, 0))
  WHERE key = k;
END $$;
`;

/**
 * Migration 13: the catch-up, the scope check and the write find their rows by index whatever the planner knows.
 * PL/pgSQL plans a function's statements once per session (a generic plan after five calls), where `rev > $1` is
 * taken to match a third of a table; and until autovacuum first analyses a table (a minute or more; never, on a
 * server without it, as this machine's) it knows no sizes, only pages, which rows updated and deleted by the
 * thousand fill. So each catch-up read the alerts, the
 * outbox and the transcript whole, and most writes the outbox whole to delete an item: with three replicas, 4 ms a
 * catch-up and two thirds of PostgreSQL's time in bench campaign-pg-x3. Now every rev range has its upper bound,
 * the last rev taken, read after the statement's snapshot (no row it sees has a higher one, so no answer changes,
 * but a range with two bounds is an index scan); the outbox and escalations of changed alerts are read per alert
 * (a LATERAL subquery kept apart with OFFSET 0 is a nested loop on the primary key); a line's alert is looked up by
 * key; and lists of keys are deleted by `= ANY` or one by one. Migrations 8, 10 and 11's texts stay as they ran.
 */
const PLANS_BY_INDEX = `
CREATE OR REPLACE FUNCTION irbot_delta(mark bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  last bigint := (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM irbot_rev);
BEGIN
  -- mark > 0: a whole load reads the working set by its own query (src/store/pg/load.ts), as rows.
  RETURN json_build_object(
    'rev', last,
    'pruned', (SELECT pruned_rev FROM irbot_state),
    'tombstones', (SELECT coalesce(json_agg(json_build_object('kind', s.kind, 'id', s.id, 'rev', s.rev) ORDER BY s.rev), '[]')
      FROM irbot_tombstones s WHERE s.rev > mark AND s.rev <= last),
    'alerts', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT a.id, a.rev, a.archived, a.template, a.user_id, a.channel_id, a.ts, a.created_at, a.last_activity_at,
             a.dedupe_key, a.chat_state, a.next_seq, a.transcript_length, a.doc
      FROM irbot_alerts a WHERE a.rev > mark AND a.rev <= last) r),
    'transcript', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT t.alert_id, t.n, t.speaker, t.text, t.at, t.by, t.ts
      FROM irbot_transcript t
      WHERE t.rev > mark AND t.rev <= last AND (SELECT NOT a.archived FROM irbot_alerts a WHERE a.id = t.alert_id)) r),
    'outbox', (SELECT coalesce(json_agg(r ORDER BY r.alert_id, r.pos), '[]') FROM (
      SELECT o.alert_id, o.seq, o.effect, o.claim, o.retry_at, o.attempts, o.check_since, o.pos
      FROM irbot_alerts a, LATERAL (SELECT * FROM irbot_outbox o WHERE o.alert_id = a.id OFFSET 0) o
      WHERE a.rev > mark AND a.rev <= last AND NOT a.archived) r),
    'escalations', (SELECT coalesce(json_agg(r), '[]') FROM (
      SELECT e.* FROM irbot_alerts a, LATERAL (SELECT * FROM irbot_escalations e WHERE e.alert_id = a.id OFFSET 0) e
      WHERE a.rev > mark AND a.rev <= last AND NOT a.archived) r),
    'seen', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'seen_at', s.seen_at, 'rev', s.rev)), '[]')
      FROM irbot_seen_events s WHERE s.rev > mark AND s.rev <= last),
    'snoozes', (SELECT coalesce(json_agg(json_build_object('doc', z.doc, 'rev', z.rev)), '[]')
      FROM irbot_snoozes z WHERE z.rev > mark AND z.rev <= last));
END $$;

CREATE OR REPLACE FUNCTION irbot_scope_changed(expected bigint, scope jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  ids text[] := ARRAY(SELECT jsonb_array_elements_text(scope->'alerts'));
  people text[] := ARRAY(SELECT jsonb_array_elements_text(scope->'people'));
  events text[] := ARRAY(SELECT jsonb_array_elements_text(scope->'events'));
  -- Under the lock every rev up to it has committed and no other can be taken; before it, a commit missed here is
  -- one that came a moment later, which the check under the lock sees.
  last bigint := (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM irbot_rev);
BEGIN
  RETURN (SELECT pruned_rev FROM irbot_state) > expected
    OR EXISTS (SELECT 1 FROM irbot_alerts a WHERE a.rev > expected AND a.rev <= last
               AND (a.id = ANY (ids) OR a.user_id = ANY (people)))
    OR EXISTS (SELECT 1 FROM irbot_seen_events s WHERE s.rev > expected AND s.rev <= last AND s.id = ANY (events))
    -- A deleted alert's tombstone does not say whose it was: any of them counts for a batch that read by person.
    OR EXISTS (SELECT 1 FROM irbot_tombstones t WHERE t.rev > expected AND t.rev <= last
               AND ((t.kind = 'alert' AND (cardinality(people) > 0 OR t.id = ANY (ids)))
                    OR (t.kind = 'event' AND t.id = ANY (events))));
END $$;

CREATE OR REPLACE FUNCTION irbot_write(p_rev bigint, plan json, keep bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  gone boolean := false;
  p jsonb := plan::jsonb;
  r record;
BEGIN
  IF p ? 'deleted' THEN
    DELETE FROM irbot_alerts WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(p->'deleted')));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'alert', x FROM jsonb_array_elements_text(p->'deleted') x;
    gone := true;
  END IF;
  IF p ? 'alerts' THEN
    INSERT INTO irbot_alerts (rev, id, archived, template, user_id, channel_id, ts, created_at, last_activity_at,
                              dedupe_key, chat_state, next_seq, transcript_length, doc, facts)
    SELECT p_rev, u.id, u.archived, u.template, u.user_id, u.channel_id, u.ts, u.created_at, u.last_activity_at,
           u.dedupe_key, u.chat_state, u.next_seq, u.transcript_length, u.doc, u.facts
    FROM ROWS FROM (jsonb_to_recordset(p->'alerts') AS (id text, archived boolean, template text, user_id text,
           channel_id text, ts text, created_at text, last_activity_at text, dedupe_key text, chat_state text,
           next_seq integer, transcript_length integer, doc jsonb, facts jsonb)) WITH ORDINALITY
         AS u(id, archived, template, user_id, channel_id, ts, created_at, last_activity_at, dedupe_key, chat_state,
              next_seq, transcript_length, doc, facts, k)
    ORDER BY u.k
    ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, archived = EXCLUDED.archived,
      template = EXCLUDED.template, user_id = EXCLUDED.user_id, channel_id = EXCLUDED.channel_id,
      ts = EXCLUDED.ts, created_at = EXCLUDED.created_at, last_activity_at = EXCLUDED.last_activity_at,
      dedupe_key = EXCLUDED.dedupe_key, chat_state = EXCLUDED.chat_state, next_seq = EXCLUDED.next_seq,
      transcript_length = EXCLUDED.transcript_length, doc = EXCLUDED.doc, facts = EXCLUDED.facts;
  END IF;
  IF p ? 'fresh' THEN
    DELETE FROM irbot_outbox WHERE alert_id = ANY (ARRAY(SELECT jsonb_array_elements_text(p->'fresh')));
    DELETE FROM irbot_escalations WHERE alert_id = ANY (ARRAY(SELECT jsonb_array_elements_text(p->'fresh')));
  END IF;
  IF p ? 'rewrites' THEN
    FOR r IN SELECT * FROM jsonb_to_recordset(p->'rewrites') AS u(id text, n integer) LOOP
      DELETE FROM irbot_transcript WHERE alert_id = r.id AND n >= r.n;
    END LOOP;
  END IF;
  IF p ? 'lines' THEN
    INSERT INTO irbot_transcript (rev, alert_id, n, speaker, text, at, by, ts)
    SELECT p_rev, u.alert_id, u.n, u.speaker, u.text, u.at, u.by, u.ts
    FROM jsonb_to_recordset(p->'lines')
      AS u(alert_id text, n integer, speaker text, text text, at text, by text, ts text);
  END IF;
  IF p ? 'outboxGone' THEN
    FOR r IN SELECT * FROM jsonb_to_recordset(p->'outboxGone') AS u(id text, seq integer) LOOP
      DELETE FROM irbot_outbox WHERE alert_id = r.id AND seq = r.seq;
    END LOOP;
  END IF;
  IF p ? 'outbox' THEN
    INSERT INTO irbot_outbox (alert_id, seq, effect, claim, retry_at, attempts, check_since, pos)
    SELECT u.alert_id, u.seq, u.effect, u.claim, u.retry_at, u.attempts, u.check_since, u.pos
    FROM jsonb_to_recordset(p->'outbox') AS u(alert_id text, seq integer, effect jsonb, claim jsonb,
      retry_at text, attempts integer, check_since text, pos integer)
    ON CONFLICT (alert_id, seq) DO UPDATE SET effect = EXCLUDED.effect, claim = EXCLUDED.claim,
      retry_at = EXCLUDED.retry_at, attempts = EXCLUDED.attempts, check_since = EXCLUDED.check_since,
      pos = EXCLUDED.pos;
  END IF;
  IF p ? 'unescalated' THEN
    DELETE FROM irbot_escalations WHERE alert_id = ANY (ARRAY(SELECT jsonb_array_elements_text(p->'unescalated')));
  END IF;
  IF p ? 'escalations' THEN
    INSERT INTO irbot_escalations (alert_id, outcome, reason, severity, at, mention, pagerduty)
    SELECT u.alert_id, u.outcome, u.reason, u.severity, u.at, u.mention, u.pagerduty
    FROM jsonb_to_recordset(p->'escalations') AS u(alert_id text, outcome text, reason text, severity text,
      at text, mention text, pagerduty boolean)
    ON CONFLICT (alert_id) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
      severity = EXCLUDED.severity, at = EXCLUDED.at, mention = EXCLUDED.mention, pagerduty = EXCLUDED.pagerduty;
  END IF;
  IF p ? 'seen' THEN
    INSERT INTO irbot_seen_events (id, seen_at, rev)
    SELECT u.id, u.at, p_rev FROM jsonb_to_recordset(p->'seen') AS u(id text, at text)
    ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, rev = EXCLUDED.rev;
  END IF;
  IF p ? 'seenGone' THEN
    DELETE FROM irbot_seen_events WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(p->'seenGone')));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'event', x FROM jsonb_array_elements_text(p->'seenGone') x;
    gone := true;
  END IF;
  IF p ? 'snoozes' THEN
    INSERT INTO irbot_snoozes (id, rev, template, user_id, until, removed_at, doc)
    SELECT u.id, p_rev, u.template, u.user_id, u.until, u.removed_at, u.doc
    FROM jsonb_to_recordset(p->'snoozes')
      AS u(id text, template text, user_id text, until text, removed_at text, doc jsonb)
    ON CONFLICT (id) DO UPDATE SET rev = EXCLUDED.rev, template = EXCLUDED.template, user_id = EXCLUDED.user_id,
      until = EXCLUDED.until, removed_at = EXCLUDED.removed_at, doc = EXCLUDED.doc;
  END IF;
  IF p ? 'snoozesGone' THEN
    DELETE FROM irbot_snoozes WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(p->'snoozesGone')));
    INSERT INTO irbot_tombstones (rev, kind, id) SELECT p_rev, 'snooze', x FROM jsonb_array_elements_text(p->'snoozesGone') x;
    gone := true;
  END IF;
  IF gone THEN
    WITH pruned AS (DELETE FROM irbot_tombstones WHERE rev <= p_rev - keep RETURNING rev)
    UPDATE irbot_state SET pruned_rev = greatest(pruned_rev, (SELECT max(rev) FROM pruned))
    WHERE EXISTS (SELECT 1 FROM pruned);
  END IF;
  PERFORM setval('irbot_rev', p_rev);
  PERFORM pg_notify('irbot_changed', p_rev::text);
END $$;
`;

/**
 * Migration 14: one chat *writing* to a person at a time. An urgent alert's chat starts beside one that waits for the
 * person's working hours (src/app/inbound.ts), and a waiting one is queued when its hour comes while another goes on
 * (src/app/sweep.ts): `scheduled` beside `active` is allowed, as the JSON store allows it. Migration 3 refused that
 * commit, so the urgent chat never started on PostgreSQL.
 */
const ONE_ACTIVE_CHAT_PER_PERSON = `
ALTER TABLE irbot_alerts DROP CONSTRAINT irbot_alerts_one_chat_per_person;
ALTER TABLE irbot_alerts ADD CONSTRAINT irbot_alerts_one_chat_per_person
  EXCLUDE USING btree (user_id WITH =) WHERE (NOT archived AND chat_state = 'active')
  DEFERRABLE INITIALLY DEFERRED;
`;

/** Migration n takes the schema from version n - 1 to n. */
export const MIGRATIONS: readonly string[] = [
  INIT,
  SLACK_BUDGET,
  ONE_CHAT_PER_PERSON,
  ARCHIVED_FACTS,
  ARCHIVE_SCAN,
  OUTBOX_ORDER,
  ONE_STATEMENT,
  PLAN_AS_JSONB,
  CHECK_BEFORE_LOCK,
  TOMBSTONE_REVS,
  SCOPED_COMMIT,
  TAKE_AHEAD,
  PLANS_BY_INDEX,
  ONE_ACTIVE_CHAT_PER_PERSON,
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
  // Up to date (every start but the first after an upgrade): two reads, without the lock and its round trips.
  const found = await schemaVersion(client);
  if (found > SCHEMA_VERSION) throw newerSchema(where, found);
  if (found === SCHEMA_VERSION) return;
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS irbot_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const current = await schemaVersion(client);
    if (current > SCHEMA_VERSION) throw newerSchema(where, current);
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

function newerSchema(where: string, found: number): PgStoreError {
  return new PgStoreError(
    `Database ${where} was written by a newer irbot (schema ${found}, this one knows ${SCHEMA_VERSION})`,
    'run that irbot version or a later one; this one will not write to it',
  );
}
