// The outbox of an alert: effects the engine ordered, queued in the store, claimed by one process at a time per
// lane, performed outside the store and recorded as done in the transaction that applies what they produced.
// Pure functions over the store data; src/app/ performs the effects and runs the transactions.
import { step } from './chat/engine.js';
import type { ChatEvent, ChatState, Effect, Rules } from './chat/types.js';
import { personClock } from './chat/working-hours.js';
import type { Claimant } from './claims.js';
import { clonePlain } from './store/clone.js';
import {
  type AlertRecord,
  alertsOfPerson,
  type OutboxItem,
  type StoreData,
  type TranscriptEntry,
} from './store/port.js';

/** What performing one effect produced, applied to the store in the transaction that marks it done. */
export interface Completion {
  /** Effects that must run next, before anything queued after this one. */
  next?: Effect[];
  events?: ChatEvent[];
  transcript?: TranscriptEntry[];
  personName?: string;
  /** Set when the effect failed for now: it stays queued until then. */
  retryAt?: string;
  attempts?: number;
  /** With `retryAt`: the post may have landed since then, so its retry asks Slack first. */
  checkSince?: string;
}

/** Most text of thread posts taken in one claim; src/app/effects.ts packs them under Slack's 40,000 (split.ts). */
const MAX_COALESCED_CHARS = 12_000;

/**
 * The outbox of an alert runs in four independent lanes, each in order: what the person gets (and the LLM work
 * behind it), the thread posts, the alert message updates, and the step-up's push (which waits on a phone for
 * up to a minute). The person never waits on the feed channel, and their replies are relayed while a push waits.
 */
/** A failing effect is retried with backoff (1 s doubling up to 5 min) this many times before it is given up. */
export const MAX_ATTEMPTS = 12;
const MAX_BACKOFF_MS = 5 * 60 * 1000;

/** The pause before attempt `attempts + 1` of an effect that failed `attempts` times; undefined: give it up. */
export function retryBackoffMs(attempts: number): number | undefined {
  return attempts < MAX_ATTEMPTS ? Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS) : undefined;
}

export type Lane = 'person' | 'thread' | 'alert' | 'verify';
export const LANES: readonly Lane[] = ['person', 'thread', 'alert', 'verify'];

/** A lane's head (and what rides along with it), taken by this process, with the record as it was then. */
export interface Claimed {
  record: AlertRecord;
  items: OutboxItem[];
  /** The head was claimed by a process that died: its post may have landed already. */
  recovered: boolean;
  /** When `recovered`: since when the post may have landed (the dead claim's time, or a failed attempt's). */
  checkSince?: string;
}

/**
 * Takes the head of a lane for `claimant`. Thread posts that backed up behind it are taken too and go out
 * as one message; later alert updates are covered by this one, which renders the state as of now. `leftOver`:
 * claims of `claimant` itself whose effect may have been performed unrecorded (the store failed right after).
 */
export function claim(
  data: StoreData,
  alertId: string,
  lane: Lane,
  now: string,
  claimant: Claimant,
  leftOver: (item: OutboxItem) => boolean = () => false,
): Claimed | null {
  const record = data.alerts[alertId];
  if (!record) return null;
  const head = headToTake(record, lane, now, claimant);
  if (!head) return null;
  // A claim left by a run that died or lost its lease, or by this one when the store failed after its effect, or
  // an attempt that failed unseen: its post may have landed. Since the earliest of these, which the items keep
  // until they are done: a claim taken over and not performed (this run's, or a taker's that died in turn) must
  // not make the next take look fresh, nor move the window past a post that may have landed.
  const ownLeftOver = head.claim !== undefined && claimant.isOurs(head.claim) && leftOver(head);
  const takenOver = head.claim !== undefined && (!claimant.isOurs(head.claim) || ownLeftOver);
  const checkSince = head.checkSince ?? (takenOver ? head.claim?.at : undefined);
  // Then it goes again as the very message it was (Slack is asked about it by the head's key), nothing added.
  const batch =
    checkSince === undefined
      ? followers(record.outbox, head, lane, claimant)
      : sameBatch(record.outbox, head, lane, claimant, ownLeftOver ? leftOver : undefined);
  const items = [head, ...batch];
  const claim = claimant.stamp(now);
  for (const item of items) {
    item.claim = { ...claim };
    if (checkSince !== undefined) item.checkSince = checkSince;
  }
  const snapshot = snapshotOf(record, needsTranscript(head));
  const recovered = checkSince !== undefined;
  return { record: snapshot, items: clonePlain(items), recovered, ...(recovered ? { checkSince } : {}) };
}

/**
 * The lane's head if `claimant` may take it now (`claim`); else undefined: none queued, another live run is
 * performing it (and will carry on with the rest of the lane), a retry waits for its time, or a thread post waits
 * for the person work queued before it.
 */
export function headToTake(record: AlertRecord, lane: Lane, now: string, claimant: Claimant): OutboxItem | undefined {
  const head = record.outbox.find((item) => laneOf(item.effect) === lane);
  if (!head) return undefined;
  if (head.claim && claimant.heldByAnother(head.claim, now)) return undefined;
  if (head.retryAt && head.retryAt > now) return undefined; // a timer or the periodic sweep comes back
  // A thread post waits for what the person lane does before it: that may put a line ahead of it (a DM's
  // "sent" line goes where the DM was queued), and the thread keeps the order of the outbox.
  if (lane === 'thread' && record.outbox.slice(0, record.outbox.indexOf(head)).some(isPersonWork)) return undefined;
  return head;
}

function isPersonWork(item: OutboxItem): boolean {
  return laneOf(item.effect) === 'person';
}

/**
 * The items that can ride along with `head` after `last` (default: the head): the lane's next ones, unclaimed
 * or claimed by us but not under way, same kind, within the size limit, and for thread posts not past any
 * person work (see `claim`).
 */
function followers(
  outbox: OutboxItem[],
  head: OutboxItem,
  lane: Lane,
  claimant: Claimant,
  size = 0,
  last = head,
): OutboxItem[] {
  if (lane === 'person' || lane === 'verify') return [];
  const taken: OutboxItem[] = [];
  let total = size || (head.effect.type === 'PostInThread' ? head.effect.text.length : 0);
  for (const next of outbox.slice(outbox.findIndex((item) => item.seq === last.seq) + 1)) {
    if (laneOf(next.effect) !== lane) {
      if (lane === 'thread' && isPersonWork(next)) break;
      continue;
    }
    // Ours but not under way (a claim that rode in another transaction): it can go in this message too. One that
    // may have landed goes again only as the message it was (`sameBatch`).
    if ((next.claim && !claimant.isOurs(next.claim)) || next.retryAt || next.checkSince !== undefined) break;
    if (next.effect.type !== head.effect.type) break;
    if (next.effect.type === 'PostInThread') {
      total += next.effect.text.length;
      if (total > MAX_COALESCED_CHARS) break;
    }
    taken.push(next);
  }
  return taken;
}

/**
 * The thread posts that went out in one message with a head that may have landed: claimed by the same dead
 * process, left over by this one (`leftOver`), or marked with the same window (by the same failed attempt, or by
 * the take-over of that message, which this run claimed and now takes again). Alert updates taken over come with
 * the ones the dead run had taken with their head: one update covers them all, and none keeps its claim behind.
 */
function sameBatch(
  outbox: OutboxItem[],
  head: OutboxItem,
  lane: Lane,
  claimant: Claimant,
  leftOver?: (item: OutboxItem) => boolean,
): OutboxItem[] {
  if (lane !== 'thread' && lane !== 'alert') return [];
  const inBatch = (item: OutboxItem) =>
    leftOver
      ? leftOver(item)
      : head.claim !== undefined && !claimant.isOurs(head.claim)
        ? item.claim?.run === head.claim.run && item.claim?.pid === head.claim.pid
        : (item.claim === undefined || claimant.isOurs(item.claim)) && item.checkSince === head.checkSince;
  const taken: OutboxItem[] = [];
  for (const next of outbox.slice(outbox.indexOf(head) + 1)) {
    if (laneOf(next.effect) !== lane) continue;
    if (!inBatch(next)) break;
    taken.push(next);
  }
  return taken;
}

/** After waiting for Slack's budget: the claimed batch with what queued up since, and the record as of now. */
export function extend(
  data: StoreData,
  alertId: string,
  lane: Lane,
  claimed: Claimed,
  now: string,
  claimant: Claimant,
): Claimed | null {
  const record = data.alerts[alertId];
  const [head] = claimed.items;
  if (!record || !head) return null;
  // A message that may have landed goes again as it was (see `sameBatch`).
  if (claimed.recovered) return claimed;
  const queued = record.outbox.filter((item) => laneOf(item.effect) === lane);
  const ours = (item: OutboxItem) =>
    queued.some((q) => q.seq === item.seq && q.claim !== undefined && claimant.isOurs(q.claim));
  if (!claimed.items.every(ours)) return null;
  const last = claimed.items.at(-1) ?? head;
  const size = claimed.items.reduce((n, i) => n + (i.effect.type === 'PostInThread' ? i.effect.text.length : 0), 0);
  const more = followers(record.outbox, head, lane, claimant, size, last);
  const claim = claimant.stamp(now);
  for (const item of more) item.claim = { ...claim };
  return {
    record: snapshotOf(record, needsTranscript(head)),
    items: [...claimed.items, ...clonePlain(more)],
    recovered: claimed.recovered,
    ...(claimed.checkSince !== undefined ? { checkSince: claimed.checkSince } : {}),
  };
}

/** Told of each move of a chat in a transaction, with the effects the move ordered (sink events follow moves). */
export type Moved = (record: AlertRecord, before: ChatState, effects: Effect[]) => void;

/**
 * Marks claimed effects done and applies what they produced, in the transaction that records it. Returns the
 * alerts and lanes that got new work (this alert's, or the person's next chat when one was dequeued).
 */
export function complete(
  data: StoreData,
  alertId: string,
  items: OutboxItem[],
  completion: Completion,
  rules: Rules,
  now: string,
  moved: Moved = () => undefined,
): { id: string; lanes: Lane[] }[] {
  const record = data.alerts[alertId];
  const [head] = items;
  if (!record || !head) return [];
  const index = record.outbox.findIndex((queued) => queued.seq === head.seq);
  if (index < 0) return [];
  const seqs = new Set(items.map((item) => item.seq));
  if (completion.retryAt) {
    // Stays where it is, in order, for a timer or the periodic sweep to try again.
    for (const queued of record.outbox) {
      if (!seqs.has(queued.seq)) continue;
      delete queued.claim; // not `= undefined`: the store keeps what JSON keeps
      // Every post of a message that may have landed is marked: it goes again as that message, after a check.
      if (completion.checkSince !== undefined) queued.checkSince = completion.checkSince;
      else delete queued.checkSince;
      if (queued.seq === head.seq) {
        queued.retryAt = completion.retryAt;
        queued.attempts = completion.attempts;
      }
    }
    return [];
  }
  // Thread posts queued behind this person work waited for it (see `claim`): they may go now, whether or not it
  // added one. Those ahead of it never waited (a relay under way while its DM is classified): no need to wake them.
  const held =
    isPersonWork(head) &&
    record.outbox.slice(index + 1).some((item) => !seqs.has(item.seq) && laneOf(item.effect) === 'thread');
  const next = toItems(record, completion.next ?? []);
  record.outbox = record.outbox.filter((queued) => !seqs.has(queued.seq));
  record.outbox.splice(Math.min(index, record.outbox.length), 0, ...next);
  addToTranscript(record.transcript, completion.transcript ?? []);
  if (completion.personName) record.personName = completion.personName;
  const added: Effect[] = next.map((item) => item.effect);
  for (const event of completion.events ?? []) {
    const result = step(record.chat, event, rules);
    // A chat that fails sends nothing more to the person: what was queued would fail the same way, and a push
    // has nothing left to confirm. What was queued for the feed channel (relays of what the person said) still
    // goes, unless the feed channel is what failed.
    if (event.type === 'Failed' && result.chat !== record.chat) {
      record.outbox = event.feedReachable
        ? record.outbox.filter((item) => !isPersonWork(item) && laneOf(item.effect) !== 'verify')
        : [];
    }
    const before = record.chat.state;
    record.chat = result.chat;
    enqueue(record, result.effects);
    moved(record, before, result.effects);
    added.push(...result.effects);
  }
  record.lastActivityAt = now;
  const lanes = lanesOf(added);
  const woken = [{ id: alertId, lanes: held && !lanes.includes('thread') ? [...lanes, 'thread' as const] : lanes }];
  if (head.effect.type !== 'StartNext') return woken;
  // The person's next chat, oldest first, starts now that this one has ended; unless one started meanwhile (asked
  // for while this one was closing, when none was open): the person has one chat at a time, and that one's end
  // starts the next.
  const mine = alertsOfPerson(data, record.userId).filter((a) => a.id !== record.id);
  if (mine.some((a) => a.chat.state === 'active' || a.chat.state === 'scheduled')) return woken;
  const oldest = mine
    .filter((a) => a.chat.state === 'queued')
    .sort(
      (a, b) =>
        (a.chat.startedAt ?? '').localeCompare(b.chat.startedAt ?? '') ||
        a.createdAt.localeCompare(b.createdAt) ||
        a.id.localeCompare(b.id),
    )[0];
  const queuedNext = oldest && data.alerts[oldest.id];
  if (!queuedNext) return woken;
  // Its person's clock was looked up when it was asked to start: it may have to wait for their working hours. A
  // lookup that failed then left the chat on UTC (its zone set, no personTz): it waits on that clock too.
  const clock = queuedNext.personTz
    ? { person: personClock(queuedNext.personTz.tz) }
    : queuedNext.chat.zone !== undefined
      ? { person: personClock(undefined) }
      : {};
  const urgent = queuedNext.urgent ? { urgent: true } : {};
  const result = step(queuedNext.chat, { type: 'Dequeued', at: now, ...clock, ...urgent }, rules);
  const before = queuedNext.chat.state;
  queuedNext.chat = result.chat;
  enqueue(queuedNext, result.effects);
  moved(queuedNext, before, result.effects);
  return [...woken, { id: queuedNext.id, lanes: lanesOf(result.effects) }];
}

/**
 * Appends lines to a transcript, in Slack's order where both sides have a timestamp: a DM and a reply can
 * cross (the reply arrives before the DM's post is recorded), and the transcript must read as the person saw it.
 */
export function addToTranscript(transcript: TranscriptEntry[], lines: TranscriptEntry[]): void {
  for (const line of lines) {
    let at = transcript.length;
    const ts = line.ts;
    if (ts !== undefined) while (at > 0 && Number(transcript[at - 1]?.ts ?? 0) > Number(ts)) at--;
    transcript.splice(at, 0, line);
  }
}

export function laneOf(effect: Effect): Lane {
  if (effect.type === 'PostInThread') return 'thread';
  if (effect.type === 'UpdateAlert') return 'alert';
  if (effect.type === 'StartPush' || effect.type === 'PollPush') return 'verify';
  return 'person';
}

/** The Slack method (and channel, for per-channel limits) an effect calls, if it calls one. */
export function slackCallOf(
  effect: Effect | undefined,
  record: AlertRecord,
): { method: string; channel?: string } | undefined {
  switch (effect?.type) {
    case 'PostInThread':
      return { method: 'chat.postMessage', channel: record.channelId };
    case 'SendDm':
      return { method: 'chat.postMessage', channel: record.userId };
    case 'UpdateAlert':
      return { method: 'chat.update' };
    default:
      return undefined;
  }
}

/**
 * Whether the lane takes a head's Slack token before performing it. Not for the person lane (a DM is paced where
 * it is sent), nor for thread posts taken over: Slack is first asked whether they landed, and a token taken before
 * that check would reach Slack late, or go unused when they had.
 */
export function pacedBeforehand(lane: Lane, claimed: Claimed): boolean {
  return lane !== 'person' && !(lane === 'thread' && claimed.recovered);
}

export function lanesOf(effects: Effect[]): Lane[] {
  return LANES.filter((lane) => effects.some((effect) => laneOf(effect) === lane));
}

export function enqueue(record: AlertRecord, effects: Effect[]): void {
  record.outbox.push(...toItems(record, effects));
}

export function toItems(record: AlertRecord, effects: Effect[]): OutboxItem[] {
  return effects.map((effect) => ({ seq: record.nextSeq++, effect }));
}

/**
 * The record as of now, for performing an effect outside the transaction. Cheap where it is safe: the engine
 * replaces `chat` rather than changing it, properties never change. The transcript is copied only for an effect
 * that reads it (a long chat's would be copied at every claim); the others get none.
 */
export function snapshotOf(record: AlertRecord, withTranscript = true): AlertRecord {
  const transcript = withTranscript ? record.transcript.slice() : [];
  return { ...record, chat: { ...record.chat }, transcript, outbox: [] };
}

/** The effects whose LLM prompt carries the conversation. */
function needsTranscript(item: OutboxItem): boolean {
  const { type } = item.effect;
  return type === 'Nudge' || type === 'Classify' || type === 'Summarise';
}
