// The store port: what irbot keeps between processes (alerts, chats, transcripts, outboxes, seen event ids).
import type { Chat, Effect } from '../chat/types.js';
import type { EscalationOutcome, Severity } from '../config/types.js';
import type { Delivery } from '../deliver/port.js';
import { type AlertFacts, factsOf } from '../report/facts.js';

/** Schema of the store file; src/store/migrations.ts takes older files up to it. */
export const STORE_VERSION = 3;

export type Speaker = 'bot' | 'person' | 'analyst' | 'system';

export interface TranscriptEntry {
  from: Speaker;
  text: string;
  at: string;
  /** Who spoke for `analyst` lines (Slack user ID or OS user name). */
  by?: string;
  /** The Slack message's ts, for DMs both ways: it orders lines that crossed. */
  ts?: string;
}

/**
 * Who performs a piece of work: the process and its run (a successor may get the same pid), its host, since when,
 * and until when its lease holds unless renewed (absent in claims made before leases). See src/claims.ts.
 */
export interface Claim {
  pid: number;
  run?: string;
  at: string;
  host?: string;
  until?: string;
}

/** An effect the engine ordered and no process has finished yet; drained in order, one claim at a time. */
export interface OutboxItem {
  seq: number;
  effect: Effect;
  /** Who performs it (see Claim). */
  claim?: Claim | undefined;
  /** After a passing failure: not before this time. */
  retryAt?: string | undefined;
  attempts?: number | undefined;
  /** A post that may have landed since this time (its attempt failed unseen): Slack is asked before it goes again. */
  checkSince?: string | undefined;
}

/**
 * An alert recorded and not yet seen in Slack. A crash, or a failure that may have reached Slack, leaves it so:
 * the next process to take it (a retry of its dedupe key, or `listen`) asks Slack whether the post landed first.
 */
export interface PendingPost {
  /** The process posting it now; a claim of a process that died, or whose lease ran out, is taken over. */
  claim?: Claim | undefined;
  /** Start its chat once posted (the alert's auto_chat). */
  autoChat?: boolean | undefined;
  /** Failed tries of `listen` so far, and when it tries again. */
  attempts?: number | undefined;
  retryAt?: string | undefined;
  /** Why the last try failed (redacted, one line): `status` shows it while the alert waits. */
  lastError?: string | undefined;
}

/** One alert instance: a template posted to the feed channel, with its chat. */
export interface AlertRecord {
  id: string;
  template: string;
  name: string;
  description: string;
  userId: string;
  properties: Record<string, string>;
  channelId: string;
  /** ts of the alert message in the feed channel; null until Slack accepted it. */
  ts: string | null;
  createdAt: string;
  lastActivityAt: string;
  /** The key a retrying source (a SIEM webhook) gave this alert, so that a second delivery posts nothing. */
  dedupeKey?: string;
  /** The alert's own `step_up` (alerts.toml or the webhook), overriding the config's; absent: the config decides. */
  stepUp?: boolean;
  /** The PagerDuty severity its escalation pages with, when the alert set one (alerts.toml, webhook). */
  severity?: Severity;
  /** Set once, in the transaction where the chat ended or failed in a way `[escalation] on` names. */
  escalation?: EscalationRecord;
  /** The person's Slack display name, looked up once. */
  personName?: string;
  /** The person's time zone from users.info (`tz`, `tz_offset` in seconds), looked up once when working hours are set. */
  personTz?: { tz: string | null; offset: number | null };
  /** The alert skips the wait for the person's working hours (alerts.toml, webhook `urgent`). */
  urgent?: boolean;
  /** While the alert's own post is not known to have landed (`ts` null): who posts it, and what then. */
  pending?: PendingPost;
  chat: Chat;
  transcript: TranscriptEntry[];
  outbox: OutboxItem[];
  nextSeq: number;
  /**
   * What irbot sends outside Slack about this alert (sink events, pages), oldest first, kept once delivered or
   * failed (src/deliver/queue.ts). Absent in alerts stored before irbot had them, and until one is enqueued.
   */
  deliveries?: Delivery[];
  /** Set when an active snooze matched it at intake: recorded, never posted, no chat (src/snoozes.ts). */
  suppressed?: Suppression;
}

/** Why an alert was not posted: the snooze that matched it, and when. */
export interface Suppression {
  snoozeId: string;
  at: string;
}

/** Who made or removed a snooze: a Slack user, an OS user at a terminal, or irbot itself (confirm_backoff_hours). */
export interface SnoozeActor {
  id: string;
  via: 'slack' | 'terminal' | 'irbot';
}

/**
 * What the team already knows: alerts of `template` (for `user`, with these `match` properties, when given) are
 * recorded as suppressed instead of posted until `until`. Kept after it is removed or expires, for the audit.
 */
export interface Snooze {
  id: string;
  template: string;
  user?: string;
  /** Property name → value an alert must carry, each of them. */
  match?: Record<string, string>;
  until: string;
  reason: string;
  createdBy: SnoozeActor;
  createdAt: string;
  /** The alert it was made from (Snooze 24 h, or a confirmed "it was me"). */
  alertId?: string;
  removedAt?: string;
  removedBy?: SnoozeActor;
}

/** How an alert was escalated: what it came to, and where it went (its page is a delivery of its own). */
export interface EscalationRecord {
  outcome: EscalationOutcome;
  /** In words, e.g. "Harold was not aware of Pivoting": the page's summary and the thread's reason. */
  reason: string;
  severity: Severity;
  at: string;
  /** The mention pinged in the thread (from config.toml); null: nobody (no mention, no responders). */
  mention: string | null;
  /** A page was enqueued (PAGERDUTY_ROUTING_KEY was set). */
  pagerduty: boolean;
}

export interface StoreData {
  version: number;
  alerts: Record<string, AlertRecord>;
  /** Slack event ids already applied, with when: a re-delivered envelope is dropped here. */
  seenEvents: Record<string, string>;
  /**
   * Closed alerts a change moves out of the working set (see `archiveAlert`): the store appends them to the
   * archive before it writes the working set, in the same transaction, and this field is never written.
   */
  archiving?: Record<string, AlertRecord>;
  /** Snoozes by id, removed and expired ones too; absent in stores written before irbot had them. */
  snoozes?: Record<string, Snooze>;
}

export interface TransactOptions<T = unknown> {
  /**
   * False: the change is written and seen by every process, but not fsynced; it becomes durable with the next
   * synced change or `flush`. For changes a crash may lose because they are redone: call `flush` before acting
   * on one outside the store. A function: decided by what the change answered (true: it claimed work that is
   * acted on outside the store next; its commit is then synced, and the `flush` before acting costs nothing).
   */
  sync?: boolean | ((answer: T) => boolean);
}

/** Whether a change's commit is synced, from its options and its answer (TransactOptions.sync). */
export function syncWanted(sync: TransactOptions['sync'], answer: unknown): boolean {
  return typeof sync === 'function' ? sync(answer) : (sync ?? true);
}

export interface Store {
  readonly path: string;
  /** The files that hold the working set: when one of them changes, the data may have changed. */
  readonly files: readonly string[];
  /** A consistent snapshot, without taking the lock. */
  read(): Promise<StoreData>;
  /**
   * Lock, re-read, let `change` mutate the data, write atomically, unlock. Keep `change` synchronous and short.
   * Durable when it resolves, unless `sync` is false or a function that answered false (TransactOptions).
   */
  transact<T>(change: (data: StoreData) => T, options?: TransactOptions<T>): Promise<T>;
  /** Makes every change committed so far durable (those made with `sync: false`). */
  flush(): Promise<void>;
  /** Closed alerts moved out of the working set, oldest first, each once. */
  readArchive(): Promise<AlertRecord[]>;
  /**
   * The report's facts (src/report/facts.ts) of the archived alerts created at or after `createdSince` (an ISO time;
   * undefined: all), the last archived copy of an alert winning, in no particular order. Kept beside the archive as
   * alerts are archived, so that a report never parses whole alerts.
   */
  scanFacts(createdSince: string | undefined): Promise<AlertFacts[]>;
  /**
   * Calls `onChange` (maybe more than once per commit, maybe for nothing) after transactions of any process may
   * have changed the data, until the returned function is called. For views that follow the store (`irbot chat`).
   */
  watch?(onChange: () => void): () => void;
  /** Lets go of what the store holds open (a database pool); a store that holds nothing open has none. */
  close?(): Promise<void>;
}

/** A store may watch `data.alerts` to write only the alerts a transaction changed; this key gets the map behind. */
export const RAW = Symbol('irbot.store.raw');

/**
 * Every alert of the data, without marking them touched: a scan must not make a transaction write every alert.
 * To change an alert found this way, fetch it again by id (`data.alerts[id]`).
 */
export function alertsOf(data: StoreData): AlertRecord[] {
  const alerts = data.alerts as Record<string | symbol, unknown>;
  return Object.values((alerts[RAW] as Record<string, AlertRecord> | undefined) ?? data.alerts);
}

/**
 * A store that checks a commit against what its change read (src/store/pg) answers this key of `data.alerts` with
 * a function that notes the person and gives their alerts, or more (see `alertsOfPerson`).
 */
export const BY_PERSON = Symbol('irbot.store.byPerson');

/**
 * The alerts of one person, without marking them touched (as `alertsOf`), and without making the change depend on
 * every alert: a commit is then checked against that person's alerts only, and not run again for another replica's
 * commit that changed someone else's. A store that keeps alerts by person answers without a scan.
 */
export function alertsOfPerson(data: StoreData, userId: string): AlertRecord[] {
  const alerts = data.alerts as Record<string | symbol, unknown>;
  const watched = alerts[BY_PERSON] as ((userId: string) => AlertRecord[]) | undefined;
  return (watched ? watched(userId) : Object.values(data.alerts)).filter((record) => record.userId === userId);
}

/** Moves a closed alert from the working set to the archive, in the transaction that calls it. */
export function archiveAlert(data: StoreData, id: string, at?: string): void {
  const record = data.alerts[id];
  if (!record) return;
  data.archiving ??= {};
  data.archiving[id] = record;
  delete data.alerts[id];
  // Its dedupe_key outlives it in the working set, as long as seen events are kept (a day from `at`): a source's
  // late retry is still a duplicate. Kept as `<at> <id>`: the time first, which is what the pruning compares.
  if (record.dedupeKey !== undefined && at !== undefined) {
    data.seenEvents[archivedDedupeKey(record.dedupeKey)] = `${at} ${id}`;
  }
}

/** The seen-event key under which an archived alert's dedupe_key is kept (see `archiveAlert`). */
export function archivedDedupeKey(dedupeKey: string): string {
  return `dedupe:${dedupeKey}`;
}

/** The id of the archived alert that had `dedupeKey`, while it is kept; undefined otherwise. */
export function archivedWithKey(data: StoreData, dedupeKey: string): string | undefined {
  const kept = data.seenEvents[archivedDedupeKey(dedupeKey)];
  return kept === undefined ? undefined : kept.slice(kept.indexOf(' ') + 1);
}

/** One alert by id, from the working set or else the archive. */
export async function findAlert(store: Store, id: string): Promise<AlertRecord | undefined> {
  return (await store.read()).alerts[id] ?? (await store.readArchive()).find((a) => a.id === id);
}

/** Every alert, working set and archive, the working copy winning. */
export async function allAlerts(store: Store): Promise<AlertRecord[]> {
  const working = (await store.read()).alerts;
  const archived = (await store.readArchive()).filter((a) => !working[a.id]);
  return [...archived, ...Object.values(working)];
}

/** The facts of the alerts created at or after `since` (ISO; null: all), working set and archive, the working copy winning. */
export async function factsSince(store: Store, since: string | null): Promise<AlertFacts[]> {
  const working = (await store.read()).alerts;
  const archived = (await store.scanFacts(since ?? undefined)).filter((a) => !working[a.id]);
  const current = Object.values(working).filter((a) => since === null || a.createdAt >= since);
  return [...archived, ...current.map(factsOf)];
}

export function emptyStore(): StoreData {
  return { version: STORE_VERSION, alerts: {}, seenEvents: {} };
}
