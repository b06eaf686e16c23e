// config.toml's working_hours, working_days and max_wait_hours: read, defaulted, and refused with the fix.
import { describe, expect, it } from 'vitest';
import { parseAlerts, parseAlertsJson } from '../../../src/config/alerts.js';
import { parseConfig } from '../../../src/config/config.js';

const FILE = '/etc/irbot/config.toml';
const FEED = 'feed_channel_id = "C0FEED"\n';
const problem = (text: string) => {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('working hours in config.toml', () => {
  it('are always by default, and waits at most 12 hours', () => {
    const config = parseConfig(FEED, FILE);
    expect(config.workingHours).toBeUndefined();
    expect(config.maxWaitHours).toBe(12);
  });

  it('leave the other key at "always" when only one is set', () => {
    expect(parseConfig(`${FEED}working_hours = "09:00-18:00"\n`, FILE).workingHours).toEqual({
      start: 540,
      end: 1080,
      days: [0, 1, 2, 3, 4, 5, 6],
    });
    expect(parseConfig(`${FEED}working_days = ["fri", "Mon"]\n`, FILE).workingHours).toEqual({
      start: 0,
      end: 1440,
      days: [1, 5],
    });
    expect(parseConfig(`${FEED}working_hours = "00:00-24:00"\n`, FILE).workingHours?.end).toBe(1440);
    // A night shift: it ends the next morning.
    expect(parseConfig(`${FEED}working_hours = "22:00-06:00"\n`, FILE).workingHours).toMatchObject({
      start: 1320,
      end: 360,
    });
  });

  it.each([
    [
      'working_hours = "9-18"',
      'working_hours: must be "HH:MM-HH:MM", e.g. "09:00-18:00", or for a night shift that ends the next morning "22:00-06:00"',
    ],
    ['working_hours = "09:00-09:00"', 'working_hours: must be "HH:MM-HH:MM"'],
    ['working_hours = "09:00-25:00"', 'working_hours: must be "HH:MM-HH:MM"'],
    ['working_hours = "09:60-18:00"', 'working_hours: must be "HH:MM-HH:MM"'],
    [
      'working_days = []',
      'working_days: must be a non-empty array of weekdays, e.g. ["Mon", "Tue", "Wed", "Thu", "Fri"]',
    ],
    [
      'working_days = ["Monday"]',
      'working_days: must be a non-empty array of weekdays, e.g. ["Mon", "Tue", "Wed", "Thu", "Fri"]; "Monday" is not one of Sun, Mon, Tue, Wed, Thu, Fri, Sat',
    ],
    ['working_days = "Mon-Fri"', 'working_days: must be a non-empty array of weekdays'],
    ['max_wait_hours = 0', 'max_wait_hours: must be a number of hours greater than 0'],
  ])('refuses %s in one line with the fix', (line, message) => {
    const said = problem(`${FEED}${line}\n`);
    expect(said).toContain(`${FILE}: ${message}`);
    expect(said).not.toContain('\n');
  });
});

describe('urgent on an alert', () => {
  const toml = '[[alerts]]\nid = "pivot"\nname = "Pivoting"\nuser_id = "U0HAROLD"\n';
  it('is read from alerts.toml and from a webhook’s JSON', () => {
    expect(parseAlerts(`${toml}urgent = true\n`, 'alerts.toml')[0]).toMatchObject({ urgent: true });
    expect(parseAlerts(toml, 'alerts.toml')[0]).not.toHaveProperty('urgent');
    const json = JSON.stringify({ id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', urgent: true });
    expect(parseAlertsJson(json, 'webhook')[0]).toMatchObject({ urgent: true });
  });

  it('must be true or false', () => {
    expect(() => parseAlerts(`${toml}urgent = "yes"\n`, 'alerts.toml')).toThrow(
      "'urgent' must be true or false (true: the chat skips the wait for working hours)",
    );
  });
});
