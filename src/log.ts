// One stderr line per thing that happened, with tokens redacted wherever they came from.

import type * as SlackLogger from '@slack/logger';
import type { Logger } from '@slack/logger';
import type { ChalkInstance } from 'chalk';
import type * as Pino from 'pino';
import { requireCjs } from './cjs.js';
import { neutraliseLine } from './untrusted-text.js';

const { LogLevel } = requireCjs('@slack/logger') as typeof SlackLogger;

/** What a log line is about: the event (`dm`, `button`, `effect_failed`…) and the alert, when there is one. */
export interface LogFields {
  event?: string;
  alert?: string;
  level?: 'info' | 'warn' | 'error';
  [field: string]: unknown;
}

export type Log = (message: string, fields?: LogFields) => void;

export type LogFormat = 'json' | 'pretty';

// Slack's prefixes match wherever they start (`Bearer%20xoxb-…`, a JSON-escaped `\nxoxb-…`); OpenAI's `sk-` only
// at a word's start, so that an alert id like `disk-full-7` stays as it is. `xoxe-` is a refresh token.
const TOKEN = /(xox[abposre]|xapp)-[A-Za-z0-9_-]{4,}|\b(sk)-[A-Za-z0-9_-]{4,}/g;
/** `scheme://user:password@`: credentials in a URL (SLACK_API_URL, OPENAI_BASE_URL, a proxy) up to the host. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]+@/gi;
/** A query parameter that carries a secret by its name (`?api-key=…`, `&access_token=…`, `?sig=…`) in a URL. */
const QUERY_SECRET =
  /([?&](?:api[-_]?key|apikey|key|token|access[-_]?token|auth|secret|password|passwd|sig|signature|code)=)[^&\s#"']+/gi;

/**
 * The secrets this process holds (tokens, keys and passwords from its environment): hidden whatever their shape,
 * for a key of another provider, a signing secret or a password has no prefix to find it by.
 */
const held = new Set<string>();

/** Hides these values from every line `redact` cleans; one under 8 characters would hide ordinary words instead. */
export function holdSecrets(values: Iterable<string | undefined>): void {
  for (const value of values) if (value !== undefined && value.length >= 8) held.add(value);
  // The longest first: a secret that holds another must not leave its rest behind.
  const longestFirst = [...held].sort((a, b) => b.length - a.length);
  held.clear();
  for (const value of longestFirst) held.add(value);
}

/**
 * Replaces a secret this process holds with `***`, anything shaped like a Slack or OpenAI token with its prefix and
 * `***`, and a URL's credentials with `***`.
 */
export function redact(text: string): string {
  let out = text;
  for (const secret of held) if (out.includes(secret)) out = out.split(secret).join('***');
  return out
    .replace(TOKEN, (_, slack: string | undefined, openai: string | undefined) => `${slack ?? openai}-***`)
    .replace(URL_CREDENTIALS, '$1***@')
    .replace(QUERY_SECRET, '$1***');
}

/** The first line of an error's message, redacted: what irbot prints for any failure. */
export function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return redact(message.split('\n')[0] ?? '').trim();
}

/** The format `listen` logs in: what `--log-format` says, else readable on a terminal and JSON for a pipeline. */
export function logFormatFor(option: LogFormat | undefined, stream: { isTTY?: boolean }): LogFormat {
  return option ?? (stream.isTTY ? 'pretty' : 'json');
}

/**
 * For people: `time [event alert] message`, one line each, whatever the message holds (a newline shows as `␤`, an
 * escape as `␛`: a person's or a webhook's text can neither forge a line nor rewrite the screen). With colour,
 * the time is dim, warnings yellow and errors red.
 */
export function stderrLog(
  stream: NodeJS.WritableStream,
  clock: () => Date = () => new Date(),
  chalk?: ChalkInstance,
): Log {
  return (message, fields = {}) => {
    const tags = neutraliseLine([fields.event, fields.alert].filter(Boolean).join(' '));
    const text = neutraliseLine(redact(message));
    const paint = fields.level === 'error' ? chalk?.red : fields.level === 'warn' ? chalk?.yellow : undefined;
    const time = clock().toISOString();
    stream.write(
      `${chalk ? chalk.dim(time) : time} ${tags ? `${chalk ? chalk.cyan(`[${tags}]`) : `[${tags}]`} ` : ''}${paint ? paint(text) : text}\n`,
    );
  };
}

/** For machines: one JSON object per line through pino, e.g. {"level":30,"time":…,"event":"dm","alert":"pivot-tt2k9x3fa1","msg":…}. */
export function jsonLog(stream: NodeJS.WritableStream, clock: () => Date = () => new Date()): Log {
  const { pino } = requireCjs('pino') as typeof Pino;
  const logger = pino({ base: null, timestamp: () => `,"time":"${clock().toISOString()}"` }, stream);
  return (message, { level = 'info', ...fields } = {}) => {
    const clean = Object.fromEntries(
      Object.entries(fields).map(([key, value]) => [key, typeof value === 'string' ? redact(value) : value]),
    );
    logger[level](clean, redact(message));
  };
}

/** A @slack/logger that sends the SDKs' warnings and errors to our log and drops their chatter. */
export function slackLogger(log: Log, name: string): Logger {
  let level = LogLevel.WARN;
  const at =
    (min: SlackLogger.LogLevel) =>
    (...msg: unknown[]) => {
      const order = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];
      if (order.indexOf(min) >= order.indexOf(level)) log(`${name}: ${msg.map(String).join(' ')}`);
    };
  return {
    debug: at(LogLevel.DEBUG),
    info: at(LogLevel.INFO),
    warn: at(LogLevel.WARN),
    error: at(LogLevel.ERROR),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
