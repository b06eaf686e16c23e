// What `irbot report` says about the alerts in a window: counts, reply rate, times to answer, outcomes, step-ups
// and escalations, overall and per template, and the weeks and times its HTML charts. Pure: alerts in, numbers out.
import type { EscalationOutcome } from '../config/types.js';
import type { AlertRecord } from '../store/port.js';
import type { StepUpResult } from '../verify/port.js';

/** The verdicts the report tells apart, in the order it shows them. */
export const VERDICTS = ['aware', 'not_aware', 'no_answer', 'ended_by_analyst', 'failed'] as const;
export type Verdict = (typeof VERDICTS)[number];

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
  /** Chats still open (queued or active). */
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

/**
 * What the report keeps of one alert, taken as the store reads it: 100,000 whole alerts (their transcripts and
 * outboxes) held at once would cost more time in the garbage collector than the report itself.
 */
export interface AlertFacts {
  id: string;
  template: string;
  name: string;
  createdAt: string;
  state: AlertRecord['chat']['state'];
  verdict: Verdict | null;
  verified: StepUpResult | null;
  started: boolean;
  suppressed: boolean;
  escalation: EscalationOutcome | null;
  greeted: boolean;
  /** From the greeting (the bot's first DM line) to the person's first reply, and to the verdict (a chat that ended
   * with an answer); null when there was none. */
  firstReplyMs: number | null;
  verdictMs: number | null;
}

export function factsOf(alert: AlertRecord): AlertFacts {
  const { chat } = alert;
  const times = timesOf(alert);
  return {
    id: alert.id,
    template: alert.template,
    name: alert.name,
    createdAt: alert.createdAt,
    state: chat.state,
    verdict: verdictOf(alert),
    verified: chat.verified ?? null,
    started: chat.startedAt !== null,
    suppressed: isSuppressed(alert),
    escalation: alert.escalation?.outcome ?? null,
    greeted: times.greeted,
    firstReplyMs: times.firstReply,
    verdictMs: times.verdict,
  };
}

export interface ReportOptions {
  since: Date | null;
  template: string | null;
  now: Date;
}

/** Whether a snooze kept this alert from being posted (recorded at intake, src/snoozes.ts). */
export function isSuppressed(alert: AlertRecord): boolean {
  return alert.suppressed !== undefined;
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

/** The verdict a closed chat came to; null while it is open or never started. */
export function verdictOf(alert: AlertRecord): Verdict | null {
  const { chat } = alert;
  if (chat.state === 'failed') return 'failed';
  if (chat.state !== 'ended') return null;
  if (chat.outcome === 'no_answer' || chat.outcome === 'ended_by_analyst') return chat.outcome;
  if (chat.outcome === 'answered') return chat.aware === false ? 'not_aware' : 'aware';
  return null;
}

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
    if (alert.state === 'queued' || alert.state === 'active') open++;
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

/**
 * When the person was greeted (the bot's first DM line), and how long from then to their first reply and to the
 * verdict (the chat's end, when it ended with an answer).
 */
function timesOf(alert: AlertRecord): { greeted: boolean; firstReply: number | null; verdict: number | null } {
  const greeting = alert.transcript.find((entry) => entry.from === 'bot');
  if (!greeting) return { greeted: false, firstReply: null, verdict: null };
  const greetedAt = Date.parse(greeting.at);
  const reply = alert.transcript.find((entry) => entry.from === 'person');
  const { chat } = alert;
  return {
    greeted: true,
    firstReply: reply ? Math.max(0, Date.parse(reply.at) - greetedAt) : null,
    verdict:
      chat.state === 'ended' && chat.outcome === 'answered' && chat.endedAt !== null
        ? Math.max(0, Date.parse(chat.endedAt) - greetedAt)
        : null,
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
