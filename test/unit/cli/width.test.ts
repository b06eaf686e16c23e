// Terminal columns: printable ASCII counted by hand, anything else by string-width, which loads only then.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { displayWidth, wrapColumns } from '../../../src/cli/width.js';

describe('displayWidth', () => {
  it('counts printable ASCII one column a character', () => {
    expect(displayWidth('login-0000c7  Admin console')).toBe(27);
    expect(displayWidth('')).toBe(0);
  });

  it('counts wide characters two columns, and colour codes none', () => {
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('ok 🔥')).toBe(5);
    expect(displayWidth('\x1b[31mred\x1b[39m')).toBe(3);
    expect(displayWidth('café')).toBe(4);
  });
});

describe('wrapColumns', () => {
  it('wraps to the width, cutting a word longer than a line', () => {
    expect(wrapColumns('one two three', 7)).toBe('one two\nthree');
    expect(wrapColumns('abcdefghij', 4)).toBe('abcd\nefgh\nij');
  });
});

describe('loading', () => {
  it('leaves string-width unloaded while every text is printable ASCII', () => {
    const probe = `
      import { createRequire } from 'node:module';
      const { displayWidth } = await import(${JSON.stringify(new URL('../../../dist/cli/width.js', import.meta.url).href)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('string-width'));
      displayWidth('plain text');
      const before = loaded();
      displayWidth('日本');
      console.log(JSON.stringify([before, loaded()]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([false, true]);
  });
});
