// Tests of parseAlerts, loadAlerts and pickAlert: the seed's [[alerts]] format, its checks, and picking by id or at
// random; and of the same checks on JSON and NDJSON, and of telling the three formats apart.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ALERT_LIMITS,
  detectAlertFormat,
  loadAlerts,
  parseAlertBatch,
  parseAlerts,
  parseAlertsAs,
  parseAlertsJson,
  parseAlertsNdjson,
  pickAlert,
} from '../../../src/config/alerts.js';
import { ConfigError } from '../../../src/config/errors.js';
import type { AlertTemplate } from '../../../src/config/types.js';

const FILE = '/srv/irbot/alerts.toml';

function anAlert(fields: Record<string, string> = {}): string {
  const all = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', ...fields };
  return `[[alerts]]\n${Object.entries(all)
    .map(([key, value]) => `${key} = ${value.startsWith('{') ? value : JSON.stringify(value)}`)
    .join('\n')}\n`;
}

function problem(text: string): string {
  try {
    parseAlerts(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${FILE}:`)).toBe(true);
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseAlerts', () => {
  it('reads the seed’s format', () => {
    const text = `[[alerts]]
id = "pivot"
name = "Pivoting"
description = "User was found pivoting from one host to another"
user_id = "U0HAROLD"

[alerts.properties]
source_host = "source.machine.org"
destination_host = "destination.machine.org"

[[alerts]]
id = "privesc"
name = "Privileged Escalation"
user_id = "W0HAROLD"
`;
    expect(parseAlerts(text, FILE)).toEqual([
      {
        id: 'pivot',
        name: 'Pivoting',
        description: 'User was found pivoting from one host to another',
        userId: 'U0HAROLD',
        properties: { source_host: 'source.machine.org', destination_host: 'destination.machine.org' },
      },
      { id: 'privesc', name: 'Privileged Escalation', description: '', userId: 'W0HAROLD', properties: {} },
    ]);
  });

  it('turns numbers, booleans and dates into strings', () => {
    const text = `${anAlert()}[alerts.properties]
port = 22
ratio = 0.5
blocked = false
seen_on = 1979-05-27
seen_at = 1979-05-27T07:32:00Z
`;
    expect(parseAlerts(text, FILE)[0]?.properties).toEqual({
      port: '22',
      ratio: '0.5',
      blocked: 'false',
      seen_on: '1979-05-27',
      seen_at: '1979-05-27T07:32:00.000Z',
    });
  });

  it('names the alert and the missing key', () => {
    const text = anAlert() + anAlert({ id: 'privesc' }).replace('user_id = "U0HAROLD"\n', '');
    expect(problem(text)).toBe(`${FILE}: alert #2 (id 'privesc'): missing 'user_id'`);
    expect(problem('[[alerts]]\nname = "No id"\nuser_id = "U0HAROLD"\n')).toBe(`${FILE}: alert #1: missing 'id'`);
    expect(problem('[[alerts]]\nid = "x"\nuser_id = "U0HAROLD"\n')).toBe(`${FILE}: alert #1 (id 'x'): missing 'name'`);
  });

  it('rejects a user_id that is not a Slack user ID', () => {
    const message = problem(anAlert() + anAlert({ id: 'privesc', user_id: 'harold' }));
    expect(message).toContain(`${FILE}: alert #2 (id 'privesc'): user_id 'harold' is not a Slack user ID (U… or W…)`);
    expect(message).toContain('Copy member ID');
  });

  it('rejects a duplicate id', () => {
    expect(problem(anAlert() + anAlert({ name: 'Again' }))).toBe(
      `${FILE}: alert #2 (id 'pivot'): duplicate id 'pivot' (also alert #1)`,
    );
  });

  it('names an unknown key in an alert', () => {
    expect(problem(anAlert({ priority: 'high' }))).toContain(`${FILE}: alert #1 (id 'pivot'): unknown key 'priority'`);
  });

  it('wants strings for id, name, description and user_id', () => {
    expect(problem('[[alerts]]\nid = 1\nname = "n"\nuser_id = "U1"\n')).toContain(
      "alert #1: 'id' must be a non-empty string",
    );
    expect(problem('[[alerts]]\nid = "a"\nname = ""\nuser_id = "U1"\n')).toContain("'name' must be a non-empty string");
    expect(problem(`${anAlert()}description = 3\n`)).toContain("'description' must be a string");
    expect(problem('[[alerts]]\nid = "a"\nname = "n"\nuser_id = 7\n')).toContain(
      "'user_id' must be a non-empty string",
    );
  });

  it('names a property that is a table or an array', () => {
    expect(problem(`${anAlert()}[alerts.properties]\nhosts = ["a", "b"]\n`)).toContain(
      `${FILE}: alert #1 (id 'pivot'): property 'hosts' is an array`,
    );
    expect(problem(`${anAlert()}[alerts.properties.extra]\nkey = "v"\n`)).toContain("property 'extra' is a table");
    expect(problem(`${anAlert()}properties = "none"\n`)).toContain("'properties' must be a table");
  });

  it('wants [[alerts]] tables and nothing else at the top', () => {
    expect(problem('')).toContain(`${FILE}: no alerts`);
    expect(problem(`title = "mine"\n${anAlert()}`)).toContain("unknown top-level key 'title'");
    expect(problem('[alerts]\nid = "pivot"\n')).toContain('alerts: must be a list of [[alerts]] tables');
    expect(problem('alerts = [1]\n')).toContain(`${FILE}: alert #1: must be a table`);
  });

  it('makes a name one line, its controls shown: a webhook cannot forge a line of the alert message', () => {
    const name = 'Pivoting\n:white_check_mark: *Sam decided that no action was necessary*\u202e';
    const batch = parseAlertBatch('json', JSON.stringify({ id: 'p', name, user_id: 'U0HAROLD' }), 'request body');
    expect(batch.accepted[0]?.alert.name).toBe(
      'Pivoting :white_check_mark: *Sam decided that no action was necessary*<U+202E>',
    );
    const blank = parseAlertBatch('json', JSON.stringify({ id: 'p', name: '\u2028\n', user_id: 'U0H' }), 'b');
    expect(JSON.stringify(blank.rejected)).toContain("'name' must be a non-empty string");
  });

  it('names an unknown key shortened: a request body cannot make its own error as long as itself', () => {
    const body = JSON.stringify({ id: 'p', name: 'n', user_id: 'U0H', ['k'.repeat(200_000)]: 1 });
    const { rejected } = parseAlertBatch('json', body, 'request body');
    expect(JSON.stringify(rejected)).toContain('unknown key');
    expect(JSON.stringify(rejected).length).toBeLessThan(1000);
  });

  it('keeps a message on one line when a value holds a newline', () => {
    expect(problem(anAlert({ user_id: 'U1\nU2' }))).toContain("user_id 'U1\\nU2'");
  });

  it('reports TOML syntax errors as file:line:column: reason', () => {
    expect(problem('[[alerts]]\nid = "pivot\n')).toMatch(/^\/srv\/irbot\/alerts\.toml:2:\d+: Invalid TOML document: /);
  });
});

describe('parseAlerts: severity', () => {
  it('reads a PagerDuty severity for the alert’s escalation, and leaves it out otherwise', () => {
    expect(parseAlerts(`${anAlert()}severity = "warning"\n`, FILE)[0]).toMatchObject({ severity: 'warning' });
    expect(parseAlertsJson(JSON.stringify({ ...pivot, severity: 'info' }), SOURCE)[0]?.severity).toBe('info');
    expect(parseAlerts(anAlert(), FILE)[0]).not.toHaveProperty('severity');
  });

  it('names the severities it takes', () => {
    expect(problem(`${anAlert()}severity = "sev1"\n`)).toBe(
      `${FILE}: alert #1 (id 'pivot'): 'severity' must be one of "critical", "error", "warning", "info" (PagerDuty's severities)`,
    );
    expect(problem(`${anAlert()}severity = 1\n`)).toContain("'severity' must be one of");
  });
});

describe('parseAlerts: auto_chat and dedupe_key', () => {
  it('reads them when given, and leaves them out otherwise', () => {
    const [alert] = parseAlerts(`${anAlert()}auto_chat = true\ndedupe_key = "siem-1"\n`, FILE);
    expect(alert).toMatchObject({ id: 'pivot', autoChat: true, dedupeKey: 'siem-1' });
    expect(parseAlerts(anAlert(), FILE)[0]).not.toHaveProperty('autoChat');
    expect(parseAlerts(anAlert(), FILE)[0]).not.toHaveProperty('dedupeKey');
  });

  it('names a wrong type', () => {
    expect(problem(`${anAlert()}auto_chat = "yes"\n`)).toBe(
      `${FILE}: alert #1 (id 'pivot'): 'auto_chat' must be true or false`,
    );
    expect(problem(`${anAlert()}dedupe_key = 7\n`)).toBe(
      `${FILE}: alert #1 (id 'pivot'): 'dedupe_key' must be a non-empty string`,
    );
    expect(problem(`${anAlert()}dedupe_key = "${'k'.repeat(201)}"\n`)).toContain("'dedupe_key' is longer than 200");
  });
});

describe('parseAlerts: step_up', () => {
  it('reads an alert opting in or out of step-up, over the config; absent, the config decides', () => {
    expect(parseAlerts(`${anAlert()}step_up = true\n`, FILE)[0]).toMatchObject({ stepUp: true });
    expect(parseAlerts(`${anAlert()}step_up = false\n`, FILE)[0]).toMatchObject({ stepUp: false });
    expect(parseAlerts(anAlert(), FILE)[0]).not.toHaveProperty('stepUp');
    expect(problem(`${anAlert()}step_up = "yes"\n`)).toBe(
      `${FILE}: alert #1 (id 'pivot'): 'step_up' must be true or false (it overrides [step_up] in config.toml)`,
    );
  });
});

const SOURCE = '/srv/siem/export.json';

function jsonProblem(parse: (text: string, source: string) => unknown, text: string): string {
  try {
    parse(text, SOURCE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${SOURCE}:`)).toBe(true);
    return message;
  }
  throw new Error('expected a ConfigError');
}

const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD' };

describe('parseAlertsJson', () => {
  it('reads one object or an array of them, with alerts.toml’s keys', () => {
    const one = { ...pivot, description: 'd', properties: { host: 'a', port: 22, blocked: false }, auto_chat: true };
    expect(parseAlertsJson(JSON.stringify(one), SOURCE)).toEqual([
      {
        id: 'pivot',
        name: 'Pivoting',
        description: 'd',
        userId: 'U0HAROLD',
        properties: { host: 'a', port: '22', blocked: 'false' },
        autoChat: true,
      },
    ]);
    const batch = [pivot, { ...pivot, user_id: 'U0ALICE', dedupe_key: 'e-2' }];
    expect(parseAlertsJson(JSON.stringify(batch), SOURCE)).toEqual([
      { id: 'pivot', name: 'Pivoting', description: '', userId: 'U0HAROLD', properties: {} },
      { id: 'pivot', name: 'Pivoting', description: '', userId: 'U0ALICE', properties: {}, dedupeKey: 'e-2' },
    ]);
  });

  it('gives the same one-line messages as alerts.toml, naming the source and the alert', () => {
    const json = (value: unknown) => jsonProblem(parseAlertsJson, JSON.stringify(value));
    const { user_id: _, ...noUser } = pivot;
    expect(json([pivot, { ...noUser, id: 'x' }])).toBe(`${SOURCE}: alert #2 (id 'x'): missing 'user_id'`);
    expect(json({ name: 'n', user_id: 'U1' })).toBe(`${SOURCE}: alert #1: missing 'id'`);
    expect(json({ id: 'x', user_id: 'U1' })).toBe(`${SOURCE}: alert #1 (id 'x'): missing 'name'`);
    expect(json({ ...pivot, user_id: 'harold' })).toContain(
      `${SOURCE}: alert #1 (id 'pivot'): user_id 'harold' is not a Slack user ID (U… or W…)`,
    );
    expect(json({ ...pivot, priority: 'high' })).toContain(`${SOURCE}: alert #1 (id 'pivot'): unknown key 'priority'`);
    expect(json({ ...pivot, severity: 'high' })).toBe(
      `${SOURCE}: alert #1 (id 'pivot'): 'severity' must be one of "critical", "error", "warning", "info" (PagerDuty's severities)`,
    );
  });

  it.each([
    ['a NUL', 'siem-7\u0000'],
    ['half of a surrogate pair', 'siem-7\ud83d'],
  ])('refuses a dedupe_key with %s: PostgreSQL would store another key, and a retry would post again', (_, key) => {
    const json = (value: unknown) => jsonProblem(parseAlertsJson, JSON.stringify(value));
    expect(json({ ...pivot, dedupe_key: key })).toBe(
      `${SOURCE}: alert #1 (id 'pivot'): 'dedupe_key' holds a NUL or half of a surrogate pair: send the source's id as plain text`,
    );
    expect(parseAlertsJson(JSON.stringify({ ...pivot, dedupe_key: 'siem-7 🔑' }), SOURCE)[0]?.dedupeKey).toBe(
      'siem-7 🔑',
    );
  });

  it('names JSON values of the wrong type', () => {
    const json = (value: unknown) => jsonProblem(parseAlertsJson, JSON.stringify(value));
    expect(json({ ...pivot, id: 1 })).toBe(`${SOURCE}: alert #1: 'id' must be a non-empty string`);
    expect(json({ ...pivot, name: null })).toContain("'name' must be a non-empty string");
    expect(json({ ...pivot, user_id: ['U1'] })).toContain("'user_id' must be a non-empty string");
    expect(json({ ...pivot, description: {} })).toContain("'description' must be a string");
    expect(json({ ...pivot, auto_chat: 'true' })).toContain("'auto_chat' must be true or false");
    expect(json({ ...pivot, auto_chat: 1 })).toContain("'auto_chat' must be true or false");
    expect(json({ ...pivot, step_up: 'false' })).toContain("'step_up' must be true or false");
    expect(parseAlertsJson(JSON.stringify({ ...pivot, step_up: false }), SOURCE)[0]).toMatchObject({ stepUp: false });
    expect(json({ ...pivot, dedupe_key: 42 })).toContain("'dedupe_key' must be a non-empty string");
    expect(json({ ...pivot, dedupe_key: ' ' })).toContain("'dedupe_key' must be a non-empty string");
    expect(json({ ...pivot, properties: [] })).toContain("'properties' must be an object of names and values");
    expect(json({ ...pivot, properties: 'x' })).toContain("'properties' must be an object");
    expect(json({ ...pivot, properties: { hosts: ['a'] } })).toBe(
      `${SOURCE}: alert #1 (id 'pivot'): property 'hosts' is an array: properties must be strings, numbers or booleans`,
    );
    expect(json({ ...pivot, properties: { extra: { a: 1 } } })).toContain("property 'extra' is an object");
    expect(json({ ...pivot, properties: { gone: null } })).toContain("property 'gone' is null");
    expect(json([pivot, 'pivot'])).toBe(`${SOURCE}: alert #2: must be an object`);
    expect(json([pivot, null])).toBe(`${SOURCE}: alert #2: must be an object`);
    expect(json(42)).toBe(`${SOURCE}: must be an alert object or an array of alert objects`);
    expect(json('pivot')).toBe(`${SOURCE}: must be an alert object or an array of alert objects`);
    expect(json([])).toBe(`${SOURCE}: no alerts: the array is empty`);
  });

  it('says where JSON is broken without quoting the text', () => {
    expect(jsonProblem(parseAlertsJson, '{"id": "pivot",\n "name": }')).toMatch(
      new RegExp(`^${SOURCE}: invalid JSON: Unexpected token '}'$`),
    );
    expect(jsonProblem(parseAlertsJson, '{"id": "secret-value"')).toMatch(/^\/srv\/siem\/export\.json: invalid JSON: /);
    expect(jsonProblem(parseAlertsJson, '{"id": "secret-value"')).not.toContain('secret-value');
    expect(jsonProblem(parseAlertsJson, '{"id": "a"}\n{"id": "b"}')).toBe(
      `${SOURCE}: invalid JSON: Unexpected non-whitespace character after JSON (line 2, column 1)`,
    );
    expect(jsonProblem(parseAlertsJson, 'hello there')).not.toContain('hello there');
  });

  it('allows several alerts of one kind, unlike alerts.toml', () => {
    expect(parseAlertsJson(JSON.stringify([pivot, pivot]), SOURCE)).toHaveLength(2);
  });
});

describe('parseAlertsNdjson', () => {
  it('reads one object per line and skips blank lines', () => {
    const text = `${JSON.stringify(pivot)}\n\n${JSON.stringify({ ...pivot, id: 'privesc' })}\r\n`;
    expect(parseAlertsNdjson(text, SOURCE).map((a) => a.id)).toEqual(['pivot', 'privesc']);
  });

  it('says line N', () => {
    const lines = [pivot, {}, { ...pivot, id: 'x', user_id: undefined }].map((v) => JSON.stringify(v));
    expect(jsonProblem(parseAlertsNdjson, [lines[0], '', lines[2]].join('\n'))).toBe(
      `${SOURCE}: line 3 (id 'x'): missing 'user_id'`,
    );
    expect(jsonProblem(parseAlertsNdjson, `${lines[0]}\n[1]\n`)).toBe(`${SOURCE}: line 2: must be an object`);
    expect(jsonProblem(parseAlertsNdjson, `${lines[0]}\n{"id": \n`)).toMatch(
      new RegExp(`^${SOURCE}: line 2: invalid JSON: `),
    );
    expect(jsonProblem(parseAlertsNdjson, '\n \n')).toBe(`${SOURCE}: no alerts: every line is empty`);
  });
});

describe('detectAlertFormat', () => {
  const toml = anAlert();
  const json = JSON.stringify([pivot]);
  const ndjson = `${JSON.stringify(pivot)}\n${JSON.stringify(pivot)}\n`;

  it('goes by the extension', () => {
    expect(detectAlertFormat('a.toml', json)).toBe('toml');
    expect(detectAlertFormat('a.JSON', toml)).toBe('json');
    expect(detectAlertFormat('a.ndjson', json)).toBe('ndjson');
    expect(detectAlertFormat('a.jsonl', json)).toBe('ndjson');
  });

  it('goes by the content for stdin and other names', () => {
    for (const name of ['-', 'export.txt', 'export']) {
      expect(detectAlertFormat(name, toml)).toBe('toml');
      expect(detectAlertFormat(name, `# comment\n${toml}`)).toBe('toml');
      expect(detectAlertFormat(name, json)).toBe('json');
      expect(detectAlertFormat(name, JSON.stringify(pivot, null, 2))).toBe('json');
      expect(detectAlertFormat(name, `  \n${JSON.stringify(pivot)}`)).toBe('json');
      expect(detectAlertFormat(name, '[\n  {"id": "x"}\n]')).toBe('json');
      expect(detectAlertFormat(name, '[]')).toBe('json');
      expect(detectAlertFormat(name, ndjson)).toBe('ndjson');
      expect(detectAlertFormat(name, `\n${ndjson}\n\n`)).toBe('ndjson');
    }
  });

  it('parses each format with the same result', () => {
    const expected = parseAlerts(toml, FILE);
    expect(parseAlertsAs('json', JSON.stringify(pivot), SOURCE)).toEqual(expected);
    expect(parseAlertsAs('ndjson', JSON.stringify(pivot), SOURCE)).toEqual(expected);
    expect(parseAlertsAs('toml', toml, SOURCE)).toEqual(expected);
  });
});

describe('pickAlert', () => {
  const templates: AlertTemplate[] = ['pivot', 'privesc'].map((id) => ({
    id,
    name: id,
    description: '',
    userId: 'U0HAROLD',
    properties: {},
  }));

  it('picks by id', () => {
    expect(pickAlert(templates, 'privesc', () => 0).id).toBe('privesc');
  });

  it('picks at random without an id', () => {
    expect(pickAlert(templates, undefined, () => 0).id).toBe('pivot');
    expect(pickAlert(templates, undefined, () => 0.99).id).toBe('privesc');
    expect(pickAlert(templates, undefined, () => 1).id).toBe('privesc');
  });

  it('names an unknown id and the known ones', () => {
    expect(() => pickAlert(templates, 'x', () => 0)).toThrow(
      new ConfigError("Unknown alert id 'x' (known: pivot, privesc)"),
    );
  });

  it('refuses an id that several alerts of a batch share', () => {
    expect(() => pickAlert([...templates, ...templates], 'pivot', () => 0)).toThrow(
      new ConfigError("2 alerts have id 'pivot': leave the id out to post every alert in the file"),
    );
  });

  it('says clearly when there is nothing to pick', () => {
    expect(() => pickAlert([], undefined, () => 0)).toThrow(ConfigError);
    expect(() => pickAlert([], undefined, () => 0)).toThrow(/No alerts to send/);
  });
});

describe('loadAlerts', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the file', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-alerts-'));
    const file = path.join(dir, 'alerts.toml');
    await writeFile(file, anAlert());
    expect((await loadAlerts(file)).map((alert) => alert.id)).toEqual(['pivot']);
  });

  it('says when the file is missing', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-alerts-'));
    const file = path.join(dir, 'alerts.toml');
    await expect(loadAlerts(file)).rejects.toThrow(new ConfigError(`Alerts file not found: ${file}`));
  });
});

describe('bounds at intake', () => {
  const json = (value: unknown) => jsonProblem(parseAlertsJson, JSON.stringify(value));
  const fits = (value: object) => parseAlertsJson(JSON.stringify(value), SOURCE);

  it('takes every field at its bound', () => {
    const properties = Object.fromEntries(
      Array.from({ length: ALERT_LIMITS.properties }, (_, i) => [
        `${i}`.padEnd(ALERT_LIMITS.propertyKey, 'k'),
        'v'.repeat(ALERT_LIMITS.propertyValue),
      ]),
    );
    const alert = {
      id: 'A-z_0.9:'.padEnd(ALERT_LIMITS.id, 'x'),
      name: 'n'.repeat(ALERT_LIMITS.name),
      description: 'd'.repeat(ALERT_LIMITS.description),
      user_id: `W${'0'.repeat(ALERT_LIMITS.userId - 1)}`,
      properties,
    };
    expect(fits(alert)).toHaveLength(1);
  });

  it('refuses an id that is too long or has other characters, since it travels in a button value', () => {
    expect(json({ ...pivot, id: 'x'.repeat(65) })).toBe(
      `${SOURCE}: alert #1 (id '${'x'.repeat(40)}…'): 'id' must be at most 64 letters, digits, '.', '_', ':' or '-'`,
    );
    expect(json({ ...pivot, id: 'x'.repeat(3000) }).length).toBeLessThan(200);
    for (const id of ['a b', 'a/b', '<!channel>', 'é', 'a\nb'])
      expect(json({ ...pivot, id })).toContain("'id' must be at most 64");
  });

  it('refuses a name, description, property count, name or value over its bound, naming the field', () => {
    expect(json({ ...pivot, name: 'n'.repeat(301) })).toBe(
      `${SOURCE}: alert #1 (id 'pivot'): 'name' is longer than 300 characters`,
    );
    expect(json({ ...pivot, description: 'd'.repeat(40_001) })).toContain(
      "'description' is longer than 40000 characters",
    );
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']));
    expect(json({ ...pivot, properties: many })).toContain("'properties' has 101 entries, more than 100");
    expect(json({ ...pivot, properties: { ['k'.repeat(101)]: 'v' } })).toContain(
      `a property name is longer than 100 characters ('${'k'.repeat(40)}…')`,
    );
    expect(json({ ...pivot, properties: { host: 'v'.repeat(2001) } })).toContain(
      "property 'host' is longer than 2000 characters",
    );
  });

  it('wants user_id in Slack’s shape: U… or W…, capitals and digits, 24 characters at most', () => {
    expect(json({ ...pivot, user_id: `U${'1'.repeat(24)}` })).toContain('is not a Slack user ID (U… or W…)');
    expect(json({ ...pivot, user_id: 'C0FEED' })).toContain('is not a Slack user ID');
    expect(json({ ...pivot, user_id: 'u0harold' })).toContain('is not a Slack user ID');
  });
});

describe('parseAlertBatch', () => {
  const { user_id: _, ...noUser } = pivot;

  it('refuses each bad alert on its own, by index, and keeps the good ones in order', () => {
    const batch = parseAlertBatch(
      'json',
      JSON.stringify([noUser, pivot, { ...pivot, name: '' }, { ...pivot, id: 'b' }]),
      SOURCE,
    );
    expect(batch.accepted.map(({ index, alert }) => [index, alert.id])).toEqual([
      [1, 'pivot'],
      [3, 'b'],
    ]);
    expect(batch.rejected).toEqual([
      { index: 0, id: 'pivot', error: `${SOURCE}: alert #1 (id 'pivot'): missing 'user_id'` },
      { index: 2, id: 'pivot', error: `${SOURCE}: alert #3 (id 'pivot'): 'name' must be a non-empty string` },
    ]);
  });

  it('refuses an NDJSON line that is not JSON on its own', () => {
    const text = `${JSON.stringify(pivot)}\n{"id": \n\n${JSON.stringify({ ...pivot, id: 'b' })}\n`;
    const batch = parseAlertBatch('ndjson', text, SOURCE);
    expect(batch.accepted.map(({ index, alert }) => [index, alert.id])).toEqual([
      [0, 'pivot'],
      [2, 'b'],
    ]);
    expect(batch.rejected).toHaveLength(1);
    expect(batch.rejected[0]).toMatchObject({ index: 1 });
    expect(batch.rejected[0]?.error).toMatch(new RegExp(`^${SOURCE}: line 2: invalid JSON`));
  });

  it('refuses a duplicate id in TOML, keeping the first', () => {
    const batch = parseAlertBatch('toml', anAlert() + anAlert({ name: 'Again' }), FILE);
    expect(batch.accepted.map(({ alert }) => alert.name)).toEqual(['Pivoting']);
    expect(batch.rejected[0]?.error).toContain("duplicate id 'pivot' (also alert #1)");
  });

  it('fails whole only when the batch cannot be read at all', () => {
    expect(() => parseAlertBatch('json', '{"id": ', SOURCE)).toThrow(ConfigError);
    expect(() => parseAlertBatch('json', '[]', SOURCE)).toThrow('no alerts: the array is empty');
    expect(() => parseAlertBatch('toml', 'x = 1', FILE)).toThrow("unknown top-level key 'x'");
  });
});
