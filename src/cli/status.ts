// `irbot status`: open chats from the store alone; no network, no Slack variables.

import type { Command } from 'commander';
import { allAlerts } from '../store/port.js';
import { safeJson } from '../untrusted-text.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { chalkFor, renderStatus, statusRows } from './render.js';
import { loadSetup, openStore } from './setup.js';

export function addStatusCommand(program: Command, deps: Deps): void {
  program
    .command('status')
    .description(commandDescription('status'))
    .option('--all', 'also alerts without a chat, and ended or dismissed ones')
    .option('--json', 'print JSON on stdout and nothing else')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: { all?: boolean; json?: boolean; config?: string }) => {
      // The store alone: no Slack or OpenAI variable is needed.
      const { config, log } = await loadSetup(deps, opts.config, []);
      const store = openStore(config, log);
      const all = opts.all === true;
      // Open chats live in the working set; --all reads the archive of closed ones too.
      const alerts = all ? await allAlerts(store) : Object.values((await store.read()).alerts);
      const rows = statusRows(alerts, { all });
      deps.stdout.write(
        opts.json ? `${safeJson(rows)}\n` : renderStatus(rows, chalkFor(deps.stdout, deps.env), { all }),
      );
    });
}
