// Snoozes: what the team already knows. Which alerts an active snooze suppresses, durations, and the changes to
// the store's list of snoozes. Pure functions over the store data; the CLI and src/app/ run the transactions.
import type { AlertTemplate } from './config/types.js';
import type { Snooze, SnoozeActor, StoreData } from './store/port.js';

export const HOUR_MS = 60 * 60_000;
export const DAY_MS = 24 * HOUR_MS;

const UNIT_MS: Record<string, number> = { m: 60_000, h: HOUR_MS, d: DAY_MS };

/**
 * `30m`, `4h`, `3d` or a sum of them (`1d12h`) in milliseconds; null when it is not one, or is zero.
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim().toLowerCase();
  if (!/^(\d+[mhd])+$/.test(trimmed)) return null;
  let ms = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([mhd])/g)) ms += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

export type SnoozeState = 'active' | 'expired' | 'removed';

export function snoozeState(snooze: Snooze, now: Date): SnoozeState {
  if (snooze.removedAt !== undefined) return 'removed';
  return Date.parse(snooze.until) > now.getTime() ? 'active' : 'expired';
}

/** Every snooze, oldest first; a store written before irbot had snoozes has none. */
export function snoozesOf(data: StoreData): Snooze[] {
  return Object.values(data.snoozes ?? {}).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || cmp(a.id, b.id));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Whether `snooze` covers this alert: its template, its person when it names one, each property it names. */
export function snoozeMatches(snooze: Snooze, alert: Pick<AlertTemplate, 'id' | 'userId' | 'properties'>): boolean {
  if (snooze.template !== alert.id) return false;
  if (snooze.user !== undefined && snooze.user !== alert.userId) return false;
  return Object.entries(snooze.match ?? {}).every(
    ([key, value]) => Object.hasOwn(alert.properties, key) && alert.properties[key] === value,
  );
}

/** The oldest active snooze that covers the alert, if any. */
export function activeSnoozeFor(
  data: StoreData,
  alert: Pick<AlertTemplate, 'id' | 'userId' | 'properties'>,
  now: Date,
): Snooze | undefined {
  return snoozesOf(data).find((s) => snoozeState(s, now) === 'active' && snoozeMatches(s, alert));
}

export interface NewSnooze {
  template: string;
  user?: string | undefined;
  match?: Record<string, string> | undefined;
  /** How long from `now`. */
  forMs: number;
  reason: string;
  by: SnoozeActor;
  alertId?: string | undefined;
}

/** Adds a snooze in the caller's transaction; `newId` gives a fresh suffix (`sz-<suffix>`). */
export function addSnooze(data: StoreData, input: NewSnooze, now: Date, newId: () => string): Snooze {
  data.snoozes ??= {};
  let id = `sz-${newId()}`;
  while (data.snoozes[id]) id = `sz-${newId()}`;
  const snooze: Snooze = {
    id,
    template: input.template,
    ...(input.user !== undefined ? { user: input.user } : {}),
    ...(input.match && Object.keys(input.match).length > 0 ? { match: { ...input.match } } : {}),
    until: new Date(now.getTime() + input.forMs).toISOString(),
    reason: input.reason,
    createdBy: input.by,
    createdAt: now.toISOString(),
    ...(input.alertId !== undefined ? { alertId: input.alertId } : {}),
  };
  data.snoozes[id] = snooze;
  return snooze;
}

/** Marks a snooze removed (it stays in the history); what became of it, for the caller to report. */
export function removeSnooze(
  data: StoreData,
  id: string,
  by: SnoozeActor,
  now: Date,
): { kind: 'removed'; snooze: Snooze } | { kind: 'unknown' } | { kind: 'already'; snooze: Snooze } {
  const snooze = data.snoozes?.[id];
  if (!snooze) return { kind: 'unknown' };
  if (snooze.removedAt !== undefined) return { kind: 'already', snooze: structuredClone(snooze) };
  snooze.removedAt = now.toISOString();
  snooze.removedBy = by;
  return { kind: 'removed', snooze: structuredClone(snooze) };
}

/** `2026-12-06 10:00 UTC`: how a snooze's end reads in Slack and on the terminal. */
export function untilText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
