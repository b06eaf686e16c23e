// The deployment checklist: each check independent, a failed prerequisite skips its dependants, no token is printed.
import { constants, existsSync, lstatSync, statSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as WebApi from '@slack/web-api';
import type { WebClient } from '@slack/web-api';
import { requireCjs } from '../cjs.js';
import { loadAlerts } from '../config/alerts.js';
import { loadConfig } from '../config/config.js';
import { httpEventsOnly, loadEnv, type RequiredVariable, readEnv, requireEnv } from '../config/env.js';
import type { Config, Env } from '../config/types.js';
import { CLASSIFY_TOOL, CLASSIFY_TOOL_NAME } from '../llm/prompts.js';
import { oneLine, redact, slackLogger } from '../log.js';
import { REQUIRED_SCOPES, scopesNeeded } from '../slack/scopes.js';
import { linkRefused, looseBits, StoreFileError, storeFilesIn } from '../store/files.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import { duoKeysProblem, duoVerifierFor } from '../verify/factory.js';
import { checkEscalation, hasEscalation } from './escalation.js';
import { checkPgStore } from './pg-store.js';
import { type CheckResult, type DoctorReport, fail, pass, reportOf, skip, warn } from './report.js';
import { checkSink } from './sinks.js';

export { REQUIRED_SCOPES };

export const CHECK_NAMES = {
  env: 'environment variables',
  config: 'config.toml',
  alerts: 'alerts.toml',
  botToken: 'Slack bot token and scopes',
  appToken: 'Slack app token (Socket Mode)',
  feed: 'feed channel',
  openai: 'OpenAI key and model',
  store: 'store',
  stepUp: 'step-up (Duo)',
} as const;

/** A quick verdict: one try per call, no waiting out rate limits. */
const TIMEOUT_MS = 10_000;

const VARIABLE_NAMES: Record<RequiredVariable, string> = {
  slackBotToken: 'SLACK_BOT_TOKEN',
  socketAppToken: 'SOCKET_APP_TOKEN',
  openaiApiKey: 'OPENAI_API_KEY',
  slackSigningSecret: 'SLACK_SIGNING_SECRET',
};

export interface DoctorInput {
  cwd: string;
  processEnv: NodeJS.ProcessEnv;
  /** `--config`, relative to cwd. */
  configOption?: string | undefined;
}

export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const { env, vars, check: envCheck } = await checkEnvironment(input);
  const usable = (need: RequiredVariable) => env !== undefined && variableProblem(env, need) === undefined;
  const needs = (need: RequiredVariable) => (env === undefined ? 'valid environment variables' : VARIABLE_NAMES[need]);

  const configFile = resolve(
    input.cwd,
    input.configOption ?? env?.configPath ?? (vars.IRBOT_CONFIG?.trim() || 'config.toml'),
  );
  const { config, check: configCheck } = await checkConfig(configFile, env?.slackApiUrl);
  const alertsCheck = config ? await checkAlerts(config) : skip(CHECK_NAMES.alerts, 'a valid config.toml');

  const bot = env && usable('slackBotToken') ? await slackClient(env.slackBotToken ?? '', env.slackApiUrl) : undefined;
  const [botResult, appCheck, openaiCheck, storeCheck] = await Promise.all([
    env && bot
      ? checkBotToken(bot, env.slackApiUrl, config ? scopesNeeded(config.stepUp) : REQUIRED_SCOPES)
      : undefined,
    env && httpEventsOnly(env)
      ? pass(
          CHECK_NAMES.appToken,
          'not used: SLACK_SIGNING_SECRET is set and no app token, so Slack sends events over HTTP (listen --http)',
        )
      : env && usable('socketAppToken')
        ? checkAppToken(await slackClient(env.socketAppToken ?? '', env.slackApiUrl), env.slackApiUrl)
        : skip(CHECK_NAMES.appToken, needs('socketAppToken')),
    env && usable('openaiApiKey') && config
      ? checkOpenAi(env, config)
      : skip(CHECK_NAMES.openai, config ? needs('openaiApiKey') : 'a valid config.toml'),
    config ? checkStore(config, env) : skip(CHECK_NAMES.store, 'a valid config.toml'),
  ]);
  const botCheck = botResult?.check ?? skip(CHECK_NAMES.botToken, needs('slackBotToken'));
  const feedCheck =
    bot && botResult?.botName !== undefined && config
      ? await checkFeedChannel(bot, config.feedChannelId, botResult.botName)
      : skip(CHECK_NAMES.feed, config ? 'a working SLACK_BOT_TOKEN' : 'a valid config.toml');

  // Only with step-up on: a deployment without it has nothing of Duo's to check.
  const stepUpChecks =
    config?.stepUp.provider === 'duo'
      ? [env ? await checkStepUp(config, env, input.cwd) : skip(CHECK_NAMES.stepUp, 'valid environment variables')]
      : [];
  const sinkChecks = config
    ? await Promise.all(config.sinks.map((_, index) => checkSink(config.sinks, index, vars)))
    : [];

  // Only where escalation is set up (a routing key, a mention): other runs keep their checklist.
  const escalationCheck = env && hasEscalation(env, config) ? [checkEscalation(env, config)] : [];
  return reportOf([
    envCheck,
    configCheck,
    alertsCheck,
    botCheck,
    appCheck,
    feedCheck,
    openaiCheck,
    storeCheck,
    ...stepUpChecks,
    ...sinkChecks,
    ...escalationCheck,
  ]);
}

/** Why `need` cannot be used (missing, or the wrong kind of token), without its value; undefined when fine. */
export function variableProblem(env: Env, need: RequiredVariable): string | undefined {
  try {
    requireEnv(env, [need]);
    return undefined;
  } catch (err) {
    return oneLine(err);
  }
}

/**
 * (1) SLACK_BOT_TOKEN, SOCKET_APP_TOKEN (or, for HTTP events, SLACK_SIGNING_SECRET) and OPENAI_API_KEY set and of
 * the right kind, URLs well-formed.
 */
export function checkVariables(env: Env, cwd: string): CheckResult {
  const inbound: RequiredVariable = httpEventsOnly(env) ? 'slackSigningSecret' : 'socketAppToken';
  const needs: RequiredVariable[] = ['slackBotToken', inbound, 'openaiApiKey'];
  const problems = needs.flatMap((need) => variableProblem(env, need) ?? []);
  if (problems.length > 0) {
    return fail(
      CHECK_NAMES.env,
      problems.join('; '),
      `fix ${problems.length === 1 ? 'it' : 'them'} in ${resolve(cwd, '.env')} or the environment (irbot init writes one)`,
    );
  }
  return pass(CHECK_NAMES.env, `${needs.map((n) => VARIABLE_NAMES[n]).join(', ')} set`);
}

async function checkEnvironment(
  input: DoctorInput,
): Promise<{ env?: Env; vars: Record<string, string | undefined>; check: CheckResult }> {
  let vars: Record<string, string | undefined> = input.processEnv;
  try {
    vars = await loadEnv(input.cwd, input.processEnv);
    const env = readEnv(vars);
    return { env, vars, check: checkVariables(env, input.cwd) };
  } catch (err) {
    return {
      vars,
      check: fail(CHECK_NAMES.env, oneLine(err), `fix it in ${resolve(input.cwd, '.env')} or the environment`),
    };
  }
}

/** (2) config.toml reads and parses. */
async function checkConfig(file: string, slackApiUrl?: string): Promise<{ config?: Config; check: CheckResult }> {
  try {
    const config = await loadConfig(file);
    return { config, check: configFound(config, slackApiUrl) };
  } catch (err) {
    return {
      check: fail(
        CHECK_NAMES.config,
        oneLine(err),
        'fix the file (see the commented config.toml in the README), or pass --config PATH',
      ),
    };
  }
}

/**
 * A config that reads; in a real workspace (not the local Slack of the sandbox and the tests), a warning when
 * `responders` is empty: then anyone in the feed channel but the alert's person can press the buttons.
 */
export function configFound(config: Config, slackApiUrl: string | undefined): CheckResult {
  if (config.responders.length > 0 || slackApiUrl === undefined || isLocal(slackApiUrl)) {
    return pass(CHECK_NAMES.config, config.file);
  }
  return warn(
    CHECK_NAMES.config,
    `${config.file}: responders is empty, so anyone in the feed channel can press an alert's buttons`,
    `list the analysts or their user group in ${config.file}, e.g. responders = ["S0123456789"]`,
  );
}

function isLocal(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** (3) alerts.toml reads and parses. */
async function checkAlerts(config: Config): Promise<CheckResult> {
  try {
    const alerts = await loadAlerts(config.alertsPath);
    return pass(CHECK_NAMES.alerts, `${alerts.length} alert${alerts.length === 1 ? '' : 's'} in ${config.alertsPath}`);
  } catch (err) {
    return fail(CHECK_NAMES.alerts, oneLine(err), 'fix the file (see alerts.toml in the README), or set alerts_path');
  }
}

async function slackClient(token: string, slackApiUrl: string): Promise<WebClient> {
  const { WebClient: Client } = requireCjs('@slack/web-api') as typeof WebApi;
  return new Client(token, {
    slackApiUrl,
    logger: slackLogger(() => undefined, 'slack'), // failures are reported in the check's line
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: TIMEOUT_MS,
  });
}

/** (4) auth.test with the bot token, and the scopes Slack reports for it (x-oauth-scopes). */
export async function checkBotToken(
  client: WebClient,
  slackApiUrl: string,
  needed: readonly string[] = REQUIRED_SCOPES,
): Promise<{ check: CheckResult; botName?: string }> {
  const name = CHECK_NAMES.botToken;
  let res: Awaited<ReturnType<WebClient['auth']['test']>>;
  try {
    res = await client.auth.test();
  } catch (err) {
    const code = slackErrorCode(err);
    const fix =
      code === 'account_inactive' || code === 'token_revoked' || code === 'token_expired'
        ? 'reinstall the app and copy the new Bot User OAuth Token (OAuth & Permissions) into SLACK_BOT_TOKEN'
        : isSlackApiError(err)
          ? 'copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions into SLACK_BOT_TOKEN'
          : 'check SLACK_API_URL and the network';
    return { check: fail(name, slackFailure('auth.test', err, slackApiUrl), fix) };
  }
  const botName = res.user ?? 'irbot';
  const who = `@${botName} in ${res.team ?? res.team_id ?? 'the workspace'}`;
  const granted = res.response_metadata?.scopes?.filter((s) => s !== '');
  if (granted === undefined)
    return { check: pass(name, `${who}; Slack did not report the scopes, not checked`), botName };
  const missing = missingScopes(granted, needed);
  if (missing.length > 0) {
    const list = missing.join(', ');
    const it = missing.length === 1 ? 'it' : 'them';
    const why = missing.includes('users:read.email')
      ? " (step-up reads the person's email for their Duo username)"
      : '';
    return {
      check: fail(
        name,
        `${who}, missing scope${missing.length === 1 ? '' : 's'} ${list}${why}`,
        `add ${it} under OAuth & Permissions and reinstall the app`,
      ),
      botName,
    };
  }
  return { check: pass(name, `${who}, all ${needed.length} scopes granted`), botName };
}

/** The scopes in `needed` (default: those irbot always needs) not granted, in the manifest's order. */
export function missingScopes(granted: readonly string[], needed: readonly string[] = REQUIRED_SCOPES): string[] {
  return needed.filter((scope) => !granted.includes(scope));
}

/** (5) apps.connections.open with the app token; the WebSocket URL it returns is never opened. */
export async function checkAppToken(client: WebClient, slackApiUrl: string): Promise<CheckResult> {
  const name = CHECK_NAMES.appToken;
  try {
    await client.apps.connections.open();
    return pass(name, 'apps.connections.open answered with a Socket Mode URL');
  } catch (err) {
    const code = slackErrorCode(err);
    const fix =
      code === 'missing_scope'
        ? 'generate an app-level token with the connections:write scope (Basic Information > App-Level Tokens)'
        : code === undefined && !isSlackApiError(err)
          ? 'check SLACK_API_URL and the network'
          : code === 'invalid_auth' || code === 'not_allowed_token_type' || code === 'not_authed'
            ? 'copy the app-level token (xapp-…) again from Basic Information > App-Level Tokens into SOCKET_APP_TOKEN'
            : 'turn on Socket Mode for the app (slack-app-manifest.yml does) and check SOCKET_APP_TOKEN';
    return fail(name, slackFailure('apps.connections.open', err, slackApiUrl), fix);
  }
}

/** (6) The feed channel exists and the bot is in it. */
export async function checkFeedChannel(client: WebClient, channelId: string, botName: string): Promise<CheckResult> {
  const name = CHECK_NAMES.feed;
  const notFound = fail(
    name,
    `channel ${channelId} not found (channel_not_found)`,
    "check feed_channel_id in config.toml (the channel's details, bottom of the About tab); invite the bot to a private channel first",
  );
  try {
    const { channel } = await client.conversations.info({ channel: channelId });
    const label = channel?.name ? `#${channel.name} (${channelId})` : channelId;
    if (channel?.is_archived) return fail(name, `${label} is archived`, 'unarchive it, or set another feed_channel_id');
    if (channel?.is_member !== true) {
      return fail(
        name,
        `@${botName} is not a member of ${label}`,
        `invite the bot: /invite @${botName} in ${channel?.name ? `#${channel.name}` : channelId}`,
      );
    }
    return pass(name, `${label}, @${botName} is a member`);
  } catch (err) {
    const code = slackErrorCode(err);
    if (code === 'channel_not_found') return notFound;
    if (code !== 'missing_scope')
      return fail(name, slackFailure('conversations.info', err), 'check feed_channel_id and SLACK_BOT_TOKEN');
  }
  // conversations.info needs channels:read (groups:read for a private channel), which apps made from an older
  // manifest lack (doctor names it as missing above); reading one message of
  // history needs channels:history, which it does, and fails with not_in_channel when the bot is not a member.
  try {
    await client.conversations.history({ channel: channelId, limit: 1 });
    return pass(name, `${channelId}, @${botName} is a member`);
  } catch (err) {
    const code = slackErrorCode(err);
    if (code === 'channel_not_found') return notFound;
    if (code === 'not_in_channel') {
      return fail(
        name,
        `@${botName} is not a member of ${channelId}`,
        `invite the bot: /invite @${botName} in the channel ${channelId}`,
      );
    }
    return fail(name, slackFailure('conversations.history', err), 'check feed_channel_id and SLACK_BOT_TOKEN');
  }
}

/** (7) The OpenAI key works, the configured model exists and calls a forced tool: a models.retrieve, one tiny judgement. */
export async function checkOpenAi(env: Env, config: Config): Promise<CheckResult> {
  const name = CHECK_NAMES.openai;
  const { default: OpenAI } = await import('openai');
  const where = env.openaiBaseUrl ? `OPENAI_BASE_URL (${originOf(env.openaiBaseUrl)})` : 'the OpenAI API';
  const client = new OpenAI({
    apiKey: env.openaiApiKey,
    ...(env.openaiBaseUrl ? { baseURL: env.openaiBaseUrl } : {}),
    ...(config.openaiOrganizationId ? { organization: config.openaiOrganizationId } : {}),
    maxRetries: 0,
    timeout: TIMEOUT_MS,
  });
  const model = config.openaiModel;
  try {
    await client.models.retrieve(model);
    // Every reply is judged through a forced function call: a model (or a server) that cannot make one leaves
    // every chat to the offline rules. One tiny judgement says so now.
    const completion = await client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'Record the verdict on the reply below with the tool.' },
        { role: 'user', content: 'yes, that was me' },
      ],
      tools: [CLASSIFY_TOOL],
      tool_choice: { type: 'function', function: { name: CLASSIFY_TOOL_NAME } },
    });
    if (!completion.choices[0]?.message?.tool_calls?.length) {
      return fail(
        name,
        `model ${model} at ${where} answered a forced ${CLASSIFY_TOOL_NAME} call in words, without calling it`,
        `set openai_model in ${config.file} to a model that supports function calling (tools)`,
      );
    }
    return pass(name, `model ${model} at ${where}, judging with ${CLASSIFY_TOOL_NAME}`);
  } catch (err) {
    if (err instanceof OpenAI.APIConnectionTimeoutError) {
      return fail(
        name,
        `no answer from ${where} within ${TIMEOUT_MS / 1000} s`,
        'check OPENAI_BASE_URL and the network',
      );
    }
    if (err instanceof OpenAI.APIConnectionError) {
      return fail(name, `cannot reach ${where}`, 'check OPENAI_BASE_URL and the network');
    }
    if (err instanceof OpenAI.APIError && err.status === 401) {
      return fail(name, `${where} rejected the key (401)`, 'check OPENAI_API_KEY');
    }
    if (err instanceof OpenAI.APIError && err.status === 403) {
      return fail(name, `${where} refused the key (403)`, 'check OPENAI_API_KEY and openai_organization_id');
    }
    if (err instanceof OpenAI.APIError && err.status === 404) {
      return fail(
        name,
        `model ${model} not found at ${where} (404)`,
        `set openai_model in ${config.file} to a model the key can use`,
      );
    }
    if (err instanceof OpenAI.APIError && err.status === 400) {
      return fail(
        name,
        `model ${model} at ${where} refused a ${CLASSIFY_TOOL_NAME} call: ${oneLine(err)}`,
        `set openai_model in ${config.file} to a model that supports function calling (tools)`,
      );
    }
    return fail(name, `${where}: ${oneLine(err)}`, 'check OPENAI_API_KEY, OPENAI_BASE_URL and openai_model');
  }
}

/**
 * (9, with step-up on) Duo's keys are set, Duo answers, and it accepts the keys: one signed /auth/v2/check, no push.
 */
export async function checkStepUp(config: Config, env: Env, cwd: string): Promise<CheckResult> {
  const name = CHECK_NAMES.stepUp;
  const keysProblem = duoKeysProblem(env);
  if (keysProblem) {
    return fail(
      name,
      keysProblem,
      `set DUO_INTEGRATION_KEY and DUO_SECRET_KEY in ${resolve(cwd, '.env')} or the environment`,
    );
  }
  const verifier = duoVerifierFor(config, env, { timeoutMs: TIMEOUT_MS });
  const where = env.duoApiUrl ? `Duo at DUO_API_URL (${verifier.origin})` : `Duo at ${verifier.origin}`;
  const answer = await verifier.check();
  if (answer.ok) return pass(name, `${where} accepted the keys (/auth/v2/check)`);
  const address = `check step_up.api_hostname in ${config.file}${env.duoApiUrl ? ', DUO_API_URL' : ''} and the network`;
  if (answer.timedOut || answer.unreachable || answer.status === undefined) {
    return fail(name, `cannot reach ${where}: ${answer.problem}`, address);
  }
  const app = 'Duo Admin Panel > Applications > your Auth API application';
  switch (answer.code) {
    case 40102:
      return fail(
        name,
        `${where} does not know the integration key (${answer.problem})`,
        `copy its Integration key (${app}) into DUO_INTEGRATION_KEY`,
      );
    case 40103:
      return fail(
        name,
        `${where} refused the signature: the secret key is wrong or this machine's clock is off (${answer.problem})`,
        `copy the Secret key (${app}) into DUO_SECRET_KEY, and check the clock`,
      );
    case 40301:
      return fail(
        name,
        `${where} refused the keys (${answer.problem})`,
        `use the keys of an Auth API application (${app}), not of another kind`,
      );
    default:
      return fail(name, `${where}: ${answer.problem}`, `${address}; check DUO_INTEGRATION_KEY and DUO_SECRET_KEY`);
  }
}

/** (8) The store: PostgreSQL when a database URL is set (DATABASE_URL over database_url), else the files. */
async function checkStore(config: Config, env: Env | undefined): Promise<CheckResult> {
  const url = env?.databaseUrl ?? config.databaseUrl;
  return url ? checkPgStore(CHECK_NAMES.store, url) : checkStorePath(config.databasePath);
}

/**
 * The lowdb store: its folder, its files (snapshot, journal, archive, backups, lock) and what they hold, read as
 * irbot reads them; creates and changes nothing.
 */
export async function checkStorePath(path: string): Promise<CheckResult> {
  const refused = storeLinkProblem(path) ?? (await storePlaceProblem(path));
  if (refused) return refused;
  const content = await checkStoreContent(path);
  if (!content.ok) return content;
  const folder = storeFolderProblem(dirname(path));
  if (folder && !folder.ok) return folder;
  const warnings = [folder, storeModeProblem(path)].filter((c): c is CheckResult => c !== undefined);
  if (warnings.length === 0) return content;
  return warn(
    CHECK_NAMES.store,
    [content.detail, ...warnings.map((w) => w.detail)].join('; '),
    warnings.map((w) => w.fix).join('; '),
  );
}

/** The store file is a file (or none yet) that can be read and written, in a folder that is or can be made. */
async function storePlaceProblem(path: string): Promise<CheckResult | undefined> {
  const name = CHECK_NAMES.store;
  try {
    if ((await stat(path)).isDirectory()) return fail(name, `${path} is a folder`, 'set database_path to a file path');
    await access(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return fail(
        name,
        `${path} cannot be read and written (permission denied)`,
        `give the user running irbot read and write access to ${path}`,
      );
    }
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return fail(name, `${path}: ${oneLine(err)}`, 'check database_path');
  }
  const folder = await nearestExisting(dirname(path));
  try {
    if (!(await stat(folder)).isDirectory()) {
      return fail(
        name,
        `${folder} is a file, not a folder, so ${path} cannot be created`,
        'set database_path to a path in a folder',
      );
    }
    await access(folder, constants.W_OK);
  } catch {
    return fail(
      name,
      `folder ${folder} is not writable`,
      `give the user running irbot write access to ${folder}, or set database_path`,
    );
  }
  return undefined;
}

/** Snapshot, journal and archive read together as irbot reads them: generations that match, no orphaned journal. */
async function checkStoreContent(path: string): Promise<CheckResult> {
  const name = CHECK_NAMES.store;
  const store = openLowdbStore(path, { tighten: false });
  try {
    const [data, archived] = await Promise.all([store.read(), store.readArchive()]);
    const closed = archived.length > 0 ? `, ${archived.length} closed in the archive` : '';
    if (!existsSync(path)) {
      const made = dirname(path);
      const created = existsSync(made) ? '' : ` (and ${made})`;
      return pass(name, `${path} does not exist yet; irbot will create it${created}${closed}`);
    }
    const count = Object.keys(data.alerts).length;
    return pass(name, `${path}, ${count} alert${count === 1 ? '' : 's'}${closed}`);
  } catch (err) {
    if (err instanceof StoreFileError) return fail(name, err.problem, err.fix);
    return fail(name, `${path}: ${oneLine(err)}`, 'check database_path and the files beside it');
  }
}

/** A store file or lock that is a symbolic link, which irbot refuses. */
function storeLinkProblem(path: string): CheckResult | undefined {
  const { files, lock } = storeFilesIn(path);
  for (const file of [path, ...files, lock]) {
    let link = false;
    try {
      link = lstatSync(file).isSymbolicLink();
    } catch {
      // Not there: nothing to refuse.
    }
    if (link) {
      const refused = linkRefused(file);
      return fail(CHECK_NAMES.store, refused.problem, refused.fix);
    }
  }
  return undefined;
}

/**
 * Whoever may write in the store's folder may replace its files: a folder every user can write fails (the sticky
 * bit still lets them plant files irbot has not made yet), one its group can write without the sticky bit warns.
 */
export function storeFolderProblem(folder: string): CheckResult | undefined {
  let mode: number;
  try {
    mode = statSync(folder).mode;
  } catch {
    return undefined; // irbot makes it, readable by its user only
  }
  const shown = octal(mode & 0o7777);
  if (mode & 0o002) {
    return fail(
      CHECK_NAMES.store,
      `folder ${folder} can be written by every user (mode ${shown}), who could replace or plant the store's files`,
      `chmod 700 ${folder}, or set database_path to a folder only irbot's user can write`,
    );
  }
  if (mode & 0o020 && !(mode & 0o1000)) {
    return warn(
      CHECK_NAMES.store,
      `folder ${folder} can be written by its group (mode ${shown}), who could replace the store's files`,
      `chmod g-w ${folder}, unless that group is irbot's alone`,
    );
  }
  return undefined;
}

/** Store files other users may read or write: irbot sets them to 0600 when it opens them; doctor only says so. */
export function storeModeProblem(path: string): CheckResult | undefined {
  const loose = storeFilesIn(path).files.flatMap((file) => {
    try {
      const { mode } = lstatSync(file);
      return looseBits(mode) === 0 ? [] : [{ file, mode: octal(mode & 0o777) }];
    } catch {
      return [];
    }
  });
  if (loose.length === 0) return undefined;
  return warn(
    CHECK_NAMES.store,
    `${loose.map((l) => `${l.file} (mode ${l.mode})`).join(', ')} can be read by other users`,
    `chmod 600 ${loose.map((l) => l.file).join(' ')} (irbot also sets them to 0600 when it next opens the store)`,
  );
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/** `path` itself, or the nearest folder above it that exists: the store's folder is created when missing. */
async function nearestExisting(path: string): Promise<string> {
  let current = path;
  for (;;) {
    try {
      await stat(current);
      return current;
    } catch {
      const parent = dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

interface SdkError {
  code?: unknown;
  data?: { error?: unknown };
  statusCode?: unknown;
}

const sdkError = (err: unknown): SdkError => (typeof err === 'object' && err !== null ? err : {}) as SdkError;

/** Slack's own error code (`invalid_auth`) for a platform error; undefined for network and HTTP failures. */
function slackErrorCode(err: unknown): string | undefined {
  const e = sdkError(err);
  return e.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

/** Slack answered (an error code, an HTTP status, a rate limit), as opposed to not being reachable. */
function isSlackApiError(err: unknown): boolean {
  const code = sdkError(err).code;
  return typeof code === 'string' && code.startsWith('slack_webapi_') && code !== 'slack_webapi_request_error';
}

function slackFailure(method: string, err: unknown, slackApiUrl?: string): string {
  const e = sdkError(err);
  const code = slackErrorCode(err);
  if (code !== undefined) return `${method}: Slack answered ${code}`;
  if (e.code === 'slack_webapi_http_error') return `${method}: Slack answered HTTP ${String(e.statusCode)}`;
  if (e.code === 'slack_webapi_rate_limited_error') return `${method}: rate limited by Slack, try again in a minute`;
  if (e.code === 'slack_webapi_request_error') {
    return `${method}: cannot reach ${slackApiUrl ? `Slack at ${originOf(slackApiUrl)}` : 'Slack'}`;
  }
  return `${method}: ${redact(oneLine(err))}`;
}

/** Scheme, host and port: a URL may carry credentials, its origin does not. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the configured URL';
  }
}
