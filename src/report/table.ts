// `irbot report` on a terminal: the window in a line, then two tables (volume and speed; outcomes), one row per
// template and one for all. Strings in, strings out; colour only as the chalk given allows.
import type { ChalkInstance } from 'chalk';
import type * as CliTable3 from 'cli-table3';
import { requireCjs } from '../cjs.js';
import { neutraliseLine } from '../untrusted-text.js';
import type { StepUpResult } from '../verify/port.js';
import type { Counts, Report, Spread } from './stats.js';

const Table = requireCjs('cli-table3') as typeof CliTable3.default;

/** A duration as people read it: 45s, 4m 10s, 1h 05m, 2d 3h. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export const formatSpread = (spread: Spread): string =>
  spread.count === 0 ? '–' : `${formatDuration(spread.median_ms)} / ${formatDuration(spread.p90_ms)}`;

export const formatRate = (counts: Counts): string =>
  counts.reply_rate === null ? '–' : `${Math.round(counts.reply_rate * 100)}% (${counts.replied}/${counts.greeted})`;

const STEP_UP_SHORT: Record<StepUpResult, string> = {
  approved: 'verified',
  denied: 'denied',
  fraud: 'fraud',
  timeout: 'timed out',
  not_enrolled: 'not enrolled',
  error: 'error',
};

/** The step-ups' results with a count, e.g. "4 verified, 1 denied"; – when none ran. */
export function formatStepUp(counts: Counts): string {
  const parts = (Object.keys(STEP_UP_SHORT) as StepUpResult[])
    .filter((result) => counts.step_up[result] > 0)
    .map((result) => `${counts.step_up[result]} ${STEP_UP_SHORT[result]}`);
  return parts.length === 0 ? '–' : parts.join(', ');
}

/** The window in words: "since 2026-11-04 (30 days)", "since the first alert". */
export function windowWords(report: Report): string {
  const until = `${report.until.slice(0, 16).replace('T', ' ')} UTC`;
  const since = report.since ? `${report.since.slice(0, 16).replace('T', ' ')} UTC` : 'the first alert';
  const template = report.template === null ? '' : `, template ${neutraliseLine(report.template)}`;
  return `alerts created from ${since} to ${until}${template}`;
}

export function renderReportTable(report: Report, chalk: ChalkInstance): string {
  const title = chalk.bold(`irbot report: ${windowWords(report)}`);
  if (report.overall.alerts === 0) {
    return `${title}\nNo alerts in this window. (--since 90d or --since all looks further back.)\n`;
  }
  const rows: Array<[string, Counts]> = [
    ...report.templates.map((t): [string, Counts] => [neutraliseLine(t.template), t]),
    ...(report.templates.length > 1 || report.template === null ? [['all', report.overall] as [string, Counts]] : []),
  ];
  const make = (head: string[]) =>
    new Table({
      head: head.map((h) => chalk.bold(h)),
      style: { head: [], border: [], compact: true },
      colAligns: head.map((_, i) => (i === 0 ? 'left' : 'right')),
    });
  const volume = make([
    'TEMPLATE',
    'ALERTS',
    'DISMISSED',
    'SUPPRESSED',
    'CHATS',
    'REPLY RATE',
    'FIRST REPLY p50 / p90',
    'VERDICT p50 / p90',
  ]);
  for (const [name, c] of rows) {
    volume.push([
      name === 'all' ? chalk.bold(name) : name,
      String(c.alerts),
      String(c.dismissed),
      String(c.suppressed),
      String(c.chats),
      formatRate(c),
      formatSpread(c.first_reply),
      formatSpread(c.verdict),
    ]);
  }
  const outcomes = make([
    'TEMPLATE',
    'AWARE',
    'NOT AWARE',
    'NO ANSWER',
    'BY ANALYST',
    'FAILED',
    'OPEN',
    'STEP-UP',
    'ESCALATED',
  ]);
  const red = (n: number) => (n > 0 ? chalk.red(String(n)) : String(n));
  for (const [name, c] of rows) {
    outcomes.push([
      name === 'all' ? chalk.bold(name) : name,
      c.outcomes.aware > 0 ? chalk.green(String(c.outcomes.aware)) : '0',
      red(c.outcomes.not_aware),
      c.outcomes.no_answer > 0 ? chalk.yellow(String(c.outcomes.no_answer)) : '0',
      String(c.outcomes.ended_by_analyst),
      red(c.outcomes.failed),
      String(c.open),
      formatStepUp(c),
      c.escalations > 0 ? chalk.yellow(String(c.escalations)) : '0',
    ]);
  }
  return `${title}\n${volume.toString()}\n${outcomes.toString()}\n`;
}
