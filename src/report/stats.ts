// What `irbot report` says about the alerts in a window: counts, reply rate, times to answer, outcomes, step-ups
// and escalations, overall and per template, and the weeks and times its HTML charts. Pure: alerts in, numbers out.

import { isOpenState } from '../chat/engine.js';
import type { EscalationOutcome } from '../config/types.js';
import type { StepUpResult } from '../verify/port.js';
import { type AlertFacts, VERDICTS, type Verdict } from './facts.js';

/** Median and 90th percentile of some durations, in milliseconds; null when there were none. */
export interface Spread {
  count: number;
  median_ms: number | null;
  p90_ms: number | null;
}

export interface Counts {
  alerts: number;
  dismissed: number;
  /** Alerts a snooze kept from being posted (see isSuppressed). */
  suppressed: number;
  /** Alerts whose chat was started (by an analyst or auto_chat). */
  chats: number;
  /** Chats whose person was greeted, and of those, the ones who replied at least once. */
  greeted: number;
  replied: number;
  /** replied ÷ greeted; null when nobody was greeted. */
  reply_rate: number | null;
  /** From the greeting to the person's first reply. */
  first_reply: Spread;
  /** From the greeting to the verdict (chats that ended with an answer). */
  verdict: Spread;
  outcomes: Record<Verdict, number>;
  /** Chats still open (queued, active, or waiting for the person's working hours). */
  open: number;
  step_up: Record<StepUpResult, number>;
  escalations: number;
  escalated: Record<EscalationOutcome, number>;
}

export interface TemplateCounts extends Counts {
  template: string;
  /** The alert name the template's most recent alert had. */
  name: string;
}

/** Verdicts of the alerts created in one week (Monday 00:00 UTC on). */
export interface Week extends Record<Verdict, number> {
  week: string;
}

export interface Report {
  /** The window: alerts created at or after `since` (null: all), up to `until` (when the report was made). */
  since: string | null;
  until: string;
  template: string | null;
  overall: Counts;
  templates: TemplateCounts[];
  weeks: Week[];
  /** How many first replies came within each bucket of TIME_BUCKETS. */
  first_reply_buckets: Array<{ label: string; count: number }>;
}

export interface ReportOptions {
  since: Date | null;
  template: string | null;
  now: Date;
}

const STEP_UP_RESULTS: readonly StepUpResult[] = ['approved', 'denied', 'fraud', 'timeout', 'not_enrolled', 'error'];
const ESCALATION_OUTCOMES: readonly EscalationOutcome[] = ['not_aware', 'denied', 'unverified', 'no_answer', 'failed'];

const MINUTE = 60_000;
/** Upper bounds of the time-to-first-reply buckets the HTML chart shows. */
export const TIME_BUCKETS: ReadonlyArray<{ label: string; below: number }> = [
  { label: '< 5 min', below: 5 * MINUTE },
  { label: '5–15 min', below: 15 * MINUTE },
  { label: '15–60 min', below: 60 * MINUTE },
  { label: '1–4 h', below: 240 * MINUTE },
  { label: '4–24 h', below: 1440 * MINUTE },
  { label: '≥ 24 h', below: Number.POSITIVE_INFINITY },
];

/** The alerts in the window, counted overall, per template and per week. */
export function buildReport(alerts: readonly AlertFacts[], opts: ReportOptions): Report {
  const since = opts.since?.toISOString() ?? null;
  const inWindow = alerts.filter(
    (a) => (since === null || a.createdAt >= since) && (opts.template === null || a.template === opts.template),
  );
  const byTemplate = new Map<string, AlertFacts[]>();
  for (const alert of inWindow) {
    const list = byTemplate.get(alert.template);
    if (list) list.push(alert);
    else byTemplate.set(alert.template, [alert]);
  }
  const templates = [...byTemplate.entries()]
    .map(([template, list]) => ({
      template,
      name: list.reduce((latest, a) => (a.createdAt > latest.createdAt ? a : latest)).name,
      ...countsOf(list),
    }))
    .sort((a, b) => b.alerts - a.alerts || a.template.localeCompare(b.template));
  const firstReplies = inWindow.flatMap((a) => (a.firstReplyMs === null ? [] : [a.firstReplyMs]));
  return {
    since,
    until: opts.now.toISOString(),
    template: opts.template,
    overall: countsOf(inWindow),
    templates,
    weeks: weeksOf(inWindow),
    first_reply_buckets: TIME_BUCKETS.map((bucket, i) => ({
      label: bucket.label,
      count: firstReplies.filter((ms) => ms < bucket.below && ms >= (TIME_BUCKETS[i - 1]?.below ?? 0)).length,
    })),
  };
}

function countsOf(alerts: readonly AlertFacts[]): Counts {
  const outcomes = zeroes(VERDICTS);
  const stepUp = zeroes(STEP_UP_RESULTS);
  const escalated = zeroes(ESCALATION_OUTCOMES);
  const firstReplies: number[] = [];
  const verdicts: number[] = [];
  let dismissed = 0;
  let suppressed = 0;
  let chats = 0;
  let greeted = 0;
  let open = 0;
  let escalations = 0;
  for (const alert of alerts) {
    if (alert.suppressed) suppressed++;
    if (alert.state === 'dismissed') dismissed++;
    if (alert.started) chats++;
    if (isOpenState(alert.state)) open++;
    if (alert.verdict) outcomes[alert.verdict]++;
    if (alert.verified) stepUp[alert.verified]++;
    if (alert.escalation) {
      escalations++;
      escalated[alert.escalation]++;
    }
    if (alert.greeted) greeted++;
    if (alert.firstReplyMs !== null) firstReplies.push(alert.firstReplyMs);
    if (alert.verdictMs !== null) verdicts.push(alert.verdictMs);
  }
  const replied = firstReplies.length;
  return {
    alerts: alerts.length,
    dismissed,
    suppressed,
    chats,
    greeted,
    replied,
    reply_rate: greeted === 0 ? null : replied / greeted,
    first_reply: spreadOf(firstReplies),
    verdict: spreadOf(verdicts),
    outcomes,
    open,
    step_up: stepUp,
    escalations,
    escalated,
  };
}

/** The median (the mean of the middle two of an even count) and the 90th percentile (nearest rank). */
export function spreadOf(values: readonly number[]): Spread {
  if (values.length === 0) return { count: 0, median_ms: null, p90_ms: null };
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const middle = n % 2 === 1 ? (sorted[(n - 1) / 2] ?? 0) : ((sorted[n / 2 - 1] ?? 0) + (sorted[n / 2] ?? 0)) / 2;
  return { count: n, median_ms: middle, p90_ms: sorted[Math.ceil(0.9 * n) - 1] ?? null };
}

/** Verdicts per week of the alerts' creation, oldest first, weeks without any verdict included between. */
function weeksOf(alerts: readonly AlertFacts[]): Week[] {
  const byWeek = new Map<string, Week>();
  const weekOfDay = new Map<string, string>();
  for (const alert of alerts) {
    const { verdict } = alert;
    if (!verdict) continue;
    const day = alert.createdAt.slice(0, 10);
    let week = weekOfDay.get(day);
    if (week === undefined) {
      week = weekOf(day);
      weekOfDay.set(day, week);
    }
    let row = byWeek.get(week);
    if (!row) {
      row = { week, ...zeroes(VERDICTS) };
      byWeek.set(week, row);
    }
    row[verdict]++;
  }
  const weeks = [...byWeek.keys()].sort();
  const first = weeks[0];
  const last = weeks[weeks.length - 1];
  if (first === undefined || last === undefined) return [];
  const all: Week[] = [];
  for (let at = Date.parse(first); at <= Date.parse(last); at += 7 * 24 * 3600_000) {
    const week = new Date(at).toISOString().slice(0, 10);
    all.push(byWeek.get(week) ?? { week, ...zeroes(VERDICTS) });
  }
  return all;
}

/** The Monday (UTC) of the week `iso` falls in, as YYYY-MM-DD. */
export function weekOf(iso: string): string {
  const day = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return day.toISOString().slice(0, 10);
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}
