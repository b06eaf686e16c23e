// config.toml's working_hours, working_days and max_wait_hours: when irbot may greet a person, in their own zone.
import { WEEKDAYS, type WorkingHours } from '../chat/working-hours.js';
import { Invalid } from './errors.js';

const HOURS_FIX =
  'must be "HH:MM-HH:MM", e.g. "09:00-18:00", or for a night shift that ends the next morning "22:00-06:00"';
const DAYS_FIX = 'must be a non-empty array of weekdays, e.g. ["Mon", "Tue", "Wed", "Thu", "Fri"]';

/**
 * `working_hours = "09:00-18:00"` → minutes after midnight; "24:00" ends at midnight. An end before the start
 * ("22:00-06:00") is a night shift; a start equal to the end is no hours at all, refused.
 */
export function readWorkingHours(value: unknown): { start: number; end: number } {
  const match = typeof value === 'string' ? /^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$/.exec(value) : null;
  if (!match) throw new Invalid(HOURS_FIX);
  const [start, end] = [minutesOf(match[1], match[2]), minutesOf(match[3], match[4])];
  if (start === undefined || end === undefined || start === end || start === 24 * 60) throw new Invalid(HOURS_FIX);
  return { start, end };
}

function minutesOf(hours: string | undefined, minutes: string | undefined): number | undefined {
  const h = Number(hours);
  const m = Number(minutes);
  if (m > 59 || h > 24 || (h === 24 && m > 0)) return undefined;
  return h * 60 + m;
}

/** `working_days = ["Mon", …]` → weekday numbers (0 = Sunday), each once. */
export function readWorkingDays(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0) throw new Invalid(DAYS_FIX);
  const days = new Set<number>();
  for (const day of value) {
    const index = WEEKDAYS.findIndex((name) => typeof day === 'string' && name.toLowerCase() === day.toLowerCase());
    if (index < 0) throw new Invalid(`${DAYS_FIX}; ${JSON.stringify(day)} is not one of ${WEEKDAYS.join(', ')}`);
    days.add(index);
  }
  return [...days].sort();
}

/**
 * The working hours config.toml sets, or undefined when it sets neither key (always: no chat waits). Either key
 * alone leaves the other at "always": all day, or every day.
 */
export function workingHoursOf(
  hours: { start: number; end: number } | undefined,
  days: number[] | undefined,
): WorkingHours | undefined {
  if (hours === undefined && days === undefined) return undefined;
  return { ...(hours ?? { start: 0, end: 24 * 60 }), days: days ?? [0, 1, 2, 3, 4, 5, 6] };
}
