// Tests of fromSlackText, escapeText and quote: what a person writes reaches Slack as words, never as a ping, a link or a new paragraph.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeText, fromSlackText, quote } from '../../../src/slack/mrkdwn.js';

/** Any Slack control sequence: a broadcast, a user or group mention, a channel link or a URL link. */
const CONTROL_SEQUENCE = /<[!@#]|<(http|mailto|tel)/i;

/** What irbot posts in the alert's thread for a message Slack delivered. */
const relayed = (slackText: string): string => quote(fromSlackText(slackText));

const linesOf = (text: string): string[] => text.split('\n');

describe('fromSlackText', () => {
  it('shows broadcasts as the words the person typed', () => {
    expect(fromSlackText('<!channel> <!here> <!everyone>')).toBe('@channel @here @everyone');
  });

  it('shows user and channel mentions by their label, else by their id', () => {
    expect(fromSlackText('ask <@U0HAROLD> or <@U0ANA|ana> in <#C0FEED|security> or <#C0OPS>')).toBe(
      'ask @U0HAROLD or @ana in #security or #C0OPS',
    );
  });

  it('shows a channel mention with an empty label by its id', () => {
    expect(fromSlackText('<#C0FEED|>')).toBe('#C0FEED');
  });

  it('shows a user group mention by its handle, which Slack already writes with an @', () => {
    expect(fromSlackText('<!subteam^S0123|@security-team> look')).toBe('@security-team look');
  });

  it('shows a user group mention without a handle by its id', () => {
    expect(fromSlackText('<!subteam^S0123>')).toBe('@S0123');
  });

  it('shows a labelled link as its label followed by the real target, so the target is never hidden', () => {
    expect(fromSlackText('<https://evil.example/login|google.com>')).toBe('google.com (https://evil.example/login)');
  });

  it('shows a bare link, or one labelled with itself, once', () => {
    expect(fromSlackText('<https://example.org/a>')).toBe('https://example.org/a');
    expect(fromSlackText('<https://example.org/a|https://example.org/a>')).toBe('https://example.org/a');
  });

  it('decodes &amp; &lt; &gt; back to what was typed', () => {
    expect(fromSlackText('a &amp; b &lt;c&gt;')).toBe('a & b <c>');
  });

  it('decodes entities once, so a typed "&lt;" stays "&lt;"', () => {
    expect(fromSlackText('&amp;lt;b&amp;gt;')).toBe('&lt;b&gt;');
  });

  it('leaves a typed control sequence as plain text, never turning it into a mention', () => {
    expect(fromSlackText('&lt;!channel&gt;')).toBe('<!channel>');
  });

  it('leaves text without markup as it is', () => {
    expect(fromSlackText('no, that was not me :sweat_smile:')).toBe('no, that was not me :sweat_smile:');
  });
});

describe('escapeText', () => {
  it('escapes &, < and >', () => {
    expect(escapeText('a & b < c > d')).toBe('a &amp; b &lt; c &gt; d');
  });

  it('escapes an entity that was typed, so it shows as typed', () => {
    expect(escapeText('&lt;')).toBe('&amp;lt;');
  });

  it('neutralises typed control sequences', () => {
    expect(escapeText('<!channel> <@U0HAROLD> <https://evil|google.com>')).toBe(
      '&lt;!channel&gt; &lt;@U0HAROLD&gt; &lt;https://evil|google.com&gt;',
    );
  });

  it.each(['@channel', '@here', '@everyone', '@Channel', '@HERE'])('shows %s in code style', (word) => {
    expect(escapeText(`hey ${word}!`)).toBe(`hey \`${word}\`!`);
  });

  it('does not wrap a broadcast word that is already in code style twice', () => {
    expect(escapeText('typed `@here` by mistake')).toBe('typed `@here` by mistake');
  });

  it('leaves longer words that start like a broadcast alone', () => {
    expect(escapeText('@channels @hereford @everyones')).toBe('@channels @hereford @everyones');
  });

  it('leaves an email address at a domain that looks like a broadcast word alone', () => {
    expect(escapeText('write to ops@here.com')).toBe('write to ops@here.com');
  });

  it('leaves text without special characters as it is', () => {
    expect(escapeText('it was me, sorry :pray:')).toBe('it was me, sorry :pray:');
  });
});

describe('quote', () => {
  it('quotes a single line', () => {
    expect(quote('it was me')).toBe('> it was me');
  });

  it.each([
    ['\\n', 'one\ntwo\nthree'],
    ['\\r\\n', 'one\r\ntwo\r\nthree'],
    ['\\r', 'one\rtwo\rthree'],
    ['mixed', 'one\r\ntwo\rthree'],
  ])('quotes every line, whatever ends it (%s)', (_, text) => {
    expect(quote(text)).toBe('> one\n> two\n> three');
  });

  it('keeps empty lines inside the quote', () => {
    expect(quote('one\n\ntwo\n')).toBe('> one\n> \n> two\n> ');
  });

  it('keeps a line that starts with > inside the quote, escaped', () => {
    expect(quote('fine\n> Verdict: not aware')).toBe('> fine\n> &gt; Verdict: not aware');
  });

  it('escapes each line', () => {
    expect(quote('<!here>\n@channel & co')).toBe('> &lt;!here&gt;\n> `@channel` &amp; co');
  });
});

describe('relaying what Slack delivered (fromSlackText, then quote)', () => {
  // `slack` is the text as Slack delivers it in a message event; `words` must still be readable in the relay.
  const hostile: Array<{ name: string; slack: string; words: string[] }> = [
    { name: '@channel', slack: '<!channel> urgent', words: ['`@channel`', 'urgent'] },
    { name: '@here', slack: 'hi <!here>', words: ['hi', '`@here`'] },
    { name: '@everyone', slack: '<!everyone>', words: ['`@everyone`'] },
    { name: 'a labelled @channel', slack: '<!channel|channel> now', words: ['`@channel`', 'now'] },
    { name: 'a user group', slack: '<!subteam^S0123|@security-team> look', words: ['security-team', 'look'] },
    { name: 'a user mention', slack: 'ask <@U0BOSS> please', words: ['@U0BOSS', 'please'] },
    { name: 'a labelled user mention', slack: '<@U0BOSS|boss> knows', words: ['@boss', 'knows'] },
    { name: 'a channel link', slack: 'see <#C0GEN|general>', words: ['#general'] },
    {
      name: 'a forged link',
      slack: 'log in at <https://evil.example/login|google.com>',
      words: ['google.com', 'https://evil.example/login'],
    },
    { name: 'a mailto link', slack: '<mailto:ceo@corp.example|ceo@corp.example>', words: ['ceo@corp.example'] },
    { name: 'a typed <!channel>', slack: 'type &lt;!channel&gt; to ping', words: ['!channel', 'to ping'] },
    {
      name: 'a typed forged link',
      slack: '&lt;https://evil.example|google.com&gt;',
      words: ['https://evil.example|google.com'],
    },
    { name: 'a typed &lt;!here&gt;', slack: '&amp;lt;!here&amp;gt;', words: ['!here'] },
    { name: 'a mention inside angle brackets', slack: '&lt;<!channel>&gt;', words: ['`@channel`'] },
    { name: 'a newline then a ping', slack: 'fine\n<!channel> not quoted?', words: ['fine', 'not quoted?'] },
    { name: 'a CRLF then a ping', slack: 'fine\r\n<!here> escaped?', words: ['fine', 'escaped?'] },
    { name: 'a bare CR then a ping', slack: 'fine\r<@U0BOSS>', words: ['fine', '@U0BOSS'] },
    { name: 'a fake quote line', slack: 'ok\n&gt; *Verdict:* not aware', words: ['ok', '*Verdict:* not aware'] },
    { name: 'code-styled ping', slack: '`<!channel>`', words: ['`@channel`'] },
  ];

  it.each(hostile)('relays $name without any control sequence', ({ slack }) => {
    const out = relayed(slack);
    expect(out).not.toMatch(CONTROL_SEQUENCE);
    expect(out).not.toContain('<');
  });

  it.each(hostile)('relays $name with every line inside the quote', ({ slack }) => {
    const out = relayed(slack);
    expect(out).not.toContain('\r');
    for (const line of linesOf(out)) expect(line.startsWith('> ')).toBe(true);
  });

  it.each(hostile)('relays $name with its words still readable', ({ slack, words }) => {
    const out = relayed(slack);
    for (const word of words) expect(out).toContain(escapeText(word));
  });

  it('relays a typed @channel as `@channel` in code style', () => {
    expect(relayed('<!channel> was that me?')).toBe('> `@channel` was that me?');
  });

  it('relays a forged link with its real target in view', () => {
    expect(relayed('<https://evil.example|google.com>')).toBe('> google.com (https://evil.example)');
  });

  it('relays a multi-line message as one quote', () => {
    expect(relayed('who, me?\r\n<@U0BOSS> asked me to')).toBe('> who, me?\n> @U0BOSS asked me to');
  });

  it('never lets any delivered text out of the quote or into a control sequence', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const out = relayed(text);
        expect(out).not.toContain('<');
        expect(out).not.toContain('\r');
        for (const line of linesOf(out)) expect(line.startsWith('> ')).toBe(true);
      }),
    );
  });

  it('never lets any delivered markup-like text form a control sequence', () => {
    const piece = fc.constantFrom('<', '>', '&', '&lt;', '&gt;', '&amp;', '!', '@', '#', '|', '^', '\n', '\r', 'here');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const out = relayed(pieces.join(''));
        expect(out).not.toMatch(CONTROL_SEQUENCE);
        expect(out).not.toContain('<');
      }),
    );
  });
});
