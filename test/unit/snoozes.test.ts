// The pure rules of snoozes: durations, which alerts a snooze covers, and when it is active.
import { describe, expect, it } from 'vitest';
import {
  activeSnoozeFor,
  addSnooze,
  parseDuration,
  removeSnooze,
  snoozeMatches,
  snoozeState,
} from '../../src/snoozes.js';
import { emptyStore, type Snooze } from '../../src/store/port.js';

const NOW = new Date('2026-12-05T10:00:00.000Z');
const ANA = { id: 'ana', via: 'terminal' } as const;
const aSnooze = (overrides: Partial<Snooze> = {}): Snooze => ({
  id: 'sz-1',
  template: 'pivot',
  until: '2026-12-05T14:00:00.000Z',
  reason: 'cron',
  createdBy: ANA,
  createdAt: '2026-12-05T09:00:00.000Z',
  ...overrides,
});
const PIVOT = { id: 'pivot', userId: 'U0HAROLD', properties: { source_host: 'build-7', port: '22' } };

describe('parseDuration', () => {
  it.each([
    ['30m', 30 * 60_000],
    ['4h', 4 * 3_600_000],
    ['3d', 3 * 86_400_000],
    ['1d12h', 36 * 3_600_000],
    [' 2H ', 2 * 3_600_000],
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '4', 'h', '0h', '-1d', '1.5h', '4 h', '2w', '1y', 'forever'])('refuses %j', (text) =>
    expect(parseDuration(text)).toBeNull(),
  );
});

describe('snoozeMatches', () => {
  it('covers its template, for anyone when it names no user', () => {
    expect(snoozeMatches(aSnooze(), PIVOT)).toBe(true);
    expect(snoozeMatches(aSnooze(), { ...PIVOT, userId: 'U0ALICE' })).toBe(true);
    expect(snoozeMatches(aSnooze(), { ...PIVOT, id: 'privesc' })).toBe(false);
  });

  it('covers only its user, and only alerts carrying every property it names with that value', () => {
    expect(snoozeMatches(aSnooze({ user: 'U0HAROLD' }), PIVOT)).toBe(true);
    expect(snoozeMatches(aSnooze({ user: 'U0HAROLD' }), { ...PIVOT, userId: 'U0ALICE' })).toBe(false);
    expect(snoozeMatches(aSnooze({ match: { source_host: 'build-7', port: '22' } }), PIVOT)).toBe(true);
    expect(snoozeMatches(aSnooze({ match: { source_host: 'build-8' } }), PIVOT)).toBe(false);
    expect(snoozeMatches(aSnooze({ match: { missing: '' } }), PIVOT)).toBe(false);
    expect(snoozeMatches(aSnooze({ match: { toString: 'x' } }), PIVOT)).toBe(false);
  });
});

describe('active snoozes', () => {
  it('is active until `until`, then expired; removed wins', () => {
    expect(snoozeState(aSnooze(), NOW)).toBe('active');
    expect(snoozeState(aSnooze({ until: NOW.toISOString() }), NOW)).toBe('expired');
    expect(snoozeState(aSnooze({ removedAt: NOW.toISOString(), removedBy: ANA }), NOW)).toBe('removed');
  });

  it('finds the oldest active snooze that covers the alert, never a removed or expired one', () => {
    const data = emptyStore();
    expect(activeSnoozeFor(data, PIVOT, NOW)).toBeUndefined();
    data.snoozes = {
      'sz-old': aSnooze({ id: 'sz-old', until: '2026-12-05T09:59:00.000Z' }),
      'sz-gone': aSnooze({ id: 'sz-gone', removedAt: '2026-12-05T09:30:00.000Z', removedBy: ANA }),
      'sz-b': aSnooze({ id: 'sz-b', createdAt: '2026-12-05T09:40:00.000Z' }),
      'sz-a': aSnooze({ id: 'sz-a', createdAt: '2026-12-05T09:20:00.000Z' }),
    };
    expect(activeSnoozeFor(data, PIVOT, NOW)?.id).toBe('sz-a');
  });

  it('adds a snooze with a fresh id and removes it once, keeping it', () => {
    const data = emptyStore();
    const ids = ['1', '1', '2'];
    const first = addSnooze(
      data,
      { template: 'pivot', forMs: 60_000, reason: 'r', by: ANA, match: {} },
      NOW,
      () => ids.shift() ?? 'x',
    );
    const second = addSnooze(
      data,
      { template: 'pivot', forMs: 60_000, reason: 'r', by: ANA },
      NOW,
      () => ids.shift() ?? 'x',
    );
    expect([first.id, second.id]).toEqual(['sz-1', 'sz-2']);
    expect(first).not.toHaveProperty('match');
    expect(first.until).toBe('2026-12-05T10:01:00.000Z');
    expect(removeSnooze(data, 'sz-1', ANA, NOW).kind).toBe('removed');
    expect(removeSnooze(data, 'sz-1', ANA, NOW).kind).toBe('already');
    expect(removeSnooze(data, 'sz-9', ANA, NOW).kind).toBe('unknown');
    expect(Object.keys(data.snoozes ?? {})).toEqual(['sz-1', 'sz-2']);
  });
});
