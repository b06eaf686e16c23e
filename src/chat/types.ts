// The conversation engine's vocabulary: a chat's state, the facts that happen to it, the orders it gives.
import type { StepUpResult } from '../verify/port.js';
import type { WorkingHours } from './working-hours.js';

/** `scheduled`: started outside the person's working hours, the greeting waits for their next working hour. */
export type ChatState = 'posted' | 'queued' | 'scheduled' | 'active' | 'ended' | 'dismissed' | 'failed';
export type Outcome = 'answered' | 'no_answer' | 'ended_by_analyst';

/** Who moved the chat: a Slack user ID (button) or an OS user name (terminal). */
export interface Actor {
  id: string;
  via: 'slack' | 'terminal';
}

export interface Chat {
  state: ChatState;
  startedBy: Actor | null;
  startedAt: string | null;
  endedBy: Actor | null;
  endedAt: string | null;
  outcome: Outcome | null;
  aware: boolean | null;
  nudges: number;
  /** Messages received from the person so far. */
  personMessages: number;
  /** personMessages count the last accepted classification covered; stale or repeated verdicts are ignored. */
  classifiedUpTo: number;
  /** When the conversation last moved (greeting, reply, nudge): silence is measured from here. */
  quietSince: string | null;
  /** Why the chat stopped on a Slack error that retrying cannot fix, with the fix. */
  failure: string | null;
  /** Lines an analyst typed while the chat was queued: sent after the greeting when it starts. */
  held?: HeldLine[];
  /**
   * How many of the person's replies tried to instruct the bot, as the last accepted classification counted
   * them. Absent until one did (and in chats stored before irbot kept it).
   */
  steering?: number;
  /**
   * The aware answer it ended on was read by irbot's offline keyword rules, no model (the LLM was unavailable, or
   * none is configured): it stands only once an analyst has looked, as a steered one does.
   */
  judgedByRules?: boolean;
  /** The alert's own text tries to instruct the bot (src/llm/steering.ts alertSteers): an aware answer needs review. */
  alertSteering?: boolean;
  /**
   * The step-up's result once the person said "it was me" and a push was asked for (src/verify/port.ts); absent
   * or null when no step-up ran. Only `approved` makes an aware verdict verified.
   */
  verified?: StepUpResult | null;
  /** The step-up under way, or how it ended (`done`); absent when none ran. */
  stepUp?: StepUp;
  /**
   * The person's IANA zone while their silence counts working time only (working hours set, not urgent); absent:
   * wall-clock time, as before working hours existed.
   */
  zone?: string;
  /** Set once the chat waited (or waits) for the person's working hours; absent for a chat that never did. */
  schedule?: Schedule;
}

/** The person's clock as the shell found it: Slack's `tz`, or UTC when Slack gave none (`unknown`). */
export interface PersonClock {
  zone: string;
  unknown?: boolean;
}

/** A chat waiting for the person's working hours (state `scheduled`), and how the wait ended. */
export interface Schedule {
  /** The zone the hours were read in ('UTC' when Slack gave none: `zoneUnknown`). */
  zone: string;
  zoneUnknown?: boolean;
  /** When the chat was asked to start (the local time shown is taken from here). */
  at: string;
  /** When the greeting is due: the start of the person's next working hour. */
  startsAt: string;
  /** The latest it waits (`max_wait_hours` after `at`): past it, the chat ends as no answer. */
  deadline: string;
  /**
   * How the wait ended: `hours` (their working hour came), `now` (an analyst pressed Start Chat now), `expired`
   * (max_wait_hours passed); `at`: when (the greeting was queued then, unless expired). Absent while it waits.
   */
  ended?: { how: 'hours' | 'now' | 'expired'; at: string; by?: Actor };
}

/**
 * A step-up: `pushing` while a push is being asked for, `waiting` while it waits on the person's phone (the
 * shell polls `txid`), `timed_out` while the person may reply `retry`, `done` once `verified` is set.
 */
export interface StepUp {
  phase: 'pushing' | 'waiting' | 'timed_out' | 'done';
  /** Pushes asked for so far, this one included. */
  push: number;
  /** Of those, the ones irbot's own restart cut short while sending: they use up none of the person's retries. */
  interrupted?: number;
  /** The push being waited for; kept in the store so that a restart polls it again instead of sending another. */
  txid?: string;
  /** When this phase began: the poll deadline and the wait for `retry` count from here. */
  since: string;
  /** Why it did not come to `approved`, in words, once done. */
  reason?: string;
}

export interface HeldLine {
  text: string;
  /** The analyst's id, as on a `SendDm` from them. */
  by: string;
}

/**
 * `person`: the person's clock, given when working hours are set; `urgent`: the alert skips the wait for them.
 */
export type ChatEvent =
  | { type: 'StartRequested'; by: Actor; at: string; personBusy: boolean; person?: PersonClock; urgent?: boolean }
  | { type: 'Dequeued'; at: string; person?: PersonClock; urgent?: boolean }
  /** Start Chat now: a scheduled chat starts without waiting for the person's working hours. */
  /** `personBusy`: another of the person's chats is active (an urgent one, started while this one waited). */
  | { type: 'StartNowRequested'; by: Actor; at: string; personBusy?: boolean }
  | { type: 'DismissRequested'; by: Actor; at: string }
  | { type: 'EndRequested'; by: Actor; at: string }
  /** `ts`: the Slack message's, which orders it against a DM of the bot that crossed it. */
  | { type: 'DirectMessage'; text: string; at: string; ts?: string }
  /**
   * A DM from the person that this ended chat is the last to have reached them before: sent after it ended, or
   * before the chat they are in now first reached them. Relayed in its thread; it answers nothing.
   */
  | { type: 'LateMessage'; text: string; at: string; ts?: string }
  /** A DM from the person written before this active chat's first DM could have reached them: relayed, not judged. */
  | { type: 'EarlyMessage'; text: string; at: string; ts?: string }
  | { type: 'AnalystMessage'; text: string; by: Actor; at: string }
  /** `steering`: how many of the person's replies so far tried to instruct the bot (default 0). */
  /** `stepUp`: an *aware* answer must be confirmed by a push (the alert's `step_up`, else the config's). */
  | {
      type: 'Classified';
      hasAnswered: boolean;
      isAware: boolean;
      upTo: number;
      at: string;
      steering?: number;
      stepUp?: boolean;
      /** Judged by the offline keyword rules, not a model. */
      byRules?: boolean;
      /** The alert's own text tries to instruct the bot. */
      alertSteering?: boolean;
    }
  /** The push was sent; `txid` names it. */
  | { type: 'PushStarted'; push: number; txid: string; at: string }
  /** The push came to `result` (or none could be sent); `push` says which attempt, so a stale one is ignored. */
  /** `interrupted`: irbot stopped while sending it (it may never have reached the phone): not one of the retries. */
  | { type: 'PushFinished'; push: number; result: StepUpResult; reason: string; at: string; interrupted?: boolean }
  /** The clock moved on: a silent person may be due a nudge. */
  /**
   * `personBusy`: another chat of the person's is under way (an urgent one started while this one waited): a
   * scheduled chat whose working hour came waits its turn, queued.
   */
  | { type: 'Tick'; at: string; personBusy?: boolean }
  /**
   * Slack refused an effect for good (channel_not_found, invalid_auth, …). `feedReachable`: the failure was the
   * person's (their DM), so the alert message and its thread can still say so.
   */
  | { type: 'Failed'; reason: string; at: string; feedReachable?: boolean };

/** Orders for the shell. Each one has at most one side effect outside the store, so it can be recorded as done. */
export type Effect =
  | { type: 'UpdateAlert' }
  | { type: 'Greet' }
  | { type: 'Nudge' }
  | { type: 'SendDm'; text: string; from: 'bot' | 'analyst'; by?: string }
  | { type: 'PostInThread'; kind: ThreadPost; text: string }
  | { type: 'Classify'; upTo: number }
  /** Summary with the verdict in the thread; `escalate` adds a ping of the responders after it. */
  | { type: 'Summarise'; escalate?: boolean }
  | { type: 'StartNext' }
  /** Asks the verifier for push number `push` (Duo preauth + auth), without waiting for the answer. */
  | { type: 'StartPush'; push: number }
  /** Polls push `push` (`txid`) until it is final or its time is up, then reports PushFinished. */
  | { type: 'PollPush'; push: number; txid: string };

/** What a thread post relays; the shell turns each into its wording (`Received message from <@U>:` …). */
export type ThreadPost =
  | 'details'
  | 'received'
  /** A reply the person sent after the chat ended (LateMessage). */
  | 'late'
  /** A line the person wrote before the chat reached them (EarlyMessage). */
  | 'early'
  | 'sent'
  | 'summary'
  | 'note'
  | 'escalation'
  | 'step_up'
  /** A snooze made from this alert (Snooze 24 h, or a confirmed "it was me"); the text is written in full. */
  | 'snoozed';

export interface Rules {
  maxNudges: number;
  /** Silence after which the person is nudged (and, after maxNudges, the chat ends as no answer). */
  nudgeAfterMs: number;
  /** New pushes a person may ask for with `retry` after one timed out (default 1). */
  stepUpRetries?: number;
  /** The person's working hours, in their own zone; absent: always (no chat is scheduled). */
  workingHours?: WorkingHours;
  /** The longest a chat waits for the person's working hours (default 12 h); then it ends as no answer. */
  maxWaitMs?: number;
}
