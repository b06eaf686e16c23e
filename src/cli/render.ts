// Terminal output: status tables and chat lines. Strings in, strings out; colour only where the stream wants it.
import { Chalk, type ChalkInstance } from 'chalk';
import { needsReview } from '../chat/engine.js';
import { localDayClock } from '../chat/working-hours.js';
import type { EscalationOutcome, Severity } from '../config/types.js';
import type { Delivery } from '../deliver/port.js';
import { hasFailedDeliveries } from '../deliver/queue.js';
import type { AlertRecord, TranscriptEntry } from '../store/port.js';
import { neutraliseLine } from '../untrusted-text.js';
import type { StepUpResult } from '../verify/port.js';
import { formatPlainText, type SlackFormat } from './slack-format.js';
import { displayWidth, wrapColumns } from './width.js';

export { chalkFor } from './colour.js';

/** The width to wrap a view's lines at: the terminal's, or none when the stream is not a terminal. */
export function widthOf(stream: { isTTY?: boolean; columns?: number }): number | undefined {
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

/**
 * Text that starts `indent` columns in: wrapped to `width` (when there is one), every line after the first indented
 * so it reads as one block under its first line (blank lines stay empty).
 */
export function hanging(text: string, indent: number, width: number | undefined): string {
  const room = width === undefined ? undefined : Math.max(20, width - indent);
  const wrapped = room === undefined ? text : wrapColumns(text, room);
  return wrapped.replace(/\n(?=[^\n])/g, `\n${' '.repeat(indent)}`);
}

/**
 * What erases the line a terminal echoed as the analyst typed it, `columns` wide: the view shows it again, with
 * its time and the analyst's name, once it is sent.
 */
export function eraseEcho(line: string, columns: number): string {
  const rows = Math.max(1, Math.ceil(displayWidth(line) / Math.max(1, columns)));
  return '\x1b[1A\x1b[2K'.repeat(rows);
}

/** Pads to a width in terminal columns, not UTF-16 units: an emoji or a CJK character takes two. */
function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/**
 * Red for a chat that failed or a person not aware, yellow for aware but needing an analyst's review, green for
 * aware; otherwise `other` (as it is by default).
 */
export function verdictColour(
  chalk: ChalkInstance,
  chat: { state: string; aware: boolean | null; needs_review?: boolean; verified?: StepUpResult | null | undefined },
  other: (text: string) => string = (text) => text,
): (text: string) => string {
  const unconfirmed = chat.verified !== undefined && chat.verified !== null && chat.verified !== 'approved';
  if (chat.state === 'failed' || chat.aware === false || unconfirmed) return chalk.red;
  if (chat.needs_review) return chalk.yellow;
  if (chat.aware === true) return chalk.green;
  return other;
}

export interface StatusRow {
  id: string;
  template: string;
  name: string;
  user_id: string;
  person: string | null;
  /** The chat's state, `unposted` while the alert itself waits to be posted, `suppressed` when a snooze kept it back. */
  state: AlertRecord['chat']['state'] | 'unposted' | 'suppressed';
  outcome: AlertRecord['chat']['outcome'];
  aware: boolean | null;
  /** Aware, but a reply tried to instruct the bot: an analyst must look (src/chat/engine.ts needsReview). */
  needs_review: boolean;
  nudges: number;
  /** The step-up's result: only `approved` confirms an *aware* answer; null when none ran. */
  verified: StepUpResult | null;
  messages: number;
  /** Lines an analyst typed while the chat was queued, sent once it starts. */
  held: number;
  created_at: string;
  started_at: string | null;
  /** A scheduled chat: when its greeting is due (their next working hour), in UTC; absent if it never waited. */
  starts_at?: string | null;
  /** The person's zone the working hours were read in, when the chat waited for them; null otherwise. */
  zone?: string | null;
  ended_at: string | null;
  last_activity_at: string;
  /** Why a failed chat failed, with the fix; null otherwise. */
  failure: string | null;
  /** What irbot sent or sends about the alert outside Slack (sink events, pages). */
  deliveries: DeliveryRow[];
  /** Where the alert's escalation went (src/escalation/escalate.ts); null when it was not escalated. */
  escalated: EscalatedRow | null;
  /** The snooze that kept the alert from the feed, and when; null when it was not suppressed. */
  suppressed?: { snooze_id: string; at: string } | null;
}

export interface EscalatedRow {
  outcome: EscalationOutcome;
  reason: string;
  severity: Severity;
  /** The mention pinged in the thread; null: nobody was named. */
  mention: string | null;
  /** The page's delivery; null when PagerDuty was not set up. */
  pagerduty: 'delivered' | 'pending' | `failed: ${string}` | null;
}

function escalatedRow(alert: AlertRecord): EscalatedRow | null {
  const { escalation } = alert;
  if (!escalation) return null;
  const page = escalation.pagerduty ? alert.deliveries?.find((d) => d.target === 'pagerduty') : undefined;
  const pagerduty = !page
    ? null
    : page.deliveredAt
      ? 'delivered'
      : page.failure !== undefined
        ? (`failed: ${page.failure}` as const)
        : 'pending';
  const { outcome, reason, severity, mention } = escalation;
  return { outcome, reason, severity, mention, pagerduty };
}

export interface DeliveryRow {
  /** `sink:<index in [[sinks]]>` or `pagerduty`. */
  target: string;
  event: string;
  /** The Idempotency-Key every attempt carried. */
  key: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** When a pending one is tried again after a failure that may pass. */
  retry_at: string | null;
  delivered_at: string | null;
  /** Why it was refused for good; null otherwise. */
  failure: string | null;
}

function deliveryRow(delivery: Delivery): DeliveryRow {
  const state = delivery.deliveredAt ? 'delivered' : delivery.failure !== undefined ? 'failed' : 'pending';
  return {
    target: delivery.target,
    event: delivery.event,
    key: delivery.key,
    state,
    attempts: delivery.attempts,
    retry_at: state === 'pending' ? (delivery.retryAt ?? null) : null,
    delivered_at: delivery.deliveredAt ?? null,
    failure: delivery.failure ?? null,
  };
}

/** `sink #1` for `sink:0`, as config.toml's [[sinks]] are counted; other targets as they are. */
function targetName(target: string): string {
  const sink = /^sink:(\d+)$/.exec(target);
  return sink ? `sink #${Number(sink[1]) + 1}` : target;
}

/** Chats someone should look at: open ones, and failed ones (or failed deliveries), which wait for a person. */
function needsLooking(alert: AlertRecord): boolean {
  const { state } = alert.chat;
  return (
    state === 'active' ||
    state === 'queued' ||
    state === 'scheduled' ||
    state === 'failed' ||
    isUnposted(alert) ||
    hasFailedDeliveries(alert)
  );
}

/** Recorded, not yet known to be in Slack: a crash or a failure left it for `listen` or a retry to post. */
function isUnposted(alert: AlertRecord): boolean {
  return alert.ts === null && alert.pending !== undefined;
}

/** Oldest first. ISO times sort as plain strings: a locale's collation took ~9 ms for 2,000 rows. */
function byCreation(a: AlertRecord, b: AlertRecord): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
}

export function statusRows(alerts: AlertRecord[], opts: { all: boolean }): StatusRow[] {
  return alerts
    .filter((a) => opts.all || needsLooking(a))
    .sort(byCreation)
    .map((a) => ({
      id: a.id,
      template: a.template,
      name: a.name,
      user_id: a.userId,
      person: a.personName ?? null,
      state: a.suppressed ? 'suppressed' : isUnposted(a) ? 'unposted' : a.chat.state,
      outcome: a.chat.outcome,
      aware: a.chat.aware,
      needs_review: needsReview(a.chat),
      nudges: a.chat.nudges,
      verified: a.chat.verified ?? null,
      messages: a.transcript.filter((t) => t.from !== 'system').length,
      held: (a.chat.held ?? []).length,
      created_at: a.createdAt,
      started_at: a.chat.startedAt,
      // Only for a chat that waited for the person's working hours.
      ...(a.chat.schedule
        ? { starts_at: a.chat.state === 'scheduled' ? a.chat.schedule.startsAt : null, zone: a.chat.schedule.zone }
        : {}),
      ended_at: a.chat.endedAt,
      last_activity_at: a.lastActivityAt,
      failure:
        a.chat.state === 'failed'
          ? (a.chat.failure ?? 'unknown error')
          : isUnposted(a)
            ? (a.pending?.lastError ?? null)
            : null,
      deliveries: (a.deliveries ?? []).map(deliveryRow),
      escalated: escalatedRow(a),
      suppressed: a.suppressed ? { snooze_id: a.suppressed.snoozeId, at: a.suppressed.at } : null,
    }));
}

/** The step-up's result in the STATE column. */
function verifiedWords(verified: StepUpResult | null): string {
  if (verified === null) return '';
  if (verified === 'approved') return ', verified';
  if (verified === 'denied' || verified === 'fraud')
    return `, DENIED (${verified === 'fraud' ? 'fraud' : 'push denied'})`;
  return `, unverified (${verified === 'timeout' ? 'push timed out' : verified.replace('_', ' ')})`;
}

const STEP_UP_WORDS: Record<StepUpResult, string> = {
  approved: 'verified by Duo',
  denied: 'DENIED the Duo push (possible account compromise)',
  fraud: 'reported the Duo push as FRAUD (possible account compromise)',
  timeout: 'unverified (push timed out)',
  not_enrolled: 'unverified (not enrolled in Duo)',
  error: 'unverified (Duo error)',
};

/** The step-up's result after a verdict line (`, verified by Duo`), for the sandbox and `irbot chat`. */
export function stepUpWords(verified: StepUpResult | null | undefined): string {
  return verified ? `, ${STEP_UP_WORDS[verified]}` : '';
}

const shortTime = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 16) : '-');

export function renderStatus(rows: StatusRow[], chalk: ChalkInstance, opts: { all: boolean }): string {
  if (rows.length === 0) {
    return opts.all
      ? 'No alerts yet. Post one with: irbot send-alert\n'
      : 'No open chats. (irbot status --all shows every alert.)\n';
  }
  const header = ['ALERT', 'NAME', 'PERSON', 'STATE', 'STARTED', 'MSGS', 'NUDGES', 'LAST ACTIVITY'];
  const plain = new Chalk({ level: 0 });
  const body = rows.map((r) => [
    neutraliseLine(r.id),
    formatPlainText(neutraliseLine(r.name), { chalk: plain }),
    neutraliseLine(r.person ? `${r.person} (${r.user_id})` : r.user_id),
    r.suppressed
      ? `suppressed (${r.suppressed.snooze_id})`
      : r.outcome
        ? `${r.state}: ${r.outcome}${r.aware === null ? '' : r.aware ? ', aware' : ', not aware'}${verifiedWords(r.verified)}${r.needs_review ? ' (needs review)' : ''}`
        : r.starts_at
          ? `scheduled: starts ${shortTime(r.starts_at)} UTC (${localDayClock(Date.parse(r.starts_at), r.zone ?? 'UTC')} ${r.zone ?? 'UTC'})`
          : r.state,
    shortTime(r.started_at),
    String(r.messages),
    String(r.nudges),
    shortTime(r.last_activity_at),
  ]);
  const STATE = header.indexOf('STATE');
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => displayWidth(row[i] ?? ''))));
  const line = (cells: string[], colour: (i: number, text: string) => string = (_, text) => text) =>
    cells
      .map((c, i) => colour(i, pad(c, widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const lines = body.map((cells, n) => {
    const row = rows[n];
    const paint = row ? verdictColour(chalk, row) : (text: string) => text;
    return line(cells, (i, text) => (i === STATE ? paint(text) : text));
  });
  // A failed chat's reason is long (it carries the fix): under the table, one line each.
  const failures = rows.flatMap((r) => [
    ...(r.failure
      ? [
          r.state === 'unposted'
            ? chalk.yellow(`${neutraliseLine(r.id)} not posted yet, listen retries it: ${neutraliseLine(r.failure)}`)
            : chalk.red(`${neutraliseLine(r.id)} failed: ${neutraliseLine(r.failure)}`),
        ]
      : []),
    ...r.deliveries.flatMap((d) =>
      d.failure === null
        ? []
        : [
            chalk.red(
              `${neutraliseLine(r.id)}: ${d.event} event to ${targetName(d.target)} failed: ${neutraliseLine(d.failure)}`,
            ),
          ],
    ),
  ]);
  // Where each escalation went, under the table too (a failed page is among the failures above as well).
  const escalations = rows.flatMap((r) => {
    if (!r.escalated) return [];
    const { outcome, reason, mention, pagerduty } = r.escalated;
    const where = [
      `${mention ? `${mention} in the thread` : 'the thread'}`,
      ...(pagerduty ? [`PagerDuty ${pagerduty.startsWith('failed') ? 'failed' : pagerduty}`] : []),
    ];
    const paint = pagerduty?.startsWith('failed') ? chalk.red : chalk.yellow;
    return [paint(`${neutraliseLine(r.id)} escalated (${outcome}): ${neutraliseLine(reason)} → ${where.join(', ')}`)];
  });
  return `${[chalk.bold(line(header)), ...lines, ...failures, ...escalations].join('\n')}\n`;
}

const SPEAKER_LABELS: Record<TranscriptEntry['from'], string> = {
  bot: 'irbot',
  person: 'person',
  analyst: 'analyst',
  system: 'system',
};

/** Where an entry's text starts: after `hh:mm:ss`, a space, the 10-column label and a space. */
const TEXT_COLUMN = 20;

/**
 * One transcript entry as terminal lines: bot, person, analyst and system told apart by label and colour; the text
 * neutralised, then its Slack formatting shown (bold, italics, emoji, mentions by name), wrapped under itself.
 */
export function renderEntry(
  entry: TranscriptEntry,
  chalk: ChalkInstance,
  personName: string,
  view: { width?: number | undefined; nameOf?: SlackFormat['nameOf'] } = {},
): string {
  const time = chalk.dim(entry.at.slice(11, 19));
  const label =
    entry.from === 'person'
      ? // `@`: the person sets their own display name, and one named "irbot" must not read as the bot.
        `@${neutraliseLine(personName)}`
      : entry.from === 'analyst'
        ? neutraliseLine(`analyst ${entry.by ?? ''}`.trim())
        : SPEAKER_LABELS[entry.from];
  const colour = { bot: chalk.cyan, person: chalk.yellow, analyst: chalk.green, system: chalk.magenta }[entry.from];
  const shown = formatPlainText(entry.text, { chalk, ...(view.nameOf ? { nameOf: view.nameOf } : {}) });
  const text = entry.from === 'system' ? chalk.italic(shown) : shown;
  // A label longer than its column pushes the text right: the wrapped lines follow it there.
  const column = TEXT_COLUMN + Math.max(0, displayWidth(label) - 10);
  return `${time} ${colour.bold(pad(label, 10))} ${hanging(text, column, view.width)}`;
}
