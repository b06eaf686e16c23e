// The interactive path of `irbot init`, with scripted answers instead of a terminal.
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import type { Deps } from '../../../src/cli/deps.js';
import { configText, type Prompter, QUESTIONS, runInit } from '../../../src/cli/init.js';
import { parseConfig } from '../../../src/config/config.js';

async function terminal(): Promise<{ deps: Deps; output: () => string }> {
  const cwd = await mkdtemp(join(tmpdir(), 'irbot-init-unit-'));
  let text = '';
  const stdout = Object.assign(new PassThrough(), { isTTY: true });
  stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const deps: Deps = {
    cwd,
    env: {},
    stdin: Object.assign(new PassThrough(), { isTTY: true }),
    stdout,
    stderr: new PassThrough(),
    clock: () => new Date('2025-01-02T10:00:00Z'),
    random: () => 0,
    newId: () => 'abc123',
    osUser: () => 'sam',
    nextSignal: () => new Promise(() => undefined),
  };
  return { deps, output: () => text };
}

/** Answers in order; an answer its question's validation rejects is recorded and the next one tried, as a prompt does. */
function scripted(answers: Array<string | boolean>) {
  const asked: string[] = [];
  const rejected: string[] = [];
  const next = () => {
    if (answers.length === 0) throw new Error(`no scripted answer left; asked: ${asked.join(' | ')}`);
    return answers.shift() as string | boolean;
  };
  const text = async (q: { message: string; validate: (v: string) => true | string }) => {
    asked.push(q.message);
    for (;;) {
      const answer = String(next());
      const verdict = q.validate(answer);
      if (verdict === true) return answer;
      rejected.push(verdict);
    }
  };
  const prompter: Prompter = {
    input: text,
    secret: text,
    async confirm(q) {
      asked.push(q.message);
      return next() === true;
    },
  };
  return { prompter, asked, rejected, left: answers };
}

describe('irbot init, interactive', () => {
  it('asks for each value with where to find it, re-asks a wrong one, and writes the files', async () => {
    const { deps, output } = await terminal();
    const script = scripted([
      'xapp-1-swapped',
      'xoxb-1-2-bot',
      'xapp-1-A0-app',
      'sk-key',
      '#security-alerts',
      'C0ALERTS',
    ]);
    await runInit({}, deps, script.prompter);
    expect(script.asked).toEqual([
      'Bot User OAuth Token (xoxb-…)',
      'App-level token (xapp-…)',
      'OpenAI API key',
      'Feed channel ID (C… or G…)',
    ]);
    expect(script.rejected).toEqual([
      'that is the app-level token (xapp-…); the bot token starts with xoxb-',
      "a channel ID starts with C (or G), then capital letters and digits (the channel's details, bottom of About)",
    ]);
    expect(script.left).toEqual([]);
    const text = output();
    expect(text).toContain('OAuth & Permissions → Bot User OAuth Token');
    expect(text).toContain('App-Level Tokens');
    expect(text).toContain('connections:write');
    expect(text).toContain('bottom of the About tab');
    expect(text).toMatch(/slack-app-manifest\.yml/);
    expect(text).not.toMatch(/xoxb-1|xapp-1-A0|sk-key/);
    expect(parse(await readFile(join(deps.cwd, '.env'), 'utf8'))).toEqual({
      SLACK_BOT_TOKEN: 'xoxb-1-2-bot',
      SOCKET_APP_TOKEN: 'xapp-1-A0-app',
      OPENAI_API_KEY: 'sk-key',
    });
    expect((await stat(join(deps.cwd, '.env'))).mode & 0o777).toBe(0o600);
    const file = join(deps.cwd, 'config.toml');
    expect(parseConfig(await readFile(file, 'utf8'), file).feedChannelId).toBe('C0ALERTS');
  });

  it('asks before overwriting, and skips the questions for a file it keeps', async () => {
    const { deps, output } = await terminal();
    await writeFile(join(deps.cwd, '.env'), 'SLACK_BOT_TOKEN=xoxb-mine\n');
    const script = scripted([false, 'C0ALERTS']);
    await runInit({}, deps, script.prompter);
    expect(script.asked).toEqual(['.env exists. Overwrite it?', 'Feed channel ID (C… or G…)']);
    expect(await readFile(join(deps.cwd, '.env'), 'utf8')).toBe('SLACK_BOT_TOKEN=xoxb-mine\n');
    expect(output()).toContain('Kept .env (it exists)');
    expect(output()).toContain('Wrote config.toml');
  });

  it('takes values given as flags without asking for them', async () => {
    const { deps } = await terminal();
    const script = scripted(['sk-key']);
    await runInit(
      { slackBotToken: 'xoxb-1', socketAppToken: 'xapp-1', feedChannelId: 'C0ALERTS' },
      deps,
      script.prompter,
    );
    expect(script.asked).toEqual(['OpenAI API key']);
  });

  it('refuses without a terminal unless --yes', async () => {
    const { deps } = await terminal();
    const noTerminal = { ...deps, stdin: Object.assign(new PassThrough(), { isTTY: false }) };
    await expect(runInit({}, noTerminal, scripted([]).prompter)).rejects.toThrow(/no terminal/);
  });
});

describe('configText', () => {
  it('sets the feed channel in the shipped, commented config.toml with its comments', async () => {
    const shipped = await readFile(new URL('../../../config.toml', import.meta.url), 'utf8');
    const text = configText(shipped, 'C0ALERTS');
    expect(parseConfig(text, '/x/config.toml').feedChannelId).toBe('C0ALERTS');
    expect(text).not.toContain('C0FEED');
    expect(text.split('\n')).toHaveLength(shipped.split('\n').length); // every comment kept
  });
});

describe('QUESTIONS', () => {
  it('tells the two Slack tokens apart', () => {
    expect(QUESTIONS.slackBotToken.validate('xoxb-1')).toBe(true);
    expect(QUESTIONS.socketAppToken.validate('xoxb-1')).toMatch(/that is the bot token/);
    expect(QUESTIONS.openaiApiKey.validate('xoxb-1')).toMatch(/Slack token/);
    expect(QUESTIONS.openaiApiKey.validate('sk-a b')).toMatch(/without spaces/);
  });

  it('takes a C… or an older private channel’s G… feed channel ID, not a DM’s D…', () => {
    expect(QUESTIONS.feedChannelId.validate('C0ALERTS')).toBe(true);
    expect(QUESTIONS.feedChannelId.validate('G0PRIVATE')).toBe(true);
    expect(QUESTIONS.feedChannelId.validate('D0DM')).toMatch(/starts with C \(or G\)/);
  });
});
