// Tests of splitMessage and packMessages: any text reaches Slack whole, in order, in messages under the limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeText, quote } from '../../../src/slack/mrkdwn.js';
import { MAX_MESSAGE_CHARS, packMessages, splitMessage } from '../../../src/slack/split.js';

/** Text as people write it, heavy in what escaping grows and what a cut must not break. */
const words = fc.string({
  unit: fc.oneof(
    fc.constantFrom('<', '>', '&', '\n', ' ', '@channel', '😀', 'é', 'a', 'b'),
    fc.string({ minLength: 1, maxLength: 8 }),
  ),
  maxLength: 400,
});
/** Escaped text with irbot's own control sequences in it, as a relay or a details post carries them. */
const posted = fc
  .array(fc.oneof(words.map(escapeText), words.map(quote), fc.constantFrom('<@U0HAROLD>', '<!here>', '<@W0ANA>')))
  .map((pieces) => pieces.join(''));

/** Every position of `text` where a cut would break an escape, a control sequence or a surrogate pair. */
function unsafeCuts(text: string): Set<number> {
  const inside = new Set<number>();
  for (const match of text.matchAll(/&(?:amp|lt|gt);|<[^<>]*>/g)) {
    for (let at = match.index + 1; at < match.index + match[0].length; at++) inside.add(at);
  }
  for (let at = 1; at < text.length; at++) {
    const high = text.charCodeAt(at - 1);
    const low = text.charCodeAt(at);
    if (high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) inside.add(at);
  }
  return inside;
}

describe('splitMessage', () => {
  it('leaves a text within the limit whole', () => {
    expect(splitMessage('hello')).toEqual(['hello']);
    expect(splitMessage('')).toEqual(['']);
    expect(splitMessage('x'.repeat(MAX_MESSAGE_CHARS))).toHaveLength(1);
  });

  it('cuts any text into parts within the limit that join back into it, never inside an escape or a pair', () => {
    fc.assert(
      fc.property(posted, fc.integer({ min: 32, max: 300 }), (text, limit) => {
        const parts = splitMessage(text, limit);
        expect(parts.join('')).toBe(text);
        for (const part of parts) expect(part.length).toBeLessThanOrEqual(limit);
        for (const part of parts.slice(0, -1)) expect(part.length).toBeGreaterThan(0);
        const unsafe = unsafeCuts(text);
        let at = 0;
        for (const part of parts.slice(0, -1)) {
          at += part.length;
          expect(unsafe.has(at), `cut at ${at} of ${JSON.stringify(text)}`).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('cuts after a line break when there is one in the second half', () => {
    const line = 'a'.repeat(30);
    expect(splitMessage(`${line}\n${line}\n${line}`, 70)).toEqual([`${line}\n${line}\n`, line]);
  });

  it('cuts 40,000 escaped < into messages of Slack’s limit, at escape boundaries', () => {
    const text = escapeText('<'.repeat(40_000));
    expect(text).toHaveLength(160_000);
    const parts = splitMessage(text);
    expect(parts).toHaveLength(4);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
      expect(part).toMatch(/^(&lt;)+$/);
    }
  });

  it('keeps an emoji whole at the cut', () => {
    const parts = splitMessage(`a${'😀'.repeat(20)}`, 10);
    expect(parts.join('')).toBe(`a${'😀'.repeat(20)}`);
    for (const part of parts)
      expect(part).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u);
  });
});

/** The messages of one text joined back: the quote marker a cut line got again is taken out. */
function unsplit(messages: string[]): string {
  return messages.reduce((text, message, i) => {
    const before = messages[i - 1];
    const line = before?.slice(before.lastIndexOf('\n') + 1);
    const requoted = line?.startsWith('> ') && !before?.endsWith('\n') && message.startsWith('> ');
    return text + (requoted ? message.slice(2) : message);
  }, '');
}

describe('packMessages', () => {
  it('splits one long text into messages within the limit that give it back, in order', () => {
    fc.assert(
      fc.property(posted, fc.integer({ min: 32, max: 300 }), (text, limit) => {
        const messages = packMessages([text], '\n\n', limit);
        for (const message of messages) expect(message.length).toBeLessThanOrEqual(limit);
        expect(unsplit(messages)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every line of a quoted text quoted, even a line cut in two', () => {
    fc.assert(
      fc.property(
        words.filter((w) => w !== ''),
        fc.integer({ min: 32, max: 300 }),
        (text, limit) => {
          const quoted = quote(text);
          for (const message of packMessages([quoted], '\n\n', limit)) {
            for (const line of message.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1)) {
              expect(line.startsWith('> ')).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
    const messages = packMessages([quote('x'.repeat(100_000))], '\n\n');
    expect(messages.length).toBe(3);
    for (const message of messages) expect(message).toMatch(/^> x+$/);
  });

  it('coalesces texts that fit, in order, and never builds a message over the limit', () => {
    fc.assert(
      fc.property(fc.array(posted, { maxLength: 8 }), fc.integer({ min: 32, max: 300 }), (texts, limit) => {
        const fitting = texts.filter((text) => text.length <= limit);
        const messages = packMessages(fitting, '\n\n', limit);
        for (const message of messages) expect(message.length).toBeLessThanOrEqual(limit);
        expect(messages.join('\n\n')).toBe(fitting.join('\n\n'));
      }),
      { numRuns: 300 },
    );
    expect(packMessages(['a', 'b', 'c'], '\n\n', 4)).toEqual(['a\n\nb', 'c']);
    expect(packMessages(['x'.repeat(30_000), 'y'.repeat(30_000)], '\n\n')).toEqual([
      'x'.repeat(30_000),
      'y'.repeat(30_000),
    ]);
    expect(packMessages([], '\n\n')).toEqual([]);
  });
});
