// `irbot status`: open chats from the store alone; no network, no Slack variables.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { loadEnv, readEnv } from '../config/env.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import { allAlerts } from '../store/port.js';
import type { Deps } from './deps.js';
import { chalkFor, renderStatus, statusRows } from './render.js';

export function addStatusCommand(program: Command, deps: Deps): void {
  program
    .command('status')
    .description('Show open chats (read from the store only)')
    .option('--all', 'also alerts without a chat, and ended or dismissed ones')
    .option('--json', 'print JSON on stdout and nothing else')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: { all?: boolean; json?: boolean; config?: string }) => {
      const env = readEnv(await loadEnv(deps.cwd, deps.env));
      const config = await loadConfig(resolve(deps.cwd, opts.config ?? env.configPath ?? 'config.toml'));
      const store = openLowdbStore(config.databasePath);
      const all = opts.all === true;
      // Open chats live in the working set; --all reads the archive of closed ones too.
      const alerts = all ? await allAlerts(store) : Object.values((await store.read()).alerts);
      const rows = statusRows(alerts, { all });
      deps.stdout.write(
        opts.json ? `${JSON.stringify(rows)}\n` : renderStatus(rows, chalkFor(deps.stdout, deps.env), { all }),
      );
    });
}
