// Tests of readEnv, requireEnv and loadEnv: defaults, empty values, token checks, and .env under process values.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnv, readEnv, refuseHashInValue, requireEnv } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/config/errors.js';

const BOT = 'xoxb-1111-secret';
const APP = 'xapp-1-secret';
const KEY = 'sk-secret';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    // Every token in these tests contains 'secret'.
    expect(message).not.toContain('secret');
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('readEnv', () => {
  it('reads every variable', () => {
    expect(
      readEnv({
        SLACK_BOT_TOKEN: BOT,
        SOCKET_APP_TOKEN: APP,
        SLACK_SIGNING_SECRET: 'signing-secret',
        OPENAI_API_KEY: KEY,
        SLACK_API_URL: 'http://127.0.0.1:3000/api/',
        OPENAI_BASE_URL: 'http://127.0.0.1:4000/v1',
        IRBOT_CONFIG: 'conf/irbot.toml',
        DUO_INTEGRATION_KEY: 'DIKEY',
        DUO_SECRET_KEY: 'duo-secret',
        DUO_API_URL: 'http://127.0.0.1:5000',
      }),
    ).toEqual({
      slackBotToken: BOT,
      socketAppToken: APP,
      slackSigningSecret: 'signing-secret',
      openaiApiKey: KEY,
      slackApiUrl: 'http://127.0.0.1:3000/api/',
      openaiBaseUrl: 'http://127.0.0.1:4000/v1',
      configPath: 'conf/irbot.toml',
      duoIntegrationKey: 'DIKEY',
      duoSecretKey: 'duo-secret',
      duoApiUrl: 'http://127.0.0.1:5000',
    });
  });

  it('defaults the Slack API URL and leaves the rest unset', () => {
    expect(readEnv({})).toEqual({ slackApiUrl: 'https://slack.com/api/' });
  });

  it('counts empty and blank values as unset', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: '', SOCKET_APP_TOKEN: '  ', SLACK_API_URL: '', IRBOT_CONFIG: '' });
    expect(env).toEqual({ slackApiUrl: 'https://slack.com/api/' });
  });

  it('adds the trailing slash the Slack client needs', () => {
    expect(readEnv({ SLACK_API_URL: 'http://127.0.0.1:3000/api' }).slackApiUrl).toBe('http://127.0.0.1:3000/api/');
  });

  it('rejects a URL that is not http(s), without echoing it', () => {
    const err = errorOf(() => readEnv({ SLACK_API_URL: 'slack.com/api' }));
    expect(err.message).toBe('SLACK_API_URL is not an http(s) URL');
    const other = errorOf(() => readEnv({ OPENAI_BASE_URL: 'ftp://user:pw@host/' }));
    expect(other.message).toContain('OPENAI_BASE_URL');
    expect(other.message).not.toContain('pw');
    expect(errorOf(() => readEnv({ DUO_API_URL: 'api-1.duosecurity.com' })).message).toBe(
      'DUO_API_URL is not an http(s) URL',
    );
  });
});

describe('URLs that carry a secret or a verdict', () => {
  it.each(['SLACK_API_URL', 'DUO_API_URL', 'PAGERDUTY_API_URL'])(
    'refuses plain http to another machine for %s (the token, the key or a forged approval), without echoing it',
    (name) => {
      const err = errorOf(() => readEnv({ [name]: 'http://user:pw@duo.internal.example:8080/' }));
      expect(err.message).toBe(
        `${name} is plain http to duo.internal.example: use https (http is accepted on this machine only: 127.0.0.1, ::1, localhost)`,
      );
      for (const local of ['http://127.0.0.1:9/', 'http://127.8.0.1/', 'http://[::1]:80/', 'http://localhost:3000/']) {
        expect(() => readEnv({ [name]: local }), local).not.toThrow();
      }
      expect(() => readEnv({ [name]: 'https://duo.internal.example/' })).not.toThrow();
    },
  );

  it('leaves OPENAI_BASE_URL free to be plain http (an LLM gateway beside irbot in its cluster)', () => {
    expect(readEnv({ OPENAI_BASE_URL: 'http://litellm:4000/v1' }).openaiBaseUrl).toBe('http://litellm:4000/v1');
  });
});

describe('requireEnv', () => {
  const full = readEnv({ SLACK_BOT_TOKEN: BOT, SOCKET_APP_TOKEN: APP, OPENAI_API_KEY: KEY });

  it('passes when every needed variable is set and of the right kind', () => {
    expect(() => requireEnv(full, ['slackBotToken', 'socketAppToken', 'openaiApiKey'])).not.toThrow();
  });

  it('names the first missing variable in the order given', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: BOT });
    const err = errorOf(() => requireEnv(env, ['slackBotToken', 'openaiApiKey', 'socketAppToken']));
    expect(err.message).toContain('Missing required environment variable: OPENAI_API_KEY');
    expect(errorOf(() => requireEnv(readEnv({}), ['socketAppToken', 'slackBotToken'])).message).toContain(
      'Missing required environment variable: SOCKET_APP_TOKEN',
    );
  });

  it('names a missing SLACK_SIGNING_SECRET and where to find it', () => {
    expect(errorOf(() => requireEnv(readEnv({ SLACK_BOT_TOKEN: BOT }), ['slackSigningSecret'])).message).toBe(
      "Missing required environment variable: SLACK_SIGNING_SECRET (set it in the environment or in .env: the app's Signing Secret, under Basic Information > App Credentials (irbot listen --http checks every request with it))",
    );
  });

  it('asks only for what is needed', () => {
    expect(() => requireEnv(readEnv({ SLACK_BOT_TOKEN: BOT }), ['slackBotToken'])).not.toThrow();
  });

  it('rejects a bot token of the wrong kind without showing it', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xoxp-user-secret', SOCKET_APP_TOKEN: APP });
    const err = errorOf(() => requireEnv(env, ['slackBotToken']));
    expect(err.message).toBe(
      "SLACK_BOT_TOKEN is not a bot token: it should start with 'xoxb-' (find it under OAuth & Permissions)",
    );
  });

  it('rejects an app token of the wrong kind', () => {
    const env = readEnv({ SOCKET_APP_TOKEN: 'secret' });
    expect(errorOf(() => requireEnv(env, ['socketAppToken'])).message).toContain(
      "SOCKET_APP_TOKEN is not an app-level token: it should start with 'xapp-' (Basic Information > App-Level Tokens, scope connections:write)",
    );
  });

  it('points out swapped tokens', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: APP, SOCKET_APP_TOKEN: BOT });
    expect(errorOf(() => requireEnv(env, ['slackBotToken'])).message).toContain('swapped with SOCKET_APP_TOKEN');
    expect(errorOf(() => requireEnv(env, ['socketAppToken'])).message).toContain('swapped with SLACK_BOT_TOKEN');
  });
});

describe('loadEnv', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fills in .env under the process values', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-env-'));
    await writeFile(
      path.join(dir, '.env'),
      `SLACK_BOT_TOKEN=${BOT}\nSOCKET_APP_TOKEN=xapp-from-file\n# a comment\nOPENAI_API_KEY="${KEY}"\nIRBOT_CONFIG=from-file.toml\n`,
    );
    const vars = await loadEnv(dir, { SOCKET_APP_TOKEN: APP, IRBOT_CONFIG: '', HOME: '/home/analyst' });
    expect(vars).toMatchObject({
      SLACK_BOT_TOKEN: BOT,
      SOCKET_APP_TOKEN: APP,
      OPENAI_API_KEY: KEY,
      IRBOT_CONFIG: 'from-file.toml',
      HOME: '/home/analyst',
    });
  });

  it('refuses a .env with # inside an unquoted value, and a .env that is a folder, in one line', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-env-'));
    const file = path.join(dir, '.env');
    await writeFile(file, `SLACK_BOT_TOKEN=${BOT}#tail\n`);
    await expect(loadEnv(dir, {})).rejects.toThrow(new RegExp(`^${file}:1: SLACK_BOT_TOKEN: .*: quote the value`));
    await rm(file);
    await mkdir(file);
    await expect(loadEnv(dir, {})).rejects.toThrow(new ConfigError(`.env file is a directory, not a file: ${file}`));
  });

  it('is fine without a .env', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-env-'));
    expect(await loadEnv(dir, { SLACK_BOT_TOKEN: BOT })).toEqual({ SLACK_BOT_TOKEN: BOT });
  });
});

describe('a # in a .env value', () => {
  const refused = (text: string) => errorOf(() => refuseHashInValue(text, '/srv/.env')).message;

  it('refuses an unquoted value with # inside it, naming the variable and the line, never the value', () => {
    expect(refused('# irbot\nSLACK_BOT_TOKEN=xoxb-1\nIRBOT_WEBHOOK_TOKEN=0123secret#0123456789\n')).toBe(
      '/srv/.env:3: IRBOT_WEBHOOK_TOKEN: an unquoted value with # in it is cut at the # here but kept whole by docker and systemd: quote the value, e.g. IRBOT_WEBHOOK_TOKEN="…"',
    );
    expect(refused('export OPENAI_API_KEY =#secret\r\n')).toMatch(/^\/srv\/\.env:1: OPENAI_API_KEY: /);
  });

  it('leaves quoted values, comments after whitespace and lines inside a quoted value alone', () => {
    const fine = [
      '# a comment # with #',
      'A="abc#def"',
      "B='abc#def' # said",
      'C=abc #def',
      'D=abc\t# tab',
      'E= # empty',
      'F="first line',
      'G=not#a#variable, still inside F',
      '"',
      'H=`x#y`',
      'I="escaped \\" quote#',
      'J=still inside I"',
    ].join('\n');
    expect(() => refuseHashInValue(fine, '/srv/.env')).not.toThrow();
  });
});

describe('DATABASE_URL', () => {
  it('is read when it is a PostgreSQL URL, and refused in one line naming the variable otherwise', () => {
    expect(readEnv({ DATABASE_URL: 'postgres://root@127.0.0.1:5432/irbot' }).databaseUrl).toBe(
      'postgres://root@127.0.0.1:5432/irbot',
    );
    expect(() => readEnv({ DATABASE_URL: '/var/lib/irbot/db.json' })).toThrow(
      new ConfigError(
        'DATABASE_URL must be a PostgreSQL URL starting with postgres:// or postgresql://, e.g. postgres://db.example:5432/irbot',
      ),
    );
  });
});
