// Tests of Slack formatting at a terminal: styles, emoji, mentions by name, links, entities; all after neutralising.
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { formatPlainText, formatSlackText } from '../../../src/cli/slack-format.js';

const plain = new Chalk({ level: 0 });
const coloured = new Chalk({ level: 1 });
const names: Record<string, string> = { U0HAROLD: 'Harold', U0SAM: 'Sam\u001b[2J' };
const nameOf = (id: string) => names[id];

describe('formatSlackText', () => {
  it.each([
    ['a mention by name', 'hi <@U0HAROLD>', 'hi @Harold'],
    ['a mention of someone unknown by id', 'hi <@U0NOBODY>', 'hi @U0NOBODY'],
    ['a mention with its label', '<@U0NOBODY|bob>', '@bob'],
    ['a user group', 'cc <!subteam^S0SEC|@security>', 'cc @security'],
    ['a user group without a label', 'cc <!subteam^S0SEC>', 'cc @S0SEC'],
    ['here and channel', '<!here> and <!channel>', '@here and @channel'],
    ['a channel', 'in <#C0FEED|security-alerts>', 'in #security-alerts'],
    ['a date by its fallback', '<!date^1392734382^{date}|Feb 18, 2014>', 'Feb 18, 2014'],
    [
      'a link with text',
      'see <https://x.example/a?b=1&amp;c=2|the runbook>',
      'see the runbook (https://x.example/a?b=1&c=2)',
    ],
    ['a bare link', '<https://x.example>', 'https://x.example'],
    ['a mail link', '<mailto:sec@x.example|sec@x.example>', 'sec@x.example'],
    ['escaped characters', 'a &lt;b&gt; &amp;amp; c', 'a <b> &amp; c'],
    ['emoji', 'done :white_check_mark: :+1: :thumbsup::skin-tone-3: :rotating_light:', 'done ✅ 👍 👍🏼 🚨'],
    ['an unknown emoji code as written', 'time :not-an-emoji: 10:30:00', 'time :not-an-emoji: 10:30:00'],
  ])('shows %s as Slack does', (_, raw, shown) => {
    expect(formatSlackText(raw, { chalk: plain, nameOf })).toBe(shown);
  });

  it('neutralises first: a name looked up, a label or the text cannot bring control characters back', () => {
    const out = formatSlackText('<@U0SAM> <https://x.example|\u001b]0;x\u0007> \u202e&lt;', { chalk: plain, nameOf });
    expect(out).toBe('@Sam␛[2J ␛]0;x␇ (https://x.example) <U+202E><');
  });

  it('keeps the neutraliser’s own <U+202E> as written, not as a link', () => {
    expect(formatSlackText('a\u202eb', { chalk: plain })).toBe('a<U+202E>b');
  });

  it('styles bold, italics, strikethrough and code with colour, and drops their markers', () => {
    const out = formatSlackText('*Verdict:* _aware_ ~maybe~ `rm -rf` a*b*c snake_case_name', { chalk: coloured });
    expect(out).toBe(
      `${coloured.bold('Verdict:')} ${coloured.italic('aware')} ${coloured.strikethrough('maybe')} ${coloured.cyan('rm -rf')} a*b*c snake_case_name`,
    );
  });

  it('keeps the markers without colour: they are all that shows the emphasis', () => {
    expect(formatSlackText('*Verdict:* _aware_', { chalk: plain })).toBe('*Verdict:* _aware_');
  });

  it('leaves a link’s URL unstyled and emoji codes in code as written', () => {
    const out = formatSlackText('<https://x.example/_a_/*b*|doc> `:smile:`', { chalk: coloured });
    expect(out).toBe(`doc (https://x.example/_a_/*b*) ${coloured.cyan(':smile:')}`);
  });
});

describe('formatPlainText', () => {
  it('names stored @U mentions, shows emoji, and leaves literal angle brackets and entities as typed', () => {
    expect(formatPlainText('ask @U0HAROLD :wave: <b> &lt;', { chalk: plain, nameOf })).toBe('ask @Harold 👋 <b> &lt;');
  });

  it('leaves URLs exactly as written, underscores and all', () => {
    const out = formatPlainText('see https://x.example/_a_/ and _this_', { chalk: coloured });
    expect(out).toBe(`see https://x.example/_a_/ and ${coloured.italic('this')}`);
  });

  it('neutralises control and bidi characters before anything else', () => {
    expect(formatPlainText('*a\u001b[2Jb*\u202e', { chalk: plain })).toBe('*a␛[2Jb*<U+202E>');
  });
});
