// `send-alert --file` (the real binary once, then its entry point in-process): JSON, NDJSON on stdin, --dry-run, a bad file, auto_chat.
import { existsSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalSlack, RecordedCall } from '../../src/sandbox/local-slack.js';
import { runCli } from '../support/cli.js';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { useHarness } from '../support/harness.js';
import { ALERTS_TOML, runIrbot, type Workspace } from '../support/irbot.js';
import { expectHugeDetailsWhole, headlinesIn, textOf } from '../support/relays.js';

const h = useHarness();
let slack: LocalSlack;
let openai: FakeOpenAi;
let ws: Workspace;
beforeEach(() => {
  ({ slack, openai, ws } = h);
});

const text = textOf;
const headlines = () => headlinesIn(slack);
const dmsTo = (user: string) => slack.callsTo('chat.postMessage').filter((c) => c.args.channel === user);

const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', properties: { source_host: 'build-7' } };
const privesc = { id: 'privesc', name: 'Privileged Escalation', user_id: 'U0ALICE' };

describe('send-alert --file', () => {
  it('posts every alert of a JSON array, in order, and prints one id per line', async () => {
    await writeFile(join(ws.dir, 'alerts.json'), JSON.stringify([pivot, privesc, { ...pivot, user_id: 'U0ALICE' }]));
    const result = await runIrbot(['send-alert', '--file', 'alerts.json'], ws);
    expect(result.stderr).toBe(''); // no progress line: stderr is not a terminal
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^pivot-[0-9a-z]{10}\nprivesc-[0-9a-z]{10}\npivot-[0-9a-z]{10}\n$/);
    expect(headlines()).toEqual([
      'Incident: Pivoting with user <@U0HAROLD>',
      'Incident: Privileged Escalation with user <@U0ALICE>',
      'Incident: Pivoting with user <@U0ALICE>',
    ]);
    expect(dmsTo('U0HAROLD')).toHaveLength(0);
  });

  it('reads NDJSON from stdin, picks one by id, and posts a dedupe_key once', async () => {
    const ndjson = `${JSON.stringify({ ...pivot, dedupe_key: 'siem-1' })}\n${JSON.stringify(privesc)}\n`;
    const all = await runCli(['send-alert', '--file', '-', '--json'], ws, { input: ndjson });
    expect(all.code).toBe(0);
    const rows = JSON.parse(all.stdout) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      expect.objectContaining({ template: 'pivot', user_id: 'U0HAROLD', channel: 'C0FEED', duplicate: false }),
      expect.objectContaining({ template: 'privesc', user_id: 'U0ALICE', duplicate: false }),
    ]);
    const again = await runCli(['send-alert', '--file', '-', '--json', 'pivot'], ws, { input: ndjson });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: rows[0]?.id, duplicate: true });
    expect(again.stderr).toBe(`${rows[0]?.id}: already posted with this dedupe_key, not posted again\n`);
    expect(headlines()).toHaveLength(2);
  });

  it('--json prints every key, null when unknown, and never `undefined`, whether posted, duplicate or refused', async () => {
    const keys = ['channel', 'duplicate', 'id', 'suppressed', 'template', 'ts', 'user_id'];
    const defined = (row: Record<string, unknown>) => {
      expect(Object.keys(row).sort()).toEqual(keys);
      for (const key of keys) expect(row[key], key).not.toBeUndefined();
    };
    const ndjson = `${JSON.stringify({ ...pivot, dedupe_key: 'siem-json' })}\n`;
    const results = [];
    for (const duplicate of [false, true]) {
      const result = await runCli(['send-alert', '--file', '-', '--json', 'pivot'], ws, { input: ndjson });
      expect(result.code).toBe(0);
      const row = JSON.parse(result.stdout) as Record<string, unknown>;
      defined(row);
      expect(row).toMatchObject({ duplicate, channel: 'C0FEED', ts: expect.any(String) });
      results.push(result);
    }
    // Slack refuses the only alert: stdout stays empty (it printed `undefined`), the error is on stderr, exit 1.
    slack.failNext('chat.postMessage', { error: 'channel_not_found' });
    const refused = await runCli(['send-alert', 'pivot', '--json'], ws);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/channel_not_found/);
    slack.failNext('chat.postMessage', { error: 'channel_not_found' });
    const batch = await runCli(['send-alert', '--file', '-', '--json'], ws, { input: JSON.stringify([privesc]) });
    expect(batch.code).toBe(1);
    expect(batch.stdout).toBe('[]\n');
    for (const result of [...results, refused, batch])
      expect(`${result.stdout}${result.stderr}`).not.toContain('undefined');
  });

  it('--dry-run prints what would be posted, contacts nothing and needs no token', async () => {
    await writeFile(
      join(ws.dir, 'batch.ndjson'),
      [pivot, { ...privesc, auto_chat: true }].map((a) => JSON.stringify(a)).join('\n'),
    );
    const env = { SLACK_BOT_TOKEN: '', SOCKET_APP_TOKEN: '', OPENAI_API_KEY: '' };
    const result = await runCli(['send-alert', '--file', 'batch.ndjson', '--dry-run'], ws, { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('alert 1 of 2: pivot\n  headline:\n    Incident: Pivoting with user <@U0HAROLD>');
    expect(result.stdout).toContain('• *source_host:* build-7');
    expect(result.stdout).toContain('alert 2 of 2: privesc (auto_chat: starts the chat at once)');
    expect(result.stdout).toMatch(/dry run: 2 alerts valid, nothing posted\n$/);
    const json = await runCli(['send-alert', '--file', 'batch.ndjson', '--dry-run', '--json'], ws, { env });
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ template: 'pivot', headline: 'Incident: Pivoting with user <@U0HAROLD>' }),
      expect.objectContaining({ template: 'privesc', auto_chat: true, dedupe_key: null }),
    ]);
    expect(slack.calls).toHaveLength(0);
    expect(openai.requests).toHaveLength(0);
    expect(existsSync(ws.dbPath)).toBe(false);
  });

  it('refuses a file of one bad alert with one line naming the file, the alert and the field: exit 2, nothing posted', async () => {
    const { user_id: _, ...noUser } = privesc;
    await writeFile(join(ws.dir, 'alerts.json'), JSON.stringify([noUser]));
    const result = await runCli(['send-alert', '--file', 'alerts.json'], ws);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`irbot: ${join(ws.dir, 'alerts.json')}: alert #1 (id 'privesc'): missing 'user_id'\n`);
    const ndjson = await runCli(['send-alert', '--file', '-', '--dry-run'], ws, {
      input: `{"id": "x", "name": "X", "user_id": 7}\n`,
    });
    expect(ndjson.code).toBe(2);
    expect(ndjson.stderr).toBe("irbot: stdin: alert #1 (id 'x'): 'user_id' must be a non-empty string\n");
    expect(slack.calls).toHaveLength(0);
    expect(existsSync(ws.dbPath)).toBe(false);
  });

  it('refuses a file over 32 MiB, and a device, in one line: exit 2, nothing posted', async () => {
    const big = join(ws.dir, 'big.json');
    const handle = await open(big, 'w');
    await handle.truncate(600 * 1024 * 1024); // sparse: a 600 MB file that takes no room
    await handle.close();
    const result = await runCli(['send-alert', '--file', 'big.json'], ws);
    expect([result.code, result.stdout, result.stderr]).toEqual([
      2,
      '',
      `irbot: ${big}: larger than 32 MiB: split the batch\n`,
    ]);
    const device = await runCli(['send-alert', '--file', '/dev/zero', '--dry-run'], ws);
    expect([device.code, device.stderr]).toEqual([
      2,
      'irbot: /dev/zero: not a regular file: give --file a file, or - to read stdin\n',
    ]);
    expect(slack.calls).toHaveLength(0);
  });

  it('posts the good alerts of a mixed batch, names each bad one on stderr and exits 2; a huge description goes out whole in parts', async () => {
    const { user_id: _, ...noUser } = privesc;
    const huge = { ...pivot, id: 'huge', description: '<'.repeat(39_000) };
    const tooBig = { ...pivot, id: 'toobig', description: 'x'.repeat(255 * 1024) };
    const file = join(ws.dir, 'alerts.json');
    await writeFile(file, JSON.stringify([pivot, noUser, huge, tooBig]));
    const refusals =
      `${file}: alert #2 (id 'privesc'): missing 'user_id'\n` +
      `${file}: alert #4 (id 'toobig'): 'description' is longer than 40000 characters\n`;
    const dry = await runCli(['send-alert', '--file', 'alerts.json', '--dry-run'], ws);
    expect(dry.code).toBe(2);
    expect(dry.stdout).toMatch(/dry run: 2 alerts valid, nothing posted\n$/);
    expect(dry.stderr).toBe(
      `${refusals}irbot: 2 of 4 alerts refused (each named above), 2 valid, nothing posted; fix the refused ones and send them again\n`,
    );
    expect(slack.calls).toHaveLength(0);
    const result = await runCli(['send-alert', '--file', 'alerts.json'], ws);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^pivot-[0-9a-z]{10}\nhuge-[0-9a-z]{10}\n$/);
    expect(result.stderr).toBe(
      `${refusals}irbot: 2 of 4 alerts refused (each named above), 2 posted; fix the refused ones and send them again\n`,
    );
    expect(headlines()).toHaveLength(2);
    // The huge alert's details: 156,000 characters once escaped, in several messages under Slack's limit.
    const hugeId = result.stdout.split('\n')[1] ?? '';
    expectHugeDetailsWhole(slack, hugeId);
  });

  it('refuses --file given twice, in one line: the first file was dropped without a word', async () => {
    const twice = await runCli(['send-alert', '--dry-run', '--file', 'a.json', '--file', 'b.json'], ws);
    expect(twice).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'irbot: --file is given twice: send one file at a time, or join them into one\n',
    });
  });

  it('names refused alerts on stderr with their ids made harmless: no terminal control, bidi override or invisible character', async () => {
    const input = ['pivot-ok', 'x\u009b2J\u009b0;0H', 'invoice\u202efdp.exe', 'k\u001b[31m']
      .map((id, n) => JSON.stringify({ ...pivot, id, ...(n > 0 ? { name: '' } : {}) }))
      .join('\n');
    const dry = await runCli(['send-alert', '--file', '-', '--dry-run'], ws, { input });
    expect(dry.code).toBe(2);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    expect(dry.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(dry.stderr).toContain("(id 'x\\u009b2J\\u009b0;0H')");
    expect(dry.stderr).toContain("(id 'invoice<U+202E>fdp.exe')");
  });

  it('auto_chat starts the chat without a click: the greeting DM is sent', async () => {
    await writeFile(join(ws.dir, 'alerts.json'), JSON.stringify({ ...pivot, auto_chat: true }));
    const result = await runCli(['send-alert', '--file', 'alerts.json'], ws);
    expect(result.code).toBe(0);
    const id = result.stdout.trim();
    expect(result.stderr).toBe(`alert ${id}: auto_chat started the chat\n`);
    const [greeting] = dmsTo('U0HAROLD');
    expect(text(greeting as RecordedCall)).toContain('Hi Harold');
    expect(openai.count('greeting')).toBe(1);
    const update = slack.callsTo('chat.update').at(-1);
    expect(JSON.stringify(update?.args.blocks)).toContain('irbot auto_chat started a chat.');
    const status = await runCli(['status', '--json'], ws);
    expect(JSON.parse(status.stdout)).toEqual([expect.objectContaining({ id, state: 'active' })]);
  });

  it('auto_chat in alerts.toml needs OPENAI_API_KEY, and only then', async () => {
    await writeFile(
      join(ws.dir, 'alerts.toml'),
      ALERTS_TOML.replace('user_id = "U0HAROLD"\n', 'user_id = "U0HAROLD"\nauto_chat = true\n'),
    );
    const env = { OPENAI_API_KEY: '' };
    const refused = await runCli(['send-alert', 'pivot'], ws, { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^irbot: Missing required environment variable: OPENAI_API_KEY/);
    expect(slack.calls).toHaveLength(0);
    expect((await runCli(['send-alert', 'privesc'], ws, { env })).code).toBe(0);
    const started = await runCli(['send-alert', 'pivot'], ws);
    expect(started.code).toBe(0);
    expect(dmsTo('U0HAROLD')).toHaveLength(1);
  });
});
