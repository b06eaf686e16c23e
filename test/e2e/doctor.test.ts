// `irbot doctor` against the local Slack and the fake OpenAI server, each check passing then failing: the real binary
// for a pass and a failure, its entry point in-process (support/cli.ts) for the rest.
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSlack, type LocalSlackOptions } from '../../src/sandbox/local-slack.js';
import { journalPathOf } from '../../src/store/lowdb-store.js';
import { runCli } from '../support/cli.js';
import { type FakeOpenAi, startFakeOpenAi } from '../support/fake-openai.js';
import { makeWorkspace, type Result, runIrbot, type Workspace } from '../support/irbot.js';

const KEY = 'sk-test-key-123456';
const CONFIG = 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\n';

let slack: LocalSlack;
let openai: FakeOpenAi;
let ws: Workspace;
const extra: LocalSlack[] = [];

beforeEach(async () => {
  slack = await LocalSlack.start();
  openai = await startFakeOpenAi({ models: ['gpt-4.1-mini'], apiKey: KEY });
  ws = await makeWorkspace({ slackApiUrl: slack.apiUrl, openaiBaseUrl: openai.baseURL, config: CONFIG });
});

afterEach(async () => {
  await Promise.all([slack.close(), openai.close(), ...extra.splice(0).map((s) => s.close())]);
});

/** Another local Slack for this test, with the workspace's env pointed at it. */
async function otherSlack(options: LocalSlackOptions): Promise<Record<string, string>> {
  const other = await LocalSlack.start(options);
  extra.push(other);
  return { SLACK_API_URL: other.apiUrl };
}

interface Run extends Result {
  /** The check lines by check name: `✓ …` or `✗ …`. */
  line: (name: string) => string;
}

/** `irbot doctor` in this process (see support/cli.ts); `binary`: the real `bin/irbot`, as a user runs it. */
async function doctor(env: Record<string, string> = {}, args: string[] = [], binary = false): Promise<Run> {
  const result = await (binary ? runIrbot : runCli)(['doctor', ...args], ws, { env });
  expect(`${result.stdout}${result.stderr}`).not.toMatch(
    /xoxb-(local|wrong)|xapp-(local|wrong)|sk-(test|wrong)|secret/,
  );
  return {
    ...result,
    line: (name) => {
      const found = result.stdout.split('\n').find((l) => /^[✓✗!] /.test(l) && l.slice(2).startsWith(`${name} —`));
      if (found === undefined) throw new Error(`no line for ${name}:\n${result.stdout}`);
      return found;
    },
  };
}

async function expectOnlyFailure(run: Run, name: string, pattern: RegExp, skipped: string[] = []): Promise<void> {
  expect(run.code).toBe(1);
  expect(run.line(name)).toMatch(new RegExp(`^✗ ${escapeRegExp(name)} — `));
  expect(run.line(name)).toMatch(pattern);
  const failed = run.stdout.split('\n').filter((l) => l.startsWith('✗'));
  expect(failed).toHaveLength(1 + skipped.length);
  for (const s of skipped) expect(run.line(s)).toMatch(/^✗ .* — skipped: needs /);
  const count = `${1 + skipped.length} of 8 checks failed${skipped.length > 0 ? ` (${skipped.length} skipped)` : ''}.`;
  expect(run.stderr).toBe('');
  expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(count);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('irbot doctor', () => {
  it('passes every check against a healthy set-up, without opening a WebSocket', async () => {
    const run = await doctor({}, [], true);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(' —')[0])).toEqual([
      '✓ environment variables',
      '✓ config.toml',
      '✓ alerts.toml',
      '✓ Slack bot token and scopes',
      '✓ Slack app token (Socket Mode)',
      '✓ feed channel',
      '✓ OpenAI key and model',
      '✓ store',
      'All 8 checks passed.',
    ]);
    expect(run.line('feed channel')).toContain('#security-alerts (C0FEED), @irbot is a member');
    expect(run.line('store')).toContain('does not exist yet');
    expect(slack.callsTo('apps.connections.open')).toHaveLength(1);
    expect(slack.totalConnections).toBe(0);
    // The model, and one tiny forced judgement: every reply is judged through record_awareness.
    expect(openai.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v1/models/gpt-4.1-mini',
      'POST /v1/chat/completions',
    ]);
    expect(run.line('OpenAI key and model')).toContain('judging with record_awareness');
  });

  it('fails a model that answers a forced record_awareness call in words, or refuses tools', async () => {
    openai.onChat(() => ({ text: 'has_answered: true' }));
    await expectOnlyFailure(
      await doctor(),
      'OpenAI key and model',
      /answered a forced record_awareness call in words, without calling it → set openai_model .* function calling/,
    );
    openai.onChat(() => ({ status: 400, error: { message: 'gemma3 does not support tools', type: 'x', code: null } }));
    await expectOnlyFailure(
      await doctor(),
      'OpenAI key and model',
      /refused a record_awareness call: 400 gemma3 does not support tools/,
    );
    openai.onChat(undefined);
  });

  it('prints {ok, checks} with --json and nothing else', async () => {
    const ok = await doctor({}, ['--json']);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as { ok: boolean; checks: Array<Record<string, unknown>> };
    expect(report.ok).toBe(true);
    expect(report.checks).toHaveLength(8);
    for (const check of report.checks) {
      expect(Object.keys(check).sort()).toEqual(['detail', 'name', 'ok']);
      expect(check.ok).toBe(true);
    }
    const bad = await doctor({ OPENAI_API_KEY: 'sk-wrong-key-000000' }, ['--json']);
    expect(bad.code).toBe(1);
    const failed = JSON.parse(bad.stdout) as { ok: boolean; checks: Array<Record<string, unknown>> };
    expect(failed.ok).toBe(false);
    expect(failed.checks.filter((c) => !c.ok)).toEqual([
      { name: 'OpenAI key and model', ok: false, detail: expect.stringContaining('401'), fix: 'check OPENAI_API_KEY' },
    ]);
  });

  it('names a missing variable and skips the check that needs it', async () => {
    const run = await doctor({ SOCKET_APP_TOKEN: '' });
    await expectOnlyFailure(
      run,
      'environment variables',
      /Missing required environment variable: SOCKET_APP_TOKEN.*→ fix it in .*\.env/,
      ['Slack app token (Socket Mode)'],
    );
    expect(run.line('Slack app token (Socket Mode)')).toContain('skipped: needs SOCKET_APP_TOKEN');
  });

  it('names a token of the wrong kind without printing it', async () => {
    const run = await doctor({ SLACK_BOT_TOKEN: 'xoxp-user-token-secret' });
    await expectOnlyFailure(
      run,
      'environment variables',
      /SLACK_BOT_TOKEN is not a bot token: it should start with 'xoxb-'/,
      ['Slack bot token and scopes', 'feed channel'],
    );
  });

  it('reports a bad config.toml and skips what needs it', async () => {
    await writeFile(join(ws.dir, 'config.toml'), 'feed_channel_id = "D123"\n');
    const run = await doctor();
    await expectOnlyFailure(
      run,
      'config.toml',
      /feed_channel_id: channel ID must start with 'C' or 'G'.*→ fix the file/,
      ['alerts.toml', 'feed channel', 'OpenAI key and model', 'store'],
    );
  });

  it('reports a bad alerts.toml', async () => {
    await writeFile(join(ws.dir, 'alerts.toml'), '[[alerts]]\nid = "x"\nname = "X"\nuser_id = "harold"\n');
    const run = await doctor();
    await expectOnlyFailure(run, 'alerts.toml', /user_id 'harold' is not a Slack user ID/);
  });

  it('reports a bot token Slack rejects (invalid_auth)', async () => {
    const run = await doctor({ SLACK_BOT_TOKEN: 'xoxb-wrong-000' }, [], true);
    await expectOnlyFailure(
      run,
      'Slack bot token and scopes',
      /auth\.test: Slack answered invalid_auth → copy the Bot User OAuth Token/,
      ['feed channel'],
    );
  });

  it('names each missing scope', async () => {
    const env = await otherSlack({
      scopes: [
        'chat:write',
        'users:read',
        'usergroups:read',
        'channels:read',
        'groups:read',
        'channels:history',
        'groups:history',
        'im:history',
      ],
    });
    const run = await doctor(env);
    await expectOnlyFailure(
      run,
      'Slack bot token and scopes',
      /missing scope im:write → add it under OAuth & Permissions and reinstall the app/,
    );
  });

  it('reports an app token Slack rejects', async () => {
    const run = await doctor({ SOCKET_APP_TOKEN: 'xapp-wrong-000' });
    await expectOnlyFailure(
      run,
      'Slack app token (Socket Mode)',
      /apps\.connections\.open: Slack answered invalid_auth → copy the app-level token/,
    );
  });

  it('asks to invite the bot to a feed channel it is not in', async () => {
    const env = await otherSlack({ channels: [{ id: 'C0FEED', name: 'security-alerts', members: ['U0HAROLD'] }] });
    const run = await doctor(env);
    await expectOnlyFailure(
      run,
      'feed channel',
      /@irbot is not a member of #security-alerts \(C0FEED\) → invite the bot: \/invite @irbot in #security-alerts/,
    );
  });

  it('reports a feed channel that does not exist', async () => {
    await writeFile(join(ws.dir, 'config.toml'), 'feed_channel_id = "C0NOPE"\ndatabase_path = "./db.json"\n');
    const run = await doctor();
    await expectOnlyFailure(
      run,
      'feed channel',
      /channel C0NOPE not found \(channel_not_found\) → check feed_channel_id/,
    );
  });

  it('falls back to conversations.history when conversations.info lacks channels:read', async () => {
    const options = { channels: [{ id: 'C0FEED', name: 'security-alerts', members: ['U0HAROLD'] }] };
    const env = await otherSlack(options);
    const other = extra[0] as LocalSlack;
    other.failNext('conversations.info', { error: 'missing_scope' });
    const run = await doctor(env);
    await expectOnlyFailure(
      run,
      'feed channel',
      /not a member of C0FEED → invite the bot: \/invite @irbot in the channel C0FEED/,
    );
    slack.failNext('conversations.info', { error: 'missing_scope' });
    const ok = await doctor();
    expect(ok.code).toBe(0);
    expect(slack.callsTo('conversations.history')).toHaveLength(1);
  });

  it('reports an OpenAI key the server rejects (401)', async () => {
    const run = await doctor({ OPENAI_API_KEY: 'sk-wrong-key-000000' });
    await expectOnlyFailure(run, 'OpenAI key and model', /rejected the key \(401\) → check OPENAI_API_KEY/);
  });

  it('reports a model that does not exist (404)', async () => {
    await writeFile(join(ws.dir, 'config.toml'), `${CONFIG}openai_model = "gpt-nope"\n`);
    const run = await doctor();
    await expectOnlyFailure(
      run,
      'OpenAI key and model',
      /model gpt-nope not found .*\(404\) → set openai_model in .*config\.toml/,
    );
  });

  it('reports a corrupt store and a store path that cannot be written', async () => {
    await writeFile(ws.dbPath, '{"version": 1, "alerts": {');
    const corrupt = await doctor();
    await expectOnlyFailure(
      corrupt,
      'store',
      /db\.json is not valid JSON .*→ irbot will not overwrite it: restore it and db\.journal beside it from one backup, or move both away/,
    );
    await writeFile(
      join(ws.dir, 'config.toml'),
      'feed_channel_id = "C0FEED"\ndatabase_path = "./alerts.toml/db.json"\n',
    );
    const unwritable = await doctor();
    await expectOnlyFailure(unwritable, 'store', /alerts\.toml is a file, not a folder.*→ set database_path/);
  });

  it('names a journal left without its store file, and warns with the chmod for files open to other users', async () => {
    await writeFile(journalPathOf(ws.dbPath), '{"generation":1}\n');
    const orphan = await doctor();
    await expectOnlyFailure(
      orphan,
      'store',
      /Store journal .*db\.journal has no store file .*db\.json beside it .*→ put the store file back, or move db\.journal away too/,
    );
    await rm(journalPathOf(ws.dbPath));
    await writeFile(ws.dbPath, JSON.stringify({ version: 3, alerts: {}, seenEvents: {} }), { mode: 0o644 });
    const loose = await doctor();
    expect(loose.code).toBe(0);
    expect(loose.line('store')).toBe(
      `! store — ${ws.dbPath}, 0 alerts; ${ws.dbPath} (mode 0644) can be read by other users → chmod 600 ${ws.dbPath} (irbot also sets them to 0600 when it next opens the store)`,
    );
    expect(loose.stdout.trimEnd().split('\n').at(-1)).toBe('All 8 checks passed (1 warning).');
    expect((await stat(ws.dbPath)).mode & 0o777).toBe(0o644);
  });

  it('reads an existing store and counts its alerts', async () => {
    await writeFile(ws.dbPath, JSON.stringify({ version: 1, alerts: {}, seenEvents: {} }), { mode: 0o600 });
    const run = await doctor();
    expect(run.code).toBe(0);
    expect(run.line('store')).toMatch(/db\.json, 0 alerts$/);
  });

  it('says when Slack cannot be reached', async () => {
    const run = await doctor({ SLACK_API_URL: 'http://127.0.0.1:9/api/' });
    expect(run.code).toBe(1);
    expect(run.line('Slack bot token and scopes')).toMatch(
      /cannot reach Slack at http:\/\/127\.0\.0\.1:9 → check SLACK_API_URL/,
    );
    expect(run.line('Slack app token (Socket Mode)')).toMatch(/cannot reach Slack .*→ check SLACK_API_URL/);
    expect(run.line('feed channel')).toContain('skipped: needs a working SLACK_BOT_TOKEN');
  });
});
