// `irbot doctor`: the deployment checklist, every check run and reported; exit 0 only when all pass.

import type { Command } from 'commander';
import { runDoctor } from '../doctor/checks.js';
import { renderChecks, verdict } from '../doctor/report.js';
import { safeJson } from '../untrusted-text.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { ExitWith } from './exit.js';
import { chalkFor } from './render.js';

export function addDoctorCommand(program: Command, deps: Deps): void {
  program
    .command('doctor')
    .description(commandDescription('doctor'))
    .option('--json', 'print {"ok","checks":[{"name","ok","detail","fix"}]} on stdout and nothing else')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: { json?: boolean; config?: string }) => {
      const report = await runDoctor({ cwd: deps.cwd, processEnv: deps.env, configOption: opts.config });
      if (opts.json) deps.stdout.write(`${safeJson(report)}\n`);
      else deps.stdout.write(renderChecks(report, chalkFor(deps.stdout, deps.env)));
      if (!opts.json) deps.stdout.write(`${verdict(report)}\n`);
      if (!report.ok) throw new ExitWith(1);
    });
}
