// Slack's published Web API rate limits, enforced by the local Slack: token buckets per method (and per channel where
// Slack counts per channel), answered as Slack does, with HTTP 429 and an integer Retry-After in seconds.
import { bucketKey, type RateLimit, SLACK_RATE_LIMITS } from '../slack/rate-limits.js';

export type { RateLimit } from '../slack/rate-limits.js';
export { SLACK_RATE_LIMITS } from '../slack/rate-limits.js';

export interface RateLimitOptions {
  /** Speeds every limit up by this factor (50 = fifty times as many calls per minute); default 1. */
  scale?: number;
  /** Per method, over SLACK_RATE_LIMITS; `null` switches a method's limit off. */
  limits?: Record<string, RateLimit | null>;
  /**
   * Real milliseconds of leeway: a call that arrives this much before its token is due still passes (the token is
   * borrowed). Default 0. A run sped up by `scale` compresses Slack's time but not the jitter of the machine and
   * its network stack, which this absorbs.
   */
  toleranceMs?: number;
  /** Milliseconds on a monotonic clock; default performance.now. Tests hand in their own. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A call over the limit: how long until the bucket has a token again. */
export interface Refusal {
  retryAfterMs: number;
  /** What the `Retry-After` header says: whole seconds, rounded up, at least 1 (the SDK parses an integer). */
  retryAfterSeconds: number;
}

export class RateLimiter {
  /** While false, every call passes and nothing is counted; `enable()` starts with full buckets. */
  enabled = true;
  private readonly limits: Map<string, RateLimit>;
  private readonly scale: number;
  private readonly toleranceMs: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly refused = new Map<string, number>();

  constructor(options: RateLimitOptions = {}) {
    this.scale = options.scale ?? 1;
    if (!(this.scale > 0)) throw new RangeError('rate limit scale must be a positive number');
    this.toleranceMs = options.toleranceMs ?? 0;
    this.now = options.now ?? (() => performance.now());
    this.limits = new Map(Object.entries(SLACK_RATE_LIMITS));
    for (const [method, limit] of Object.entries(options.limits ?? {})) {
      if (limit === null) this.limits.delete(method);
      else this.limits.set(method, limit);
    }
  }

  /** The limit in force for a method, already scaled; undefined when the method is not limited. */
  limitOf(method: string): RateLimit | undefined {
    const limit = this.limits.get(method);
    return limit && { ...limit, perMinute: limit.perMinute * this.scale };
  }

  /**
   * Takes a token for one call of `method` in `channel` (a resolved channel ID, for per-channel limits). Returns
   * undefined when the call may go ahead, else the refusal; a refused call takes no token, as in Slack.
   */
  take(method: string, channel: string | undefined): Refusal | undefined {
    if (!this.enabled) return undefined;
    const limit = this.limits.get(method);
    if (limit === undefined) return undefined;
    const key = bucketKey(method, limit, channel);
    const now = this.now();
    const capacity = Math.max(1, limit.burst);
    const perMs = (limit.perMinute * this.scale) / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    // Floating-point refill must not refuse a call that is exactly on time.
    if (bucket.tokens >= 1 - this.toleranceMs * perMs - 1e-9) {
      bucket.tokens -= 1;
      return undefined;
    }
    this.refused.set(method, (this.refused.get(method) ?? 0) + 1);
    const retryAfterMs = Math.max(0, (1 - bucket.tokens) / perMs - this.toleranceMs);
    return { retryAfterMs, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
  }

  /** Calls answered with 429, per method. */
  get rateLimited(): Record<string, number> {
    return Object.fromEntries(this.refused);
  }

  /** Switches limiting on with every bucket full and the 429 counts at zero. */
  enable(): void {
    this.buckets.clear();
    this.refused.clear();
    this.enabled = true;
  }

  disable(): void {
    this.enabled = false;
  }
}
