// The doctor's pure parts: scopes, variables, verdict and lines; and the store check on real files.
import { appendFile, chmod, mkdir, mkdtemp, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { readEnv } from '../../../src/config/env.js';
import {
  checkStorePath,
  checkVariables,
  configFound,
  missingScopes,
  REQUIRED_SCOPES,
} from '../../../src/doctor/checks.js';
import { fail, pass, renderChecks, reportOf, skip, verdict, warn } from '../../../src/doctor/report.js';
import { archivePathOf, journalPathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import { archiveAlert } from '../../../src/store/port.js';
import { anAlert } from '../../support/records.js';

const plain = new Chalk({ level: 0 });

describe('missingScopes', () => {
  it('names the required scopes not granted, in the manifest order', () => {
    expect(missingScopes([...REQUIRED_SCOPES])).toEqual([]);
    expect(missingScopes(['chat:write', 'users:read', 'im:history', 'extra:scope', 'im:read'])).toEqual([
      'usergroups:read',
      'channels:read',
      'groups:read',
      'channels:history',
      'groups:history',
      'im:write',
    ]);
  });
});

describe('checkVariables', () => {
  it('lists every problem, naming variables but never their values', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xapp-secret-1', OPENAI_API_KEY: 'sk-1' });
    const check = checkVariables(env, '/srv/irbot');
    expect(check.ok).toBe(false);
    expect(check.detail).toContain("SLACK_BOT_TOKEN is not a bot token: it should start with 'xoxb-'");
    expect(check.detail).toContain('Missing required environment variable: SOCKET_APP_TOKEN');
    expect(check.detail).not.toContain('secret');
    expect(check.fix).toBe('fix them in /srv/irbot/.env or the environment (irbot init writes one)');
  });

  it('passes with all three of the right kind', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SOCKET_APP_TOKEN: 'xapp-1', OPENAI_API_KEY: 'sk-1' });
    expect(checkVariables(env, '/srv').ok).toBe(true);
  });

  it('takes SLACK_SIGNING_SECRET in place of the app token for HTTP events (listen --http)', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'abc123', OPENAI_API_KEY: 'sk-1' });
    const check = checkVariables(env, '/srv');
    expect(check).toMatchObject({ ok: true, detail: 'SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, OPENAI_API_KEY set' });
    expect(JSON.stringify(check)).not.toContain('abc123');
  });
});

describe('verdict and lines', () => {
  it('counts failures and skips, and puts the fix on the failing line', () => {
    const report = reportOf([pass('a', 'fine'), fail('b', 'broken', 'mend it'), skip('c', 'b')]);
    expect(report.ok).toBe(false);
    expect(verdict(report)).toBe('2 of 3 checks failed (1 skipped).');
    expect(renderChecks(report, plain)).toBe('✓ a — fine\n✗ b — broken → mend it\n✗ c — skipped: needs b\n');
    expect(verdict(reportOf([pass('a', 'fine')]))).toBe('All 1 checks passed.');
  });

  it('shows what Slack or a file said on one line, control and bidi characters visible', () => {
    const report = reportOf([
      pass('feed channel', '#sec\u001b]0;x\u0007\u202e'),
      fail('store', 'bad\nline\r', 'move\u001b[2J it'),
    ]);
    expect(renderChecks(report, plain)).toBe(
      '✓ feed channel — #sec␛]0;x␇<U+202E>\n✗ store — bad␤line␍ → move␛[2J it\n',
    );
  });
});

describe('responders in config.toml', () => {
  const config = (extra = '') => parseConfig(`feed_channel_id = "C0FEED"\n${extra}`, '/srv/irbot/config.toml');

  it('warns when responders is empty in a real workspace, and passes with the local Slack or with responders', () => {
    const check = configFound(config(), 'https://slack.com/api/');
    expect(check).toMatchObject({ ok: true, warning: true });
    expect(check.detail).toBe(
      "/srv/irbot/config.toml: responders is empty, so anyone in the feed channel can press an alert's buttons",
    );
    expect(configFound(config(), 'http://127.0.0.1:40123/api/')).toEqual(pass('config.toml', '/srv/irbot/config.toml'));
    expect(configFound(config('responders = ["S0SECOPS"]\n'), 'https://slack.com/api/').warning).toBeUndefined();
  });

  it('shows a warning with its fix and counts it in the verdict, without failing the run', () => {
    const report = reportOf([pass('a', 'fine'), warn('b', 'hmm', 'look at it')]);
    expect(report.ok).toBe(true);
    expect(renderChecks(report, plain)).toBe('✓ a — fine\n! b — hmm → look at it\n');
    expect(verdict(report)).toBe('All 2 checks passed (1 warning).');
  });
});

describe('checkStorePath', () => {
  it('passes a missing store in a writable folder, and one missing folder level that irbot creates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'irbot-doctor-'));
    expect(await checkStorePath(join(dir, 'db.json'))).toMatchObject({ ok: true });
    expect((await checkStorePath(join(dir, 'data', 'db.json'))).detail).toContain(`and ${join(dir, 'data')}`);
  });

  it('fails on a folder in place of the file, an empty file and a newer schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'irbot-doctor-'));
    expect((await checkStorePath(dir)).detail).toContain('is a folder');
    await writeFile(join(dir, 'db.json'), '');
    expect((await checkStorePath(join(dir, 'db.json'))).detail).toContain('is empty');
    await writeFile(join(dir, 'db.json'), JSON.stringify({ version: 99, alerts: {}, seenEvents: {} }));
    expect((await checkStorePath(join(dir, 'db.json'))).detail).toContain('newer irbot');
  });

  it('counts the alerts of the journal too, and fails on a damaged journal', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-doctor-')), 'db.json');
    await writeFile(path, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents: {} }));
    const added = { g: 1, q: 1, a: { 'pivot-1': { f: { id: 'pivot-1' }, t0: 0, t: [] } } };
    await writeFile(journalPathOf(path), `{"generation":1}\n${JSON.stringify(added)}\n`);
    expect((await checkStorePath(path)).detail).toContain('1 alert');
    await writeFile(journalPathOf(path), `{"generation":1}\n{"g":1,"q":2}\n`);
    const check = await checkStorePath(path);
    expect(check).toMatchObject({ ok: false });
    expect(check.detail).toContain('out of sequence');
  });
});

describe('checkStorePath: the files together', () => {
  /** A store with an alert in the working set and one in the archive. */
  async function aStore(): Promise<string> {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-doctor-')), 'db.json');
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
      data.alerts['pivot-2'] = anAlert({ id: 'pivot-2' });
    });
    await store.transact((data) => archiveAlert(data, 'pivot-2'));
    return path;
  }

  it('counts the working set and the archive', async () => {
    expect(await checkStorePath(await aStore())).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/db\.json, 1 alert, 1 closed in the archive$/),
    });
  });

  it('fails on a journal left without its store file, naming the journal to move', async () => {
    const path = await aStore();
    await rename(path, `${path}.broken`);
    expect(await checkStorePath(path)).toEqual({
      name: 'store',
      ok: false,
      detail: `Store journal ${journalPathOf(path)} has no store file ${path} beside it (moved away?), and holds changes to that file only`,
      fix: 'put the store file back, or move db.journal away too to start a new store',
    });
  });

  it('fails on a journal ahead of its store file (one restored alone from an older backup)', async () => {
    const path = await aStore();
    await writeFile(journalPathOf(path), '{"generation":7}\n');
    const check = await checkStorePath(path);
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('continues a later store file than');
    expect(check.fix).toContain('move db.journal away');
  });

  it('fails on a damaged archive, and names the line', async () => {
    const path = await aStore();
    await appendFile(archivePathOf(path), '{"id": "x", "chat\n{}\n');
    const check = await checkStorePath(path);
    expect(check).toMatchObject({ ok: false, detail: `Archive file ${archivePathOf(path)} line 2 is not valid JSON` });
  });

  it.each([
    ['store file', (path: string) => path],
    ['journal', journalPathOf],
    ['archive', archivePathOf],
    ['lock', (path: string) => `${path}.lock`],
  ])('fails on a %s that is a symbolic link, with the fix', async (_, fileOf) => {
    const path = await aStore();
    const file = fileOf(path);
    const target = join(await mkdtemp(join(tmpdir(), 'irbot-target-')), 'target');
    if (fileOf(path) === `${path}.lock`) await mkdir(target);
    else await rename(file, target);
    await symlink(target, file);
    expect(await checkStorePath(path)).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`Store file ${file} is a symbolic link`),
      fix: 'set database_path to the folder the store really is in, or replace the link with the file itself',
    });
  });

  it('fails on a folder every user can write, sticky or not; warns on one its group can write without the sticky bit', async () => {
    const path = await aStore();
    const folder = join(path, '..');
    for (const mode of [0o777, 0o1777]) {
      await chmod(folder, mode);
      expect(await checkStorePath(path)).toMatchObject({
        ok: false,
        detail: expect.stringContaining(
          `folder ${folder} can be written by every user (mode ${mode.toString(8).padStart(4, '0')})`,
        ),
        fix: expect.stringContaining(`chmod 700 ${folder}`),
      });
    }
    await chmod(folder, 0o770);
    expect(await checkStorePath(path)).toMatchObject({
      ok: true,
      detail: expect.stringContaining(`folder ${folder} can be written by its group (mode 0770)`),
      fix: expect.stringContaining(`chmod g-w ${folder}`),
    });
    await chmod(folder, 0o1770);
    expect(await checkStorePath(path)).not.toHaveProperty('fix');
  });

  it('warns on store files other users can read, names them in the chmod, and changes nothing', async () => {
    const path = await aStore();
    await chmod(path, 0o644);
    await chmod(archivePathOf(path), 0o640);
    const check = await checkStorePath(path);
    expect(check).toMatchObject({
      ok: true,
      detail: expect.stringContaining(
        `${path} (mode 0644), ${archivePathOf(path)} (mode 0640) can be read by other users`,
      ),
      fix: `chmod 600 ${path} ${archivePathOf(path)} (irbot also sets them to 0600 when it next opens the store)`,
    });
    expect((await stat(path)).mode & 0o777).toBe(0o644);
  });
});
