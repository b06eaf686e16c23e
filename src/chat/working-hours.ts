// Working hours in a person's own time zone: whether they are working at an instant, when they next start, how
// much working time lies between two instants. Pure: Intl (Node's full ICU) knows each zone's offsets and DST.

export interface WorkingHours {
  /**
   * Minutes after local midnight when the working day starts and ends. An end before the start is a night shift:
   * it ends the next morning, and belongs to the day it starts on (a Friday night shift ends on Saturday).
   */
  start: number;
  end: number;
  /** Working weekdays, 0 = Sunday … 6 = Saturday; never empty. */
  days: readonly number[];
}

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** A local calendar date, and its weekday (0 = Sunday). */
interface LocalDate {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

interface LocalTime extends LocalDate {
  /** Minutes after local midnight. */
  minutes: number;
}

/** Formatters are costly to build and the same few zones come back: one per zone. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let found = formatters.get(zone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, found);
  }
  return found;
}

/** The zone to read a person's hours in: Slack's `tz` when Intl knows it, else UTC, marked unknown. */
export function personClock(tz: string | null | undefined): { zone: string; unknown?: boolean } {
  return tz && isKnownZone(tz) ? { zone: tz } : { zone: 'UTC', unknown: true };
}

/** True when Intl knows the IANA zone (Slack's `tz`, e.g. "Europe/Paris"). */
export function isKnownZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

function localParts(ms: number, zone: string): LocalTime & { second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const year = parts.year ?? 1970;
  const month = parts.month ?? 1;
  const day = parts.day ?? 1;
  const hour = (parts.hour ?? 0) % 24;
  return {
    year,
    month,
    day,
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
    minutes: hour * 60 + (parts.minute ?? 0),
    second: parts.second ?? 0,
  };
}

/** The zone's offset from UTC at an instant, in ms (Paris in winter: +1 h). */
function offsetAt(ms: number, zone: string): number {
  const p = localParts(ms, zone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, 0, p.minutes, p.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

const DAY_MS = 24 * 60 * 60_000;

/** An instant's local wall time, as ms of a UTC date (to compare with a wall time). */
function wallAt(ms: number, zone: string): number {
  const p = localParts(ms, zone);
  return Date.UTC(p.year, p.month - 1, p.day, 0, p.minutes);
}

/**
 * The instant of a local wall time: the earlier of two when a DST change repeats it; when a change skips it, the
 * change itself, the first minute whose clock reads later (02:30 that does not exist is 03:00). A change that day
 * moves between the offsets of the day before and the day after, whichever side of UTC the zone is.
 */
function instantOf(date: LocalDate, minutes: number, zone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  const candidates = [offsetAt(wall - DAY_MS, zone), offsetAt(wall, zone), offsetAt(wall + DAY_MS, zone)].map(
    (offset) => wall - offset,
  );
  const real = candidates.filter((ms) => wallAt(ms, zone) === wall);
  if (real.length > 0) return Math.min(...real);
  // In a gap: the change lies between the two candidates (at most a few hours apart), found to the minute.
  let before = Math.min(...candidates);
  let after = Math.max(...candidates);
  while (after - before > 60_000) {
    const mid = before + Math.floor((after - before) / 120_000) * 60_000;
    if (wallAt(mid, zone) >= wall) after = mid;
    else before = mid;
  }
  return after;
}

/** The local date `days` after `date`. */
function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
}

/** The working period in progress at `ms` or the next one: its start (`ms` itself when working) and end. */
function periodFrom(ms: number, hours: WorkingHours, zone: string): { start: number; end: number } | null {
  const today = localParts(ms, zone);
  const overnight = hours.end <= hours.start;
  // From yesterday: its night shift may still be under way this morning.
  for (let d = -1; d <= 7; d++) {
    const date = addDays(today, d);
    if (!hours.days.includes(date.weekday)) continue;
    const end = instantOf(overnight ? addDays(date, 1) : date, hours.end, zone);
    const start = instantOf(date, hours.start, zone);
    // A change that skips the whole period (two hours gone, where the period was) leaves none that day.
    if (start >= end) continue;
    if (ms < end) return { start: Math.max(ms, start), end };
  }
  return null;
}

/** When the person's next working period starts: `ms` itself while they are working. */
export function nextWorkingStart(ms: number, hours: WorkingHours, zone: string): number {
  return periodFrom(ms, hours, zone)?.start ?? ms;
}

/** Working time between two instants, in ms: what silence counts when working hours are set. */
export function workingMsBetween(from: number, to: number, hours: WorkingHours, zone: string): number {
  let total = 0;
  let at = from;
  // Each turn moves to the end of a working period; a week holds at most seven.
  for (let turn = 0; turn < 1000 && at < to; turn++) {
    const period = periodFrom(at, hours, zone);
    if (!period || period.start >= to) break;
    total += Math.min(period.end, to) - period.start;
    at = period.end;
  }
  return total;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "09:00" for minutes after midnight. */
export function clockText(minutes: number): string {
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** The local time at an instant, "22:40". */
export function localClock(ms: number, zone: string): string {
  return clockText(localParts(ms, zone).minutes);
}

/** The local weekday and time at an instant, "Mon 09:00". */
export function localDayClock(ms: number, zone: string): string {
  const at = localParts(ms, zone);
  return `${WEEKDAYS[at.weekday]} ${clockText(at.minutes)}`;
}

/**
 * The local time of `ms` as seen from `from`: "09:00" within the next 24 hours (today or tomorrow morning, which
 * the clock alone says), else with its weekday, "Mon 09:00".
 */
export function localWhen(ms: number, from: number, zone: string): string {
  return ms - from < 24 * 60 * 60 * 1000 ? localClock(ms, zone) : localDayClock(ms, zone);
}
