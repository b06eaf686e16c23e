// `irbot init --yes` through its entry point, in an empty temp dir: files written, modes, kept, forced, refused.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'dotenv';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { runCli } from '../support/cli.js';
import { BIN, type Workspace } from '../support/irbot.js';

const SHIPPED_ALERTS = join(BIN, '../../alerts.toml');
const BOT = 'xoxb-111-222-secretbot';
const APP = 'xapp-1-A0-333-secretapp';
const KEY = 'sk-proj-secretkey_0123';
const FLAGS = [
  '--slack-bot-token',
  BOT,
  '--socket-app-token',
  APP,
  '--openai-api-key',
  KEY,
  '--feed-channel-id',
  'C0ALERTS',
];

let ws: Workspace;

beforeEach(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'irbot-init-'));
  ws = { dir, dbPath: join(dir, 'irbot-db.json'), env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1' } };
});

async function init(args: string[]) {
  const result = await runCli(['init', ...args], ws);
  expect(`${result.stdout}${result.stderr}`).not.toMatch(/secret/);
  return result;
}

const read = (name: string) => readFile(join(ws.dir, name), 'utf8');
const mode = async (name: string) => (await stat(join(ws.dir, name))).mode & 0o777;

describe('irbot init --yes', () => {
  it('writes .env (0600), config.toml and alerts.toml, and says what to do next, never printing a token', async () => {
    const result = await init(['--yes', ...FLAGS]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(parse(await read('.env'))).toEqual({ SLACK_BOT_TOKEN: BOT, SOCKET_APP_TOKEN: APP, OPENAI_API_KEY: KEY });
    expect(await mode('.env')).toBe(0o600);
    const config = parseConfig(await read('config.toml'), join(ws.dir, 'config.toml'));
    expect(config.feedChannelId).toBe('C0ALERTS');
    expect(config.alertsPath).toBe(join(ws.dir, 'alerts.toml'));
    expect(await read('config.toml')).not.toContain('C0FEED');
    expect(await read('config.toml')).toMatch(/^# /m);
    expect(await read('alerts.toml')).toBe(await readFile(SHIPPED_ALERTS, 'utf8'));
    expect(result.stdout).toMatch(/slack-app-manifest\.yml/);
    for (const next of ['irbot doctor', 'irbot send-alert', 'irbot listen']) expect(result.stdout).toContain(next);
  });

  it('keeps existing files, and overwrites .env and config.toml with --force', async () => {
    await writeFile(join(ws.dir, '.env'), 'SLACK_BOT_TOKEN=xoxb-mine\n', { mode: 0o644 });
    await writeFile(join(ws.dir, 'config.toml'), 'feed_channel_id = "C0MINE"\n');
    await writeFile(join(ws.dir, 'alerts.toml'), '# mine\n');
    const kept = await init(['--yes', ...FLAGS]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/Kept \.env \(it exists; --force overwrites it\)/);
    expect(await read('.env')).toBe('SLACK_BOT_TOKEN=xoxb-mine\n');
    expect(await read('config.toml')).toBe('feed_channel_id = "C0MINE"\n');

    const forced = await init(['--yes', '--force', ...FLAGS]);
    expect(forced.code).toBe(0);
    expect(parse(await read('.env')).SLACK_BOT_TOKEN).toBe(BOT);
    expect(await mode('.env')).toBe(0o600);
    expect(await read('config.toml')).toContain('feed_channel_id = "C0ALERTS"');
    expect(await read('alerts.toml')).toBe('# mine\n');
  });

  it('with --force, keeps the variables of the old .env that it does not write, and the config goes where the next command looks', async () => {
    await mkdir(join(ws.dir, 'conf'));
    const old = [
      '# ours',
      'IRBOT_CONFIG=conf/irbot.toml',
      'SLACK_BOT_TOKEN=xoxb-old',
      'export DATABASE_URL=postgres://irbot@db.example/irbot',
      'SLACK_SIGNING_SECRET="0123456789abcdef"',
      '',
    ].join('\n');
    await writeFile(join(ws.dir, '.env'), old);
    const forced = await init(['--yes', '--force', ...FLAGS]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(
      'Wrote .env (readable by you only; kept its IRBOT_CONFIG, DATABASE_URL, SLACK_SIGNING_SECRET)',
    );
    expect(parse(await read('.env'))).toEqual({
      SLACK_BOT_TOKEN: BOT,
      SOCKET_APP_TOKEN: APP,
      OPENAI_API_KEY: KEY,
      IRBOT_CONFIG: 'conf/irbot.toml',
      DATABASE_URL: 'postgres://irbot@db.example/irbot',
      SLACK_SIGNING_SECRET: '0123456789abcdef',
    });
    expect(await read('.env')).toContain('# ours\n');
    expect(await read('conf/irbot.toml')).toContain('feed_channel_id = "C0ALERTS"');
    expect(existsSync(join(ws.dir, 'config.toml'))).toBe(false);
  });

  it('needs only the flags for the files it writes', async () => {
    await writeFile(join(ws.dir, '.env'), 'SLACK_BOT_TOKEN=xoxb-mine\n');
    const result = await init(['--yes', '--feed-channel-id', 'C0ALERTS']);
    expect(result.code).toBe(0);
    expect(await read('config.toml')).toContain('feed_channel_id = "C0ALERTS"');
  });

  it('names every missing flag at once (exit 2, one line, nothing written)', async () => {
    const result = await init(['--yes', ...FLAGS.slice(0, 2)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'irbot: --yes needs --socket-app-token (or SOCKET_APP_TOKEN in the environment), ' +
        '--openai-api-key (or OPENAI_API_KEY in the environment), --feed-channel-id (Feed channel ID (C… or G…))\n',
    );
    await expect(stat(join(ws.dir, '.env'))).rejects.toThrow();
    await expect(stat(join(ws.dir, 'config.toml'))).rejects.toThrow();
  });

  it('takes the tokens from the environment when not given as flags, a flag winning over its variable', async () => {
    ws.env = { ...ws.env, SLACK_BOT_TOKEN: 'xoxb-env-secretbot', SOCKET_APP_TOKEN: APP, OPENAI_API_KEY: KEY };
    const result = await init(['--yes', '--slack-bot-token', BOT, '--feed-channel-id', 'C0ALERTS']);
    expect(result.code).toBe(0);
    expect(parse(await read('.env'))).toEqual({ SLACK_BOT_TOKEN: BOT, SOCKET_APP_TOKEN: APP, OPENAI_API_KEY: KEY });
    ws.env = { ...ws.env, SOCKET_APP_TOKEN: 'xoxb-swapped-secret' };
    const wrong = await init(['--yes', '--force', '--feed-channel-id', 'C0ALERTS']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(
      'irbot: SOCKET_APP_TOKEN: that is the bot token (xoxb-…); the app-level token starts with xapp-\n',
    );
  });

  it('rejects a token of the wrong kind without printing it', async () => {
    const result = await init(['--yes', ...FLAGS.slice(2), '--slack-bot-token', 'xapp-secret-swapped']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^irbot: --slack-bot-token: that is the app-level token \(xapp-…\); the bot token starts with xoxb-\n$/,
    );
  });

  it('never writes through a symbolic link: refuses a dangling one, and a linked file with --force; keeps it otherwise', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'irbot-elsewhere-'));
    const env = join(ws.dir, '.env');
    await symlink(join(elsewhere, 'stolen.env'), env);
    const dangling = await init(['--yes', ...FLAGS]);
    expect(dangling.code).toBe(2);
    expect(dangling.stderr).toBe(
      `irbot: ${env} is a symbolic link to a file that does not exist, and irbot init never writes through a link: remove it (rm ${env}) and run irbot init again\n`,
    );
    expect(await readdir(elsewhere)).toEqual([]);
    expect((await readdir(ws.dir)).sort()).toEqual(['.env']);

    await rm(env);
    const config = join(ws.dir, 'config.toml');
    await writeFile(join(elsewhere, 'shared.toml'), 'feed_channel_id = "C0SHARED"\n');
    await symlink(join(elsewhere, 'shared.toml'), config);
    const forced = await init(['--yes', '--force', ...FLAGS]);
    expect(forced.code).toBe(2);
    expect(forced.stderr).toMatch(
      /^irbot: .*config\.toml is a symbolic link, and irbot init never writes through a link, not even with --force: remove it \(rm .*config\.toml\) and run irbot init again, or leave out --force to keep the file it points to\n$/,
    );
    await expect(stat(env)).rejects.toThrow();

    const kept = await init(['--yes', ...FLAGS]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain('Kept config.toml (a symbolic link: init never writes through one)');
    expect(await read('config.toml')).toBe('feed_channel_id = "C0SHARED"\n');
    expect(await mode('.env')).toBe(0o600);
  });

  it('refuses to ask without a terminal (exit 2, one line)', async () => {
    const result = await init(FLAGS);
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/no terminal: run it in one, or pass --yes/);
  });

  it('refuses a path it cannot write before writing anything (exit 2, one line, no .env left behind)', async () => {
    await mkdir(join(ws.dir, 'cfgdir'));
    await writeFile(join(ws.dir, 'afile'), '');
    const cases: Array<[string[], RegExp]> = [
      [
        ['--config', 'nodir/config.toml'],
        /nodir\/config\.toml: the folder .*nodir does not exist: create it or give --config a file in an existing folder/,
      ],
      [
        ['--config', 'afile/config.toml'],
        /afile\/config\.toml: .*afile is not a folder: give --config a file in an existing folder/,
      ],
      [['--config', '.'], /is a folder, not a file: give --config a file in an existing folder/],
      [['--force', '--config', '.'], /is a folder, not a file: give --config a file in an existing folder/],
      [['--force', '--config', 'cfgdir'], /cfgdir is a folder, not a file: give --config a file/],
      [
        ['--config', 'alerts.toml'],
        /^irbot: --config alerts\.toml: irbot init writes alerts\.toml there; give config\.toml another name/,
      ],
      [['--config', '.env'], /^irbot: --config \.env: irbot init writes \.env there/],
    ];
    for (const [args, message] of cases) {
      const result = await init(['--yes', ...FLAGS, ...args]);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.code, args.join(' ')).toBe(2);
      expect((await readdir(ws.dir)).sort(), args.join(' ')).toEqual(['afile', 'cfgdir']);
    }
    expect(await readdir(join(ws.dir, 'cfgdir'))).toEqual([]);
  });

  it('refuses an alerts.toml that is a folder, writing nothing', async () => {
    await mkdir(join(ws.dir, 'alerts.toml'));
    const result = await init(['--yes', ...FLAGS]);
    expect(result.stderr).toMatch(
      /^irbot: .*alerts\.toml is a folder, not a file: alerts\.toml goes beside config\.toml: move it away, or give --config a file in another folder\n$/,
    );
    expect(result.code).toBe(2);
    expect(await readdir(ws.dir)).toEqual(['alerts.toml']);
  });
});
