// Tests of the terminal output: when to colour, the status table's rows and columns, and chat lines by speaker.
import { Chalk } from 'chalk';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import type { Chat } from '../../../src/chat/types.js';
import {
  chalkFor,
  eraseEcho,
  hanging,
  renderEntry,
  renderStatus,
  type StatusRow,
  statusRows,
  verdictColour,
  widthOf,
} from '../../../src/cli/render.js';
import type { AlertRecord, TranscriptEntry } from '../../../src/store/port.js';

const ESC = '\u001b';
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');
const plain = new Chalk({ level: 0 });
const coloured = new Chalk({ level: 1 });

const stripAnsi = (text: string): string => text.replace(ANSI, '');
const escapesIn = (text: string): string[] => text.match(ANSI) ?? [];
/** Control characters other than newline and tab: what a terminal would act on rather than print. */
const controlCharsIn = (text: string): string[] =>
  [...text].filter((c) => {
    const code = c.codePointAt(0) ?? 0;
    return c !== '\n' && c !== '\t' && (code < 0x20 || (code >= 0x7f && code <= 0x9f));
  });

function aChat(overrides: Partial<Chat> = {}): Chat {
  return { ...newChat(), ...overrides };
}

function anEntry(overrides: Partial<TranscriptEntry> = {}): TranscriptEntry {
  return {
    from: 'bot',
    text: 'Hi Harold, quick question about an alert.',
    at: '2026-11-27T10:00:05.000Z',
    ...overrides,
  };
}

function anAlertRecord(overrides: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id: 'pivot-3f9a2c',
    template: 'pivot',
    name: 'Pivoting',
    description: 'User was found pivoting from one host to another',
    userId: 'U0HAROLD',
    properties: { source_host: 'source.machine.org' },
    channelId: 'C0FEED',
    ts: '1700000000.000100',
    createdAt: '2026-11-27T09:00:00.000Z',
    lastActivityAt: '2026-11-27T09:00:00.000Z',
    chat: aChat(),
    transcript: [],
    outbox: [],
    nextSeq: 1,
    ...overrides,
  };
}

const activeChat = (overrides: Partial<Chat> = {}): Chat =>
  aChat({
    state: 'active',
    startedBy: { id: 'U0ANALYST', via: 'slack' },
    startedAt: '2026-11-27T10:00:00.000Z',
    ...overrides,
  });

describe('chalkFor', () => {
  it('does not colour when NO_COLOR is set, even on a terminal', () => {
    expect(chalkFor({ isTTY: true }, { NO_COLOR: '1' }).level).toBe(0);
  });

  it('does not colour when NO_COLOR is set, even with FORCE_COLOR', () => {
    expect(chalkFor({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '1' }).level).toBe(0);
  });

  it('treats an empty NO_COLOR as unset (no-color.org)', () => {
    expect(chalkFor({ isTTY: true }, { NO_COLOR: '' }).level).toBeGreaterThan(0);
  });

  it('colours on a terminal', () => {
    expect(chalkFor({ isTTY: true }, {}).level).toBeGreaterThan(0);
  });

  it('does not colour when the stream is not a terminal', () => {
    expect(chalkFor({ isTTY: false }, {}).level).toBe(0);
    expect(chalkFor({}, {}).level).toBe(0);
  });

  it('colours a stream that is not a terminal when FORCE_COLOR asks for it', () => {
    expect(chalkFor({ isTTY: false }, { FORCE_COLOR: '1' }).level).toBeGreaterThan(0);
  });

  it('does not colour a terminal when FORCE_COLOR is 0', () => {
    expect(chalkFor({ isTTY: true }, { FORCE_COLOR: '0' }).level).toBe(0);
  });
});

describe('renderEntry', () => {
  const speakers: Array<[TranscriptEntry['from'], TranscriptEntry, string]> = [
    ['bot', anEntry({ from: 'bot', text: 'hello' }), 'irbot'],
    ['person', anEntry({ from: 'person', text: 'hello' }), '@Harold'],
    ['analyst', anEntry({ from: 'analyst', text: 'hello', by: 'U0ANALYST' }), 'analyst U0ANALYST'],
    ['system', anEntry({ from: 'system', text: 'hello' }), 'system'],
  ];

  it.each(speakers)('labels a %s line', (_, entry, label) => {
    expect(renderEntry(entry, plain, 'Harold')).toBe(`10:00:05 ${label.padEnd(10)} hello`);
  });

  it('tells a person named like the bot or an analyst from them without colour', () => {
    const bot = renderEntry(anEntry({ from: 'bot', text: 'Was that you?' }), plain, 'irbot');
    expect(renderEntry(anEntry({ from: 'person', text: 'Was that you?' }), plain, 'irbot')).not.toBe(bot);
    expect(renderEntry(anEntry({ from: 'person', text: 'ok' }), plain, 'analyst U0ANALYST')).toBe(
      '10:00:05 @analyst U0ANALYST ok',
    );
  });

  it('labels an analyst line without a name as just analyst', () => {
    expect(renderEntry(anEntry({ from: 'analyst', text: 'hi' }), plain, 'Harold')).toBe('10:00:05 analyst    hi');
  });

  it.each(speakers)('writes no escape codes at all for a %s line without colour', (_, entry) => {
    expect(renderEntry(entry, plain, 'Harold')).not.toContain(ESC);
  });

  it.each(speakers)('writes the same words for a %s line with colour', (_, entry) => {
    expect(stripAnsi(renderEntry(entry, coloured, 'Harold'))).toBe(renderEntry(entry, plain, 'Harold'));
  });

  it('colours each speaker differently', () => {
    const styles = speakers.map(([, entry]) => escapesIn(renderEntry(entry, coloured, 'Harold')).join(''));
    for (const style of styles) expect(style).not.toBe('');
    expect(new Set(styles).size).toBe(speakers.length);
  });

  it('sets system lines apart in italics', () => {
    const system = renderEntry(anEntry({ from: 'system', text: 'chat ended' }), coloured, 'Harold');
    const bot = renderEntry(anEntry({ from: 'bot', text: 'chat ended' }), coloured, 'Harold');
    expect(system).toContain(coloured.italic('chat ended'));
    expect(bot).not.toContain(coloured.italic('chat ended'));
  });

  it('indents the continuation lines of a multi-line text under its first line', () => {
    const line = renderEntry(anEntry({ from: 'person', text: 'first\nsecond\nthird' }), plain, 'Harold');
    const [first = '', ...rest] = line.split('\n');
    const column = first.indexOf('first');
    expect(column).toBe(20);
    expect(rest).toEqual([`${' '.repeat(column)}second`, `${' '.repeat(column)}third`]);
  });

  it('never passes control characters from a person’s text through to the terminal, and shows them instead', () => {
    const text = `hi${ESC}]0;pwned\u0007${ESC}[2J\rspoofed\u009b31m`;
    const line = renderEntry(anEntry({ from: 'person', text }), plain, 'Harold');
    expect(controlCharsIn(line)).toEqual([]);
    expect(line).toBe('10:00:05 @Harold    hi␛]0;pwned␇␛[2J␍spoofed<U+009B>31m');
  });

  it('shows a bidi override in a person’s text or name instead of letting it reorder the line', () => {
    const line = renderEntry(anEntry({ from: 'person', text: 'ok\u202edone' }), plain, 'Harold\u2066');
    expect(line).toBe('10:00:05 @Harold<U+2066> ok<U+202E>done');
  });

  it('keeps a name with a newline on the label’s line', () => {
    const line = renderEntry(anEntry({ from: 'analyst', by: 'sam\nforged', text: 'hi' }), plain, 'Harold');
    expect(line.split('\n')).toHaveLength(1);
  });

  it('shows Slack formatting: bold and italics in colour, emoji, and mentions by name', () => {
    const entry = anEntry({ from: 'bot', text: '*Verdict:* _aware_ :white_check_mark: cc @U0SAM' });
    const nameOf = (id: string) => (id === 'U0SAM' ? 'Sam' : undefined);
    expect(stripAnsi(renderEntry(entry, coloured, 'Harold', { nameOf }))).toBe(
      '10:00:05 irbot      Verdict: aware ✅ cc @Sam',
    );
    expect(renderEntry(entry, coloured, 'Harold', { nameOf })).toContain(coloured.bold('Verdict:'));
    expect(renderEntry(entry, plain, 'Harold', { nameOf })).toBe('10:00:05 irbot      *Verdict:* _aware_ ✅ cc @Sam');
  });

  it('wraps a long line to the terminal’s width, every line under the first', () => {
    const text = 'the quick brown fox jumps over the lazy dog again and again';
    const lines = renderEntry(anEntry({ from: 'person', text }), plain, 'Harold', { width: 44 }).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(44);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {20}\S/);
    expect(lines.map((l) => l.slice(20).trim()).join(' ')).toBe(text);
  });

  it('wraps the text of a long label under where it starts', () => {
    const text = 'the quick brown fox jumps over the lazy dog again and again';
    const entry = anEntry({ from: 'analyst', by: 'samantha', text });
    const lines = renderEntry(entry, plain, 'Harold', { width: 50 }).split('\n');
    const column = (lines[0] ?? '').indexOf('the quick');
    expect(column).toBe(26);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(50);
    for (const line of lines.slice(1)) expect(line.indexOf(line.trim())).toBe(column);
  });

  it('does not wrap without a width (not a terminal)', () => {
    const text = 'x'.repeat(300);
    expect(renderEntry(anEntry({ text }), plain, 'Harold')).toBe(`10:00:05 irbot      ${text}`);
  });
});

describe('widthOf', () => {
  it('is the terminal’s width on a terminal, and none otherwise', () => {
    expect(widthOf({ isTTY: true, columns: 100 })).toBe(100);
    expect(widthOf({ isTTY: false, columns: 100 })).toBeUndefined();
    expect(widthOf({})).toBeUndefined();
  });
});

describe('hanging', () => {
  it('wraps at word boundaries and breaks a word longer than the room', () => {
    expect(hanging('ab cd ef gh', 2, 22 + 5)).toBe('ab cd ef gh');
    expect(hanging(`ab cd ${'y'.repeat(10)} efgh`, 2, 22)).toBe(`ab cd ${'y'.repeat(10)}\n  efgh`);
    expect(hanging(`ab cd ${'x'.repeat(25)}`, 2, 22)).toBe(`ab cd ${'x'.repeat(14)}\n  ${'x'.repeat(11)}`);
  });

  it('indents every line but leaves blank lines empty', () => {
    expect(hanging('one\n\ntwo', 4, undefined)).toBe('one\n\n    two');
  });

  it('counts an emoji as two columns and leaves colour codes out of the count', () => {
    const text = `${coloured.red('aaaa')} 👍👍👍`;
    const [first = '', second = ''] = hanging(text, 0, 20 + 0).split('\n');
    expect(second).toBe('');
    expect(stripAnsi(first)).toBe('aaaa 👍👍👍');
  });
});

describe('eraseEcho', () => {
  it('moves up and clears one row for a short line, and as many rows as a long one took', () => {
    const row = `${ESC}[1A${ESC}[2K`;
    expect(eraseEcho('hello', 80)).toBe(row);
    expect(eraseEcho('', 80)).toBe(row);
    expect(eraseEcho('x'.repeat(81), 80)).toBe(row.repeat(2));
    expect(eraseEcho('日'.repeat(41), 80)).toBe(row.repeat(2));
  });
});

describe('verdictColour', () => {
  it('paints not aware and failed in red, aware in green, anything else as it was', () => {
    expect(verdictColour(coloured, { state: 'ended', aware: false })('x')).toBe(coloured.red('x'));
    expect(verdictColour(coloured, { state: 'failed', aware: null })('x')).toBe(coloured.red('x'));
    expect(verdictColour(coloured, { state: 'ended', aware: true })('x')).toBe(coloured.green('x'));
    expect(verdictColour(coloured, { state: 'ended', aware: true, needs_review: true })('x')).toBe(
      coloured.yellow('x'),
    );
    expect(verdictColour(coloured, { state: 'active', aware: null })('x')).toBe('x');
    expect(verdictColour(coloured, { state: 'active', aware: null }, coloured.magenta)('x')).toBe(
      coloured.magenta('x'),
    );
  });
});

describe('statusRows', () => {
  const alerts = [
    anAlertRecord({ id: 'c-ended', createdAt: '2026-11-27T09:03:00.000Z', chat: activeChat({ state: 'ended' }) }),
    anAlertRecord({ id: 'b-queued', createdAt: '2026-11-27T09:02:00.000Z', chat: activeChat({ state: 'queued' }) }),
    anAlertRecord({ id: 'e-posted', createdAt: '2026-11-27T09:05:00.000Z' }),
    anAlertRecord({ id: 'a-active', createdAt: '2026-11-27T09:04:00.000Z', chat: activeChat() }),
    anAlertRecord({ id: 'd-dismissed', createdAt: '2026-11-27T09:01:00.000Z', chat: aChat({ state: 'dismissed' }) }),
  ];

  it('lists only open chats (active and queued) by default, oldest first', () => {
    expect(statusRows(alerts, { all: false }).map((r) => r.id)).toEqual(['b-queued', 'a-active']);
  });

  it('lists a closed alert by default while a delivery of it has failed, with each delivery in its row', () => {
    const at = '2026-11-27T10:00:00.000Z';
    const base = { target: 'sink:0' as const, body: '{}', at, attempts: 1 };
    const refused = anAlertRecord({
      id: 'f-refused',
      createdAt: '2026-11-27T09:06:00.000Z',
      chat: activeChat({ state: 'ended' }),
      deliveries: [
        { ...base, key: 'f-refused:posted', event: 'posted', deliveredAt: at },
        { ...base, key: 'f-refused:ended', event: 'ended', failure: 'HTTP 400' },
        { ...base, key: 'f-refused:ended', event: 'ended', target: 'pagerduty', attempts: 2, retryAt: at },
      ],
    });
    const rows = statusRows([...alerts, refused], { all: false });
    expect(rows.map((r) => r.id)).toEqual(['b-queued', 'a-active', 'f-refused']);
    expect(rows.at(-1)?.deliveries.map((d) => [d.target, d.event, d.state, d.failure, d.retry_at])).toEqual([
      ['sink:0', 'posted', 'delivered', null, null],
      ['sink:0', 'ended', 'failed', 'HTTP 400', null],
      ['pagerduty', 'ended', 'pending', null, at],
    ]);
  });

  it('lists failed chats by default too, with why they failed', () => {
    const failure = 'the DM to U0NOBODY failed with channel_not_found (no Slack user U0NOBODY: …)';
    const failed = anAlertRecord({ id: 'f-failed', chat: activeChat({ state: 'failed', failure }) });
    const rows = statusRows([...alerts, failed], { all: false });
    expect(rows.map((r) => r.id)).toEqual(['f-failed', 'b-queued', 'a-active']);
    expect(rows[0]).toMatchObject({ state: 'failed', failure });
    expect(rows[1]?.failure).toBeNull();
  });

  it('lists an alert not posted yet by default, as unposted with why its last try failed', () => {
    const lastError = 'channel_not_found (check feed_channel_id)';
    const unposted = anAlertRecord({ id: 'u-unposted', ts: null, pending: { attempts: 2, lastError } });
    const rows = statusRows([...alerts, unposted], { all: false });
    expect(rows.find((r) => r.id === 'u-unposted')).toMatchObject({ state: 'unposted', failure: lastError });
    expect(renderStatus(rows, new Chalk({ level: 0 }), { all: false })).toContain(
      `u-unposted not posted yet, listen retries it: ${lastError}`,
    );
  });

  it('counts the lines kept for a queued chat', () => {
    const held = [
      { text: 'one', by: 'U0SAM' },
      { text: 'two', by: 'U0SAM' },
    ];
    const queued = anAlertRecord({ id: 'q-held', chat: activeChat({ state: 'queued', held }) });
    expect(statusRows([queued], { all: true })[0]).toMatchObject({ state: 'queued', held: 2 });
  });

  it('lists every alert with all, oldest first', () => {
    expect(statusRows(alerts, { all: true }).map((r) => r.id)).toEqual([
      'd-dismissed',
      'b-queued',
      'c-ended',
      'a-active',
      'e-posted',
    ]);
  });

  it('leaves the caller’s list in its order', () => {
    const ids = alerts.map((a) => a.id);
    statusRows(alerts, { all: true });
    expect(alerts.map((a) => a.id)).toEqual(ids);
  });

  it('counts the messages of the bot, the person and analysts, not system lines', () => {
    const transcript = [
      anEntry({ from: 'bot' }),
      anEntry({ from: 'system', text: 'LLM unavailable, sent the offline text' }),
      anEntry({ from: 'person' }),
      anEntry({ from: 'analyst', by: 'U0ANALYST' }),
      anEntry({ from: 'system', text: 'chat ended' }),
    ];
    const [row] = statusRows([anAlertRecord({ chat: activeChat(), transcript })], { all: false });
    expect(row?.messages).toBe(3);
  });

  it('maps an ended chat to its row', () => {
    const record = anAlertRecord({
      personName: 'Harold',
      lastActivityAt: '2026-11-27T10:07:00.000Z',
      chat: activeChat({
        state: 'ended',
        outcome: 'answered',
        aware: false,
        nudges: 1,
        endedAt: '2026-11-27T10:07:00.000Z',
      }),
      transcript: [anEntry({ from: 'bot' }), anEntry({ from: 'person' })],
    });
    expect(statusRows([record], { all: true })).toEqual([
      {
        id: 'pivot-3f9a2c',
        template: 'pivot',
        name: 'Pivoting',
        user_id: 'U0HAROLD',
        person: 'Harold',
        state: 'ended',
        outcome: 'answered',
        aware: false,
        needs_review: false,
        nudges: 1,
        verified: null, // a chat stored before step-up existed reads as none
        messages: 2,
        held: 0,
        created_at: '2026-11-27T09:00:00.000Z',
        started_at: '2026-11-27T10:00:00.000Z',
        ended_at: '2026-11-27T10:07:00.000Z',
        last_activity_at: '2026-11-27T10:07:00.000Z',
        failure: null,
        deliveries: [],
        escalated: null,
        suppressed: null,
      },
    ]);
  });

  it('maps what is not known yet to null', () => {
    const [row] = statusRows([anAlertRecord()], { all: true });
    expect(row).toMatchObject({
      person: null,
      outcome: null,
      aware: null,
      started_at: null,
      ended_at: null,
      nudges: 0,
      messages: 0,
    });
  });

  it('marks an aware answer after a reply that tried to instruct the bot as needing review', () => {
    const ended = { state: 'ended' as const, outcome: 'answered' as const, aware: true };
    const rows = statusRows(
      [
        anAlertRecord({ id: 'a', chat: activeChat({ ...ended, steering: 1 }) }),
        anAlertRecord({ id: 'b', chat: activeChat(ended) }),
        anAlertRecord({ id: 'c', chat: activeChat({ ...ended, aware: false, steering: 1 }) }),
      ],
      { all: true },
    );
    expect(rows.map((r) => [r.id, r.needs_review])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ]);
  });

  it('returns no rows for no alerts', () => {
    expect(statusRows([], { all: true })).toEqual([]);
  });

  it('says where an escalation went: the mention, and the page’s delivery', () => {
    const at = '2026-11-27T10:00:00.000Z';
    const escalation = {
      outcome: 'not_aware' as const,
      reason: 'Harold was not aware of Pivoting',
      severity: 'error' as const,
      at,
      mention: '<!subteam^S0SECOPS>',
      pagerduty: true,
    };
    const page = { key: 'k', target: 'pagerduty' as const, event: 'escalated' as const, body: '{}', at, attempts: 1 };
    const ended = activeChat({ state: 'ended', outcome: 'answered', aware: false });
    const rows = statusRows(
      [
        anAlertRecord({ id: 'a', chat: ended, escalation, deliveries: [{ ...page, deliveredAt: at }] }),
        anAlertRecord({ id: 'b', chat: ended, escalation, deliveries: [page] }),
        anAlertRecord({
          id: 'c',
          chat: ended,
          escalation,
          deliveries: [{ ...page, failure: 'PagerDuty answered 400' }],
        }),
        anAlertRecord({ id: 'd', chat: ended, escalation: { ...escalation, pagerduty: false, mention: null } }),
        anAlertRecord({ id: 'e', chat: ended }),
      ],
      { all: true },
    );
    expect(rows.map((r) => [r.id, r.escalated?.pagerduty, r.escalated?.mention])).toEqual([
      ['a', 'delivered', '<!subteam^S0SECOPS>'],
      ['b', 'pending', '<!subteam^S0SECOPS>'],
      ['c', 'failed: PagerDuty answered 400', '<!subteam^S0SECOPS>'],
      ['d', null, null],
      ['e', undefined, undefined],
    ]);
    expect(rows[0]?.escalated).toEqual({
      outcome: 'not_aware',
      reason: 'Harold was not aware of Pivoting',
      severity: 'error',
      mention: '<!subteam^S0SECOPS>',
      pagerduty: 'delivered',
    });
    expect(rows[4]?.escalated).toBeNull();
  });
});

describe('renderStatus', () => {
  function aRow(overrides: Partial<StatusRow> = {}): StatusRow {
    return {
      id: 'pivot-3f9a2c',
      template: 'pivot',
      name: 'Pivoting',
      user_id: 'U0HAROLD',
      person: 'Harold',
      state: 'active',
      outcome: null,
      aware: null,
      needs_review: false,
      nudges: 0,
      verified: null,
      messages: 2,
      held: 0,
      created_at: '2026-11-27T09:00:00.000Z',
      started_at: '2026-11-27T10:00:00.000Z',
      ended_at: null,
      last_activity_at: '2026-11-27T10:05:30.000Z',
      failure: null,
      deliveries: [],
      escalated: null,
      ...overrides,
    };
  }

  const HEADERS = ['ALERT', 'NAME', 'PERSON', 'STATE', 'STARTED', 'MSGS', 'NUDGES', 'LAST ACTIVITY'];

  it('says there are no open chats, and how to see every alert', () => {
    expect(renderStatus([], plain, { all: false })).toBe('No open chats. (irbot status --all shows every alert.)\n');
  });

  it('says there are no alerts yet with all, and how to post one', () => {
    expect(renderStatus([], plain, { all: true })).toBe('No alerts yet. Post one with: irbot send-alert\n');
  });

  it('prints a header and one line per row', () => {
    const text = renderStatus([aRow()], plain, { all: false });
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toBe(
      [
        'ALERT         NAME      PERSON             STATE   STARTED           MSGS  NUDGES  LAST ACTIVITY',
        'pivot-3f9a2c  Pivoting  Harold (U0HAROLD)  active  2026-11-27 10:00  2     0       2026-11-27 10:05',
        '',
      ].join('\n'),
    );
  });

  it("says the step-up's result in the state, red unless the push was approved", () => {
    const colour = new Chalk({ level: 1 });
    const ended = { state: 'ended' as const, outcome: 'answered' as const, aware: true };
    const rows = [
      aRow({ ...ended, verified: 'approved' }),
      aRow({ ...ended, id: 'pivot-2', verified: 'denied' }),
      aRow({ ...ended, id: 'pivot-3', verified: 'timeout' }),
      aRow({ ...ended, id: 'pivot-4', verified: 'not_enrolled' }),
    ];
    const lines = renderStatus(rows, plain, { all: true }).split('\n');
    expect(lines[1]).toContain('ended: answered, aware, verified');
    expect(lines[2]).toContain('ended: answered, aware, DENIED (push denied)');
    expect(lines[3]).toContain('ended: answered, aware, unverified (push timed out)');
    expect(lines[4]).toContain('ended: answered, aware, unverified (not enrolled)');
    const painted = renderStatus(rows, colour, { all: true }).split('\n');
    expect(painted[1]).toContain('\u001b[32mended: answered, aware, verified');
    expect(painted[2]).toContain('\u001b[31mended: answered, aware, DENIED (push denied)');
  });

  it('prints why each failed chat failed under the table', () => {
    const failure = `channel_not_found (no Slack user U0NOBODY)\u001b[2J`;
    const text = renderStatus([aRow(), aRow({ id: 'pivot-2', state: 'failed', failure })], plain, { all: false });
    expect(text.trimEnd().split('\n').at(-1)).toBe('pivot-2 failed: channel_not_found (no Slack user U0NOBODY)␛[2J');
  });

  it('prints each delivery refused for good under the table, a sink by its number in config.toml', () => {
    const delivery = {
      target: 'sink:1',
      event: 'ended',
      key: 'pivot-3f9a2c:ended',
      attempts: 1,
      retry_at: null,
      delivered_at: null,
    };
    const rows = [
      aRow({
        deliveries: [
          { ...delivery, state: 'failed', failure: 'HTTP 410' },
          { ...delivery, event: 'posted', state: 'delivered', failure: null },
        ],
      }),
    ];
    expect(renderStatus(rows, plain, { all: false }).trimEnd().split('\n').slice(2)).toEqual([
      'pivot-3f9a2c: ended event to sink #2 failed: HTTP 410',
    ]);
  });

  it('prints where each escalation went under the table, the names in it neutralised', () => {
    const escalated = {
      outcome: 'not_aware' as const,
      reason: 'Harold\u001b[2J was not aware of Pivoting',
      severity: 'error' as const,
      mention: '<!subteam^S0SECOPS>',
      pagerduty: 'delivered' as const,
    };
    const rows = [
      aRow({ escalated }),
      aRow({ id: 'pivot-2', escalated: { ...escalated, pagerduty: 'failed: PagerDuty answered 400', mention: null } }),
      aRow({ id: 'pivot-3', escalated: { ...escalated, pagerduty: null } }),
    ];
    expect(renderStatus(rows, plain, { all: true }).trimEnd().split('\n').slice(4)).toEqual([
      'pivot-3f9a2c escalated (not_aware): Harold␛[2J was not aware of Pivoting → <!subteam^S0SECOPS> in the thread, PagerDuty delivered',
      'pivot-2 escalated (not_aware): Harold␛[2J was not aware of Pivoting → the thread, PagerDuty failed',
      'pivot-3 escalated (not_aware): Harold␛[2J was not aware of Pivoting → <!subteam^S0SECOPS> in the thread',
    ]);
  });

  it('aligns every column under its header', () => {
    const rows = [
      aRow(),
      aRow({
        id: 'privesc-000001',
        name: 'Privileged Escalation',
        person: null,
        user_id: 'W0MARIA',
        state: 'ended',
        outcome: 'no_answer',
        nudges: 12,
        messages: 103,
        started_at: null,
      }),
      aRow({ id: 'x', name: 'X', state: 'queued', person: 'Bo' }),
    ];
    const [header = '', ...lines] = renderStatus(rows, plain, { all: true }).trimEnd().split('\n');
    const starts = HEADERS.map((h) => header.indexOf(h));
    expect(starts.every((start, i) => i === 0 || start > (starts[i - 1] ?? 0))).toBe(true);
    for (const line of lines) {
      for (const start of starts.slice(1)) {
        expect(line[start - 1]).toBe(' ');
        expect(line[start - 2]).toBe(' ');
        expect(line[start]).not.toBe(' ');
      }
    }
  });

  it('prints no trailing spaces', () => {
    const text = renderStatus([aRow({ name: 'A much longer alert name' }), aRow()], plain, { all: false });
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd());
  });

  it.each<[string, Partial<StatusRow>, string]>([
    ['an open chat by its state', { state: 'active' }, 'active'],
    ['a waiting chat by its state', { state: 'queued' }, 'queued'],
    ['an answered chat with awareness', { state: 'ended', outcome: 'answered', aware: true }, 'ended: answered, aware'],
    [
      'an answered chat without awareness',
      { state: 'ended', outcome: 'answered', aware: false },
      'ended: answered, not aware',
    ],
    ['an unanswered chat', { state: 'ended', outcome: 'no_answer', aware: null }, 'ended: no_answer'],
    [
      'an aware answer that needs review',
      { state: 'ended', outcome: 'answered', aware: true, needs_review: true },
      'ended: answered, aware (needs review)',
    ],
    [
      'a chat an analyst ended',
      { state: 'ended', outcome: 'ended_by_analyst', aware: null },
      'ended: ended_by_analyst',
    ],
  ])('shows %s', (_, overrides, state) => {
    expect(renderStatus([aRow(overrides)], plain, { all: true })).toContain(`  ${state}  `);
  });

  it('shows the person by user id alone when the name is not known', () => {
    const text = renderStatus([aRow({ person: null })], plain, { all: false });
    expect(text).toContain('  U0HAROLD  ');
    expect(text).not.toContain('(U0HAROLD)');
  });

  it('shows a dash for a chat not started yet', () => {
    const [, line = ''] = renderStatus([aRow({ state: 'posted', started_at: null })], plain, { all: true }).split('\n');
    expect(line.split(/ {2,}/)).toEqual([
      'pivot-3f9a2c',
      'Pivoting',
      'Harold (U0HAROLD)',
      'posted',
      '-',
      '2',
      '0',
      '2026-11-27 10:05',
    ]);
  });

  it('colours a not-aware or failed verdict red and an aware one green, keeping the columns aligned', () => {
    const rows = [
      aRow({ id: 'a', state: 'ended', outcome: 'answered', aware: false }),
      aRow({ id: 'b', state: 'ended', outcome: 'answered', aware: true }),
      aRow({ id: 'c', state: 'failed' }),
      aRow({ id: 'd' }),
    ];
    const [, a = '', b = '', c = '', d = ''] = renderStatus(rows, coloured, { all: true }).split('\n');
    expect(a).toContain(coloured.red('ended: answered, not aware'));
    expect(b).toContain(coloured.green('ended: answered, aware    '));
    expect(c).toContain(coloured.red('failed'.padEnd('ended: answered, not aware'.length)));
    expect(escapesIn(d)).toEqual([]);
    expect(renderStatus(rows, coloured, { all: true }).split('\n').map(stripAnsi)).toEqual(
      renderStatus(rows, plain, { all: true }).split('\n'),
    );
  });

  it('keeps a row on one line and its columns aligned whatever the name and person hold', () => {
    const rows = [
      aRow({ name: 'Pivot\nforged-1  Fake  row\u001b[2J\u202e', person: 'Har\rold' }),
      aRow({ name: 'Alarm :rotating_light: 日本' }),
    ];
    const text = renderStatus(rows, plain, { all: false });
    const [header = '', first = '', second = ''] = text.trimEnd().split('\n');
    expect(text.trimEnd().split('\n')).toHaveLength(3);
    expect(controlCharsIn(text)).toEqual([]);
    expect(first).toContain('Pivot␤forged-1  Fake  row␛[2J<U+202E>');
    expect(first).toContain('Har␍old (U0HAROLD)');
    expect(second).toContain('Alarm 🚨 日本');
    // Every PERSON cell starts in the header's column, counted in terminal columns.
    const column = header.indexOf('PERSON');
    const widthTo = (line: string, cell: string) => stringWidth(line.slice(0, line.indexOf(cell)));
    expect(widthTo(first, 'Har')).toBe(column);
    expect(widthTo(second, 'Harold')).toBe(column);
  });

  it('writes the header in bold only with colour', () => {
    const [header = ''] = renderStatus([aRow()], coloured, { all: false }).split('\n');
    expect(header).toBe(coloured.bold(stripAnsi(header)));
    expect(renderStatus([aRow()], plain, { all: false })).not.toContain(ESC);
  });
});
