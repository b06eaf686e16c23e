// Turns env + config into running ports and an App; the only place that builds SDK clients.
import { resolve } from 'node:path';
import { App } from '../app.js';
import { loadConfig } from '../config/config.js';
import { loadEnv, readEnv, requireEnv } from '../config/env.js';
import type { Config, Env } from '../config/types.js';
import { withFallback } from '../llm/fallback-writer.js';
import { createOfflineWriter } from '../llm/offline-writer.js';
import { createOpenAiWriter } from '../llm/openai-writer.js';
import type { Writer } from '../llm/port.js';
import { type Log, oneLine, stderrLog } from '../log.js';
import { connectSocket, type SocketConnection } from '../slack/socket.js';
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
    { feedChannelId: config.feedChannelId, maxNudges: config.maxNudges, responders: config.responders },
  );
}

export function buildSocket(setup: Setup, app: App): SocketConnection {
  return connectSocket({
    appToken: setup.env.socketAppToken ?? '',
    slackApiUrl: setup.env.slackApiUrl,
    log: setup.log,
    handle: (inbound) => app.handleInbound(inbound),
  });
}
