// The doctor's results: one line per check and a verdict. Strings in, strings out.
import type { ChalkInstance } from 'chalk';
import { neutraliseLine } from '../untrusted-text.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was found; for a check that could not run, `skipped: needs …`. */
  detail: string;
  /** What to do about a failure, or a warning. */
  fix?: string;
  /** Passed, but something deserves a look (it does not fail the run). */
  warning?: boolean;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

export const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });

export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });

/** Passed, with something to look at: shown with its fix, counted in the verdict, exit code unchanged. */
export const warn = (name: string, detail: string, fix: string): CheckResult => ({
  name,
  ok: true,
  warning: true,
  detail,
  fix,
});

/** A check whose prerequisite failed: not passed, and its own line says what it waits for. */
export const skip = (name: string, needs: string): CheckResult => ({
  name,
  ok: false,
  detail: `skipped: needs ${needs}`,
});

export function isSkipped(check: CheckResult): boolean {
  return !check.ok && check.detail.startsWith('skipped:');
}

export function reportOf(checks: CheckResult[]): DoctorReport {
  return { ok: checks.every((c) => c.ok), checks };
}

/** `All 8 checks passed.` or `3 of 8 checks failed (1 skipped).` */
export function verdict(report: DoctorReport): string {
  const total = report.checks.length;
  const failed = report.checks.filter((c) => !c.ok);
  const warnings = report.checks.filter((c) => c.warning).length;
  if (failed.length === 0 && warnings > 0) {
    return `All ${total} checks passed (${warnings} warning${warnings === 1 ? '' : 's'}).`;
  }
  if (failed.length === 0) return `All ${total} checks passed.`;
  const skipped = failed.filter(isSkipped).length;
  return `${failed.length} of ${total} checks failed${skipped > 0 ? ` (${skipped} skipped)` : ''}.`;
}

/**
 * `✓ name — detail` or `✗ name — detail → fix`, one line per check. Details quote what Slack, OpenAI and the files
 * say (a channel's or a workspace's name, an error): shown on one line, their control characters made visible.
 */
export function renderChecks(report: DoctorReport, chalk: ChalkInstance): string {
  const lines = report.checks.map((check) => {
    const c = {
      ...check,
      name: neutraliseLine(check.name),
      detail: neutraliseLine(check.detail),
      ...(check.fix === undefined ? {} : { fix: neutraliseLine(check.fix) }),
    };
    if (c.warning) return `${chalk.yellow('!')} ${c.name} — ${c.detail}${c.fix ? ` → ${chalk.yellow(c.fix)}` : ''}`;
    if (c.ok) return `${chalk.green('✓')} ${c.name} ${chalk.dim(`— ${c.detail}`)}`;
    if (isSkipped(c)) return `${chalk.red('✗')} ${c.name} ${chalk.dim(`— ${c.detail}`)}`;
    return `${chalk.red('✗')} ${chalk.bold(c.name)} — ${c.detail}${c.fix ? ` → ${chalk.yellow(c.fix)}` : ''}`;
  });
  return `${lines.join('\n')}\n`;
}
