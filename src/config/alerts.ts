// Alerts in → AlertInput[]: alerts.toml's [[alerts]] tables, JSON and NDJSON from a SIEM, one validator for all three.
import path from 'node:path';
import { TomlDate } from 'smol-toml';
import { isSlackUserId, parseToml, quote, readText } from './config.js';
import { ConfigError } from './errors.js';
import type { AlertTemplate } from './types.js';

const ALERT_KEYS = ['id', 'name', 'description', 'user_id', 'properties', 'auto_chat', 'dedupe_key'];

/** Longest dedupe_key kept: it is stored with the alert and compared on every delivery. */
const MAX_DEDUPE_KEY = 200;

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
  return validateAlerts(numbered(alerts), file, TOML);
}

/**
 * Parses JSON: one alert object or an array of them, with alerts.toml's keys. Here `id` names the kind of alert,
 * so a batch may hold several alerts with one id. `source` (a path, `stdin`, `request body`) starts every message.
 */
export function parseAlertsJson(text: string, source: string): AlertInput[] {
  const value = parseJson(text, `${source}: invalid JSON`);
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ConfigError(`${source}: no alerts: the array is empty`);
    return validateAlerts(numbered(value), source, JSON_DIALECT);
  }
  if (!isTable(value)) {
    throw new ConfigError(`${source}: must be an alert object or an array of alert objects`);
  }
  return validateAlerts(numbered([value]), source, JSON_DIALECT);
}

/** Parses NDJSON: one alert object per line; blank lines are skipped and messages say `line N`. */
export function parseAlertsNdjson(text: string, source: string): AlertInput[] {
  const located: Located[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `line ${index + 1}`;
    located.push({ raw: parseJson(line, `${source}: ${where}: invalid JSON`), where });
  });
  if (located.length === 0) throw new ConfigError(`${source}: no alerts: every line is empty`);
  return validateAlerts(located, source, JSON_DIALECT);
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
function validateAlerts(located: ReadonlyArray<Located>, source: string, dialect: Dialect): AlertInput[] {
  const seen = new Map<string, string>();
  return located.map(({ raw, where }) => {
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
    return alert;
  });
}

function numbered(values: unknown[]): Located[] {
  return values.map((raw, index) => ({ raw, where: `alert #${index + 1}` }));
}

function readAlert(raw: unknown, where: string, dialect: Dialect): AlertInput {
  if (!isTable(raw)) throw new ConfigError(`${where}: must be ${dialect.alert}`);
  const at = typeof raw.id === 'string' && raw.id !== '' ? `${where} (id ${quote(raw.id)})` : where;
  const fail: (problem: string) => never = (problem) => {
    throw new ConfigError(`${at}: ${problem}`);
  };
  for (const key of Object.keys(raw)) {
    if (!ALERT_KEYS.includes(key)) fail(`unknown key ${quote(key)} (known keys: ${ALERT_KEYS.join(', ')})`);
  }
  const id = requiredString(raw, 'id', fail);
  const name = requiredString(raw, 'name', fail);
  const description = raw.description ?? '';
  if (typeof description !== 'string') fail("'description' must be a string");
  const userId = requiredString(raw, 'user_id', fail);
  if (!isSlackUserId(userId)) {
    fail(
      `user_id ${quote(userId)} is not a Slack user ID (U… or W…): in Slack, click the person's name, ⋮, Copy member ID`,
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
  if (raw.dedupe_key !== undefined) {
    const key = requiredString(raw, 'dedupe_key', fail);
    if (key.length > MAX_DEDUPE_KEY) fail(`'dedupe_key' is longer than ${MAX_DEDUPE_KEY} characters`);
    alert.dedupeKey = key;
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
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) => {
      if (typeof value === 'string') return [key, value];
      if (typeof value === 'number' || typeof value === 'boolean') return [key, String(value)];
      // TomlDate's toISOString keeps the form written: a local date stays '1979-05-27'.
      if (value instanceof TomlDate) return [key, value.toISOString()];
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : dialect.nested;
      const allowed = dialect === TOML ? 'strings, numbers, booleans or dates' : 'strings, numbers or booleans';
      return fail(`property ${quote(key)} is ${kind}: properties must be ${allowed}`);
    }),
  );
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
