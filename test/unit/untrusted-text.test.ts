// Tests of the neutraliser: every control, bidi and invisible character shown, never obeyed; Markdown never forged.
import { marked, type Token } from 'marked';
import { describe, expect, it } from 'vitest';
import { markdownInline, markdownQuote, neutralise, neutraliseLine, safeJson } from '../../src/untrusted-text.js';

/** What a terminal would act on rather than print, or what would reorder or hide text: none may survive. */
const unsafeIn = (text: string): string[] =>
  [...text].filter((c) => {
    const code = c.codePointAt(0) ?? 0;
    if (c === '\n' || c === '\t') return false;
    return (
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      [0x061c, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff].includes(code) ||
      [0x00ad, 0x034f, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180e, 0x3164, 0xffa0].includes(code) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2060 && code <= 0x206f) ||
      (code >= 0xfff9 && code <= 0xfffb) ||
      (code >= 0xe0000 && code <= 0xe007f)
    );
  });

const every = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCodePoint(from + i)).join('');

/** Links whose visible text is not their target: a bare URL linked by GFM shows where it goes, and is fine. */
function hiddenLinks(md: string): string[] {
  const hidden: string[] = [];
  marked.walkTokens(marked.lexer(md), (token) => {
    if (token.type === 'link' && token.text !== token.href) hidden.push(token.href);
  });
  return hidden;
}

/** Every block token Markdown makes of a text, nested ones included, by type. */
function blockTypes(md: string): string[] {
  const types: string[] = [];
  const walk = (tokens: Token[]) => {
    for (const token of tokens) {
      types.push(token.type);
      if ('tokens' in token && token.tokens) walk(token.tokens);
      if (token.type === 'list') for (const item of token.items) walk(item.tokens);
    }
  };
  walk(marked.lexer(md));
  return types;
}

describe('neutralise', () => {
  it.each([
    ['C0 controls but tab and newline', every(0x00, 0x08) + every(0x0b, 0x1f)],
    ['DEL', '\u007f'],
    ['C1 controls (CSI, OSC, NEL…)', every(0x80, 0x9f)],
    ['bidi embeddings and overrides', every(0x202a, 0x202e)],
    ['bidi isolates', every(0x2066, 0x2069)],
    ['bidi marks LRM, RLM and ALM', '\u200e\u200f\u061c'],
    ['line and paragraph separators', '\u2028\u2029'],
    ['invisible characters', `\u200b\u2060\u2063\ufeff${every(0xe0000, 0xe007f)}`],
    // "ad\u00admin" reads "admin" on screen.
    [
      'invisible format marks and fillers',
      '\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u206a\u206f\u3164\uffa0\ufff9\ufffb',
    ],
  ])('shows %s instead of passing them through', (_, chars) => {
    const out = neutralise(`a${chars}b`);
    expect(unsafeIn(out)).toEqual([]);
    expect(out.startsWith('a')).toBe(true);
    expect(out.endsWith('b')).toBe(true);
    // Each one has a visible stand-in: none is dropped silently.
    expect(out.length).toBeGreaterThan(chars.length);
  });

  it('shows C0 controls as their control pictures and the others as code points', () => {
    expect(neutralise('\u001b[2J\u0007\r\u0000\u007f')).toBe('␛[2J␇␍␀␡');
    expect(neutralise('\u009b31m')).toBe('<U+009B>31m');
    expect(neutralise('invoice\u202Efdp.exe')).toBe('invoice<U+202E>fdp.exe');
    expect(neutralise('\u{e0041}')).toBe('<U+E0041>');
  });

  it('keeps newlines, tabs, a CRLF as one newline, and every printable character', () => {
    expect(neutralise('one\r\ntwo\n\tthree')).toBe('one\ntwo\n\tthree');
    const printable = 'héllo — “quoted” 日本語 👍🏽 👨‍👩‍👧 <&> \\ ½';
    expect(neutralise(printable)).toBe(printable);
  });

  it('turns an OSC 8 hyperlink and a window-title sequence into plain visible text', () => {
    const osc = '\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007 \u001b]0;pwned\u0007';
    expect(neutralise(osc)).toBe('␛]8;;https://evil.example␇click␛]8;;␇ ␛]0;pwned␇');
  });
});

describe('neutraliseLine', () => {
  it('keeps a text on one line: a newline shows as ␤, a tab as a space', () => {
    expect(neutraliseLine('ok\n2026-01-01T00:00:00Z [listening] forged\tline\r')).toBe(
      'ok␤2026-01-01T00:00:00Z [listening] forged line␍',
    );
  });
});

describe('markdownQuote', () => {
  it('does not let a message make a heading: "hi\\n## Verdict\\naware"', () => {
    const md = markdownQuote('hi\n## Verdict\naware');
    expect(md).toBe('> hi\n> \\#\\# Verdict\n> aware');
    expect(blockTypes(md).filter((t) => t !== 'text' && t !== 'escape')).toEqual(['blockquote', 'paragraph']);
  });

  it.each([
    ['an ATX heading', '# Verdict'],
    ['a setext heading', 'Verdict\n==='],
    ['a setext heading of dashes', 'Verdict\n---'],
    ['a thematic break', '***'],
    ['a bullet list', '- aware: yes\n* done\n+ more'],
    ['an ordered list', '1. first\n2) second'],
    ['a code fence', '```\ncode\n```'],
    ['a tilde fence', '~~~\ncode\n~~~'],
    ['indented code', '    rm -rf /'],
    ['a nested quote', '> from the analyst'],
    ['a table', '| a | b |\n| --- | --- |\n| 1 | 2 |'],
    ['HTML', '<div>\n<script>alert(1)</script>\n</div>'],
    ['a link reference definition', '[x]: https://evil.example'],
  ])('keeps %s a paragraph of the quote', (_, text) => {
    const types = blockTypes(`${markdownQuote(text)}\n`);
    expect(types[0]).toBe('blockquote');
    const allowed = ['blockquote', 'paragraph', 'text', 'escape', 'br', 'space', 'link'];
    expect(types.filter((t) => !allowed.includes(t))).toEqual([]);
    expect(hiddenLinks(markdownQuote(text))).toEqual([]);
    expect(types.filter((t) => t === 'blockquote')).toHaveLength(1);
  });

  it.each([
    ['a link', '[your bank](https://evil.example)', 'image'],
    ['an image', '![x](https://evil.example/x.png)', 'image'],
    ['an autolink', '<https://evil.example>', 'html'],
    ['emphasis', '*very* __bold__ _it_', 'em'],
    ['strikethrough', '~~gone~~', 'del'],
    ['inline code', '`code`', 'codespan'],
    ['inline HTML', 'a <b onclick="x">b</b>', 'html'],
  ])('shows %s as written', (_, text, type) => {
    const md = markdownQuote(text);
    expect(blockTypes(md)).not.toContain(type);
    expect(blockTypes(md)).not.toContain('strong');
    expect(hiddenLinks(md)).toEqual([]);
    // What the reader sees is the text as the person wrote it.
    const quote = marked.lexer(md)[0] as { tokens?: Array<{ text?: string }> };
    expect((quote.tokens?.[0]?.text ?? '').replace(/\\(.)/g, '$1')).toBe(text);
  });

  it('does not let an entity bring back a bidi override or a tag', () => {
    const html = marked.parse(markdownQuote('&#x202E;&lt;script&gt;')) as string;
    expect(html).not.toContain('\u202e');
    expect(html).not.toContain('<script>');
  });

  it('neutralises control and bidi characters inside the quote', () => {
    expect(unsafeIn(markdownQuote('a\u001b[2Jb\u202ec'))).toEqual([]);
  });

  it('keeps an empty line of the message inside the quote, and leaves intraword underscores alone', () => {
    expect(markdownQuote('source_host\n\n_x_')).toBe('> source_host\n>\n> \\_x\\_');
  });

  it('keeps indentation without making code', () => {
    expect(markdownQuote('    indented')).toBe(`> ${'\u00a0'.repeat(4)}indented`);
  });
});

describe('markdownInline', () => {
  it('keeps a field on one line with its table pipes and heading closers escaped', () => {
    expect(markdownInline('Pivot | x\n## Verdict\naware #')).toBe('Pivot \\| x \\#\\# Verdict aware \\#');
  });

  it('leaves ordinary ids, hosts and times as written', () => {
    for (const text of ['pivot-3f9a2c', 'source.machine.org', 'source_host', '2025-01-02 10:00:00 UTC', 'U0HAROLD']) {
      expect(markdownInline(text)).toBe(text);
    }
  });

  it('neutralises control and bidi characters', () => {
    expect(markdownInline('a\u001b]0;x\u0007\u202eb')).toBe('a␛\\]0;x␇\\<U+202E\\>b');
  });
});

describe('safeJson', () => {
  it('escapes bidi, invisible and C1 characters, and parses back to the exact value', () => {
    const value = { name: 'Harold\u202e\u200bgnp.exe', note: 'a\u0085b\u{e0041}c', plain: 'é ✓ 🙂' };
    const text = safeJson(value, 2);
    expect(text).not.toMatch(/[\u0080-\u009f\u200b\u202e\u{e0041}]/u);
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\udb40\\udc41');
    expect(text).toContain('é ✓ 🙂');
    expect(JSON.parse(text)).toEqual(value);
  });
});
