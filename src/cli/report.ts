// `irbot report`: how it is going, from the store and its archive alone (no network, no Slack variables).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { renderReportHtml } from '../report/html.js';
import { buildReport } from '../report/stats.js';
import { renderReportTable } from '../report/table.js';
import { parseSince } from '../report/window.js';
import { factsSince } from '../store/port.js';
import { neutraliseLine, safeJson } from '../untrusted-text.js';
import { chalkFor } from './colour.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { loadSetup, openStore } from './setup.js';
import { checkReplaceable, replacePrivateFile } from './user-file.js';

interface ReportOptions {
  since: string;
  template?: string;
  json?: boolean;
  html?: string;
  config?: string;
}

export function addReportCommand(program: Command, deps: Deps): void {
  program
    .command('report')
    .description(commandDescription('report'))
    .option('--since <when>', 'alerts created since: a duration (30d, 12h, 2w), a date (2026-11-01) or all', '30d')
    .option('--template <id>', 'only alerts of this template')
    .option('--json', 'print JSON on stdout and nothing else')
    .option('--html <file>', 'also write the report as one self-contained HTML file with charts')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: ReportOptions) => {
      const now = deps.clock();
      // Arguments first: a typo is told before any file is read.
      const since = parseSince(opts.since, now);
      if (opts.template !== undefined && opts.template.trim() === '') {
        throw new ConfigError('--template: empty; give a template id from alerts.toml, e.g. --template login');
      }
      if (opts.html !== undefined && opts.html.trim() === '') {
        throw new ConfigError('--html: empty; give the file to write, e.g. --html report.html');
      }
      const html = opts.html === undefined ? undefined : resolve(deps.cwd, opts.html);
      const fix = 'give --html a file in an existing folder, e.g. --html report.html';
      if (html !== undefined) await checkReplaceable(html, fix);
      const { config, log } = await loadSetup(deps, opts.config, []);
      // Archived alerts are read as their facts, kept beside the archive: whole records are never parsed.
      const alerts = await factsSince(openStore(config, log), since?.toISOString() ?? null);
      const report = buildReport(alerts, { since, template: opts.template ?? null, now });
      if (html !== undefined) {
        await replacePrivateFile(html, renderReportHtml(report), fix);
        if (!opts.json) deps.stdout.write(`Wrote ${neutraliseLine(html)}\n`);
      }
      deps.stdout.write(
        opts.json ? `${safeJson(report)}\n` : renderReportTable(report, chalkFor(deps.stdout, deps.env)),
      );
    });
}
