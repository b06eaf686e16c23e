// The campaign's lower bound: no scheduler can finish before its busiest rate-limited bucket has carried the calls
// it must carry, nor before one chat's LLM calls have run one after another.
import type { RateLimit } from '../../src/sandbox/local-slack-ratelimit.js';

/** What one chat of the campaign sends: the person answers after one nudge. */
export interface ChatFlow {
  /** Relay lines in the alert's thread: sent greeting, received, sent nudge, received, sent thanks, summary. */
  threadLines: number;
  /** chat.update of the alert message: chat started, chat ended. */
  updates: number;
  /** Bot DMs to the person: greeting, nudge, thanks; each waits for the person, so none can be merged. */
  dms: number;
  /** users.info, once per person. */
  userLookups: number;
  /** LLM calls that must follow each other: greet, classify, nudge, classify, summarise. */
  llmInSequence: number;
}

export const CAMPAIGN_FLOW: ChatFlow = { threadLines: 6, updates: 2, dms: 3, userLookups: 1, llmInSequence: 5 };

/**
 * `floor`: what any correct irbot must send: every relay line may share one thread message per chat, and a chat
 * that ends before its "started" update went out needs only the final one. `uncoalesced`: one message per relay
 * line and both updates, the flow as first written.
 */
export type BoundKind = 'floor' | 'uncoalesced';

export interface Term {
  what: string;
  calls: number;
  /** Scaled rate of the bucket, calls per minute; 0 for the latency term. */
  perMinute: number;
  /** The bucket's burst plus the calls the rate-limit leeway lets through early. */
  burst: number;
  seconds: number;
}

export interface LowerBound {
  kind: BoundKind;
  seconds: number;
  binding: string;
  terms: Term[];
}

/** Seconds for one bucket to carry `calls`, starting full: the first `burst` go at once, then one per 60/perMinute s. */
export function bucketSeconds(calls: number, perMinute: number, burst: number): number {
  return Math.max(0, calls - burst) / (perMinute / 60);
}

export function campaignLowerBound(opts: {
  n: number;
  /** Scaled limits, as the local Slack enforces them. */
  limitOf: (method: string) => RateLimit | undefined;
  /** Real milliseconds the LLM server waits per request. */
  llmLatencyMs: number;
  /** The local Slack's leeway (real ms): it lets that much of each bucket's rate through early. */
  toleranceMs?: number;
  kind?: BoundKind;
  flow?: ChatFlow;
}): LowerBound {
  const { n, limitOf, llmLatencyMs, toleranceMs = 0, kind = 'floor', flow = CAMPAIGN_FLOW } = opts;
  const threadMessages = kind === 'floor' ? 1 : flow.threadLines;
  const updates = kind === 'floor' ? 1 : flow.updates;
  const terms: Term[] = [];
  const add = (what: string, method: string, calls: number) => {
    const limit = limitOf(method);
    if (limit === undefined || calls === 0) return;
    const burst = Math.max(1, limit.burst) + (toleranceMs * limit.perMinute) / 60_000;
    terms.push({
      what,
      calls,
      perMinute: limit.perMinute,
      burst,
      seconds: bucketSeconds(calls, limit.perMinute, burst),
    });
  };
  // Every thread is in the one feed channel; every DM is a channel of its own.
  add(`chat.postMessage, feed channel: ${threadMessages} per chat`, 'chat.postMessage', n * threadMessages);
  add(`chat.postMessage, one DM: ${flow.dms}`, 'chat.postMessage', flow.dms);
  add(`chat.update, workspace: ${updates} per chat`, 'chat.update', n * updates);
  add(`users.info, workspace: ${flow.userLookups} per chat`, 'users.info', n * flow.userLookups);
  terms.push({
    what: `one chat's ${flow.llmInSequence} LLM calls in a row`,
    calls: flow.llmInSequence,
    perMinute: 0,
    burst: 0,
    seconds: (flow.llmInSequence * llmLatencyMs) / 1000,
  });
  const binding = terms.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  return { kind, seconds: binding.seconds, binding: binding.what, terms };
}
