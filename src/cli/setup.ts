// What every command reads first (.env, config.toml, the store), apart from runtime.ts, which builds the App and
// its clients: `status`, `transcript`, `report` and `snooze` load only this.
import { resolve } from 'node:path';
import { loadConfig } from '../config/config.js';
import { loadEnv, readEnv, requireEnv } from '../config/env.js';
import type { Config, Env } from '../config/types.js';
import { type Log, stderrLog } from '../log.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import { openPgStore } from '../store/pg/pg-store.js';
import type { Store } from '../store/port.js';
import { chalkFor } from './colour.js';
import type { Deps } from './deps.js';

export type Need = 'slackBotToken' | 'socketAppToken' | 'openaiApiKey' | 'slackSigningSecret';

export interface Setup {
  env: Env;
  config: Config;
  log: Log;
  /** A command that does one thing and exits (send-alert, chat): Slack calls give up within about 30 s. */
  oneShot?: boolean;
  /** A daemon's stop (listen's signal): Slack calls waiting to be tried again give up when it comes. */
  stopping?: AbortSignal;
  /** A little after the stop: an LLM call under way is let go, its effect left for the next start. */
  stopWriting?: AbortSignal;
  /** The environment, process values over .env: where the secrets config.toml names (`secret_env`) are read. */
  vars?: Record<string, string | undefined>;
}

/** Reads .env and config.toml and checks the variables a command needs: all before anything is written. */
export async function loadSetup(deps: Deps, configOption: string | undefined, needs: Need[]): Promise<Setup> {
  const vars = await loadEnv(deps.cwd, deps.env);
  const env = readEnv(vars);
  requireEnv(env, needs);
  const file = resolve(deps.cwd, configOption ?? env.configPath ?? 'config.toml');
  const config = await loadConfig(file);
  // DATABASE_URL wins over config.toml's database_url, as every variable does over the file.
  if (env.databaseUrl) config.databaseUrl = env.databaseUrl;
  return { env, config, log: stderrLog(deps.stderr, deps.clock, chalkFor(deps.stderr, deps.env)), vars };
}

/** PostgreSQL stores by URL: the commands of one process (and the tests' in-process runs) share one pool. */
const pgStores = new Map<string, Store>();

/**
 * The store: PostgreSQL when a database URL is set, else the lowdb files; `log` hears that a store file open to
 * other users was set to mode 0600, or that a database connection was lost.
 */
export function openStore(config: Config, log?: Log): Store {
  const url = config.databaseUrl;
  if (!url) return openLowdbStore(config.databasePath, { log });
  let store = pgStores.get(url);
  if (!store) {
    store = openPgStore(url, { log });
    pgStores.set(url, store);
  }
  return store;
}
