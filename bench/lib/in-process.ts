// irbot in this process, wired as `irbot listen` wires it (real WebClient, OpenAI writer, lowdb store), pointed
// at the local Slack and the local OpenAI-compatible server.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App, type Ports } from '../../src/app.js';
import { realDeps } from '../../src/cli/deps.js';
import { appOptions, buildApp, buildSlack, buildWriter } from '../../src/cli/runtime.js';
import { parseConfig } from '../../src/config/config.js';
import type { Config, Env } from '../../src/config/types.js';
import type { Log } from '../../src/log.js';
import type { LocalSlack } from '../../src/sandbox/local-slack.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import type { Store } from '../../src/store/port.js';

export const FEED = 'C0FEED';
export const ANALYST = 'U0ANALYST';

export interface BenchSetup {
  env: Env;
  config: Config;
  log: Log;
  /** config.toml as text, for irbot processes the bench spawns. */
  configToml: string;
}

/**
 * config.toml for the bench: the store in `dir`, no silence nudges within a run (every nudge answers a reply, so
 * the counts are known in advance), and irbot's own pacing at the local Slack's scale; `extra` lines at the end.
 */
export function benchSetup(opts: {
  slack: LocalSlack;
  openaiBaseUrl: string;
  dir: string;
  log: Log;
  maxNudges: number;
  rateScale: number;
  extra?: string[];
}): BenchSetup {
  const configToml = [
    `feed_channel_id = "${FEED}"`,
    'database_path = "./db.json"',
    'llm_timeout_seconds = 60',
    `max_nudges = ${opts.maxNudges}`,
    'nudge_after_minutes = 1440',
    `slack_rate_scale = ${opts.rateScale}`,
    ...(opts.extra ?? []),
    '',
  ].join('\n');
  const config = parseConfig(configToml, join(opts.dir, 'config.toml'));
  const env: Env = {
    slackBotToken: opts.slack.botToken,
    socketAppToken: opts.slack.appToken,
    openaiApiKey: 'sk-bench-local',
    slackApiUrl: opts.slack.apiUrl,
    openaiBaseUrl: opts.openaiBaseUrl,
  };
  return { env, config, log: opts.log, configToml };
}

/** The variables an irbot process needs to reach the local servers (and DATABASE_URL when given). */
export function benchVariables(setup: BenchSetup, databaseUrl?: string): Record<string, string> {
  const { env } = setup;
  return {
    SLACK_BOT_TOKEN: env.slackBotToken ?? '',
    SOCKET_APP_TOKEN: env.socketAppToken ?? '',
    OPENAI_API_KEY: env.openaiApiKey ?? '',
    SLACK_API_URL: env.slackApiUrl,
    OPENAI_BASE_URL: env.openaiBaseUrl ?? '',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
}

/** The App exactly as `irbot listen` builds it (buildApp), against the local servers. */
export function listeningApp(setup: BenchSetup): App {
  return buildApp(setup, { ...realDeps(), newId: () => randomBytes(4).toString('hex') });
}

/**
 * The App wired as buildApp wires it, but without pacing (no rate limits) and with ports the caller may wrap,
 * e.g. to time them; max_nudges may go past config.toml's 20. The store is config.toml's lowdb one unless given.
 */
export function wrappedApp(
  setup: BenchSetup,
  opts: { maxNudges: number; wrap: (ports: Ports) => Ports; store?: Store },
): { app: App; ports: Ports } {
  const { env, config, log } = setup;
  const ports = opts.wrap({
    slack: buildSlack(env.slackBotToken ?? '', env.slackApiUrl, log),
    llm: buildWriter(env, config),
    store: opts.store ?? openLowdbStore(config.databasePath),
    clock: () => new Date(),
    newId: () => randomBytes(4).toString('hex'),
    log,
  });
  return { app: new App(ports, { ...appOptions(config, env), maxNudges: opts.maxNudges }), ports };
}

export interface FileLog {
  log: Log;
  lines: () => number;
  /** Log lines about failures, retries and fallbacks. */
  troubles: () => number;
  path: string;
  close(): Promise<void>;
}

/** irbot's log lines go to a file (dist-bench/logs/<name>.log), for reading after a surprising run. */
export function fileLog(path: string): FileLog {
  mkdirSync(dirname(path), { recursive: true });
  const stream = createWriteStream(path);
  let lines = 0;
  let troubles = 0;
  return {
    path,
    log: (line) => {
      lines += 1;
      if (/fail|gave up|retry|rate limit|fallback|offline/i.test(line)) troubles += 1;
      stream.write(`${new Date().toISOString()} ${line}\n`);
    },
    lines: () => lines,
    troubles: () => troubles,
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}

/** Runs `fn` over the items with at most `limit` at a time. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
