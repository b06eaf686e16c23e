// The pacer's token buckets in PostgreSQL: every replica on every machine takes its tokens from one row per bucket,
// in one statement each, so that together they spend what Slack grants, and a 429 one of them met holds back all.
import { type BucketLimit, type Budget, memoryBudget } from './budget.js';

/** The table and its take (`irbot_take_token`), created by the store's migrations (src/store/pg/schema.ts). */
const SLACK_BUDGET_TABLE = 'irbot_slack_budget';

/** Where the buckets are: the PostgreSQL store's connections (or a pg.Pool, in tests). */
export interface BudgetDatabase {
  query<R extends Record<string, unknown>>(
    query: string | { name: string; text: string; values: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
}

/** The database's clock in milliseconds (also in irbot_take_token): replicas on several machines share it, whatever their own clocks say. */
const DB_NOW = `(extract(epoch from clock_timestamp()) * 1000)::float8`;

/** One take (`irbot_take_token` below): one statement, one round trip; each a prepared statement, parsed once a connection. */
const TAKE = 'SELECT irbot_take_token($1, $2, $3, $4) AS wait';

/** One take that reserves the next token when there is none now (`irbot_take_token_ahead`, migration 12). */
const TAKE_AHEAD = 'SELECT wait, reserved FROM irbot_take_token_ahead($1, $2, $3)';

/**
 * After a 429: empty, refilling from now, shut for $2 ms (or longer, if it already was). $3 burst, $4 per ms. Tokens
 * other replicas took ahead (below zero) stay owed: they are spent when due, and the bucket refills after them.
 */
const BACK_OFF = `
WITH t AS (SELECT ${DB_NOW} AS now)
INSERT INTO ${SLACK_BUDGET_TABLE} AS b (key, tokens, at, shut_until, full_at)
SELECT $1, 0, t.now, t.now + $2::float8, t.now + $2::float8 + $3::float8 / $4::float8 FROM t
ON CONFLICT (key) DO UPDATE SET
  tokens = LEAST(b.tokens, 0),
  at = excluded.at,
  shut_until = GREATEST(COALESCE(b.shut_until, 0), excluded.shut_until),
  full_at = GREATEST(COALESCE(b.shut_until, 0), excluded.shut_until) + ($3::float8 - LEAST(b.tokens, 0)) / $4::float8`;

/** A token back (the next take refills it to now and caps it at the burst). */
const REFUND = `UPDATE ${SLACK_BUDGET_TABLE} SET tokens = LEAST($2::float8, tokens + 1) WHERE key = $1`;

/** Buckets full and open again hold nothing worth keeping (a DM channel's bucket, say, long after the chat). */
const DROP_IDLE = `DELETE FROM ${SLACK_BUDGET_TABLE} WHERE full_at < ${DB_NOW}`;

/** How often (in takes of this process) idle rows are dropped. */
const DROP_EVERY = 1000;

export interface PgBudgetOptions {
  /**
   * Told when the database cannot be used for a take; that take is paced in this process alone (which costs at most
   * a 429 or two), and the next one asks the database again: a restarted database is used again at once.
   */
  onError?: (err: unknown) => void;
}

/** The budget of every replica that shares `pool`'s database (whose migrations created the table). */
export function pgBudget(pool: BudgetDatabase, options: PgBudgetOptions = {}): Budget {
  const local = memoryBudget(Date.now);
  let takes = 0;
  /** 429s this process saw, held here too: the database may be away at that moment. */
  const shutUntil = new Map<string, number>();
  let failing = false;
  const fail = (err: unknown) => {
    if (!failing) options.onError?.(err);
    failing = true;
  };

  /** The wait of a 429 this process met, if it still holds. */
  const shutFor = (key: string): number | undefined => {
    const until = shutUntil.get(key);
    if (until === undefined) return undefined;
    if (until > Date.now()) return until - Date.now();
    shutUntil.delete(key);
    return undefined;
  };

  /** Housekeeping beside a take, not before it: a call waiting for its token does not wait for the sweep. */
  const housekeep = () => {
    if (++takes % DROP_EVERY === 0) pool.query(DROP_IDLE).then(() => undefined, fail);
  };

  /**
   * One take in the database, ahead of time (`takeAhead`) or not; while the database is away, in this process (never
   * ahead there: nothing is owed to a bucket of this process alone).
   */
  const ask = async (
    key: string,
    limit: BucketLimit,
    whole: boolean,
    ahead: boolean,
  ): Promise<{ wait: number; reserved: boolean }> => {
    const shut = shutFor(key);
    if (shut !== undefined) return { wait: shut, reserved: false };
    try {
      housekeep();
      const result = ahead
        ? await pool.query<{ wait: number; reserved: boolean }>({
            name: 'irbot_take_ahead',
            text: TAKE_AHEAD,
            values: [key, limit.perMs, limit.burst],
          })
        : await pool.query<{ wait: number }>({
            name: 'irbot_take_token',
            text: TAKE,
            values: [key, limit.perMs, limit.burst, whole],
          });
      failing = false;
      const row: { wait?: number; reserved?: boolean } | undefined = result.rows[0];
      return { wait: Math.max(0, Number(row?.wait ?? 0)), reserved: row?.reserved === true };
    } catch (err) {
      fail(err);
      return { wait: local.take(key, limit, whole) as number, reserved: false };
    }
  };

  return {
    tracked: () => local.tracked() + shutUntil.size,
    take: async (key, limit, whole) => (await ask(key, limit, whole, false)).wait,
    takeAhead: (key, limit) => ask(key, limit, false, true),
    async refund(key, limit) {
      local.refund(key, limit);
      await pool.query({ name: 'irbot_refund', text: REFUND, values: [key, limit.burst] }).then(() => undefined, fail);
    },
    backOff(key, limit, ms) {
      local.backOff(key, limit, ms);
      shutUntil.set(key, Math.max(shutUntil.get(key) ?? 0, Date.now() + ms));
      pool.query(BACK_OFF, [key, ms, limit.burst, limit.perMs]).then(() => undefined, fail);
    },
  };
}
