// config.toml → Config: one table of keys (type, default, description), a pure parser and a thin file read.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { isPostgresUrl } from '../store/pg/url.js';
import { ConfigError, Invalid, quote } from './errors.js';
import { readSinks } from './sinks.js';
import { parseStepUp } from './step-up.js';
import {
  type Config,
  ESCALATION_OUTCOMES,
  type EscalationConfig,
  type EscalationOutcome,
  type HistoryTier,
} from './types.js';
import { readWorkingDays, readWorkingHours, workingHoursOf } from './working-hours.js';

export interface ConfigKey<T> {
  /** The kind of value, as a person writes it in config.toml. */
  type: string;
  description: string;
  /** Without a default the key is optional and may be left out, unless it is `required`. */
  default?: T;
  required?: true;
  /** Returns the value, or throws an `Invalid` saying what is wrong with it. */
  read: (value: unknown) => T;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]+$/;
/** `C…`, or `G…` for private channels made before 2021 (Slack still gives them that prefix). */
const SLACK_CHANNEL_ID = /^[CG][A-Z0-9]+$/;

export function isSlackUserId(value: string): boolean {
  return SLACK_USER_ID.test(value);
}

/** A Slack user group (`S…`), whose members `usergroups.users.list` gives. */
export function isSlackUsergroupId(value: string): boolean {
  return /^S[A-Z0-9]+$/.test(value);
}

export function isSlackChannelId(value: string): boolean {
  return SLACK_CHANNEL_ID.test(value);
}

/** A whole number within [min, max]. */
function integerFrom(min: number, max: number): (value: unknown) => number {
  return (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Invalid(`must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/**
 * A number above 0 and at most `max` (beyond it a wait no longer fits a timer or a date, or a rate no longer
 * paces anything); `unit` says what it counts, e.g. "a number of seconds".
 */
function upTo(max: number, unit: string, min = 0): (value: unknown) => number {
  return (value) => {
    if (typeof value !== 'number' || !(value > min) || !(value <= max)) {
      throw new Invalid(`must be ${unit} greater than ${min} and at most ${max.toLocaleString('en-US')}`);
    }
    return value;
  };
}

/** The outcomes that escalate when `[escalation] on` is left out: the ones that do not trust the person's answer. */
export const DEFAULT_ESCALATE_ON: EscalationOutcome[] = ['not_aware', 'denied', 'unverified'];

export const CONFIG_KEYS = {
  feed_channel_id: {
    type: 'string',
    description: 'the Slack channel ID of the alert feed, e.g. C0123456789',
    required: true,
    read: readChannelId,
  },
  openai_organization_id: {
    type: 'string',
    description: 'OpenAI organization ID sent with each request; leave it out to use the API key’s default',
    read: (value: unknown): string | undefined => readString(value, 'must be a string') || undefined,
  },
  openai_model: {
    type: 'string',
    description: 'the chat model that writes greetings, nudges and summaries and judges the replies',
    default: 'gpt-4.1-mini',
    read: (value: unknown): string => readString(value, 'must be a model name, e.g. "gpt-4.1-mini"', true),
  },
  database_path: {
    type: 'path',
    description: 'the JSON file that stores alerts and chats, relative to this file',
    default: './irbot-db.json',
    read: (value: unknown): string => readString(value, 'must be a file path, e.g. "./irbot-db.json"', true),
  },
  database_url: {
    type: 'string',
    description:
      'a PostgreSQL URL (postgres://user:password@host:5432/db) to keep the store in instead of database_path; DATABASE_URL wins',
    read: (value: unknown): string | undefined => {
      const url = readString(value, 'must be a PostgreSQL URL, e.g. "postgres://irbot@db.example:5432/irbot"');
      if (!url) return undefined;
      if (!isPostgresUrl(url) || !URL.canParse(url)) {
        throw new Invalid('must be a PostgreSQL URL, postgres://user:password@host:5432/database');
      }
      return url;
    },
  },
  alerts_path: {
    type: 'path',
    description: 'the alert templates that send-alert posts, relative to this file',
    default: './alerts.toml',
    read: (value: unknown): string => readString(value, 'must be a file path, e.g. "./alerts.toml"', true),
  },
  max_nudges: {
    type: 'integer 0..20',
    description: 'reminders sent to a person who has not answered yet, before the chat ends as no_answer',
    default: 3,
    read: integerFrom(0, 20),
  },
  responders: {
    type: 'array of Slack user or user group IDs',
    description:
      'who may press the buttons on an alert, e.g. ["U0123456789", "S0123456789"]; empty means anyone but the alert\'s person',
    default: [] as string[],
    read: readUserIds,
  },
  llm_timeout_seconds: {
    type: 'number 0..600',
    description: 'seconds before an LLM request is abandoned (then retried, then a fallback text is used)',
    default: 30,
    read: upTo(600, 'a number of seconds'),
  },
  nudge_after_minutes: {
    type: 'number 0..43200',
    description: 'minutes of silence from the person before a nudge (after the last nudge: the chat ends as no_answer)',
    default: 60,
    read: upTo(43_200, 'a number of minutes'),
  },
  escalation_mention: {
    type: 'Slack mention',
    description:
      'who is pinged when a chat ends without an answer, e.g. "<!subteam^S0123456789>"; default: the responders',
    read: (value: unknown): string | undefined => {
      const mention = readString(value, 'must be a string');
      if (mention === '') return undefined;
      if (!/^<(@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+(\|[^<>]*)?|!here|!channel)>$/.test(mention)) {
        throw new Invalid('must be a Slack mention: "<@U0123456789>", "<!subteam^S0123456789>" or "<!here>"');
      }
      return mention;
    },
  },
  escalation: {
    type: 'table',
    description:
      'which chat outcomes reach on-call and who is pinged: [escalation] on = ["not_aware", "denied", "unverified"], mention = "S0123456789"',
    default: { on: DEFAULT_ESCALATE_ON },
    read: readEscalation,
  },
  llm_concurrency: {
    type: 'integer 1..256',
    description: 'LLM requests in flight at once; more wait their turn',
    default: 16,
    read: integerFrom(1, 256),
  },
  slack_rate_scale: {
    type: 'number 0.01..1000',
    description: 'multiplies the Slack rate limits irbot paces itself to (1 = as Slack publishes them)',
    default: 1,
    read: upTo(1000, 'a number (1 = Slack’s published limits)', 0.01),
  },
  slack_history_tier: {
    type: '"tier3" | "non_marketplace"',
    description:
      'the rate Slack grants this app for conversations.history and .replies: "tier3" (internal and Marketplace apps), or "non_marketplace" (apps distributed outside the Marketplace since 2025: 1 a minute)',
    default: 'tier3',
    read: (value: unknown): HistoryTier => {
      if (value !== 'tier3' && value !== 'non_marketplace') throw new Invalid('must be "tier3" or "non_marketplace"');
      return value;
    },
  },
  working_hours: {
    type: '"HH:MM-HH:MM"',
    description:
      'when irbot may greet a person, in their own Slack time zone, e.g. "09:00-18:00"; a chat started outside waits for it (default: all day)',
    read: readWorkingHours,
  },
  working_days: {
    type: 'array of weekdays',
    description: 'the days working_hours applies to, e.g. ["Mon", "Tue", "Wed", "Thu", "Fri"] (default: every day)',
    read: readWorkingDays,
  },
  max_wait_hours: {
    type: 'number 0..8760',
    description: 'the longest a chat waits for the person’s working hours; if none comes by then, it ends as no_answer',
    default: 12,
    read: upTo(8760, 'a number of hours'),
  },
  sinks: {
    type: 'array of tables',
    description:
      'where outcome events are POSTed, signed: [[sinks]] with url, secret_env (the variable holding its secret) and events',
    default: [],
    read: readSinks,
  },
  max_snooze_days: {
    type: 'integer 1..365',
    description: 'the longest a snooze may last (irbot snooze add --for, in days)',
    default: 30,
    read: integerFrom(1, 365),
  },
  confirm_backoff_hours: {
    type: 'integer 0..8760',
    description:
      'after a verified "it was me", alerts of the same template for the same person are suppressed this long (0 = off)',
    default: 0,
    read: integerFrom(0, 8760),
  },
  lease_seconds: {
    type: 'integer 5..3600',
    description:
      'how long a claim on a piece of work holds unless its replica renews it; a replica that is gone loses its work to another after this',
    default: 30,
    read: integerFrom(5, 3600),
  },
} satisfies Record<string, ConfigKey<unknown>>;

/** Sections of config.toml (`[name]`), each read by its own module, which names its keys in its messages. */
export const TABLES = {
  step_up: parseStepUp,
} satisfies Record<string, (value: unknown, file: string) => unknown>;

type Keys = typeof CONFIG_KEYS;
type KeyName = keyof Keys;
/** A key's value type: what its `read` returns, or that or undefined for an optional key without a default. */
type ValueOf<K extends KeyName> = Keys[K] extends { default: unknown } | { required: true }
  ? ReturnType<Keys[K]['read']>
  : ReturnType<Keys[K]['read']> | undefined;
type Getter = <K extends KeyName>(key: K) => ValueOf<K>;

/** Parses config.toml text; `file` is its absolute path, which every message starts with and paths resolve against. */
export function parseConfig(text: string, file: string): Config {
  const table = parseToml(text, file);
  const known = [...Object.keys(CONFIG_KEYS), ...Object.keys(TABLES)];
  for (const key of Object.keys(table)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${file}: unknown key ${quote(key)} (known keys: ${known.join(', ')})`);
    }
  }
  const dir = path.dirname(file);
  // readKey has read each value with its key's `read`, so the value has that key's type.
  const get = ((key: KeyName) => readKey(table, file, key, CONFIG_KEYS[key])) as Getter;
  const config: Config = {
    file,
    feedChannelId: get('feed_channel_id'),
    openaiModel: get('openai_model'),
    databasePath: path.resolve(dir, get('database_path')),
    databaseUrl: get('database_url'),
    alertsPath: path.resolve(dir, get('alerts_path')),
    maxNudges: get('max_nudges'),
    responders: get('responders'),
    llmTimeoutSeconds: get('llm_timeout_seconds'),
    nudgeAfterMinutes: get('nudge_after_minutes'),
    escalationMention: get('escalation_mention'),
    escalation: escalationOf(get('escalation'), get('escalation_mention'), file),
    llmConcurrency: get('llm_concurrency'),
    slackRateScale: get('slack_rate_scale'),
    slackHistoryTier: get('slack_history_tier'),
    stepUp: TABLES.step_up(table.step_up, file),
    sinks: get('sinks'),
    maxSnoozeDays: get('max_snooze_days'),
    confirmBackoffHours: get('confirm_backoff_hours'),
    maxWaitHours: get('max_wait_hours'),
    leaseSeconds: get('lease_seconds'),
  };
  const workingHours = workingHoursOf(get('working_hours'), get('working_days'));
  if (workingHours) config.workingHours = workingHours;
  const organization = get('openai_organization_id');
  if (organization) config.openaiOrganizationId = organization;
  // A snooze irbot makes is a snooze like any other: no longer than one an analyst may make.
  if (config.confirmBackoffHours > config.maxSnoozeDays * 24) {
    throw new ConfigError(
      `${file}: confirm_backoff_hours: ${config.confirmBackoffHours} hours is longer than max_snooze_days (${config.maxSnoozeDays} days): lower it or raise max_snooze_days`,
    );
  }
  return config;
}

/** `[escalation]` with the older `escalation_mention` folded in: one of the two names the mention. */
function escalationOf(table: EscalationConfig, older: string | undefined, file: string): EscalationConfig {
  if (table.mention !== undefined && older !== undefined) {
    throw new ConfigError(
      `${file}: escalation_mention and [escalation] mention are both set: keep only [escalation] mention (escalation_mention is its older form)`,
    );
  }
  const mention = table.mention ?? older;
  return { on: table.on, ...(mention !== undefined ? { mention } : {}) };
}

/** Reads and parses a config file; a relative `file` resolves against the working directory. */
export async function loadConfig(file: string): Promise<Config> {
  const absolute = path.resolve(file);
  return parseConfig(await readText(absolute, 'Configuration file'), absolute);
}

/** Parses TOML, turning smol-toml's multi-line syntax error into one `file:line:column: reason` line. */
export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n', 1)[0] ?? err.message;
      throw new ConfigError(`${file}:${err.line}:${err.column}: ${reason}`, { cause: err });
    }
    throw err;
  }
}

/** Reads a UTF-8 file, turning the problems a person can fix into one-line ConfigErrors; `what` names the file. */
export async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw readProblem(err, file, what);
  }
}

/** A failed read or stat of `file` as the one-line ConfigError a person can fix, or `err` as it is. */
export function readProblem(err: unknown, file: string, what: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ConfigError(`${what} not found: ${file}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') {
    return new ConfigError(`${what} cannot be read (permission denied): ${file}`, { cause: err });
  }
  if (code === 'EISDIR') return new ConfigError(`${what} is a directory, not a file: ${file}`, { cause: err });
  return err;
}

function readKey(table: Record<string, unknown>, file: string, key: KeyName, spec: ConfigKey<unknown>): unknown {
  const value = table[key] ?? spec.default;
  if (value === undefined) {
    if (spec.required) throw new ConfigError(`${file}: ${key}: required (${spec.description})`);
    return undefined;
  }
  try {
    return spec.read(value);
  } catch (err) {
    if (err instanceof Invalid) throw new ConfigError(`${file}: ${key}: ${err.message}`);
    throw err;
  }
}

function readString(value: unknown, problem: string, nonEmpty = false): string {
  if (typeof value !== 'string' || (nonEmpty && value.trim() === '')) throw new Invalid(problem);
  return value;
}

function readChannelId(value: unknown): string {
  const id = readString(value, 'must be a string, the Slack channel ID of the alert feed, e.g. "C0123456789"');
  if (!id.startsWith('C') && !id.startsWith('G')) {
    throw new Invalid(
      "channel ID must start with 'C' or 'G' (in Slack: open the channel's details; the ID is at the bottom)",
    );
  }
  if (!SLACK_CHANNEL_ID.test(id)) {
    throw new Invalid(
      `${quote(id)} is not a Slack channel ID (C or G, then capital letters and digits, e.g. C0123456789)`,
    );
  }
  return id;
}

function readUserIds(value: unknown): string[] {
  const problem = 'must be an array of Slack user or user group IDs, e.g. ["U0123456789", "S0123456789"]';
  if (!Array.isArray(value)) throw new Invalid(problem);
  return value.map((item: unknown, index) => {
    if (typeof item !== 'string') throw new Invalid(problem);
    if (!isSlackUserId(item) && !isSlackUsergroupId(item)) {
      throw new Invalid(`item ${index + 1}, ${quote(item)}, is not a Slack user ID (U… or W…) or user group ID (S…)`);
    }
    return item;
  });
}

/** `[escalation]`: `on` (outcomes) and `mention` (a user or user group ID, turned into the Slack mention). */
function readEscalation(value: unknown): EscalationConfig {
  const example = '[escalation] with on = ["not_aware", "denied", "unverified"] and mention = "S0123456789"';
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
    throw new Invalid(`must be a table: ${example}`);
  }
  const table = value as Record<string, unknown>;
  for (const key of Object.keys(table)) {
    if (key !== 'on' && key !== 'mention') throw new Invalid(`unknown key ${quote(key)} (known keys: on, mention)`);
  }
  const config: EscalationConfig = { on: table.on === undefined ? DEFAULT_ESCALATE_ON : readOutcomes(table.on) };
  if (table.mention !== undefined) config.mention = mentionFor(table.mention);
  return config;
}

function readOutcomes(value: unknown): EscalationOutcome[] {
  const known = ESCALATION_OUTCOMES.join(', ');
  if (!Array.isArray(value)) {
    throw new Invalid(`on: must be an array of outcomes (any of ${known}), e.g. ["not_aware", "denied", "unverified"]`);
  }
  const outcomes = value.map((item: unknown, index) => {
    if (typeof item !== 'string' || !(ESCALATION_OUTCOMES as readonly string[]).includes(item)) {
      const shown = typeof item === 'string' ? quote(item) : 'not a string';
      throw new Invalid(`on: item ${index + 1}, ${shown}, is not an outcome (use any of ${known})`);
    }
    return item as EscalationOutcome;
  });
  return [...new Set(outcomes)];
}

/** The Slack mention of a user (`<@U…>`) or a user group (`<!subteam^S…>`), from its ID in config.toml. */
function mentionFor(value: unknown): string {
  const id = typeof value === 'string' ? value.trim() : undefined;
  if (id !== undefined && isSlackUserId(id)) return `<@${id}>`;
  if (id !== undefined && isSlackUsergroupId(id)) return `<!subteam^${id}>`;
  const shown = id === undefined ? 'not a string' : quote(id);
  throw new Invalid(
    `mention: ${shown} is not a Slack user ID (U… or W…: the person's profile, ⋮, Copy member ID) or user group ID (S…)`,
  );
}
