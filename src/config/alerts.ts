// alerts.toml → AlertTemplate[]: the seed's [[alerts]] format, validated, and the pick of one for send-alert.
import path from 'node:path';
import { TomlDate } from 'smol-toml';
import { isSlackUserId, parseToml, quote, readText } from './config.js';
import { ConfigError } from './errors.js';
import type { AlertTemplate } from './types.js';

const ALERT_KEYS = ['id', 'name', 'description', 'user_id', 'properties'];

/** Parses alerts.toml text; `file` is its path, which every message starts with. */
export function parseAlerts(text: string, file: string): AlertTemplate[] {
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
  const seen = new Map<string, number>();
  return alerts.map((raw: unknown, index) => readAlert(raw, index + 1, file, seen));
}

/** Reads and parses an alerts file; a relative `file` resolves against the working directory. */
export async function loadAlerts(file: string): Promise<AlertTemplate[]> {
  const absolute = path.resolve(file);
  return parseAlerts(await readText(absolute, 'Alerts file'), absolute);
}

/** The template with `id`, or without one a random template (`random` returns a number in [0, 1)). */
export function pickAlert(
  templates: ReadonlyArray<AlertTemplate>,
  id: string | undefined,
  random: () => number,
): AlertTemplate {
  if (templates.length === 0) {
    throw new ConfigError('No alerts to send: add an [[alerts]] table to alerts.toml');
  }
  if (id === undefined) {
    const index = Math.min(Math.max(Math.floor(random() * templates.length), 0), templates.length - 1);
    return templates[index] as AlertTemplate;
  }
  const found = templates.find((template) => template.id === id);
  if (!found) {
    const known = templates.map((template) => template.id).join(', ');
    throw new ConfigError(`Unknown alert id ${quote(id)} (known: ${known})`);
  }
  return found;
}

function readAlert(raw: unknown, number: number, file: string, seen: Map<string, number>): AlertTemplate {
  const where = `${file}: alert #${number}`;
  if (!isTable(raw)) throw new ConfigError(`${where}: must be a table ([[alerts]])`);
  const at = typeof raw.id === 'string' && raw.id !== '' ? `${where} (id ${quote(raw.id)})` : where;
  const fail: (problem: string) => never = (problem) => {
    throw new ConfigError(`${at}: ${problem}`);
  };
  for (const key of Object.keys(raw)) {
    if (!ALERT_KEYS.includes(key)) fail(`unknown key ${quote(key)} (known keys: ${ALERT_KEYS.join(', ')})`);
  }
  const id = requiredString(raw, 'id', fail);
  const also = seen.get(id);
  if (also !== undefined) fail(`duplicate id ${quote(id)} (also alert #${also})`);
  seen.set(id, number);
  const name = requiredString(raw, 'name', fail);
  const description = raw.description ?? '';
  if (typeof description !== 'string') fail("'description' must be a string");
  const userId = requiredString(raw, 'user_id', fail);
  if (!isSlackUserId(userId)) {
    fail(
      `user_id ${quote(userId)} is not a Slack user ID (U… or W…): in Slack, click the person's name, ⋮, Copy member ID`,
    );
  }
  return { id, name, description, userId, properties: readProperties(raw.properties, fail) };
}

function requiredString(raw: Record<string, unknown>, key: string, fail: (problem: string) => never): string {
  const value = raw[key];
  if (value === undefined) fail(`missing ${quote(key)}`);
  if (typeof value !== 'string' || value.trim() === '') fail(`${quote(key)} must be a non-empty string`);
  return value;
}

function readProperties(raw: unknown, fail: (problem: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (!isTable(raw)) fail("'properties' must be a table ([alerts.properties]) of names and values");
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) => {
      if (typeof value === 'string') return [key, value];
      if (typeof value === 'number' || typeof value === 'boolean') return [key, String(value)];
      // TomlDate's toISOString keeps the form written: a local date stays '1979-05-27'.
      if (value instanceof TomlDate) return [key, value.toISOString()];
      const kind = Array.isArray(value) ? 'an array' : 'a table';
      return fail(`property ${quote(key)} is ${kind}: properties must be strings, numbers, booleans or dates`);
    }),
  );
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
