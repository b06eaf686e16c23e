// Alert and snooze ids: never the id of an alert archived in another second, however many there are.
import { describe, expect, it } from 'vitest';
import { timedId } from '../../../src/cli/deps.js';

describe('timedId', () => {
  it('is the second it was made, in base 36, then 16 random bits: ids of two seconds never clash', () => {
    const at = Date.parse('2026-12-04T21:00:00.000Z');
    const id = timedId(at);
    expect(id).toMatch(/^[0-9a-z]{6}[0-9a-f]{4}$/);
    expect(id.slice(0, 6)).toBe(Math.floor(at / 1000).toString(36));
    const earlier = new Set(Array.from({ length: 200 }, () => timedId(at - 1000)));
    for (let i = 0; i < 200; i++) expect(earlier.has(timedId(at))).toBe(false);
  });
});
