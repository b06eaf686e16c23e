// Working hours in the person's zone: night, weekend, a DST change, working time between two instants.
import { describe, expect, it } from 'vitest';
import {
  isKnownZone,
  localClock,
  localWhen,
  nextWorkingStart,
  personClock,
  workingMsBetween,
} from '../../../src/chat/working-hours.js';

const OFFICE = { start: 9 * 60, end: 18 * 60, days: [1, 2, 3, 4, 5] };
const EVERY_DAY = { ...OFFICE, days: [0, 1, 2, 3, 4, 5, 6] };
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const MINUTE = 60_000;

describe('nextWorkingStart', () => {
  it('is now while the person is working, in their own zone', () => {
    // 10:00 UTC is 11:00 in Paris and 23:00 in Auckland (summer, +13) on a Friday.
    expect(iso(nextWorkingStart(at('2026-11-27T10:00:00Z'), OFFICE, 'Europe/Paris'))).toBe('2026-11-27T10:00:00.000Z');
    expect(iso(nextWorkingStart(at('2026-11-27T10:00:00Z'), OFFICE, 'Pacific/Auckland'))).toBe(
      '2026-11-29T20:00:00.000Z', // Monday 09:00 in Auckland
    );
  });

  it('is the next morning for a person where it is night', () => {
    // Thursday 22:40 in Paris (UTC+1) → Friday 09:00 Paris = 08:00 UTC.
    expect(iso(nextWorkingStart(at('2026-11-26T21:40:00Z'), OFFICE, 'Europe/Paris'))).toBe('2026-11-27T08:00:00.000Z');
    // Before work the same day.
    expect(iso(nextWorkingStart(at('2026-11-27T05:00:00Z'), OFFICE, 'Europe/Paris'))).toBe('2026-11-27T08:00:00.000Z');
  });

  it('skips the weekend to Monday', () => {
    // Friday 18:30 and Saturday noon in Paris → Monday 09:00.
    expect(iso(nextWorkingStart(at('2026-11-27T17:30:00Z'), OFFICE, 'Europe/Paris'))).toBe('2026-11-30T08:00:00.000Z');
    expect(iso(nextWorkingStart(at('2026-11-28T11:00:00Z'), OFFICE, 'Europe/Paris'))).toBe('2026-11-30T08:00:00.000Z');
  });

  it('follows a DST change: Paris springs forward on the last Sunday of March', () => {
    // Saturday 27 March 2027, 23:00 CET (UTC+1) → Sunday 09:00 CEST (UTC+2) = 07:00 UTC, only 8 h later.
    expect(iso(nextWorkingStart(at('2027-03-27T22:00:00Z'), EVERY_DAY, 'Europe/Paris'))).toBe(
      '2027-03-28T07:00:00.000Z',
    );
    // Weekdays only: Monday 29 March 09:00 CEST.
    expect(iso(nextWorkingStart(at('2027-03-27T22:00:00Z'), OFFICE, 'Europe/Paris'))).toBe('2027-03-29T07:00:00.000Z');
    // And back in October: Sunday 31 October 2027 09:00 CET = 08:00 UTC.
    expect(iso(nextWorkingStart(at('2027-10-30T22:00:00Z'), EVERY_DAY, 'Europe/Paris'))).toBe(
      '2027-10-31T08:00:00.000Z',
    );
  });

  it('starts at the first minute after a DST gap, whichever side of UTC the zone is, never in the hour before', () => {
    const EARLY = { start: 2 * 60, end: 10 * 60, days: [0, 1, 2, 3, 4, 5, 6] };
    // New York springs forward at 02:00 on 8 March 2026: 02:00 does not exist, 03:00 EDT (07:00 UTC) is first.
    expect(iso(nextWorkingStart(at('2026-03-08T04:00:00Z'), EARLY, 'America/New_York'))).toBe(
      '2026-03-08T07:00:00.000Z',
    );
    // St John's (UTC-3:30) the same day; a start inside the gap is the change itself: 02:30 → 03:00, east of UTC
    // (Paris, 29 March 2026: 03:00 CEST, 01:00 UTC) and west (St John's: 03:00 NDT, 05:30 UTC).
    expect(iso(nextWorkingStart(at('2026-03-08T04:00:00Z'), EARLY, 'America/St_Johns'))).toBe(
      '2026-03-08T05:30:00.000Z',
    );
    const HALF = { ...EARLY, start: 2 * 60 + 30 };
    expect(iso(nextWorkingStart(at('2026-03-28T23:00:00Z'), HALF, 'Europe/Paris'))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(nextWorkingStart(at('2026-03-08T04:00:00Z'), HALF, 'America/St_Johns'))).toBe(
      '2026-03-08T05:30:00.000Z',
    );
    // A time repeated in the autumn starts at its first occurrence: 01:30 EDT on 1 November 2026.
    const REPEATED = { ...EARLY, start: 90 };
    expect(iso(nextWorkingStart(at('2026-11-01T04:00:00Z'), REPEATED, 'America/New_York'))).toBe(
      '2026-11-01T05:30:00.000Z',
    );
  });

  it('reads the hours in UTC for a zone Slack did not give', () => {
    expect(personClock(undefined)).toEqual({ zone: 'UTC', unknown: true });
    expect(personClock('Not/AZone')).toEqual({ zone: 'UTC', unknown: true });
    expect(personClock('Europe/Paris')).toEqual({ zone: 'Europe/Paris' });
    expect(isKnownZone('Pacific/Auckland')).toBe(true);
    expect(iso(nextWorkingStart(at('2026-11-26T21:40:00Z'), OFFICE, 'UTC'))).toBe('2026-11-27T09:00:00.000Z');
  });
});

describe('workingMsBetween', () => {
  it('counts working time only: a weekend in between is not silence', () => {
    // Friday 17:30 → Monday 09:30, Paris: 30 minutes on Friday, 30 on Monday.
    expect(workingMsBetween(at('2026-11-27T16:30:00Z'), at('2026-11-30T08:30:00Z'), OFFICE, 'Europe/Paris')).toBe(
      60 * MINUTE,
    );
    expect(workingMsBetween(at('2026-11-27T10:00:00Z'), at('2026-11-27T11:00:00Z'), OFFICE, 'Europe/Paris')).toBe(
      60 * MINUTE,
    );
    expect(workingMsBetween(at('2026-11-28T10:00:00Z'), at('2026-11-28T11:00:00Z'), OFFICE, 'Europe/Paris')).toBe(0);
  });

  it('counts a working day across a DST change in real hours', () => {
    // Sunday 28 March 2027, every day 09:00-18:00 CEST: 9 h, from 07:00 to 16:00 UTC.
    expect(workingMsBetween(at('2027-03-27T12:00:00Z'), at('2027-03-28T20:00:00Z'), EVERY_DAY, 'Europe/Paris')).toBe(
      (5 + 9) * 60 * MINUTE, // Saturday 13:00-18:00 CET, then Sunday's whole day
    );
  });
});

describe('local times', () => {
  it('says the time in the zone, with the weekday when it is another day', () => {
    expect(localClock(at('2026-11-26T21:40:00Z'), 'Europe/Paris')).toBe('22:40');
    expect(localWhen(at('2026-11-27T08:00:00Z'), at('2026-11-27T05:00:00Z'), 'Europe/Paris')).toBe('09:00');
    expect(localWhen(at('2026-11-27T08:00:00Z'), at('2026-11-26T21:40:00Z'), 'Europe/Paris')).toBe('09:00');
    expect(localWhen(at('2026-11-30T08:00:00Z'), at('2026-11-27T17:30:00Z'), 'Europe/Paris')).toBe('Mon 09:00');
  });
});

describe('a night shift (working_hours = "22:00-06:00")', () => {
  // Monday to Friday nights: the Friday shift ends on Saturday morning.
  const NIGHTS = { start: 22 * 60, end: 6 * 60, days: [1, 2, 3, 4, 5] };

  it('is working from 22:00 until 06:00 the next morning, on the night of a working day', () => {
    // Tuesday 23:30 and Wednesday 05:00 in Paris (UTC+1): inside Tuesday's shift.
    expect(iso(nextWorkingStart(at('2026-11-24T22:30:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-24T22:30:00.000Z');
    expect(iso(nextWorkingStart(at('2026-11-25T04:00:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-25T04:00:00.000Z');
    // Wednesday 07:00 and 15:00 Paris: off until 22:00 that evening.
    expect(iso(nextWorkingStart(at('2026-11-25T06:00:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-25T21:00:00.000Z');
    expect(iso(nextWorkingStart(at('2026-11-25T14:00:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-25T21:00:00.000Z');
  });

  it('ends the Friday shift on Saturday morning, and starts again on Monday night', () => {
    // Saturday 03:00 Paris: Friday's shift. Saturday 23:00 Paris: off until Monday 22:00.
    expect(iso(nextWorkingStart(at('2026-11-28T02:00:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-28T02:00:00.000Z');
    expect(iso(nextWorkingStart(at('2026-11-28T22:00:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-30T21:00:00.000Z');
    // Monday 03:00 Paris: Sunday night is not a shift.
    expect(iso(nextWorkingStart(at('2026-11-30T02:00:00Z'), NIGHTS, 'Europe/Paris'))).toBe('2026-11-30T21:00:00.000Z');
  });

  it('counts working time across midnight', () => {
    // Tuesday 21:00 to Wednesday 09:00 Paris: the whole shift, 8 h.
    expect(workingMsBetween(at('2026-11-24T20:00:00Z'), at('2026-11-25T08:00:00Z'), NIGHTS, 'Europe/Paris')).toBe(
      8 * 60 * MINUTE,
    );
    // Wednesday 05:00 to 23:00 Paris: the last hour of Tuesday's shift and the first of Wednesday's.
    expect(workingMsBetween(at('2026-11-25T04:00:00Z'), at('2026-11-25T22:00:00Z'), NIGHTS, 'Europe/Paris')).toBe(
      2 * 60 * MINUTE,
    );
  });
});
