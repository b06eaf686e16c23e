// Tests of the alert message's Block Kit in every chat state, its headline, verdict and details: the original bot's Slack contract.
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import type { Actor, Chat } from '../../../src/chat/types.js';
import { ALERT_LIMITS } from '../../../src/config/alerts.js';
import { blockProblems } from '../../../src/sandbox/local-slack-blocks.js';
import {
  ACTION_IDS,
  type AlertView,
  actorText,
  alertBlocks,
  alertHeadline,
  detailsText,
  verdictText,
} from '../../../src/slack/blocks.js';
import type { Block } from '../../../src/slack/port.js';

const at = '2026-11-27T10:00:00.000Z';
const later = '2026-11-27T10:07:00.000Z';
const analyst: Actor = { id: 'U0ANALYST', via: 'slack' };
const terminalAnalyst: Actor = { id: 'ana.lyst', via: 'terminal' };

const chatIn = (overrides: Partial<Chat> = {}): Chat => ({ ...newChat(), ...overrides });
const started = (overrides: Partial<Chat> = {}): Chat =>
  chatIn({ state: 'active', startedBy: analyst, startedAt: at, ...overrides });
const ended = (overrides: Partial<Chat> = {}): Chat =>
  started({ state: 'ended', endedAt: later, outcome: 'answered', aware: true, personMessages: 1, ...overrides });

function anAlert(overrides: Partial<AlertView> = {}): AlertView {
  return {
    id: 'pivot-3f9a2c',
    name: 'Pivoting',
    description: 'User was found pivoting from one host to another',
    userId: 'U0HAROLD',
    properties: { source_host: 'source.machine.org', destination_host: 'destination.machine.org' },
    chat: newChat(),
    ...overrides,
  };
}

const blocksFor = (chat: Chat, overrides: Partial<AlertView> = {}): Block[] =>
  alertBlocks(anAlert({ chat, ...overrides }));

const textOf = (block: Block): string => (block.text as { text: string }).text;
const sections = (blocks: Block[]): Block[] => blocks.filter((b) => b.type === 'section');
const sectionTexts = (blocks: Block[]): string[] => sections(blocks).map(textOf);
const sectionWithId = (blocks: Block[], blockId: string): Block | undefined =>
  blocks.find((b) => b.type === 'section' && b.block_id === blockId);
const actionsOf = (blocks: Block[]): Block[] => blocks.filter((b) => b.type === 'actions');
const buttonsOf = (blocks: Block[]): Block[] => actionsOf(blocks).flatMap((b) => b.elements as Block[]);

describe('a posted alert', () => {
  const blocks = blocksFor(newChat());

  it('names the incident and the person in its headline section', () => {
    expect(blocks[0]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: 'Incident: Pivoting with user <@U0HAROLD>', verbatim: true },
    });
  });

  it('points to the details in the thread', () => {
    expect(blocks[1]).toEqual({
      type: 'context',
      elements: [{ type: 'plain_text', text: 'Details in :thread:', emoji: true }],
    });
  });

  it('offers Start Chat, Do Nothing and Snooze 24 h, each carrying the alert id', () => {
    expect(actionsOf(blocks)).toHaveLength(1);
    expect(buttonsOf(blocks)).toEqual([
      {
        type: 'button',
        text: { type: 'plain_text', emoji: true, text: 'Start Chat' },
        style: 'primary',
        value: 'pivot-3f9a2c',
        action_id: 'start_chat_submit_action',
      },
      {
        type: 'button',
        text: { type: 'plain_text', emoji: true, text: 'Do Nothing' },
        style: 'danger',
        value: 'pivot-3f9a2c',
        action_id: 'do_nothing_submit_action',
      },
      {
        type: 'button',
        text: { type: 'plain_text', emoji: true, text: 'Snooze 24 h' },
        value: 'pivot-3f9a2c',
        action_id: 'snooze_24h_submit_action',
      },
    ]);
  });

  it('has nothing else', () => {
    expect(blocks).toHaveLength(3);
  });
});

describe('an active chat', () => {
  it('offers only End Chat, carrying the alert id', () => {
    expect(buttonsOf(blocksFor(started()))).toEqual([
      {
        type: 'button',
        text: { type: 'plain_text', emoji: true, text: 'End Chat' },
        style: 'danger',
        value: 'pivot-3f9a2c',
        action_id: 'end_chat_submit_action',
      },
    ]);
  });

  it('says who started the chat in Slack, by mention', () => {
    expect(sectionWithId(blocksFor(started()), 'started_chat')).toMatchObject({
      text: { text: '<@U0ANALYST> started a chat.' },
    });
  });

  it('says who started the chat at a terminal, by OS user name', () => {
    expect(sectionWithId(blocksFor(started({ startedBy: terminalAnalyst })), 'started_chat')).toMatchObject({
      text: { text: 'ana.lyst started a chat.' },
    });
  });

  it('escapes a terminal user name, so it cannot ping or forge a link', () => {
    const startedBy: Actor = { id: '<!channel>&<https://evil|x>', via: 'terminal' };
    const text = textOf(sectionWithId(blocksFor(started({ startedBy })), 'started_chat') ?? {});
    expect(text).toBe('&lt;!channel&gt;&amp;&lt;https://evil|x&gt; started a chat.');
  });

  it('has no queued note', () => {
    expect(sectionWithId(blocksFor(started()), 'queued')).toBeUndefined();
  });
});

describe('a queued chat', () => {
  const blocks = blocksFor(started({ state: 'queued' }));

  it('offers only End Chat', () => {
    expect(buttonsOf(blocks).map((b) => b.action_id)).toEqual([ACTION_IDS.end]);
  });

  it('says who started it and that it waits for the person’s other chat', () => {
    expect(textOf(sectionWithId(blocks, 'started_chat') ?? {})).toBe('<@U0ANALYST> started a chat.');
    expect(textOf(sectionWithId(blocks, 'queued') ?? {})).toMatch(/^<@U0HAROLD> is in another chat/);
  });
});

describe('a failed chat', () => {
  const failure = 'the DM to U0NOBODY failed with channel_not_found (no Slack user U0NOBODY: check <this>)';
  const blocks = blocksFor(started({ state: 'failed', failure, endedAt: later }));

  it('has no buttons, and says why it failed with the fix instead of still saying it started', () => {
    expect(actionsOf(blocks)).toEqual([]);
    expect(textOf(sectionWithId(blocks, 'chat_failed') ?? {})).toBe(
      ':x: The chat failed: the DM to U0NOBODY failed with channel_not_found (no Slack user U0NOBODY: check &lt;this&gt;)',
    );
  });
});

describe('a dismissed alert', () => {
  it('has no buttons', () => {
    expect(actionsOf(blocksFor(chatIn({ state: 'dismissed', endedBy: analyst, endedAt: at })))).toEqual([]);
  });

  it('says who decided that no action was necessary', () => {
    const blocks = blocksFor(chatIn({ state: 'dismissed', endedBy: analyst, endedAt: at }));
    expect(sectionWithId(blocks, 'do_nothing')).toMatchObject({
      text: { text: '<@U0ANALYST> decided that no action was necessary :white_check_mark:' },
    });
  });

  it('says so from a terminal too, by OS user name', () => {
    const blocks = blocksFor(chatIn({ state: 'dismissed', endedBy: terminalAnalyst, endedAt: at }));
    expect(textOf(sectionWithId(blocks, 'do_nothing') ?? {})).toMatch(/^ana\.lyst decided/);
  });

  it('says "Someone" when it is not known who dismissed it', () => {
    const blocks = blocksFor(chatIn({ state: 'dismissed' }));
    expect(textOf(sectionWithId(blocks, 'do_nothing') ?? {})).toMatch(/^Someone decided/);
  });
});

describe('an ended chat', () => {
  it.each<[string, Chat]>([
    ['answered', ended()],
    ['no_answer', ended({ outcome: 'no_answer', aware: null, nudges: 3 })],
    ['ended_by_analyst', ended({ outcome: 'ended_by_analyst', aware: null, endedBy: analyst })],
  ])('has no buttons when %s', (_, chat) => {
    expect(actionsOf(blocksFor(chat))).toEqual([]);
  });

  it('still says who started it', () => {
    expect(sectionWithId(blocksFor(ended()), 'started_chat')).toMatchObject({
      text: { text: '<@U0ANALYST> started a chat.' },
    });
  });

  it('gives the verdict when the person answered and was aware', () => {
    expect(sectionWithId(blocksFor(ended()), 'end_chat_automatically')).toMatchObject({
      text: {
        text: 'The chat was automatically ended: <@U0HAROLD> answered and was *aware* of the activity :white_check_mark:',
      },
    });
  });

  it('says an aware answer needs review when a reply tried to instruct the bot', () => {
    expect(textOf(sectionWithId(blocksFor(ended({ steering: 1 })), 'end_chat_automatically') ?? {})).toBe(
      'The chat was automatically ended: <@U0HAROLD> answered and was *aware* of the activity — ' +
        "*needs review*: the person's reply tried to instruct the bot :warning:",
    );
  });

  it('gives the verdict when the person answered and was not aware', () => {
    const text = textOf(sectionWithId(blocksFor(ended({ aware: false })), 'end_chat_automatically') ?? {});
    expect(text).toContain('<@U0HAROLD> answered and was *not aware* of the activity');
  });

  it('gives the verdict when the person never answered', () => {
    const blocks = blocksFor(ended({ outcome: 'no_answer', aware: null, nudges: 3 }));
    expect(textOf(sectionWithId(blocks, 'end_chat_automatically') ?? {})).toBe(
      'The chat was automatically ended: no answer from <@U0HAROLD> after 3 nudges :white_check_mark:',
    );
    expect(sectionWithId(blocks, 'end_chat_manually')).toBeUndefined();
  });

  it('says which analyst ended the chat', () => {
    const blocks = blocksFor(ended({ outcome: 'ended_by_analyst', aware: null, endedBy: analyst }));
    expect(sectionWithId(blocks, 'end_chat_manually')).toMatchObject({
      text: { text: '<@U0ANALYST> has ended the chat :white_check_mark:' },
    });
    expect(sectionWithId(blocks, 'end_chat_automatically')).toBeUndefined();
  });

  it('says which terminal user ended the chat, escaped', () => {
    const endedBy: Actor = { id: 'ana&co', via: 'terminal' };
    const blocks = blocksFor(ended({ outcome: 'ended_by_analyst', aware: null, endedBy }));
    expect(textOf(sectionWithId(blocks, 'end_chat_manually') ?? {})).toBe(
      'ana&amp;co has ended the chat :white_check_mark:',
    );
  });

  it('says "Someone" ended the chat when it is not known who', () => {
    const blocks = blocksFor(ended({ outcome: 'ended_by_analyst', aware: null, endedBy: null }));
    expect(textOf(sectionWithId(blocks, 'end_chat_manually') ?? {})).toBe(
      'Someone has ended the chat :white_check_mark:',
    );
  });
});

describe('every state', () => {
  const hostileName = '<!channel> & <https://evil.example|google.com> '.repeat(20);
  const states: Array<[string, Chat]> = [
    ['posted', newChat()],
    ['active', started()],
    ['active from a terminal', started({ startedBy: terminalAnalyst })],
    ['queued', started({ state: 'queued' })],
    ['dismissed', chatIn({ state: 'dismissed', endedBy: analyst })],
    ['ended: answered', ended()],
    ['ended: no_answer', ended({ outcome: 'no_answer', aware: null, nudges: 1 })],
    ['ended_by_analyst', ended({ outcome: 'ended_by_analyst', aware: null, endedBy: terminalAnalyst })],
    ['failed', started({ state: 'failed', failure: 'channel_not_found' })],
  ];

  it.each(states)('keeps every section text of a %s alert within 3000 characters', (_, chat) => {
    for (const text of sectionTexts(blocksFor(chat, { name: hostileName }))) {
      expect(text.length).toBeLessThanOrEqual(3000);
    }
  });

  it.each(states)('gives the blocks of a %s alert unique block_ids', (_, chat) => {
    const ids = blocksFor(chat).flatMap((b) => (b.block_id === undefined ? [] : [b.block_id]));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(states)('starts a %s alert with the same headline and details pointer', (_, chat) => {
    const blocks = blocksFor(chat);
    expect(textOf(blocks[0] ?? {})).toBe('Incident: Pivoting with user <@U0HAROLD>');
    expect(blocks[1]?.type).toBe('context');
  });

  it.each(states)('never lets the alert name of a %s alert ping or link', (_, chat) => {
    for (const text of sectionTexts(blocksFor(chat, { name: hostileName }))) {
      expect(text.replace(/<@U0[A-Z]+>/g, '')).not.toMatch(/<[!@#]|<http/);
    }
  });

  it('keeps the headline within 3000 characters for a very long alert name', () => {
    const blocks = blocksFor(newChat(), { name: 'x'.repeat(5000) });
    const headline = textOf(blocks[0] ?? {});
    expect(headline.length).toBeLessThanOrEqual(3000);
    expect(headline).toMatch(/^Incident: x+/);
    expect(headline).toContain('<@U0HAROLD>');
  });
});

describe('alertHeadline', () => {
  it('names the incident and mentions the person', () => {
    expect(alertHeadline({ name: 'Privileged Escalation', userId: 'W0HAROLD' })).toBe(
      'Incident: Privileged Escalation with user <@W0HAROLD>',
    );
  });

  it('escapes the alert name, so it cannot ping or forge a link', () => {
    expect(alertHeadline({ name: '<!channel> R&D <https://evil|google.com>', userId: 'U0HAROLD' })).toBe(
      'Incident: &lt;!channel&gt; R&amp;D &lt;https://evil|google.com&gt; with user <@U0HAROLD>',
    );
  });

  it('shows a broadcast word in the name in code style', () => {
    expect(alertHeadline({ name: 'Login from @here', userId: 'U0HAROLD' })).toBe(
      'Incident: Login from `@here` with user <@U0HAROLD>',
    );
  });
});

describe('actorText', () => {
  it('mentions a Slack user', () => {
    expect(actorText({ id: 'U0ANALYST', via: 'slack' })).toBe('<@U0ANALYST>');
  });

  it('writes a terminal user’s OS name as escaped plain text', () => {
    expect(actorText({ id: 'ana', via: 'terminal' })).toBe('ana');
    expect(actorText({ id: '<@U0BOSS>', via: 'terminal' })).toBe('&lt;@U0BOSS&gt;');
  });
});

describe('verdictText', () => {
  it.each<[string, Partial<Chat>, string]>([
    [
      'answered and aware',
      { outcome: 'answered', aware: true },
      '<@U0HAROLD> answered and was *aware* of the activity',
    ],
    [
      'answered and not aware',
      { outcome: 'answered', aware: false },
      '<@U0HAROLD> answered and was *not aware* of the activity',
    ],
    [
      'aware after a reply that tried to instruct the bot',
      { outcome: 'answered', aware: true, steering: 2 },
      "<@U0HAROLD> answered and was *aware* of the activity — *needs review*: the person's reply tried to instruct the bot",
    ],
    [
      'not aware after a reply that tried to instruct the bot',
      { outcome: 'answered', aware: false, steering: 1 },
      '<@U0HAROLD> answered and was *not aware* of the activity',
    ],
    ['no answer after 1 nudge', { outcome: 'no_answer', nudges: 1 }, 'no answer from <@U0HAROLD> after 1 nudge'],
    ['no answer after 0 nudges', { outcome: 'no_answer', nudges: 0 }, 'no answer from <@U0HAROLD> after 0 nudges'],
    ['no answer after 3 nudges', { outcome: 'no_answer', nudges: 3 }, 'no answer from <@U0HAROLD> after 3 nudges'],
    ['ended by an analyst', { outcome: 'ended_by_analyst' }, 'ended by an analyst before an answer'],
    ['still open', { outcome: null }, 'open'],
  ])('words the verdict %s', (_, overrides, expected) => {
    expect(verdictText(chatIn(overrides), 'U0HAROLD')).toBe(expected);
  });
});

describe('detailsText', () => {
  it('lists the alert id, the description and every property in order', () => {
    expect(detailsText(anAlert())).toBe(
      [
        '*Alert* `pivot-3f9a2c`',
        '*Description:* User was found pivoting from one host to another',
        '• *source_host:* source.machine.org',
        '• *destination_host:* destination.machine.org',
      ].join('\n'),
    );
  });

  it('leaves out an empty description', () => {
    expect(detailsText(anAlert({ description: '', properties: { host: 'h1' } }))).toBe(
      '*Alert* `pivot-3f9a2c`\n• *host:* h1',
    );
  });

  it('lists only the id when there is nothing else', () => {
    expect(detailsText(anAlert({ description: '', properties: {} }))).toBe('*Alert* `pivot-3f9a2c`');
  });

  it('escapes the description and every property name and value', () => {
    const text = detailsText(
      anAlert({
        description: 'Seen by <!here> & <@U0BOSS>',
        properties: { '<!channel>': '<https://evil|google.com>', 'a&b': 'x > y' },
      }),
    );
    expect(text).toBe(
      [
        '*Alert* `pivot-3f9a2c`',
        '*Description:* Seen by &lt;!here&gt; &amp; &lt;@U0BOSS&gt;',
        '• *&lt;!channel&gt;:* &lt;https://evil|google.com&gt;',
        '• *a&amp;b:* x &gt; y',
      ].join('\n'),
    );
    expect(text).not.toMatch(/<[!@#]|<http/);
  });

  it('cannot be made to show a line the SIEM did not send: a property is one line, a long description is quoted', () => {
    const text = detailsText(
      anAlert({
        description: 'Impossible travel\n• *mfa:* passed (known device)',
        properties: {
          source_ip: '203.0.113.9\n• *verified_by_soc:* yes — benign',
          'country\n• *allowlisted': 'yes',
          note: 'invoice\u202efdp.exe',
        },
      }),
    );
    expect(text).toBe(
      [
        '*Alert* `pivot-3f9a2c`',
        '*Description:*',
        '> Impossible travel',
        '> • *mfa:* passed (known device)',
        '• *source_ip:* 203.0.113.9␤• *verified_by_soc:* yes — benign',
        '• *country␤• *allowlisted:* yes',
        '• *note:* invoice&lt;U+202E&gt;fdp.exe',
      ].join('\n'),
    );
  });
});

describe('Slack’s Block Kit limits, with every field at its intake bound', () => {
  const worst = anAlert({
    id: `${'x'.repeat(ALERT_LIMITS.id)}-000001`,
    name: '😀&'.repeat(ALERT_LIMITS.name),
    description: '<'.repeat(ALERT_LIMITS.description),
    userId: `W${'0'.repeat(ALERT_LIMITS.userId - 1)}`,
    properties: Object.fromEntries(
      Array.from({ length: ALERT_LIMITS.properties }, (_, i) => [`k${i}`, '&'.repeat(2000)]),
    ),
  });
  const longActor: Actor = { id: '<'.repeat(256), via: 'terminal' };
  const states: Array<[string, Chat]> = [
    ['posted', newChat()],
    ['active', started({ startedBy: longActor })],
    ['queued', started({ state: 'queued', startedBy: longActor })],
    ['dismissed', chatIn({ state: 'dismissed', endedBy: longActor })],
    ['ended: no_answer', ended({ outcome: 'no_answer', aware: null, nudges: 20 })],
    ['ended_by_analyst', ended({ outcome: 'ended_by_analyst', aware: null, endedBy: longActor, startedBy: longActor })],
  ];

  it.each(states)(
    'a %s alert: sections ≤ 3000, ≤ 50 blocks, button values ≤ 2000, headline text well-formed',
    (_, chat) => {
      const blocks = alertBlocks({ ...worst, chat });
      expect(blockProblems(blocks)).toEqual([]);
      expect(blocks.length).toBeLessThanOrEqual(50);
      const headline = alertHeadline(worst);
      expect(headline.length).toBeLessThanOrEqual(3000);
      expect(headline).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/u);
    },
  );
});
