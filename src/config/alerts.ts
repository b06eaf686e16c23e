// Alerts in → AlertInput[]: alerts.toml's [[alerts]] tables, JSON and NDJSON from a SIEM, one validator for all three.
import path from 'node:path';
import { TomlDate } from 'smol-toml';
import { storableText } from '../store/pg/text.js';
import { neutralise } from '../untrusted-text.js';
import { isSlackUserId, parseToml, readText } from './config.js';
import { ConfigError, quote } from './errors.js';
import { type AlertTemplate, SEVERITIES, type Severity } from './types.js';

const ALERT_KEYS = [
  'id',
  'name',
  'description',
  'user_id',
  'properties',
  'auto_chat',
  'step_up',
  'dedupe_key',
  'severity',
  'urgent',
];

/** Longest dedupe_key kept: it is stored with the alert and compared on every delivery. */
const MAX_DEDUPE_KEY = 200;

/**
 * What one alert may hold. The id travels in each button's `value` (Slack: at most 2,000 characters) and in
 * file names and logs; the rest is posted, escaped, in the alert's thread (split into messages under Slack's
 * 40,000 characters) and given to the LLM, so each field is bounded where it comes in.
 */
export const ALERT_LIMITS = {
  id: 64,
  name: 300,
  userId: 24,
  description: 40_000,
  properties: 100,
  propertyKey: 100,
  propertyValue: 2_000,
} as const;

/** Letters, digits and `.`, `_`, `:`, `-`: safe in a button value, a log line, a file name and a URL. */
const SAFE_ID = /^[A-Za-z0-9._:-]+$/;

/** Alert `index` (0-based, in the order of the source) was refused; `error` names the source, the alert and the field. */
export interface Rejection {
  index: number;
  error: string;
  /** The alert's id when it had a string one, so that a pick by id can tell "refused" from "unknown". */
  id?: string;
}

/** A batch checked alert by alert: the good ones, in order with their index, and why each other one was refused. */
export interface AlertBatch {
  accepted: { index: number; alert: AlertInput }[];
  rejected: Rejection[];
}

export type AlertFormat = 'toml' | 'json' | 'ndjson';

/** One alert to post: its template, and the key a retrying source gave it so that a second delivery posts nothing. */
export interface AlertInput extends AlertTemplate {
  dedupeKey?: string;
}

/** One value to validate and where it came from: `alert #2` or `line 7`. */
interface Located {
  raw: unknown;
  where: string;
}

/** How the source's format names an alert and its properties, for messages. */
interface Dialect {
  uniqueIds: boolean;
  alert: string;
  properties: string;
  nested: string;
}

const TOML: Dialect = {
  uniqueIds: true,
  alert: 'a table ([[alerts]])',
  properties: 'a table ([alerts.properties])',
  nested: 'a table',
};
// In JSON, `id` names the kind of alert: a batch from a SIEM may hold several alerts of one kind.
const JSON_DIALECT: Dialect = { uniqueIds: false, alert: 'an object', properties: 'an object', nested: 'an object' };

/** Parses alerts.toml text; `file` is its path, which every message starts with. Ids must be unique: they pick. */
export function parseAlerts(text: string, file: string): AlertInput[] {
  return validateAlerts(numbered(tomlAlerts(text, file)), file, TOML);
}

function tomlAlerts(text: string, file: string): unknown[] {
  const table = parseToml(text, file);
  for (const key of Object.keys(table)) {
    if (key !== 'alerts') {
      throw new ConfigError(`${file}: unknown top-level key ${quote(key)} (only [[alerts]] tables belong here)`);
    }
  }
  const alerts = table.alerts;
  if (alerts === undefined) {
    throw new ConfigError(`${file}: no alerts: add an [[alerts]] table with id, name and user_id`);
  }
  if (!Array.isArray(alerts)) {
    throw new ConfigError(`${file}: alerts: must be a list of [[alerts]] tables, not a single [alerts] table`);
  }
  return alerts;
}

/**
 * Parses JSON: one alert object or an array of them, with alerts.toml's keys. Here `id` names the kind of alert,
 * so a batch may hold several alerts with one id. `source` (a path, `stdin`, `request body`) starts every message.
 */
export function parseAlertsJson(text: string, source: string): AlertInput[] {
  return validateAlerts(numbered(jsonAlerts(text, source)), source, JSON_DIALECT);
}

function jsonAlerts(text: string, source: string): unknown[] {
  const value = parseJson(text, `${source}: invalid JSON`);
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ConfigError(`${source}: no alerts: the array is empty`);
    return value;
  }
  if (!isTable(value)) {
    throw new ConfigError(`${source}: must be an alert object or an array of alert objects`);
  }
  return [value];
}

/** Parses NDJSON: one alert object per line; blank lines are skipped and messages say `line N`. */
export function parseAlertsNdjson(text: string, source: string): AlertInput[] {
  return validateAlerts(ndjsonAlerts(text, source, true), source, JSON_DIALECT);
}

/** The lines' objects; a line that is not JSON throws when `strict`, else it is that alert's rejection. */
function ndjsonAlerts(text: string, source: string, strict: boolean): (Located | Rejection)[] {
  const located: (Located | Rejection)[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `line ${index + 1}`;
    try {
      located.push({ raw: parseJson(line, `${source}: ${where}: invalid JSON`), where });
    } catch (err) {
      if (strict || !(err instanceof ConfigError)) throw err;
      located.push({ index: located.length, error: err.message });
    }
  });
  if (located.length === 0) throw new ConfigError(`${source}: no alerts: every line is empty`);
  return located;
}

export function parseAlertsAs(format: AlertFormat, text: string, source: string): AlertInput[] {
  switch (format) {
    case 'toml':
      return parseAlerts(text, source);
    case 'json':
      return parseAlertsJson(text, source);
    case 'ndjson':
      return parseAlertsNdjson(text, source);
  }
}

/**
 * The format of an alerts file: by extension (.toml, .json, .ndjson, .jsonl), else (stdin, other names) by content:
 * several lines that all start with `{` are NDJSON; `{`, or `[` then `{` or `]`, is JSON; anything else is TOML,
 * whose `[[alerts]]` also starts with `[`.
 */
export function detectAlertFormat(file: string, text: string): AlertFormat {
  const ext = file === '-' ? '' : path.extname(file).toLowerCase();
  if (ext === '.toml') return 'toml';
  if (ext === '.json') return 'json';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length > 1 && lines.every((line) => line.trimStart().startsWith('{'))) return 'ndjson';
  const start = text.trimStart();
  if (start.startsWith('{')) return 'json';
  if (start.startsWith('[') && /^[{\]]/.test(start.slice(1).trimStart())) return 'json';
  return 'toml';
}

/** Reads and parses alerts.toml; a relative `file` resolves against the working directory. */
export async function loadAlerts(file: string): Promise<AlertInput[]> {
  const absolute = path.resolve(file);
  return parseAlerts(await readText(absolute, 'Alerts file'), absolute);
}

/** The template with `id`, or without one a random template (`random` returns a number in [0, 1)). */
export function pickAlert<T extends AlertTemplate>(
  templates: ReadonlyArray<T>,
  id: string | undefined,
  random: () => number,
): T {
  if (templates.length === 0) {
    throw new ConfigError('No alerts to send: add an [[alerts]] table to alerts.toml');
  }
  if (id === undefined) {
    const index = Math.min(Math.max(Math.floor(random() * templates.length), 0), templates.length - 1);
    return templates[index] as T;
  }
  const found = templates.filter((template) => template.id === id);
  if (found.length === 0) {
    const known = [...new Set(templates.map((template) => template.id))].join(', ');
    throw new ConfigError(`Unknown alert id ${quote(id)} (known: ${known})`);
  }
  if (found.length > 1) {
    throw new ConfigError(
      `${found.length} alerts have id ${quote(id)}: leave the id out to post every alert in the file`,
    );
  }
  return found[0] as T;
}

/** The one validator: plain objects (from TOML or JSON) → AlertInput[], or a ConfigError naming source, alert and key. */
function validateAlerts(located: ReadonlyArray<Located | Rejection>, source: string, dialect: Dialect): AlertInput[] {
  const batch = checkAlerts(located, source, dialect);
  const [first] = batch.rejected;
  if (first) throw new ConfigError(first.error);
  return batch.accepted.map(({ alert }) => alert);
}

/** Each alert checked on its own: one bad alert is refused with its reason, the others go on. */
function checkAlerts(located: ReadonlyArray<Located | Rejection>, source: string, dialect: Dialect): AlertBatch {
  const seen = new Map<string, string>();
  const batch: AlertBatch = { accepted: [], rejected: [] };
  for (const [index, item] of located.entries()) {
    if ('error' in item) {
      batch.rejected.push(item);
      continue;
    }
    const { raw, where } = item;
    const id = isTable(raw) && typeof raw.id === 'string' ? { id: raw.id } : {};
    try {
      const alert = readAlert(raw, `${source}: ${where}`, dialect);
      if (dialect.uniqueIds) {
        const also = seen.get(alert.id);
        if (also !== undefined) {
          throw new ConfigError(
            `${source}: ${where} (id ${quote(alert.id)}): duplicate id ${quote(alert.id)} (also ${also})`,
          );
        }
        seen.set(alert.id, where);
      }
      batch.accepted.push({ index, alert });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      batch.rejected.push({ index, error: err.message, ...id });
    }
  }
  return batch;
}

/**
 * Parses a batch alert by alert: the whole fails (ConfigError) only when it cannot be read at all (not JSON,
 * not TOML, no alerts); an alert that is bad, or an NDJSON line that is not JSON, is refused on its own.
 */
export function parseAlertBatch(format: AlertFormat, text: string, source: string): AlertBatch {
  if (format === 'toml') return checkAlerts(numbered(tomlAlerts(text, source)), source, TOML);
  if (format === 'json') return checkAlerts(numbered(jsonAlerts(text, source)), source, JSON_DIALECT);
  return checkAlerts(ndjsonAlerts(text, source, false), source, JSON_DIALECT);
}

function numbered(values: unknown[]): Located[] {
  return values.map((raw, index) => ({ raw, where: `alert #${index + 1}` }));
}

function readAlert(raw: unknown, where: string, dialect: Dialect): AlertInput {
  if (!isTable(raw)) throw new ConfigError(`${where}: must be ${dialect.alert}`);
  const at = typeof raw.id === 'string' && raw.id !== '' ? `${where} (id ${quote(shorten(raw.id))})` : where;
  const fail: (problem: string) => never = (problem) => {
    throw new ConfigError(`${at}: ${problem}`);
  };
  for (const key of Object.keys(raw)) {
    if (!ALERT_KEYS.includes(key)) fail(`unknown key ${quote(shorten(key))} (known keys: ${ALERT_KEYS.join(', ')})`);
  }
  const id = requiredString(raw, 'id', fail);
  if (id.length > ALERT_LIMITS.id || !SAFE_ID.test(id)) {
    fail(`'id' must be at most ${ALERT_LIMITS.id} letters, digits, '.', '_', ':' or '-'`);
  }
  // One line, as every place shows it (the alert message's headline, a DM, the terminal): a newline could forge a
  // line of the alert message (":white_check_mark: … decided that no action was necessary"), a bidi control reorder it.
  const name = neutralise(requiredString(raw, 'name', fail).replace(/\s+/g, ' ').trim());
  if (name === '') fail("'name' must be a non-empty string");
  if (name.length > ALERT_LIMITS.name) fail(`'name' is longer than ${ALERT_LIMITS.name} characters`);
  const description = raw.description ?? '';
  if (typeof description !== 'string') fail("'description' must be a string");
  if (description.length > ALERT_LIMITS.description) {
    fail(`'description' is longer than ${ALERT_LIMITS.description} characters`);
  }
  const userId = requiredString(raw, 'user_id', fail);
  if (!isSlackUserId(userId) || userId.length > ALERT_LIMITS.userId) {
    fail(
      `user_id ${quote(shorten(userId))} is not a Slack user ID (U… or W…): in Slack, click the person's name, ⋮, Copy member ID`,
    );
  }
  const alert: AlertInput = {
    id,
    name,
    description,
    userId,
    properties: readProperties(raw.properties, dialect, fail),
  };
  if (raw.auto_chat !== undefined) {
    if (typeof raw.auto_chat !== 'boolean') fail("'auto_chat' must be true or false");
    alert.autoChat = raw.auto_chat;
  }
  if (raw.step_up !== undefined) {
    if (typeof raw.step_up !== 'boolean')
      fail("'step_up' must be true or false (it overrides [step_up] in config.toml)");
    alert.stepUp = raw.step_up;
  }
  if (raw.urgent !== undefined) {
    if (typeof raw.urgent !== 'boolean')
      fail("'urgent' must be true or false (true: the chat skips the wait for working hours)");
    alert.urgent = raw.urgent;
  }
  if (raw.dedupe_key !== undefined) {
    const key = requiredString(raw, 'dedupe_key', fail);
    if (key.length > MAX_DEDUPE_KEY) fail(`'dedupe_key' is longer than ${MAX_DEDUPE_KEY} characters`);
    // PostgreSQL cannot hold either (src/store/pg/text.ts would store another key, and a retry would not find it).
    if (storableText(key) !== key) {
      fail("'dedupe_key' holds a NUL or half of a surrogate pair: send the source's id as plain text");
    }
    alert.dedupeKey = key;
  }
  if (raw.severity !== undefined) {
    if (typeof raw.severity !== 'string' || !(SEVERITIES as readonly string[]).includes(raw.severity)) {
      fail(`'severity' must be one of ${SEVERITIES.map((s) => `"${s}"`).join(', ')} (PagerDuty's severities)`);
    }
    alert.severity = raw.severity as Severity;
  }
  return alert;
}

function requiredString(raw: Record<string, unknown>, key: string, fail: (problem: string) => never): string {
  const value = raw[key];
  if (value === undefined) fail(`missing ${quote(key)}`);
  if (typeof value !== 'string' || value.trim() === '') fail(`${quote(key)} must be a non-empty string`);
  return value;
}

function readProperties(raw: unknown, dialect: Dialect, fail: (problem: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (!isTable(raw)) fail(`'properties' must be ${dialect.properties} of names and values`);
  const entries = Object.entries(raw);
  if (entries.length > ALERT_LIMITS.properties) {
    fail(`'properties' has ${entries.length} entries, more than ${ALERT_LIMITS.properties}`);
  }
  return Object.fromEntries(
    entries.map(([key, value]) => {
      if (key.length > ALERT_LIMITS.propertyKey) {
        fail(`a property name is longer than ${ALERT_LIMITS.propertyKey} characters (${quote(shorten(key))})`);
      }
      const text = propertyText(key, value, dialect, fail);
      if (text.length > ALERT_LIMITS.propertyValue) {
        fail(`property ${quote(key)} is longer than ${ALERT_LIMITS.propertyValue} characters`);
      }
      return [key, text];
    }),
  );
}

/** A value as shown in a message: a long one is cut, the line stays readable. */
function shorten(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}

function propertyText(key: string, value: unknown, dialect: Dialect, fail: (problem: string) => never): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // TomlDate's toISOString keeps the form written: a local date stays '1979-05-27'.
  if (value instanceof TomlDate) return value.toISOString();
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : dialect.nested;
  const allowed = dialect === TOML ? 'strings, numbers, booleans or dates' : 'strings, numbers or booleans';
  return fail(`property ${quote(key)} is ${kind}: properties must be ${allowed}`);
}

/**
 * JSON.parse with a one-line message that never quotes the text: V8's message carries a snippet of it, which
 * could be anything a webhook client sent.
 */
function parseJson(text: string, prefix: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const reason = message
      .replace(/, (?:\.\.\.)?".*$/s, '') // V8 quotes the text around the error: `Unexpected token '}', "{"a": }" is…`
      .replace(/ (?:in JSON )?at position \d+.*$/s, '')
      .slice(0, 100);
    const position = /at position (\d+)/.exec(message)?.[1];
    let at = '';
    if (position !== undefined) {
      const before = text.slice(0, Number(position)).split('\n');
      at = ` (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
    }
    throw new ConfigError(`${prefix}: ${reason.replace(/\p{Cc}/gu, ' ')}${at}`, { cause: err });
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
