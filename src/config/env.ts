// Environment → Env: the variables irbot reads, the checks on required tokens, and the optional .env file.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as Dotenv from 'dotenv';
import { requireCjs } from '../cjs.js';
import { holdSecrets } from '../log.js';
import { checkPostgresUrl } from '../store/pg/url.js';
import { readProblem } from './config.js';
import { ConfigError } from './errors.js';
import type { Env } from './types.js';

const { parse } = requireCjs('dotenv') as typeof Dotenv;

export type RequiredVariable = 'slackBotToken' | 'socketAppToken' | 'openaiApiKey' | 'slackSigningSecret';

const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

const VARIABLES: Record<RequiredVariable, { name: string; hint: string }> = {
  slackBotToken: {
    name: 'SLACK_BOT_TOKEN',
    hint: 'the Bot User OAuth Token, xoxb-…, under OAuth & Permissions',
  },
  socketAppToken: {
    name: 'SOCKET_APP_TOKEN',
    hint: 'an app-level token, xapp-…, with scope connections:write, under Basic Information > App-Level Tokens',
  },
  openaiApiKey: { name: 'OPENAI_API_KEY', hint: 'your OpenAI API key' },
  slackSigningSecret: {
    name: 'SLACK_SIGNING_SECRET',
    hint: "the app's Signing Secret, under Basic Information > App Credentials (irbot listen --http checks every request with it)",
  },
};

/** Reads irbot's variables from `vars` (process values already merged over .env); empty values count as unset. */
export function readEnv(vars: Record<string, string | undefined>): Env {
  const value = (name: string): string | undefined => {
    const raw = vars[name]?.trim();
    return raw ? raw : undefined;
  };
  const slackApiUrl = secureUrl('SLACK_API_URL', value('SLACK_API_URL') ?? DEFAULT_SLACK_API_URL);
  const env: Env = { slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/` };
  const slackBotToken = value('SLACK_BOT_TOKEN');
  const socketAppToken = value('SOCKET_APP_TOKEN');
  const slackSigningSecret = value('SLACK_SIGNING_SECRET');
  const openaiApiKey = value('OPENAI_API_KEY');
  const openaiBaseUrl = value('OPENAI_BASE_URL');
  const configPath = value('IRBOT_CONFIG');
  const databaseUrl = value('DATABASE_URL');
  if (databaseUrl) env.databaseUrl = checkPostgresUrl(databaseUrl, 'DATABASE_URL');
  const webhookToken = value('IRBOT_WEBHOOK_TOKEN');
  const pagerdutyRoutingKey = value('PAGERDUTY_ROUTING_KEY');
  const pagerdutyApiUrl = value('PAGERDUTY_API_URL');
  if (slackBotToken) env.slackBotToken = slackBotToken;
  if (socketAppToken) env.socketAppToken = socketAppToken;
  if (slackSigningSecret) env.slackSigningSecret = slackSigningSecret;
  if (openaiApiKey) env.openaiApiKey = openaiApiKey;
  if (openaiBaseUrl) env.openaiBaseUrl = httpUrl('OPENAI_BASE_URL', openaiBaseUrl);
  if (configPath) env.configPath = configPath;
  if (webhookToken) env.webhookToken = webhookToken;
  const duoIntegrationKey = value('DUO_INTEGRATION_KEY');
  const duoSecretKey = value('DUO_SECRET_KEY');
  const duoApiUrl = value('DUO_API_URL');
  if (duoIntegrationKey) env.duoIntegrationKey = duoIntegrationKey;
  if (duoSecretKey) env.duoSecretKey = duoSecretKey;
  if (duoApiUrl) env.duoApiUrl = secureUrl('DUO_API_URL', duoApiUrl);
  if (pagerdutyRoutingKey) env.pagerdutyRoutingKey = pagerdutyRoutingKey;
  if (pagerdutyApiUrl) env.pagerdutyApiUrl = secureUrl('PAGERDUTY_API_URL', pagerdutyApiUrl);
  // Never printed, whatever an error message repeats: hidden from every log line and every failure said.
  holdSecrets([
    slackBotToken,
    socketAppToken,
    slackSigningSecret,
    openaiApiKey,
    webhookToken,
    duoSecretKey,
    pagerdutyRoutingKey,
    // A short one (`postgres`) would hide ordinary words: URL credentials are hidden in URLs whatever their length.
    ...[databaseUrl, slackApiUrl, openaiBaseUrl, duoApiUrl, pagerdutyApiUrl]
      .flatMap(passwordsOf)
      .filter((password) => password.length >= 12),
  ]);
  return env;
}

/** The password in a URL, if it has one: as written (percent-encoded) and as a client sends it (decoded). */
function passwordsOf(url: string | undefined): string[] {
  if (url === undefined || !URL.canParse(url)) return [];
  const { password } = new URL(url);
  if (password === '') return [];
  try {
    return [password, decodeURIComponent(password)];
  } catch {
    return [password];
  }
}

/** An HTTP events deployment (`listen --http`): a signing secret and no app token; Socket Mode is not used. */
export function httpEventsOnly(env: Env): boolean {
  return env.socketAppToken === undefined && env.slackSigningSecret !== undefined;
}

/** Throws a ConfigError naming the first variable in `needs` that is missing or of the wrong kind. */
export function requireEnv(env: Env, needs: ReadonlyArray<RequiredVariable>): void {
  for (const need of needs) {
    const { name, hint } = VARIABLES[need];
    const token = env[need];
    if (!token) {
      throw new ConfigError(
        `Missing required environment variable: ${name} (set it in the environment or in .env: ${hint})`,
      );
    }
    // Only the prefix is ever looked at or named, never the token itself.
    if (need === 'slackBotToken' && !token.startsWith('xoxb-')) {
      const swapped = token.startsWith('xapp-')
        ? '; this one is an app-level token, swapped with SOCKET_APP_TOKEN?'
        : '';
      throw new ConfigError(
        `SLACK_BOT_TOKEN is not a bot token: it should start with 'xoxb-' (find it under OAuth & Permissions)${swapped}`,
      );
    }
    if (need === 'socketAppToken' && !token.startsWith('xapp-')) {
      const swapped = token.startsWith('xoxb-') ? '; this one is a bot token, swapped with SLACK_BOT_TOKEN?' : '';
      throw new ConfigError(
        `SOCKET_APP_TOKEN is not an app-level token: it should start with 'xapp-' (Basic Information > App-Level Tokens, scope connections:write)${swapped}`,
      );
    }
  }
}

/** An integration key of a PagerDuty Events API v2 integration: 32 letters and digits. */
export function isRoutingKeyShape(key: string): boolean {
  return /^[a-zA-Z0-9]{32}$/.test(key);
}

/**
 * Why PAGERDUTY_ROUTING_KEY cannot be a routing key (an Events API v2 integration key is 32 letters and digits),
 * without its value; undefined when it is unset or well-formed.
 */
export function routingKeyProblem(env: Env): string | undefined {
  const key = env.pagerdutyRoutingKey;
  if (key === undefined || isRoutingKeyShape(key)) return undefined;
  return `PAGERDUTY_ROUTING_KEY is not a PagerDuty routing key: it should be 32 letters and digits (the Integration Key of an Events API v2 integration, under the service’s Integrations tab)`;
}

/** Returns `processEnv` with `<cwd>/.env` filled in under it: a variable set (non-empty) in the process wins. */
export async function loadEnv(cwd: string, processEnv: NodeJS.ProcessEnv): Promise<Record<string, string | undefined>> {
  const file = path.join(cwd, '.env');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ...processEnv };
    throw readProblem(err, file, '.env file');
  }
  refuseHashInValue(text, file);
  const merged: Record<string, string | undefined> = { ...processEnv };
  for (const [name, value] of Object.entries(parse(text))) {
    if (!merged[name]) merged[name] = value;
  }
  return merged;
}

/**
 * Refuses an unquoted value with a `#` inside it (`TOKEN=abc#def`): dotenv reads `abc`, while docker's --env-file,
 * compose's env_file and systemd's EnvironmentFile (deploy/) keep `abc#def`, so local and deployed secrets would
 * differ. A `#` after whitespace is left as dotenv reads it, the start of a comment. The value is never shown: it
 * may be a secret.
 */
export function refuseHashInValue(text: string, file: string): void {
  let quote: string | undefined; // of a quoted value that goes on over the next lines
  for (const [index, line] of text.split(/\r\n?|\n/).entries()) {
    if (quote !== undefined) {
      if (closingQuote(line, quote) >= 0) quote = undefined;
      continue;
    }
    const match = /^\s*(?:export\s+)?([\w.-]+)\s*=(.*)$/.exec(line);
    if (!match) continue;
    const [, name, value = ''] = match;
    const start = value.trimStart();
    const opening = start[0];
    if (opening === '"' || opening === "'" || opening === '`') {
      if (closingQuote(start.slice(1), opening) < 0) quote = opening;
      continue;
    }
    const hash = value.indexOf('#');
    if (hash >= 0 && (hash === 0 || !/\s/.test(value[hash - 1] ?? ''))) {
      throw new ConfigError(
        `${file}:${index + 1}: ${name}: an unquoted value with # in it is cut at the # here but kept whole by docker and systemd: quote the value, e.g. ${name}="…"`,
      );
    }
  }
}

/** Where the first unescaped `quote` in `text` is, or -1. */
function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

function httpUrl(name: string, value: string): string {
  // The value is not echoed: a URL may carry credentials.
  if (!/^https?:\/\//i.test(value) || !URL.canParse(value)) {
    throw new ConfigError(`${name} is not an http(s) URL`);
  }
  return value;
}

/**
 * An http(s) URL that must be https unless it is on this machine: what goes there carries a secret (Slack's bot
 * token, PagerDuty's routing key) or comes back as a verdict (Duo's "approved"), which anyone on the network
 * path of a plain http request could read or forge.
 */
function secureUrl(name: string, value: string): string {
  const url = new URL(httpUrl(name, value));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const local = host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
  if (url.protocol === 'http:' && !local) {
    throw new ConfigError(
      `${name} is plain http to ${url.hostname}: use https (http is accepted on this machine only: 127.0.0.1, ::1, localhost)`,
    );
  }
  return value;
}
