import { lstat, mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../../../src/chat/types.js';
import type { Report } from '../../../src/report/stats.js';
import { openLowdbStore } from '../../../src/store/lowdb-store.js';
import { type AlertRecord, archiveAlert } from '../../../src/store/port.js';
import { runCli } from '../../support/cli.js';
import { makeWorkspace, type Workspace } from '../../support/irbot.js';
import { anAlert } from '../../support/records.js';

const NOW = new Date('2026-12-04T12:00:00Z');
const clock = () => NOW;
const EVIL = '<img src=x onerror=alert(1)>';

function ended(id: string, template: string, daysAgo: number, chat: Partial<Chat>, replyMin?: number): AlertRecord {
  const created = NOW.getTime() - daysAgo * 86_400_000;
  const at = (min: number) => new Date(created + min * 60_000).toISOString();
  return anAlert({
    id,
    template,
    name: template === 'evil' ? EVIL : 'Impossible travel',
    createdAt: at(0),
    transcript: [
      { from: 'bot', text: 'Hi!', at: at(1) },
      ...(replyMin === undefined ? [] : [{ from: 'person' as const, text: 'yes', at: at(1 + replyMin) }]),
    ],
    chat: {
      ...anAlert().chat,
      state: 'ended',
      startedBy: { id: 'U0ANALYST', via: 'slack' },
      startedAt: at(1),
      endedAt: at(10),
      outcome: 'answered',
      aware: true,
      ...chat,
    },
  });
}

let ws: Workspace;
beforeAll(async () => {
  ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
  const store = openLowdbStore(ws.dbPath);
  await store.transact((data) => {
    const alerts = [
      ended('p1', 'pivot', 2, {}, 3),
      ended('p2', 'pivot', 3, { aware: false }, 5),
      ended('p3', 'pivot', 40, {}, 7), // outside the default 30 days
      ended('e1', 'evil', 1, { outcome: 'no_answer', aware: null }),
    ];
    for (const alert of alerts) data.alerts[alert.id] = alert;
    archiveAlert(data, 'p2');
    archiveAlert(data, 'p3');
  });
});

const json = async (args: string[]) => {
  const result = await runCli(['report', '--json', ...args], ws, { clock });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Report;
};

describe('irbot report', () => {
  it('reads the working set and the archive, over 30 days unless told otherwise, per template', async () => {
    const month = await json([]);
    expect(month.since).toBe('2026-11-04T12:00:00.000Z');
    expect(month.overall).toMatchObject({ alerts: 3, chats: 3, replied: 2, greeted: 3 });
    expect(month.overall.outcomes).toMatchObject({ aware: 1, not_aware: 1, no_answer: 1 });
    expect(month.templates.map((t) => [t.template, t.alerts])).toEqual([
      ['pivot', 2],
      ['evil', 1],
    ]);
    expect((await json(['--since', 'all'])).overall.alerts).toBe(4);
    expect((await json(['--since', '2w', '--template', 'pivot'])).overall.alerts).toBe(2);
  });

  it('prints two tables on a terminal, coloured only when colour is wanted', async () => {
    const plain = await runCli(['report'], ws, { clock });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('irbot report: alerts created from 2026-11-04 12:00 UTC to 2026-12-04 12:00 UTC');
    expect(plain.stdout).toMatch(/TEMPLATE.*ALERTS.*REPLY RATE.*FIRST REPLY p50 \/ p90/);
    expect(plain.stdout).toMatch(/pivot\s+│\s+2\s+│.*│\s+100% \(2\/2\)\s+│\s+4m 00s \/ 5m 00s/);
    expect(plain.stdout).toMatch(/TEMPLATE.*AWARE.*NOT AWARE.*NO ANSWER.*BY ANALYST.*FAILED.*STEP-UP.*ESCALATED/);
    expect(plain.stdout).not.toContain('\x1b[');
    const coloured = await runCli(['report'], ws, { clock, env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(coloured.stdout).toContain('\x1b[');
    const empty = await runCli(['report', '--template', 'nope'], ws, { clock });
    expect(empty.stdout).toContain('No alerts in this window.');
  });

  it('writes one self-contained HTML file, every webhook string escaped', async () => {
    const file = join(ws.dir, 'report.html');
    const result = await runCli(['report', '--since', 'all', '--html', 'report.html'], ws, { clock });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Wrote ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/<script|<link|src="http|href="http|@import|url\(/);
    expect(html).toMatch(/<svg id="verdicts-per-week"[^>]*>.*<rect class="bar"/s);
    expect(html).toMatch(/<svg id="time-to-answer"[^>]*>.*<rect class="bar"/s);
    // Every `<` opens a tag: a chart's "< 5 min" too is text, escaped (it was raw in the SVG, invalid as XML).
    expect(html).not.toMatch(/<(?![a-z/!])/i);
  });

  it('replaces an existing HTML file with a private one (0600), leaving nothing else beside it', async () => {
    const dir = await mkdtemp(join(ws.dir, 'html-'));
    const file = join(dir, 'r.html');
    await writeFile(file, 'old', { mode: 0o644 });
    const result = await runCli(['report', '--html', file], ws, { clock });
    expect(result.code).toBe(0);
    expect(await readFile(file, 'utf8')).toMatch(/^<!doctype html>/i);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['r.html']);
  });

  it('never writes through a symbolic link, and refuses a path it cannot write, before reading the store', async () => {
    const dir = await mkdtemp(join(ws.dir, 'html-'));
    await writeFile(join(dir, 'victim.txt'), 'precious\n', { mode: 0o644 });
    await symlink('victim.txt', join(dir, 'out.html'));
    await symlink('nowhere.html', join(dir, 'dangling.html'));
    await writeFile(join(dir, 'afile'), '');
    await mkdir(join(dir, 'sub'));
    const link = /is a symbolic link, and irbot never writes through one: remove it or name another file\n$/;
    const elsewhere = / give --html a file in an existing folder, e.g. --html report.html\n$/;
    for (const [name, message] of [
      ['out.html', link],
      ['dangling.html', link],
      ['nodir/r.html', /nodir\/r\.html: the folder .*nodir does not exist: create it or give --html/],
      ['afile/r.html', /afile\/r\.html: .*afile is not a folder: give --html/],
      ['sub', /sub is a folder, not a file: give --html/],
      ['.', /is a folder, not a file: give --html/],
    ] as const) {
      // A config that does not exist: the path is refused before config and store are read.
      const result = await runCli(['report', '--html', join(dir, name), '--config', 'nope.toml'], ws, { clock });
      expect(result.stderr, name).toMatch(message);
      if (message !== link) expect(result.stderr, name).toMatch(elsewhere);
      expect(result.stderr.trimEnd().split('\n'), name).toHaveLength(1);
      expect(result.code, name).toBe(2);
    }
    expect(await readFile(join(dir, 'victim.txt'), 'utf8')).toBe('precious\n');
    expect((await lstat(join(dir, 'out.html'))).isSymbolicLink()).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['afile', 'dangling.html', 'out.html', 'sub', 'victim.txt']);
    expect(await readdir(join(dir, 'sub'))).toEqual([]);
  });

  it('refuses a bad flag in one line that says what to write instead, exit 2', async () => {
    for (const [args, message] of [
      [
        ['--since', 'yesterday'],
        /^irbot: --since: "yesterday" is neither a duration nor a date; use e\.g\. --since 30d/,
      ],
      [['--template', ' '], /^irbot: --template: empty; give a template id/],
      [['--html', ''], /^irbot: --html: empty; give the file to write/],
    ] as const) {
      const result = await runCli(['report', ...args], ws, { clock });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const typo = await runCli(['report', '--sinse', '3d'], ws, { clock });
    expect([typo.code, typo.stderr]).toEqual([2, expect.stringContaining('(Did you mean --since?)')]);
  });
});
