// Every configuration error: one line on stderr, exit 2, nothing written, no token printed.
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeWorkspace, runIrbot, type Workspace } from '../support/irbot.js';

const unreachable = 'http://127.0.0.1:9/api/';

async function expectConfigError(
  ws: Workspace,
  args: string[],
  message: string | RegExp,
  env: Record<string, string> = {},
) {
  const result = await runCli(args, ws, { env });
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/xoxb-local|xapp-local|sk-test/);
  expect(existsSync(ws.dbPath)).toBe(false);
  return lines[0];
}

describe('configuration errors', () => {
  it('names a missing variable', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await expectConfigError(ws, ['send-alert', 'pivot'], /Missing required environment variable: SLACK_BOT_TOKEN/, {
      SLACK_BOT_TOKEN: '',
    });
    await expectConfigError(ws, ['listen'], /Missing required environment variable: SOCKET_APP_TOKEN/, {
      SOCKET_APP_TOKEN: '',
    });
    // Over HTTP the signing secret is needed instead (and the app-level token is not), and a bad address is named.
    await expectConfigError(
      ws,
      ['listen', '--http', '0'],
      /^irbot: Missing required environment variable: SLACK_SIGNING_SECRET \(.*Signing Secret/,
      { SOCKET_APP_TOKEN: '' },
    );
    await expectConfigError(ws, ['listen', '--http', 'slack:x'], /^irbot: --http "slack:x": not an address/, {
      SLACK_SIGNING_SECRET: 'signing-secret',
    });
    await expectConfigError(ws, ['chat', 'x'], /Missing required environment variable: OPENAI_API_KEY/, {
      OPENAI_API_KEY: '',
    });
    // listen sends the sinks' events: the variable a sink's secret_env names is needed there.
    const sinks = await makeWorkspace({
      slackApiUrl: unreachable,
      config:
        'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nslack_rate_scale = 100\n[[sinks]]\nurl = "https://siem.example.com/x?token=abc"\nsecret_env = "SIEM_SECRET"\n',
    });
    const line = await expectConfigError(
      sinks,
      ['listen'],
      /^irbot: Missing environment variable SIEM_SECRET, the signing secret of sink #1 \(https:\/\/siem\.example\.com\)/,
    );
    expect(line).not.toContain('token=abc');
  });

  it('says which token is of the wrong kind without printing it', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await expectConfigError(ws, ['send-alert'], /SLACK_BOT_TOKEN .*'xoxb-'/, {
      SLACK_BOT_TOKEN: 'xoxp-user-token-secret',
    });
    const line = await expectConfigError(ws, ['listen'], /SOCKET_APP_TOKEN .*'xapp-'/, {
      SOCKET_APP_TOKEN: 'xoxb-wrong-kind-secret',
    });
    expect(line).not.toContain('secret');
  });

  it('reads variables from .env, with process values winning', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await writeFile(join(ws.dir, '.env'), 'SLACK_BOT_TOKEN=xoxp-from-dotenv-secret\n');
    await expectConfigError(ws, ['send-alert'], /SLACK_BOT_TOKEN .*'xoxb-'/, { SLACK_BOT_TOKEN: '' });
  });

  it('refuses a .env value cut at a # and a .env that is a folder, never printing the value', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    const env = join(ws.dir, '.env');
    await writeFile(env, '# webhook\nIRBOT_WEBHOOK_TOKEN=0123456789abcdef#sk-test-tail\n');
    await expectConfigError(
      ws,
      ['send-alert', 'pivot', '--dry-run'],
      `irbot: ${env}:2: IRBOT_WEBHOOK_TOKEN: an unquoted value with # in it is cut at the # here but kept whole by docker and systemd: quote the value, e.g. IRBOT_WEBHOOK_TOKEN="…"`,
    );
    const empty = await makeWorkspace({ slackApiUrl: unreachable });
    await mkdir(join(empty.dir, '.env'));
    await expectConfigError(
      empty,
      ['send-alert', 'pivot', '--dry-run'],
      /^irbot: \.env file is a directory, not a file: /,
    );
    await expectConfigError(empty, ['init', '--yes'], /^irbot: \.env file is a directory, not a file: /);
  });

  it('names a config file that is not there, also through IRBOT_CONFIG and --config', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await expectConfigError(ws, ['send-alert', '--config', 'nope.toml'], /Configuration file not found: .*nope\.toml/);
    await expectConfigError(ws, ['send-alert'], /Configuration file not found: .*other\.toml/, {
      IRBOT_CONFIG: 'other.toml',
    });
  });

  it('rejects a feed channel that is not a channel ID', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable, config: 'feed_channel_id = "D123"\n' });
    await expectConfigError(ws, ['send-alert'], /feed_channel_id: channel ID must start with 'C' or 'G'/);
  });

  it('rejects an unknown config key by name', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable, config: 'feed_channel_id = "C0FEED"\nmax_nudge = 2\n' });
    await expectConfigError(ws, ['status'], /unknown key 'max_nudge'/);
  });

  it('gives file, line and column of malformed TOML in config and alerts', async () => {
    const ws = await makeWorkspace({
      slackApiUrl: unreachable,
      config: 'feed_channel_id = "C0FEED"\nmax_nudges = = 3\n',
    });
    await expectConfigError(ws, ['status'], /config\.toml:2:\d+: /);
    const ws2 = await makeWorkspace({ slackApiUrl: unreachable });
    await writeFile(join(ws2.dir, 'alerts.toml'), '[[alerts]]\nid = "pivot\n');
    await expectConfigError(ws2, ['send-alert', 'pivot'], /alerts\.toml:2:\d+: /);
  });

  it.each([
    ['[[alerts]]\nname = "X"\nuser_id = "U1"\n', /alert #1.*missing 'id'/],
    ['[[alerts]]\nid = "x"\nuser_id = "U1"\n', /alert #1 \(id 'x'\).*missing 'name'/],
    ['[[alerts]]\nid = "x"\nname = "X"\n', /alert #1 \(id 'x'\).*missing 'user_id'/],
    ['[[alerts]]\nid = "x"\nname = "X"\nuser_id = "harold"\n', /alert #1 \(id 'x'\).*'harold' is not a Slack user ID/],
    [
      '[[alerts]]\nid = "x"\nname = "X"\nuser_id = "U1"\n[[alerts]]\nid = "x"\nname = "Y"\nuser_id = "U2"\n',
      /alert #2 \(id 'x'\).*duplicate id 'x'/,
    ],
  ])('names the file and the alert for a bad alerts.toml (%#)', async (text, message) => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await writeFile(join(ws.dir, 'alerts.toml'), text);
    const line = await expectConfigError(ws, ['send-alert', 'x'], message);
    expect(line).toContain('alerts.toml');
  });

  it('lists the known ids for an unknown alert id', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await expectConfigError(ws, ['send-alert', 'nope'], /Unknown alert id 'nope'.*pivot, privesc/);
  });

  it('exits 2 on a usage error and 0 on --help', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    const bad = await runIrbot(['send-alert', '--bogus'], ws);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--bogus'");
    for (const command of ['send-alert', 'chat', 'listen', 'status', 'sandbox']) {
      const help = await runCli([command, '--help'], ws);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: irbot ${command}`);
    }
  });

  it('refuses a store file that is a symbolic link, and writes nothing at its target', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    const target = join(ws.dir, 'elsewhere.json');
    await symlink(target, ws.dbPath);
    const refusal = `Store file ${ws.dbPath} is a symbolic link, which irbot does not follow`;
    await expectConfigError(ws, ['status'], refusal);
    await expectConfigError(ws, ['send-alert', 'pivot'], refusal);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses `chat` without an alert id when there is no terminal to pick on', async () => {
    const ws = await makeWorkspace({ slackApiUrl: unreachable });
    await expectConfigError(ws, ['chat'], /No alert id given and no terminal/);
  });
});
