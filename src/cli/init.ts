// `irbot init`: asks for the tokens and the feed channel, writes .env (0600), config.toml and alerts.toml.
import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { isSlackChannelId, parseConfig } from '../config/config.js';
import { loadEnv } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { inspectTarget, type TargetKind, writeNoFollow } from './user-file.js';

/** The questions init asks; the real one is @inquirer/prompts, tests script the answers. */
export interface Prompter {
  input(question: { message: string; validate: (value: string) => true | string }): Promise<string>;
  /** Typed without echo, for tokens. */
  secret(question: { message: string; validate: (value: string) => true | string }): Promise<string>;
  confirm(question: { message: string; default: boolean }): Promise<boolean>;
}

export interface InitOptions {
  yes?: boolean;
  force?: boolean;
  slackBotToken?: string;
  socketAppToken?: string;
  openaiApiKey?: string;
  feedChannelId?: string;
  config?: string;
}

/** Files that ship with irbot, beside dist/ (and src/ under the tests). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFEST_PATH = join(PACKAGE_ROOT, 'slack-app-manifest.yml');
const SHIPPED_CONFIG = join(PACKAGE_ROOT, 'config.toml');
const SHIPPED_ALERTS = join(PACKAGE_ROOT, 'alerts.toml');

interface Answer {
  flag: string;
  variable?: string;
  explain: string;
  message: string;
  secret: boolean;
  validate: (value: string) => true | string;
}

// A value goes into .env unquoted: nothing that dotenv would read as a quote, a comment or a line break.
const PLAIN = /^[^\s#'"`\\]+$/;

export const QUESTIONS = {
  slackBotToken: {
    flag: '--slack-bot-token',
    variable: 'SLACK_BOT_TOKEN',
    explain:
      'Bot token: in your Slack app (created from the manifest above and installed to the workspace), ' +
      'OAuth & Permissions → Bot User OAuth Token. It starts with xoxb-.',
    message: 'Bot User OAuth Token (xoxb-…)',
    secret: true,
    validate: (v: string) =>
      v.startsWith('xapp-')
        ? 'that is the app-level token (xapp-…); the bot token starts with xoxb-'
        : /^xoxb-/.test(v) && PLAIN.test(v)
          ? true
          : 'a bot token starts with xoxb- (OAuth & Permissions → Bot User OAuth Token)',
  },
  socketAppToken: {
    flag: '--socket-app-token',
    variable: 'SOCKET_APP_TOKEN',
    explain:
      'App-level token: Basic Information → App-Level Tokens → Generate Token and Scopes, ' +
      'with the scope connections:write. It starts with xapp-.',
    message: 'App-level token (xapp-…)',
    secret: true,
    validate: (v: string) =>
      v.startsWith('xoxb-')
        ? 'that is the bot token (xoxb-…); the app-level token starts with xapp-'
        : /^xapp-/.test(v) && PLAIN.test(v)
          ? true
          : 'an app-level token starts with xapp- (Basic Information → App-Level Tokens, scope connections:write)',
  },
  openaiApiKey: {
    flag: '--openai-api-key',
    variable: 'OPENAI_API_KEY',
    explain:
      'OpenAI API key: https://platform.openai.com/api-keys (for a server that needs no key, any value; ' +
      'set OPENAI_BASE_URL in .env for another OpenAI-compatible server).',
    message: 'OpenAI API key',
    secret: true,
    validate: (v: string) =>
      v.startsWith('xox') || v.startsWith('xapp-')
        ? 'that is a Slack token, not an OpenAI key'
        : PLAIN.test(v)
          ? true
          : 'the key is one word without spaces, quotes or #',
  },
  feedChannelId: {
    flag: '--feed-channel-id',
    explain:
      "Feed channel ID: in Slack, open the alert channel's details; the channel ID (C… or G…) is at the bottom of the " +
      'About tab. Invite the bot there: /invite @irbot.',
    message: 'Feed channel ID (C… or G…)',
    secret: false,
    validate: (v: string) =>
      isSlackChannelId(v)
        ? true
        : "a channel ID starts with C (or G), then capital letters and digits (the channel's details, bottom of About)",
  },
} satisfies Record<string, Answer>;

type Key = keyof typeof QUESTIONS;

export function addInitCommand(program: Command, deps: Deps): void {
  program
    .command('init')
    .description(commandDescription('init'))
    .option(
      '--yes',
      'ask nothing: take the values from the flags (tokens also from the environment); keep existing files unless --force',
    )
    .option('--force', 'overwrite existing .env and config.toml without asking')
    .option('--slack-bot-token <token>', 'SLACK_BOT_TOKEN, xoxb-… (default: $SLACK_BOT_TOKEN)')
    .option('--socket-app-token <token>', 'SOCKET_APP_TOKEN, xapp-… (default: $SOCKET_APP_TOKEN)')
    .option('--openai-api-key <key>', 'OPENAI_API_KEY (default: $OPENAI_API_KEY)')
    .option('--feed-channel-id <id>', 'feed_channel_id, C… or G…')
    .option('--config <path>', 'config.toml to write (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: InitOptions) => {
      try {
        await runInit(opts, deps, inquirerPrompter(deps));
      } catch (err) {
        // Ctrl-C at a prompt: every answer comes before any write.
        if (err instanceof Error && err.name === 'ExitPromptError')
          throw new Error('init cancelled: nothing was written');
        throw err;
      }
    });
}

export async function runInit(opts: InitOptions, deps: Deps, prompter: Prompter): Promise<void> {
  const interactive = opts.yes !== true;
  if (interactive && (!deps.stdin.isTTY || !deps.stdout.isTTY)) {
    throw new ConfigError(
      'irbot init asks questions and there is no terminal: run it in one, or pass --yes with --slack-bot-token, --socket-app-token, --openai-api-key (or their variables in the environment) and --feed-channel-id',
    );
  }
  // With --yes, a token not given as a flag is taken from the environment (a CI secret, say).
  const given = givenValues(opts, interactive ? {} : deps.env);
  const check = (key: Key) => {
    const value = given[key];
    const verdict = value === undefined ? true : QUESTIONS[key].validate(value.value);
    if (value !== undefined && verdict !== true) throw new ConfigError(`${value.from}: ${verdict}`);
  };
  for (const key of Object.keys(QUESTIONS) as Key[]) if (opts[key] !== undefined) check(key);
  const vars = await loadEnv(deps.cwd, deps.env);
  const configPath = resolve(deps.cwd, opts.config ?? (vars.IRBOT_CONFIG?.trim() || 'config.toml'));
  const files = {
    env: resolve(deps.cwd, '.env'),
    config: configPath,
    alerts: join(dirname(configPath), 'alerts.toml'),
  };
  const out = (line = '') => deps.stdout.write(`${line}\n`);
  const shown = (path: string) => relative(deps.cwd, path) || path;
  // Every path is checked before any question and any write: a bad one leaves nothing half done.
  const from = opts.config === undefined && vars.IRBOT_CONFIG?.trim() ? 'IRBOT_CONFIG' : '--config';
  const same = files.config === files.env ? '.env' : files.config === files.alerts ? 'alerts.toml' : undefined;
  if (same !== undefined) {
    throw new ConfigError(
      `${from} ${shown(files.config)}: irbot init writes ${same} there; give config.toml another name, e.g. config.toml`,
    );
  }
  const fix = {
    env: 'run irbot init in another folder',
    config: `give ${from} a file in an existing folder, e.g. config.toml`,
    alerts: `alerts.toml goes beside config.toml: move it away, or give ${from} a file in another folder`,
  };
  const kinds = {
    env: await inspectTarget(files.env, fix.env),
    config: await inspectTarget(files.config, fix.config),
    alerts: await inspectTarget(files.alerts, fix.alerts),
  };

  if (interactive) {
    out(`irbot init: writes ${shown(files.env)}, ${shown(files.config)} and ${shown(files.alerts)}.`);
    out();
    out('First create the Slack app: https://api.slack.com/apps → Create New App → From an app manifest, paste');
    out(`${MANIFEST_PATH}, then Install to Workspace.`);
    out();
  }

  // A link is never written through, and is refused before any question when init would have to.
  for (const key of ['env', 'config', 'alerts'] as const) {
    const kind = kinds[key];
    const path = files[key];
    if (kind === 'dangling') {
      throw new ConfigError(
        `${path} is a symbolic link to a file that does not exist, and irbot init never writes through a link: remove it (rm ${path}) and run irbot init again`,
      );
    }
    if (kind === 'link' && opts.force && key !== 'alerts') {
      throw new ConfigError(
        `${path} is a symbolic link, and irbot init never writes through a link, not even with --force: remove it (rm ${path}) and run irbot init again, or leave out --force to keep the file it points to`,
      );
    }
  }
  const decide = async (path: string, kind: TargetKind): Promise<boolean> => {
    if (kind === 'none') return true;
    if (kind === 'link') return false;
    if (opts.force) return true;
    if (!interactive) return false;
    return prompter.confirm({ message: `${shown(path)} exists. Overwrite it?`, default: false });
  };
  const writeEnv = await decide(files.env, kinds.env);
  const writeConfig = await decide(files.config, kinds.config);
  const kept = (key: keyof typeof files) =>
    `Kept ${shown(files[key])} (${kinds[key] === 'link' ? 'a symbolic link: init never writes through one' : `it exists${interactive ? '' : '; --force overwrites it'}`})`;
  const needed: Key[] = [
    ...(writeEnv ? (['slackBotToken', 'socketAppToken', 'openaiApiKey'] as const) : []),
    ...(writeConfig ? (['feedChannelId'] as const) : []),
  ];
  const missing = needed.filter((key) => given[key] === undefined);
  if (!interactive && missing.length > 0) throw new ConfigError(`--yes needs ${missing.map(describeFlag).join(', ')}`);
  for (const key of needed) check(key);

  const ask = async (key: Key): Promise<string> => {
    const value = given[key];
    if (value !== undefined) return value.value;
    const q = QUESTIONS[key];
    out(q.explain);
    const answer = await (q.secret ? prompter.secret(q) : prompter.input(q));
    out();
    return answer.trim();
  };
  const envValues: Partial<Record<Key, string>> = {};
  if (writeEnv) {
    for (const key of ['slackBotToken', 'socketAppToken', 'openaiApiKey'] as const) envValues[key] = await ask(key);
  }
  const feedChannelId = writeConfig ? await ask('feedChannelId') : undefined;

  // Every answer is in, and the files' texts are made and checked: only now write, so that a cancelled or
  // refused run leaves nothing half done.
  const configFile =
    feedChannelId === undefined ? undefined : configText(await readFile(SHIPPED_CONFIG, 'utf8'), feedChannelId);
  if (configFile !== undefined) parseConfig(configFile, files.config);
  const alertsFile = kinds.alerts === 'none' ? await readFile(SHIPPED_ALERTS, 'utf8') : undefined;
  // An .env overwritten keeps what init does not write (IRBOT_CONFIG, DATABASE_URL, a signing secret...): the
  // config it writes is where the next command looks, and no other secret is lost.
  const previousEnv = writeEnv && kinds.env === 'file' ? await readFile(files.env, 'utf8') : '';
  const keptVars = otherVariables(previousEnv);
  const report: string[] = [];
  if (writeEnv) {
    await writeNoFollow(files.env, envText(envValues, previousEnv), {
      flags: constants.O_TRUNC,
      mode: 0o600,
      chmod: true,
      fix: fix.env,
    });
    const also = keptVars.length > 0 ? `; kept its ${keptVars.join(', ')}` : '';
    report.push(`Wrote ${shown(files.env)} (readable by you only${also})`);
  } else {
    report.push(kept('env'));
  }
  if (configFile !== undefined) {
    await writeNoFollow(files.config, configFile, { flags: constants.O_TRUNC, mode: 0o666, fix: fix.config });
    report.push(`Wrote ${shown(files.config)} (feed_channel_id = "${feedChannelId}")`);
  } else {
    report.push(kept('config'));
  }
  if (alertsFile === undefined) {
    report.push(kinds.alerts === 'link' ? kept('alerts') : `Kept ${shown(files.alerts)}`);
  } else {
    await writeNoFollow(files.alerts, alertsFile, { flags: constants.O_EXCL, mode: 0o666, fix: fix.alerts });
    report.push(`Wrote ${shown(files.alerts)} (examples: put real Slack member IDs in user_id)`);
  }
  for (const line of report) out(line);
  out();
  out(`Slack app manifest: ${MANIFEST_PATH}`);
  out('Next steps:');
  out('  irbot doctor       check the tokens, scopes, feed channel, OpenAI model and store');
  out('  irbot send-alert   post an example alert to the feed channel');
  out('  irbot listen       run the bot: buttons and DMs for every alert');
}

/** The values given as flags or, for tokens, in the environment, with where each came from (for errors). */
function givenValues(opts: InitOptions, env: NodeJS.ProcessEnv): Partial<Record<Key, { value: string; from: string }>> {
  const given: Partial<Record<Key, { value: string; from: string }>> = {};
  for (const key of Object.keys(QUESTIONS) as Key[]) {
    const q: Answer = QUESTIONS[key];
    const fromEnv = q.variable === undefined ? undefined : env[q.variable]?.trim();
    if (opts[key] !== undefined) given[key] = { value: opts[key], from: q.flag };
    else if (fromEnv && q.variable !== undefined) given[key] = { value: fromEnv, from: q.variable };
  }
  return given;
}

function describeFlag(key: Key): string {
  const q: Answer = QUESTIONS[key];
  return q.variable ? `${q.flag} (or ${q.variable} in the environment)` : `${q.flag} (${q.message})`;
}

const ENV_HEADER = '# irbot secrets, written by irbot init. Keep this file private (mode 0600).';
const ENV_KEYS = ['slackBotToken', 'socketAppToken', 'openaiApiKey'] as const;
/** A line of .env that sets one of the variables init writes. */
const WRITTEN_BY_INIT = new RegExp(
  `^\\s*(export\\s+)?(${ENV_KEYS.map((key) => QUESTIONS[key].variable).join('|')})\\s*[=:]`,
);

/**
 * .env lines for the answers (values are checked to need no quoting), then the lines of the `.env` it replaces
 * that set anything else, as they were, comments included.
 */
export function envText(values: Partial<Record<Key, string>>, previous = ''): string {
  const lines = [ENV_HEADER];
  for (const key of ENV_KEYS) {
    const value = values[key];
    if (value !== undefined) lines.push(`${QUESTIONS[key].variable}=${value}`);
  }
  const rest = previous.split(/\r?\n/).filter((line) => line !== ENV_HEADER && !WRITTEN_BY_INIT.test(line));
  while (rest.length > 0 && rest.at(-1)?.trim() === '') rest.pop();
  if (rest.some((line) => line.trim() !== '')) lines.push('', ...rest);
  return `${lines.join('\n')}\n`;
}

/** The names of the variables `.env` text sets that init does not write, for the report (never their values). */
function otherVariables(text: string): string[] {
  const names = text
    .split(/\r?\n/)
    .filter((line) => !WRITTEN_BY_INIT.test(line))
    .map((line) => /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  return [...new Set(names)];
}

/** The shipped, commented config.toml with the chosen feed channel (and without its note about the sandbox's). */
export function configText(shipped: string, feedChannelId: string): string {
  const lines = shipped.split('\n').map((line) => {
    if (/^feed_channel_id\s*=/.test(line)) return `feed_channel_id = "${feedChannelId}"`;
    if (line.startsWith('#') && line.includes('C0FEED'))
      return '# Written by irbot init; to use another channel, put its ID here';
    return line;
  });
  return lines.join('\n');
}

function inquirerPrompter(deps: Deps): Prompter {
  const context = { input: deps.stdin, output: deps.stdout };
  return {
    async input(q) {
      const { input } = await import('@inquirer/prompts');
      return input({ message: q.message, validate: (v) => q.validate(v.trim()) }, context);
    },
    async secret(q) {
      const { password } = await import('@inquirer/prompts');
      return password({ message: q.message, mask: '*', validate: (v) => q.validate(v.trim()) }, context);
    },
    async confirm(q) {
      const { confirm } = await import('@inquirer/prompts');
      return confirm(q, context);
    },
  };
}
