// Where the pacer's token buckets live: in this process, or in a small file beside the store that every irbot
// process on the machine reads and writes under its own lock, so that they spend one Slack budget between them.
import fs from 'node:fs';
import type Lockfile from 'proper-lockfile';
import { requireCjs } from '../cjs.js';

const lockfile = requireCjs('proper-lockfile') as typeof Lockfile;

/** A bucket's limit as the pacer spends it: tokens per millisecond (scaled, with its margin) and the burst. */
export interface BucketLimit {
  perMs: number;
  burst: number;
}

export interface Budget {
  /**
   * Takes a token of bucket `key` when it has one (with `whole`, only from a full bucket) and answers 0, else the
   * milliseconds to wait before asking again. A process-local budget answers at once, so that a call that finds a
   * token gets it in the tick it asked.
   */
  take(key: string, limit: BucketLimit, whole: boolean): number | Promise<number>;
  /**
   * For a budget whose take is a round trip (PostgreSQL): takes a token, or, when the bucket has none now and is not
   * shut, the next one to come, ahead of time (the bucket goes below zero): `reserved`, and `wait` is how long
   * until it is due; the caller waits that long and spends it without asking again. A shut bucket answers its wait,
   * as `take` does. One round trip where a take that must wait costs two or more (others take the token meanwhile).
   */
  takeAhead?(key: string, limit: BucketLimit): Promise<{ wait: number; reserved: boolean }>;
  /** Slack answered 429: the bucket is empty and shut for `ms`, for every process that shares it. */
  backOff(key: string, limit: BucketLimit, ms: number): void;
  /** How many buckets this process keeps in memory (for tests of memory). */
  tracked(): number;
  /** A token taken and not spent goes back to its bucket (never above the burst); resolves once it is back. */
  refund(key: string, limit: BucketLimit): void | Promise<void>;
}

/** A bucket as stored: tokens at time `at`, shut until `until` after a 429. Times are the budget's clock. */
export interface Bucket {
  tokens: number;
  at: number;
  until?: number;
}

/** The bucket refilled to `t` (a clock that went back refills nothing). */
function refilled(bucket: Bucket, limit: BucketLimit, t: number): Bucket {
  const tokens = Math.min(limit.burst, bucket.tokens + Math.max(0, t - bucket.at) * limit.perMs);
  return bucket.until !== undefined && bucket.until > t ? { tokens, at: t, until: bucket.until } : { tokens, at: t };
}

/** One take, pure: the bucket afterwards and the wait (0 when a token was taken). */
export function takeToken(
  stored: Bucket | undefined,
  limit: BucketLimit,
  whole: boolean,
  t: number,
): { bucket: Bucket; wait: number } {
  const bucket = refilled(stored ?? { tokens: limit.burst, at: t }, limit, t);
  if (bucket.until !== undefined) return { bucket, wait: bucket.until - t };
  if (bucket.tokens < 1) return { bucket, wait: Math.ceil((1 - bucket.tokens) / limit.perMs) };
  if (whole && bucket.tokens < limit.burst - 1e-9) {
    return { bucket, wait: Math.ceil(Math.min(limit.burst - bucket.tokens, 1) / limit.perMs) };
  }
  bucket.tokens -= 1;
  return { bucket, wait: 0 };
}

/** After a 429: empty, refilling from now, shut for `ms` (or longer, if it already was). */
export function shut(stored: Bucket | undefined, ms: number, t: number): Bucket {
  return { tokens: 0, at: t, until: Math.max(stored?.until ?? 0, t + ms) };
}

/** A bucket that has refilled completely and is not shut holds nothing worth keeping. */
function idle(bucket: Bucket, limit: BucketLimit, t: number): boolean {
  const now = refilled(bucket, limit, t);
  return now.until === undefined && now.tokens >= limit.burst;
}

/** This process's buckets alone (`irbot sandbox`, tests): idle ones are forgotten, so memory stays flat. */
export function memoryBudget(now: () => number = () => performance.now()): Budget {
  const buckets = new Map<string, { bucket: Bucket; limit: BucketLimit }>();
  let takes = 0;
  const forgetIdle = () => {
    const t = now();
    for (const [key, { bucket, limit }] of buckets) if (idle(bucket, limit, t)) buckets.delete(key);
  };
  return {
    tracked: () => buckets.size,
    take(key, limit, whole) {
      if (++takes % 1000 === 0) forgetIdle();
      const { bucket, wait } = takeToken(buckets.get(key)?.bucket, limit, whole, now());
      buckets.set(key, { bucket, limit });
      return wait;
    },
    backOff(key, limit, ms) {
      buckets.set(key, { bucket: shut(buckets.get(key)?.bucket, ms, now()), limit });
    },
    refund(key, limit) {
      const stored = buckets.get(key);
      if (stored) stored.bucket = refunded(stored.bucket, limit, now());
    },
  };
}

/** A bucket with a token given back, refilled to `t` first. */
export function refunded(bucket: Bucket, limit: BucketLimit, t: number): Bucket {
  const now = refilled(bucket, limit, t);
  return { ...now, tokens: Math.min(limit.burst, now.tokens + 1) };
}

/** `irbot-db.json` → `irbot-db.slack-budget.json`, beside it. */
export function budgetPathOf(storePath: string): string {
  return storePath.endsWith('.json')
    ? `${storePath.slice(0, -'.json'.length)}.slack-budget.json`
    : `${storePath}.slack-budget.json`;
}

/** A stored bucket and when it is full again, so that any process can drop it without knowing its limit. */
interface StoredBucket extends Bucket {
  full: number;
}

interface BudgetFile {
  buckets: Record<string, StoredBucket>;
}

/** While another process holds the file's lock (for microseconds): ask again this soon. */
const LOCKED_RETRY_MS = 2;

export interface FileBudgetOptions {
  /** Milliseconds since the epoch: the processes sharing the file share this clock. */
  now?: () => number;
  /** Told once when the file cannot be used; the budget then stays in this process's memory. */
  onError?: (err: unknown) => void;
}

/**
 * The budget in a file beside the store, read and written whole under a lock of its own (proper-lockfile, taken
 * synchronously: the read, the change and the write are one synchronous step of microseconds, so the lock is
 * never held across an await). The file is advisory: one that is missing or torn starts over with full buckets,
 * which costs at most a 429 or two; one that cannot be opened (a symlink, a folder without write access) leaves
 * this process pacing itself alone.
 */
export function fileBudget(path: string, options: FileBudgetOptions = {}): Budget {
  const now = options.now ?? Date.now;
  const local = memoryBudget(now);
  /** 429s this process saw, held here too: the file may be locked at that moment. */
  const shutUntil = new Map<string, number>();
  let broken = false;
  const fail = (err: unknown) => {
    broken = true;
    options.onError?.(err);
  };
  const lockOptions = { realpath: false, stale: 2000, onCompromised: () => undefined };

  /** Runs `change` on the file's buckets under the lock; false when the lock is held by another process. */
  const withFile = (change: (buckets: Record<string, StoredBucket>, t: number) => void): boolean => {
    let release: () => void;
    try {
      release = lockfile.lockSync(path, lockOptions);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return false;
      throw err;
    }
    try {
      const { O_RDWR, O_CREAT, O_NOFOLLOW } = fs.constants;
      const fd = fs.openSync(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0o600);
      try {
        const before = fs.readFileSync(fd, 'utf8');
        const buckets = parse(before);
        const t = now();
        change(buckets, t);
        for (const [key, bucket] of Object.entries(buckets)) {
          if (bucket.full <= t && (bucket.until ?? 0) <= t) delete buckets[key];
        }
        // Written over in place, padded with spaces to the old length (JSON allows them): no truncation, which
        // costs the file system more than the write.
        const json = JSON.stringify({ buckets } satisfies BudgetFile);
        const shrink = before.length > 4096 && json.length < before.length / 2;
        if (shrink) fs.ftruncateSync(fd, 0);
        fs.writeSync(fd, shrink ? json : json.padEnd(before.length), 0, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      release();
    }
    return true;
  };

  const store = (buckets: Record<string, StoredBucket>, key: string, bucket: Bucket, limit: BucketLimit) => {
    const full = bucket.at + Math.max(0, limit.burst - bucket.tokens) / limit.perMs;
    buckets[key] = { ...bucket, full: Math.max(full, bucket.until ?? 0) };
  };

  return {
    tracked: () => local.tracked() + shutUntil.size,
    take(key, limit, whole) {
      if (broken) return local.take(key, limit, whole);
      const until = shutUntil.get(key);
      if (until !== undefined) {
        const t = now();
        if (until > t) return until - t;
        shutUntil.delete(key);
      }
      let wait = LOCKED_RETRY_MS;
      try {
        withFile((buckets, t) => {
          const taken = takeToken(buckets[key], limit, whole, t);
          store(buckets, key, taken.bucket, limit);
          wait = taken.wait;
        });
      } catch (err) {
        fail(err);
        return local.take(key, limit, whole);
      }
      return wait;
    },
    backOff(key, limit, ms) {
      local.backOff(key, limit, ms);
      if (broken) return;
      shutUntil.set(key, Math.max(shutUntil.get(key) ?? 0, now() + ms));
      const write = () => {
        try {
          const done = withFile((buckets, t) => store(buckets, key, shut(buckets[key], ms, t), limit));
          if (!done) setTimeout(write, LOCKED_RETRY_MS).unref();
        } catch (err) {
          fail(err);
        }
      };
      write();
    },
    refund(key, limit) {
      local.refund(key, limit);
      if (broken) return;
      try {
        // Dropped when the file is locked: it costs the wait for one token.
        withFile((buckets, t) => {
          const stored = buckets[key];
          if (stored) store(buckets, key, refunded(stored, limit, t), limit);
        });
      } catch (err) {
        fail(err);
      }
    },
  };
}

function parse(text: string): Record<string, StoredBucket> {
  if (text === '') return {};
  try {
    const file = JSON.parse(text) as Partial<BudgetFile>;
    const buckets: Record<string, StoredBucket> = {};
    for (const [key, b] of Object.entries(typeof file.buckets === 'object' && file.buckets ? file.buckets : {})) {
      const numbers = [b?.tokens, b?.at, b?.full, b?.until ?? 0].every(
        (n) => typeof n === 'number' && Number.isFinite(n),
      );
      if (numbers) buckets[key] = b;
    }
    return buckets;
  } catch {
    return {}; // torn by a crash mid-write: start over with full buckets
  }
}
