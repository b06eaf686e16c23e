// `irbot snooze` and a suppressed `send-alert`, in-process through the CLI's own entry point (runCli): no Slack is
// contacted, since a suppressed alert is never posted.
import { readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../../src/store/lowdb-store.js';
import { archiveAlert } from '../../../src/store/port.js';
import { runCli } from '../../support/cli.js';
import { makeWorkspace, type Workspace } from '../../support/irbot.js';

let ws: Workspace;
beforeEach(async () => {
  // Nothing listens there: a test that reached Slack would fail.
  ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
});

const run = (...args: string[]) => runCli(args, ws);

describe('irbot snooze', () => {
  it('adds (printing the id), lists the active ones, removes one, and keeps it in --all with who removed it', async () => {
    const add = await run(
      'snooze',
      'add',
      '--template',
      'pivot',
      '--user',
      'U0HAROLD',
      '--match',
      'source_host=build-7',
      '--match',
      'port=22',
      '--for',
      '4h',
      '--reason',
      'nightly backup',
    );
    expect(add).toMatchObject({ code: 0, stderr: '' });
    const id = add.stdout.trim();
    expect(id).toMatch(/^sz-[0-9a-z]{10}$/);
    const other = (
      await run('snooze', 'add', '--template', 'privesc', '--for', '30m', '--reason', 'test')
    ).stdout.trim();
    const table = await run('snooze', 'list');
    expect(table.stdout.split('\n')[0]).toMatch(/^SNOOZE\s+STATE\s+TEMPLATE\s+USER\s+MATCH\s+UNTIL\s+BY\s+REASON$/);
    expect(table.stdout).toMatch(
      new RegExp(
        `${id}\\s+active\\s+pivot\\s+U0HAROLD\\s+source_host=build-7 port=22\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\s+\\S+\\s+nightly backup`,
      ),
    );
    expect(await run('snooze', 'rm', id)).toMatchObject({ code: 0, stdout: `${id} removed\n` });
    const active = JSON.parse((await run('snooze', 'list', '--json')).stdout) as Array<{ id: string }>;
    expect(active.map((s) => s.id)).toEqual([other]);
    const all = JSON.parse((await run('snooze', 'list', '--all', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(all.find((s) => s.id === id)).toMatchObject({
      state: 'removed',
      template: 'pivot',
      user: 'U0HAROLD',
      match: { source_host: 'build-7', port: '22' },
      reason: 'nightly backup',
      created_by: { via: 'terminal' },
      removed_by: { via: 'terminal' },
      removed_at: expect.any(String),
    });
    expect(await run('snooze', 'rm', id)).toMatchObject({ code: 2 });
  });

  it.each([
    [['--for', '4h', '--reason', 'r'], '--template is required'],
    [['--template', 'piv ot', '--for', '4h', '--reason', 'r'], 'is not an alert id'],
    [['--template', 'pivot', '--user', 'harold', '--for', '4h', '--reason', 'r'], 'is not a Slack user ID'],
    [['--template', 'pivot', '--match', 'build-7', '--for', '4h', '--reason', 'r'], 'must be key=value'],
    [['--template', 'pivot', '--reason', 'r'], '--for is required'],
    [['--template', 'pivot', '--for', '4 hours', '--reason', 'r'], 'is not a duration'],
    [['--template', 'pivot', '--for', '31d', '--reason', 'r'], 'longer than max_snooze_days (30)'],
    [['--template', 'pivot', '--for', '4h'], '--reason is required'],
  ])('refuses %j in one line with the fix, exit 2, and adds nothing', async (args, message) => {
    const result = await run('snooze', 'add', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect((await run('snooze', 'list', '--all', '--json')).stdout).toBe('[]\n');
  });

  it('keeps a condition whatever its key is named, __proto__ too (else the snooze would match every alert)', async () => {
    const add = await run(
      'snooze',
      'add',
      '--template',
      'pivot',
      '--match',
      '__proto__=x',
      '--for',
      '1h',
      '--reason',
      'r',
    );
    expect(add).toMatchObject({ code: 0, stderr: '' });
    const [snooze] = JSON.parse((await run('snooze', 'list', '--json')).stdout) as Array<{ match: object }>;
    expect(Object.entries(snooze?.match ?? {})).toEqual([['__proto__', 'x']]);
  });

  it('refuses to remove a snooze that does not exist, and writes nothing (no store is created)', async () => {
    const result = await run('snooze', 'rm', 'sz-nope');
    expect(result).toMatchObject({
      code: 2,
      stderr: "irbot: no snooze 'sz-nope': irbot snooze list --all shows every snooze id\n",
    });
    expect(await readdir(ws.dir)).not.toContain(basename(ws.dbPath));
  });

  it('alone, says in one line that it needs a subcommand', async () => {
    expect(await run('snooze')).toMatchObject({
      code: 2,
      stderr: 'irbot: irbot snooze needs a subcommand: add, list or rm (irbot snooze --help shows them)\n',
    });
  });
});

describe('send-alert of a snoozed alert', () => {
  it('records it as suppressed, says so (--json too) without contacting Slack, and status --all shows it', async () => {
    const id = (
      await run('snooze', 'add', '--template', 'pivot', '--for', '1d', '--reason', 'known cron')
    ).stdout.trim();
    const plain = await run('send-alert', 'pivot');
    expect(plain.code).toBe(0);
    const alertId = plain.stdout.trim();
    expect(alertId).toMatch(/^pivot-/);
    expect(plain.stderr).toMatch(
      new RegExp(`alert ${alertId}: suppressed by snooze ${id} \\(until .* UTC: known cron\\), not posted\\n$`),
    );
    const json = await run('send-alert', 'pivot', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      ts: null,
      duplicate: false,
      suppressed: { snooze_id: id, reason: 'known cron' },
    });
    const rows = JSON.parse((await run('status', '--all', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.state, (r.suppressed as { snooze_id: string }).snooze_id])).toEqual([
      ['suppressed', id],
      ['suppressed', id],
    ]);
    expect((await run('status', '--all')).stdout).toContain(`suppressed (${id})`);
    // irbot chat will not start it: it was never posted.
    expect(await run('chat', alertId)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`was suppressed by snooze ${id}: it was never posted`),
    });
    // Plain status lists what needs looking at: a suppressed alert does not.
    expect((await run('status')).stdout).toBe('No open chats. (irbot status --all shows every alert.)\n');
  });

  it('says a retry of a suppressed alert (its dedupe_key) was suppressed before, not "already posted", even once the snooze is gone', async () => {
    const id = (
      await run('snooze', 'add', '--template', 'pivot', '--for', '1d', '--reason', 'nightly backup')
    ).stdout.trim();
    const alert = JSON.stringify({ id: 'pivot', name: 'Pivot', user_id: 'U0HAROLD', dedupe_key: 'siem-42' });
    const first = await runCli(['send-alert', '--file', '-', '--json'], ws, { input: alert });
    const alertId = (JSON.parse(first.stdout) as [{ id: string }])[0].id;
    await run('snooze', 'rm', id);
    const retry = await runCli(['send-alert', '--file', '-', '--json'], ws, { input: alert });
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject([
      { id: alertId, ts: null, duplicate: true, suppressed: { snooze_id: id, reason: 'nightly backup' } },
    ]);
    expect(retry.stderr).toBe(
      `${alertId}: suppressed before by snooze ${id} (nightly backup) with this dedupe_key, not posted now either\n`,
    );
    // And once it has left the working set for the archive (listen's sweep, ten minutes on): the key is kept, and
    // so is what it says.
    const store = openLowdbStore(ws.dbPath);
    await store.transact((data) => archiveAlert(data, alertId, new Date().toISOString()));
    await store.close?.();
    const archived = await runCli(['send-alert', '--file', '-', '--json'], ws, { input: alert });
    expect(JSON.parse(archived.stdout)).toMatchObject([
      { id: alertId, duplicate: true, suppressed: { snooze_id: id } },
    ]);
    expect(archived.stderr).toBe(retry.stderr);
  });
});
