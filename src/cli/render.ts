// Terminal output: status tables and chat lines. Strings in, strings out; colour only where the stream wants it.
import { Chalk, type ChalkInstance } from 'chalk';
import { needsReview } from '../chat/engine.js';
import type { AlertRecord, TranscriptEntry } from '../store/port.js';

/** Colour for a stream: never with NO_COLOR, otherwise only on a terminal (FORCE_COLOR overrides). */
export function chalkFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): ChalkInstance {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return new Chalk({ level: 0 });
  if (env.FORCE_COLOR !== undefined) return new Chalk({ level: forcedLevel(env.FORCE_COLOR) });
  return new Chalk({ level: stream.isTTY ? 2 : 0 });
}

/** FORCE_COLOR as supports-color reads it: 0 to 3, `false` off, anything else (`''`, `true`) level 1. */
function forcedLevel(value: string): 0 | 1 | 2 | 3 {
  if (value === 'false') return 0;
  const level = Number.parseInt(value, 10);
  return level === 0 || level === 2 || level === 3 ? level : 1;
}

/**
 * Text from Slack made safe for a terminal: escape sequences, carriage returns and other control characters
 * (which could clear the screen, retitle the window or overwrite a line) are dropped; newlines and tabs stay.
 */
export function terminalSafe(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

export interface StatusRow {
  id: string;
  template: string;
  name: string;
  user_id: string;
  person: string | null;
  state: AlertRecord['chat']['state'];
  outcome: AlertRecord['chat']['outcome'];
  aware: boolean | null;
  /** Aware, but a reply tried to instruct the bot: an analyst must look (src/chat/engine.ts needsReview). */
  needs_review: boolean;
  nudges: number;
  messages: number;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  last_activity_at: string;
  /** Why a failed chat failed, with the fix; null otherwise. */
  failure: string | null;
}

/** Chats someone should look at: open ones, and failed ones, which wait for a person to follow up. */
function needsLooking(alert: AlertRecord): boolean {
  const { state } = alert.chat;
  return state === 'active' || state === 'queued' || state === 'failed';
}

export function statusRows(alerts: AlertRecord[], opts: { all: boolean }): StatusRow[] {
  return alerts
    .filter((a) => opts.all || needsLooking(a))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map((a) => ({
      id: a.id,
      template: a.template,
      name: a.name,
      user_id: a.userId,
      person: a.personName ?? null,
      state: a.chat.state,
      outcome: a.chat.outcome,
      aware: a.chat.aware,
      needs_review: needsReview(a.chat),
      nudges: a.chat.nudges,
      messages: a.transcript.filter((t) => t.from !== 'system').length,
      created_at: a.createdAt,
      started_at: a.chat.startedAt,
      ended_at: a.chat.endedAt,
      last_activity_at: a.lastActivityAt,
      failure: a.chat.state === 'failed' ? (a.chat.failure ?? 'unknown error') : null,
    }));
}

const shortTime = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 16) : '-');

export function renderStatus(rows: StatusRow[], chalk: ChalkInstance, opts: { all: boolean }): string {
  if (rows.length === 0) {
    return opts.all
      ? 'No alerts yet. Post one with: irbot send-alert\n'
      : 'No open chats. (irbot status --all shows every alert.)\n';
  }
  const header = ['ALERT', 'NAME', 'PERSON', 'STATE', 'STARTED', 'MSGS', 'NUDGES', 'LAST ACTIVITY'];
  const body = rows.map((r) => [
    r.id,
    terminalSafe(r.name),
    terminalSafe(r.person ? `${r.person} (${r.user_id})` : r.user_id),
    r.outcome
      ? `${r.state}: ${r.outcome}${r.aware === null ? '' : r.aware ? ', aware' : ', not aware'}${r.needs_review ? ' (needs review)' : ''}`
      : r.state,
    shortTime(r.started_at),
    String(r.messages),
    String(r.nudges),
    shortTime(r.last_activity_at),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  // A failed chat's reason is long (it carries the fix): under the table, one line each.
  const failures = rows.flatMap((r) => (r.failure ? [chalk.red(`${r.id} failed: ${terminalSafe(r.failure)}`)] : []));
  return `${[chalk.bold(line(header)), ...body.map(line), ...failures].join('\n')}\n`;
}

const SPEAKER_LABELS: Record<TranscriptEntry['from'], string> = {
  bot: 'irbot',
  person: 'person',
  analyst: 'analyst',
  system: 'system',
};

/** One transcript entry as a terminal line: bot, person, analyst and system told apart by label and colour. */
export function renderEntry(entry: TranscriptEntry, chalk: ChalkInstance, personName: string): string {
  const time = chalk.dim(entry.at.slice(11, 19));
  const label =
    entry.from === 'person'
      ? terminalSafe(personName)
      : entry.from === 'analyst'
        ? `analyst ${entry.by ?? ''}`.trim()
        : SPEAKER_LABELS[entry.from];
  const colour = { bot: chalk.cyan, person: chalk.yellow, analyst: chalk.green, system: chalk.magenta }[entry.from];
  const safe = terminalSafe(entry.text);
  const text = entry.from === 'system' ? chalk.italic(safe) : safe;
  return `${time} ${colour.bold(label.padEnd(10))} ${text.replace(/\n/g, `\n${' '.repeat(20)}`)}`;
}
