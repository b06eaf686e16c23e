// The conversation engine's vocabulary: a chat's state, the facts that happen to it, the orders it gives.
import type { StepUpResult } from '../verify/port.js';

export type ChatState = 'posted' | 'queued' | 'active' | 'ended' | 'dismissed' | 'failed';
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
   * The step-up's result once the person said "it was me" and a push was asked for (src/verify/port.ts); absent
   * or null when no step-up ran. Only `approved` makes an aware verdict verified.
   */
  verified?: StepUpResult | null;
}

export interface HeldLine {
  text: string;
  /** The analyst's id, as on a `SendDm` from them. */
  by: string;
}

export type ChatEvent =
  | { type: 'StartRequested'; by: Actor; at: string; personBusy: boolean }
  | { type: 'Dequeued'; at: string }
  | { type: 'DismissRequested'; by: Actor; at: string }
  | { type: 'EndRequested'; by: Actor; at: string }
  /** `ts`: the Slack message's, which orders it against a DM of the bot that crossed it. */
  | { type: 'DirectMessage'; text: string; at: string; ts?: string }
  | { type: 'AnalystMessage'; text: string; by: Actor; at: string }
  /** `steering`: how many of the person's replies so far tried to instruct the bot (default 0). */
  | { type: 'Classified'; hasAnswered: boolean; isAware: boolean; upTo: number; at: string; steering?: number }
  /** The clock moved on: a silent person may be due a nudge. */
  | { type: 'Tick'; at: string }
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
  | { type: 'StartNext' };

/** What a thread post relays; the shell turns each into its wording (`Received message from <@U>:` …). */
export type ThreadPost = 'details' | 'received' | 'sent' | 'summary' | 'note' | 'escalation';

export interface Rules {
  maxNudges: number;
  /** Silence after which the person is nudged (and, after maxNudges, the chat ends as no answer). */
  nudgeAfterMs: number;
}
