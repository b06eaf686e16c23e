// Tests of parseAlerts, loadAlerts and pickAlert: the seed's [[alerts]] format, its checks, and picking by id or at random.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAlerts, parseAlerts, pickAlert } from '../../../src/config/alerts.js';
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
    expect(problem(anAlert({ severity: 'high' }))).toContain(`${FILE}: alert #1 (id 'pivot'): unknown key 'severity'`);
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

  it('keeps a message on one line when a value holds a newline', () => {
    expect(problem(anAlert({ user_id: 'U1\nU2' }))).toContain("user_id 'U1\\nU2'");
  });

  it('reports TOML syntax errors as file:line:column: reason', () => {
    expect(problem('[[alerts]]\nid = "pivot\n')).toMatch(/^\/srv\/irbot\/alerts\.toml:2:\d+: Invalid TOML document: /);
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
