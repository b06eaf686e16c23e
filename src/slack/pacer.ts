// Paces Slack calls to the budget Slack grants: a token bucket per method (and channel), calls served in order.
// Spending the budget ourselves beats learning it from 429s: no retry storms, no lost time.
import { bucketKey, type RateLimit, SLACK_RATE_LIMITS } from './rate-limits.js';

export interface Pacer {
  /** Waits for the call's turn and takes its token; resolves with the milliseconds waited. */
  take(method: string, channel?: string): Promise<number>;
  /** Slack answered 429 with Retry-After: nothing more goes to that bucket before then. */
  backOff(method: string, channel: string | undefined, ms: number): void;
}

export const unpaced: Pacer = { take: async () => 0, backOff: () => undefined };

export interface PacerOptions {
  /** Every limit times this (the benchmark runs Slack faster); default 1. */
  scale?: number;
  limits?: Readonly<Record<string, RateLimit>>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** A little under Slack's rate, so that clock drift between us and Slack never costs a 429. */
const MARGIN = 0.98;

export function createPacer(options: PacerOptions = {}): Pacer & { tracked(): number } {
  const scale = options.scale ?? 1;
  const limits = options.limits ?? SLACK_RATE_LIMITS;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const buckets = new Map<string, { tokens: number; at: number; until?: number }>();
  const tails = new Map<string, Promise<unknown>>();

  const turn = async (key: string, limit: RateLimit, called: number): Promise<number> => {
    const perMs = (limit.perMinute * scale * MARGIN) / 60_000;
    const bucket = buckets.get(key) ?? { tokens: limit.burst, at: now() };
    buckets.set(key, bucket);
    const refill = () => {
      const t = now();
      bucket.tokens = Math.min(limit.burst, bucket.tokens + (t - bucket.at) * perMs);
      bucket.at = t;
    };
    refill();
    while (bucket.until !== undefined && now() < bucket.until) await sleep(bucket.until - now());
    refill();
    while (bucket.tokens < 1) {
      await sleep(Math.ceil((1 - bucket.tokens) / perMs));
      refill();
    }
    bucket.tokens -= 1;
    return now() - called;
  };

  /** A bucket that has refilled completely holds no state worth keeping: forgetting it keeps memory flat. */
  let takes = 0;
  const forgetIdle = () => {
    const t = now();
    for (const [key, bucket] of buckets) {
      const limit = limits[key.split(' ')[0] ?? ''];
      if (!limit || tails.has(key) || (bucket.until ?? 0) > t) continue;
      const perMs = (limit.perMinute * scale * MARGIN) / 60_000;
      if (bucket.tokens + (t - bucket.at) * perMs >= limit.burst) buckets.delete(key);
    }
  };

  return {
    /** How many buckets are kept (for tests of memory). */
    tracked: () => buckets.size,
    backOff(method, channel, ms) {
      const limit = limits[method];
      if (!limit) return;
      const key = bucketKey(method, limit, channel);
      const bucket = buckets.get(key) ?? { tokens: 0, at: now() };
      bucket.tokens = 0;
      bucket.until = Math.max(bucket.until ?? 0, now() + ms);
      buckets.set(key, bucket);
    },
    take(method, channel) {
      const limit = limits[method];
      if (!limit) return Promise.resolve(0);
      if (++takes % 1000 === 0) forgetIdle();
      const key = bucketKey(method, limit, channel);
      const called = now();
      const previous = tails.get(key) ?? Promise.resolve();
      const mine = previous.then(() => turn(key, limit, called));
      const tail = mine.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return mine;
    },
  };
}
