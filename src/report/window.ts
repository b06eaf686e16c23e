// The report's window from `--since`: a duration back from now (30d, 12h, 2w), a date, or `all`.
import { ConfigError } from '../config/errors.js';
import { neutraliseLine } from '../untrusted-text.js';

const UNIT_MS = { h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** The earliest creation time `--since` lets in; null for `all`. */
export function parseSince(value: string, now: Date): Date | null {
  const text = value.trim();
  if (text === 'all') return null;
  const duration = /^(\d{1,6})([hdw])$/.exec(text);
  if (duration) return new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]);
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(text)) {
    const date = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
    // V8 rolls an impossible day over (2026-02-30 is 2 March): the day typed must be the day read.
    if (!Number.isNaN(date.getTime()) && isCalendarDay(text.slice(0, 10))) return date;
  }
  throw new ConfigError(
    `--since: "${neutraliseLine(value)}" is neither a duration nor a date; use e.g. --since 30d, 12h, 2w, 2026-11-01 or all`,
  );
}

/** True when `YYYY-MM-DD` names a day that exists (no 30 February, no month 13). */
function isCalendarDay(ymd: string): boolean {
  const day = new Date(`${ymd}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === ymd;
}
