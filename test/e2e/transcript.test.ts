// `irbot transcript` with the real binary on a store written by the test: Markdown, JSON, unknown id, hostile text;
// no network.
import { writeFile } from 'node:fs/promises';
import { marked } from 'marked';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeWorkspace, runIrbot, type Workspace } from '../support/irbot.js';

// Nothing listens here: the command must not need Slack or OpenAI, nor their variables.
const unreachable = 'http://127.0.0.1:9/api/';

/** An ended chat as a schema-1 store keeps it (src/store/port.ts), written out by hand; read, it is migrated. */
const record = {
  id: 'pivot-3f9a2c',
  template: 'pivot',
  name: 'Pivoting',
  description: 'User was found pivoting from one host to another',
  userId: 'U0HAROLD',
  properties: { source_host: 'source.machine.org', destination_host: 'destination.machine.org' },
  channelId: 'C0FEED',
  ts: '1735812000.000100',
  createdAt: '2025-01-02T10:00:00.000Z',
  lastActivityAt: '2025-01-02T10:07:30.000Z',
  personName: 'Harold',
  chat: {
    state: 'ended',
    startedBy: { id: 'U0ANALYST', via: 'slack' },
    startedAt: '2025-01-02T10:01:00.000Z',
    endedBy: null,
    endedAt: '2025-01-02T10:07:30.000Z',
    outcome: 'answered',
    aware: true,
    nudges: 1,
    personMessages: 2,
    classifiedUpTo: 2,
  },
  transcript: [
    { from: 'bot', text: 'Hi Harold, were you aware of the SSH pivot?', at: '2025-01-02T10:01:02.000Z' },
    { from: 'person', text: 'who, me?', at: '2025-01-02T10:02:00.000Z' },
    { from: 'bot', text: 'Just checking in again: were you aware of it?', at: '2025-01-02T10:02:05.000Z' },
    { from: 'analyst', by: 'sam', text: 'It was from your laptop, at 09:55.', at: '2025-01-02T10:03:00.000Z' },
    { from: 'person', text: 'yes, it was me\ndeploying the fix', at: '2025-01-02T10:07:00.000Z' },
    { from: 'system', text: 'Summary: Harold was aware.', at: '2025-01-02T10:07:30.000Z' },
  ],
  outbox: [],
  nextSeq: 9,
};

const ESC = '\u001b';
const RLO = '\u202e';

/** An alert whose webhook fields and whose person's reply try to rewrite the screen and forge the case file. */
const hostile = {
  ...record,
  id: 'webhook-0badc0',
  template: 'webhook',
  name: `Pivoting${ESC}]0;pwned\u0007 ${RLO}exe.fdp`,
  description: `first line\n## Verdict\n- **Aware:** yes${ESC}[2J`,
  properties: { [`host${ESC}[31m`]: `a | b\n| forged | row |`, link: '[your bank](https://evil.example)' },
  personName: `Harold${RLO}`,
  chat: { ...record.chat, aware: false },
  transcript: [
    { from: 'bot', text: 'Hi Harold, were you aware of the SSH pivot?', at: '2025-01-02T10:01:02.000Z' },
    {
      from: 'person',
      text: `hi\n## Verdict\n- **Aware:** yes\n\n\`\`\`\n${ESC}[2J${ESC}[H<script>x</script>\n\`\`\`\r${RLO}ok`,
      at: '2025-01-02T10:02:00.000Z',
    },
  ],
};

/** Controls but newline, and bidi overrides and isolates: what must never reach a terminal from stored text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let ws: Workspace;

beforeEach(async () => {
  ws = await makeWorkspace({
    slackApiUrl: unreachable,
    env: { SLACK_BOT_TOKEN: '', SOCKET_APP_TOKEN: '', OPENAI_API_KEY: '' },
  });
  await writeFile(
    ws.dbPath,
    JSON.stringify({ version: 1, alerts: { [record.id]: record, [hostile.id]: hostile }, seenEvents: {} }),
    { mode: 0o600 },
  );
});

describe('irbot transcript', () => {
  it('prints the alert, who started it, every message with speaker and time, the verdict and the end', async () => {
    const result = await runIrbot(['transcript', record.id], ws);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const md = result.stdout;
    expect(md).toMatch(/^# pivot-3f9a2c: Pivoting\n/);
    for (const fact of [
      '- **Template:** pivot',
      '- **Description:** User was found pivoting from one host to another',
      '- **Person:** Harold (U0HAROLD)',
      '- **Posted:** 2025-01-02 10:00:00 UTC in C0FEED (ts 1735812000.000100)',
      '| source_host | source.machine.org |',
      'Started 2025-01-02 10:01:00 UTC by U0ANALYST (Slack).',
      '## Messages (6)',
      '**2025-01-02 10:01:02 UTC — irbot → person Harold**\n\n> Hi Harold, were you aware of the SSH pivot?',
      '**2025-01-02 10:02:00 UTC — person Harold → irbot**\n\n> who, me?',
      '**2025-01-02 10:03:00 UTC — analyst sam → person Harold**\n\n> It was from your laptop, at 09:55.',
      '> yes, it was me\n> deploying the fix',
      '**2025-01-02 10:07:30 UTC — system note**\n\n> Summary: Harold was aware.',
      '- **State:** ended',
      '- **Outcome:** answered',
      '- **Aware:** yes',
      '- **Nudges:** 1',
      '- **Ended:** 2025-01-02 10:07:30 UTC by irbot',
    ]) {
      expect(md).toContain(fact);
    }
    // In order: alert, start, messages, verdict.
    const order = ['# pivot', '## Chat', 'who, me?', 'deploying the fix', '## Verdict'].map((s) => md.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('shows the control and bidi characters of webhook fields and replies, and escapes their Markdown', async () => {
    const result = await runCli(['transcript', hostile.id], ws);
    expect(result.code).toBe(0);
    const md = result.stdout;
    expect(md).not.toMatch(UNSAFE);
    expect(md).toContain('␛\\]0;pwned␇');
    expect(md).toContain('\\<U+202E\\>');
    // The only headings, tables and lists are the transcript's own; nothing they wrote became code, HTML or a link.
    const tokens = marked.lexer(md);
    const headings = tokens.flatMap((t) => (t.type === 'heading' ? [t.text] : []));
    expect(headings).toEqual([
      expect.stringMatching(/^webhook-0badc0: Pivoting/),
      'Properties',
      'Chat',
      'Messages (2)',
      'Verdict',
    ]);
    const types: string[] = [];
    const hiddenLinks: string[] = [];
    marked.walkTokens(tokens, (t) => {
      types.push(t.type);
      // A bare URL that GFM links shows its own target: only a link with other text could mislead.
      if (t.type === 'link' && t.text !== t.href) hiddenLinks.push(t.href);
    });
    expect(types.filter((t) => t === 'table')).toHaveLength(1);
    expect(types).not.toContain('code');
    expect(types).not.toContain('html');
    expect(hiddenLinks).toEqual([]);
    const table = tokens.find((t) => t.type === 'table');
    expect(table?.type === 'table' ? table.rows.length : 0).toBe(2);
    // The verdict is said once, by irbot: the forged "Aware: yes" lines are quoted text, the real one says no.
    expect(md.match(/^- \*\*Aware:\*\* .*$/gm)).toEqual(['- **Aware:** no']);
    expect(md).toContain('> hi\n> \\#\\# Verdict\n> \\- \\*\\*Aware:\\*\\* yes\n>\n');
  });

  it('prints the same record as JSON with --format json', async () => {
    const result = await runIrbot(['transcript', record.id, '--format', 'json'], ws);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      alert: {
        id: record.id,
        template: 'pivot',
        name: 'Pivoting',
        description: record.description,
        properties: record.properties,
        user_id: 'U0HAROLD',
        person: 'Harold',
        channel: 'C0FEED',
        ts: record.ts,
        created_at: record.createdAt,
        last_activity_at: record.lastActivityAt,
      },
      started_by: { id: 'U0ANALYST', via: 'slack' },
      started_at: record.chat.startedAt,
      messages: record.transcript.map(({ at, from, by, text }) => ({ at, from, ...(by ? { by } : {}), text })),
      held: [],
      verdict: {
        state: 'ended',
        outcome: 'answered',
        aware: true,
        needs_review: false,
        nudges: 1,
        verified: null,
        verified_reason: null,
        failure: null,
      },
      ended_by: null,
      ended_at: record.chat.endedAt,
    });
  });

  it('says how to find ids when the alert is unknown (exit 2, one line)', async () => {
    const result = await runCli(['transcript', 'nope-000000'], ws);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^irbot: No alert 'nope-000000' in .*db\.json: irbot status --all lists the alert ids\n$/,
    );
  });

  it('shows a bidi override in the alert id it did not find instead of letting it reorder the error line', async () => {
    const result = await runCli(['transcript', `nope${RLO}000000`], ws);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^irbot: No alert 'nope<U\+202E>000000' in /);
  });

  it('rejects an unknown format', async () => {
    const result = await runCli(['transcript', record.id, '--format', 'html'], ws);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });
});
