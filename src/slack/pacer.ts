// Paces Slack calls to the budget Slack grants: a token bucket per method (and channel), calls served in order.
// Spending the budget ourselves beats learning it from 429s: no retry storms, no lost time.
import { type BucketLimit, type Budget, memoryBudget } from './budget.js';
import { bucketKey, type RateLimit, SLACK_RATE_LIMITS } from './rate-limits.js';

export interface Pacer {
  /**
   * Waits for the call's turn and takes its token; resolves with the milliseconds waited. A chat's thread posts
   * and alert updates say with `isFinal` whether the chat has closed (or the post was taken over from a run that
   * died, and has waited out its lease): final calls take any token, first; the others, in the order they asked,
   * only a full bucket's spare ones, so that its burst is there for the next closing chat (see `serve`). Calls
   * without `isFinal` to a channel's own bucket (a DM) take any token. `first`: the call goes before every call
   * waiting but those that asked first before it (work taken over from a run that died: it has waited out a lease).
   */
  take(method: string, channel?: string, isFinal?: () => boolean, first?: boolean): Promise<number>;
  /** Slack answered 429 with Retry-After: nothing more goes to that bucket before then. */
  backOff(method: string, channel: string | undefined, ms: number): void;
  /**
   * A token taken `heldMs` ago whose call has not left yet: if that is late for its bucket (over half the time a
   * token takes to come, and over NETWORK_JITTER_MS), it goes back, and the call waits for a fresh one, first in
   * line (resolves with the milliseconds waited); null: it is on time, and goes as it is. Slack counts a call as it
   * arrives: one that arrives late beside calls on time finds a bucket that could not refill while Slack saw it
   * full. `waitedMs`: what `take` answered for that token; the call keeps its age (it asked that long before the
   * token came), so that calls overdue since after it asked never pass it.
   */
  retake(
    method: string,
    channel: string | undefined,
    heldMs: number,
    isFinal?: () => boolean,
    waitedMs?: number,
  ): Promise<number> | null;
}

export const unpaced: Pacer = { take: async () => 0, backOff: () => undefined, retake: () => null };

export interface PacerOptions {
  /** Every limit times this (the benchmark runs Slack faster); default 1. */
  scale?: number;
  limits?: Readonly<Record<string, RateLimit>>;
  now?: () => number;
  /** Sleeps `ms`, or until `wake` aborts (a token given back to a bucket whose loop sleeps). */
  sleep?: (ms: number, wake: AbortSignal) => Promise<void>;
  /** Where the buckets live; default: this process's memory (on `now`'s clock). */
  budget?: Budget;
}

/**
 * Longest a call is passed over for final ones (at Slack's own speed; scaled with the limits); after it, overdue calls
 * and final ones take turns.
 */
export const MAX_DEFER_MS = 5 * 60_000;

/**
 * How late a call may reach Slack and still count as on time: any network path to Slack varies by this much, so Slack
 * must tolerate it. At Slack's own speed half a token's time is far longer (half a second for a channel's posts);
 * sped up fifty times (the benchmark), it is 10–12 ms, less than a busy machine's own delays, and a token given
 * back that soon made every alert update of a campaign wait twice for the budget.
 */
export const NETWORK_JITTER_MS = 50;

/** A little under Slack's rate, so that clock drift between us and Slack never costs a 429. */
const MARGIN = 0.98;

interface Waiter {
  /** Asked each time a token is handed out: a chat may close while its post waits. Absent: never final. */
  isFinal: (() => boolean) | undefined;
  called: number;
  resolve: (waited: number) => void;
  /** Asked to go first (taken over, or a token given back): after those that asked so before it, ahead of the rest. */
  first?: boolean;
}

export function createPacer(options: PacerOptions = {}): Pacer & { tracked(): number } {
  const scale = options.scale ?? 1;
  const limits = options.limits ?? SLACK_RATE_LIMITS;
  const now = options.now ?? (() => performance.now());
  const sleep =
    options.sleep ??
    ((ms: number, wake: AbortSignal) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      }));
  /** Each bucket's loop while it sleeps: woken when a token comes back, so that it does not lie unused. */
  const sleeping = new Map<string, AbortController>();
  const budget = options.budget ?? memoryBudget(now);
  /** 429s met per bucket, counted: a token taken ahead before one is not spent after it. */
  const backOffs = new Map<string, number>();
  /** Calls waiting per bucket, in the order they asked; one loop per bucket hands out its tokens. */
  const waiting = new Map<string, Waiter[]>();

  const maxDeferMs = MAX_DEFER_MS / scale;
  const perMsOf = (limit: RateLimit) => (limit.perMinute * scale * MARGIN) / 60_000;
  /**
   * A bucket as the pacer spends it: a little under Slack's rate, and one token less than Slack's burst (at least
   * one). Calls that leave late (a busy event loop, a replica's round trip to the shared budget) reach Slack bunched;
   * the token kept back absorbs that. Slack publishes no bursts (rate-limits.ts): the guess errs on the safe side.
   * Three replicas on two cores met 9–24 429s in a campaign without it, 4–10 with it.
   */
  const bucketOf = (limit: RateLimit): BucketLimit => ({ perMs: perMsOf(limit), burst: Math.max(1, limit.burst - 1) });

  /**
   * Hands out the bucket's tokens as they come: to the first final call waiting, else to the first call. When
   * the budget is short it goes to finishing chats: one message then carries all of a chat's late lines, and
   * live relays that wait meanwhile gather more lines each.
   */
  const serve = async (key: string, limit: RateLimit, queue: Waiter[]): Promise<void> => {
    const bucketLimit = bucketOf(limit);
    // Overdue calls and closing chats' calls take turns, so that neither starves the other: a campaign that asks a
    // thousand "chat started" updates at once would otherwise hold every verdict back until the last had gone.
    let overdueTurn = true;
    const perChannel = limit.per === 'channel';
    try {
      while (queue.length > 0) {
        // No final call waits: the others use only what a full bucket would otherwise waste.
        const whole = nextUp(queue, now(), false, overdueTurn, perChannel) < 0;
        const backOffsBefore = backOffs.get(key);
        const { wait, reserved } = await taken(key, bucketLimit, whole);
        if (wait > 0) {
          const due = now() + wait;
          const met429 = () => backOffs.get(key) !== backOffsBefore;
          for (;;) {
            const wake = new AbortController();
            sleeping.set(key, wake);
            await sleep(Math.max(0, due - now()), wake.signal);
            sleeping.delete(key);
            // Woken early (a token given back, a call to go first), a token taken ahead is still ours when due; a
            // token given back stays in the bucket for the next take.
            if (!reserved || met429() || now() >= due) break;
          }
          // Else a final call or a 429 may have come meanwhile: look again (a token taken before a 429 is not spent).
          if (!reserved || met429()) continue;
        }
        const t = now();
        const next = nextUp(queue, t, true, overdueTurn, perChannel);
        const [waiter] = queue.splice(Math.max(next, 0), 1);
        overdueTurn = !(waiter && t - waiter.called >= maxDeferMs);
        waiter?.resolve(t - waiter.called);
      }
    } finally {
      waiting.delete(key);
      backOffs.delete(key);
    }
  };

  /** A take: ahead of time where the budget can (a round trip saved for each call that waits), never for a whole. */
  const taken = async (
    key: string,
    limit: BucketLimit,
    whole: boolean,
  ): Promise<{ wait: number; reserved: boolean }> => {
    if (!whole && budget.takeAhead) return budget.takeAhead(key, limit);
    const asked = budget.take(key, limit, whole);
    return { wait: typeof asked === 'number' ? asked : await asked, reserved: false };
  };

  /**
   * The waiter the next token goes to, asked now (a chat may have closed while its post waited): the oldest if it
   * is overdue (so that other calls are late but never starve) and it is `overdueTurn`, else the first final one,
   * else the oldest overdue one, else the first of a channel's own calls, else the first if the bucket is full; -1
   * when none may have it yet.
   */
  const nextUp = (queue: Waiter[], t: number, full: boolean, overdueTurn: boolean, perChannel: boolean): number => {
    // The oldest ask (a call that gave its token back keeps its age, and waits first in line).
    let oldest = -1;
    for (const [i, w] of queue.entries()) if (oldest < 0 || w.called < (queue[oldest] as Waiter).called) oldest = i;
    const overdue = oldest >= 0 && t - (queue[oldest] as Waiter).called >= maxDeferMs;
    if (overdue && overdueTurn) return oldest;
    const final = queue.findIndex((w) => w.isFinal?.() === true);
    if (final >= 0) return final;
    if (overdue) return oldest;
    // A channel's own calls that are no chat's relay (a DM, an alert) need no burst kept from them. Name lookups
    // keep waiting for a full bucket: taking its burst at once, they sped the greetings of a campaign of 100 up,
    // and more "chat started" updates went out before the verdicts (bench campaign-100: 2.8–3.2× against 2.4–2.7×).
    const plain = perChannel ? queue.findIndex((w) => w.isFinal === undefined) : -1;
    if (plain >= 0) return plain;
    return full ? 0 : -1;
  };

  const enqueue = (method: string, limit: RateLimit, channel: string | undefined, waiter: Waiter, first: boolean) => {
    const key = bucketKey(method, limit, channel);
    const queue = waiting.get(key);
    if (queue && first) {
      // In the order they asked among those first in line: the dead run's oldest work taken over goes first.
      const rest = queue.findIndex((w) => !w.first);
      waiter.first = true;
      queue.splice(rest < 0 ? queue.length : rest, 0, waiter);
      sleeping.get(key)?.abort();
    } else if (queue) queue.push(waiter);
    else {
      const fresh = [waiter];
      waiting.set(key, fresh);
      void serve(key, limit, fresh);
    }
  };

  return {
    /** How many buckets are kept (for tests of memory). */
    tracked: () => budget.tracked(),
    retake(method, channel, heldMs, isFinal, waitedMs = 0) {
      const limit = limits[method];
      if (!limit || heldMs <= Math.max(NETWORK_JITTER_MS, 1 / perMsOf(limit) / 2)) return null;
      const since = now();
      // Given a fresh age, it would wait behind every call that turned overdue while it waited the first time: in a
      // campaign, a thousand of them, each giving its token back in turn while the store was slow.
      const called = since - heldMs - waitedMs;
      const bucket = bucketOf(limit);
      return Promise.resolve(budget.refund(bucketKey(method, limit, channel), bucket))
        .then(() => new Promise((resolve) => enqueue(method, limit, channel, { isFinal, called, resolve }, true)))
        .then(() => now() - since);
    },
    backOff(method, channel, ms) {
      const limit = limits[method];
      if (!limit) return;
      // Refilling starts over from now, not from the last take.
      const key = bucketKey(method, limit, channel);
      budget.backOff(key, bucketOf(limit), ms);
      // A loop asleep on a token taken ahead must not spend it into the 429: woken, it asks again. Counted only
      // while calls wait, so that the map stays as small as the queues.
      if (waiting.has(key)) backOffs.set(key, (backOffs.get(key) ?? 0) + 1);
      sleeping.get(key)?.abort();
    },
    take(method, channel, isFinal, first = false) {
      const limit = limits[method];
      if (!limit) return Promise.resolve(0);
      return new Promise<number>((resolve) =>
        enqueue(method, limit, channel, { isFinal, called: now(), resolve }, first),
      );
    },
  };
}
