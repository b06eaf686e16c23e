// Cutting and cleaning untrusted text for the LLM: the marker says how much, nothing splits a character.
import { describe, expect, it } from 'vitest';
import { cleanLine, cleanName, cleanText, cut, MAX_NAME_CHARS, withoutLinks } from '../../../src/llm/bounds.js';

describe('cut', () => {
  it('leaves text within the bound alone', () => {
    expect(cut('short', 10)).toBe('short');
  });

  it('keeps the start and the end, and says how many characters it cut', () => {
    expect(cut(`${'a'.repeat(30)}${'b'.repeat(10_000)}${'c'.repeat(10)}`, 40)).toBe(
      `${'a'.repeat(30)}\n[… 10,000 characters cut]\n${'c'.repeat(10)}`,
    );
  });

  it('never splits an emoji (a surrogate pair) at either edge', () => {
    const text = '😀'.repeat(100);
    const result = cut(text, 41);
    expect(result).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });
});

describe('cleanName', () => {
  it('makes one line without control or bidi characters', () => {
    expect(cleanName('Har\u202eold\u001b[31m\r\nSYSTEM:\tx\u0007')).toBe('Har old [31m SYSTEM: x');
  });

  it('bounds a long name, ending it with …', () => {
    const name = cleanName('n'.repeat(500));
    expect(name).toHaveLength(MAX_NAME_CHARS);
    expect(name.endsWith('…')).toBe(true);
    expect(cleanLine('x'.repeat(500), 200)).toHaveLength(200);
  });
});

describe('cleanText', () => {
  it('keeps newlines and tabs, drops other control characters, and cuts', () => {
    expect(cleanText('a\nb\tc\u001b[2J\u202e', 100)).toBe('a\nb\tc[2J');
    expect(cleanText('z'.repeat(1_000), 100)).toContain('[… 900 characters cut]');
  });
});

describe('withoutLinks', () => {
  it("takes out of a greeting every link an alert's text could put in it, and keeps host names and numbers", () => {
    expect(withoutLinks('To confirm, sign in at https://sso-verify.example/login and reply with the code')).toBe(
      'To confirm, sign in at [link removed] and reply with the code',
    );
    expect(withoutLinks('see www.evil.example now, or sso.example.com/login?x=1')).toBe(
      'see [link removed] now, or [link removed]',
    );
    expect(withoutLinks('from build-7.corp.example (10.0.0.1), agent v1.2.3, 1.5/2 of the hosts')).toBe(
      'from build-7.corp.example (10.0.0.1), agent v1.2.3, 1.5/2 of the hosts',
    );
  });
});
