// Turns env + config into running ports and an App; the only place that builds SDK clients.
import { resolve } from 'node:path';
import { App, type AppOptions } from '../app.js';
import { loadConfig } from '../config/config.js';
import { loadEnv, readEnv, requireEnv } from '../config/env.js';
import type { Config, Env } from '../config/types.js';
import { withFallback } from '../llm/fallback-writer.js';
import { createOfflineWriter } from '../llm/offline-writer.js';
import { createOpenAiWriter } from '../llm/openai-writer.js';
import type { Writer } from '../llm/port.js';
import { type Log, oneLine, stderrLog } from '../log.js';
import { connectSocket } from '../slack/socket.js';
import { createSlackPort, createWebClient } from '../slack/web-slack.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import type { Store } from '../store/port.js';
import type { Deps } from './deps.js';

export type Need = 'slackBotToken' | 'socketAppToken' | 'openaiApiKey';

export interface Setup {
  env: Env;
  config: Config;
  log: Log;
}

/** Reads .env and config.toml and checks the variables a command needs: all before anything is written. */
export async function loadSetup(deps: Deps, configOption: string | undefined, needs: Need[]): Promise<Setup> {
  const env = readEnv(await loadEnv(deps.cwd, deps.env));
  requireEnv(env, needs);
  const file = resolve(deps.cwd, configOption ?? env.configPath ?? 'config.toml');
  const config = await loadConfig(file);
  return { env, config, log: stderrLog(deps.stderr, deps.clock) };
}

export function openStore(config: Config): Store {
  return openLowdbStore(config.databasePath);
}

export function buildWriter(env: Env, config: Config, log: Log): Writer {
  const offline = createOfflineWriter();
  if (!env.openaiApiKey) return offline;
  const openai = createOpenAiWriter({
    apiKey: env.openaiApiKey,
    ...(env.openaiBaseUrl ? { baseURL: env.openaiBaseUrl } : {}),
    ...(config.openaiOrganizationId ? { organization: config.openaiOrganizationId } : {}),
    model: config.openaiModel,
    timeoutMs: config.llmTimeoutSeconds * 1000,
  });
  return withFallback(openai, offline, (task, err) =>
    log(`LLM ${task} failed, using the offline text: ${oneLine(err)}`),
  );
}

export function buildApp(setup: Setup, deps: Deps, store: Store = openStore(setup.config)): App {
  const { env, config, log } = setup;
  const slack = createSlackPort(createWebClient(env.slackBotToken ?? '', env.slackApiUrl, log));
  return new App(
    { slack, llm: buildWriter(env, config, log), store, clock: deps.clock, newId: deps.newId, log },
    appOptions(config),
  );
}

export function appOptions(config: Config): AppOptions {
  return {
    feedChannelId: config.feedChannelId,
    maxNudges: config.maxNudges,
    nudgeAfterMs: config.nudgeAfterMinutes * 60_000,
    responders: config.responders,
    ...(config.escalationMention ? { escalationMention: config.escalationMention } : {}),
  };
}

export function socketOf(setup: Setup): { appToken: string; slackApiUrl: string } {
  return { appToken: setup.env.socketAppToken ?? '', slackApiUrl: setup.env.slackApiUrl };
}

/** How often leftovers (crashed or detached processes, retries now due) and silence deadlines are looked at. */
export const SWEEP_EVERY_MS = 5_000;

export interface Serving {
  /** Stops taking events, finishes what is in flight. */
  stop(): Promise<void>;
}

/**
 * Connects Socket Mode and keeps the store moving: leftovers are drained at once and then periodically, with
 * silence deadlines, so that any process serves every chat.
 */
export async function serve(app: App, socket: { appToken: string; slackApiUrl: string }, log: Log): Promise<Serving> {
  const connection = connectSocket({ ...socket, log, handle: (inbound, ack) => app.handleInbound(inbound, ack) });
  await connection.start();
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = () => {
    sweeping = Promise.all([app.recover(), app.tick()])
      .then(() => undefined)
      .catch((err) => log(`sweep failed: ${oneLine(err)}`));
  };
  sweep();
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await connection.stop();
      await sweeping;
      await app.idle();
    },
  };
}
