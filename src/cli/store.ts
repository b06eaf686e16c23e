// `irbot store migrate --to <postgres url>`: copies the lowdb store (working set, journal, archive, snoozes) into
// an empty PostgreSQL database, checks the counts, and leaves the files as they were.
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import { COUNTED, copyInto } from '../store/pg/copy.js';
import { openPgStore } from '../store/pg/pg-store.js';
import { checkPostgresUrl, redactUrl } from '../store/pg/url.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { loadSetup } from './setup.js';

export function addStoreCommand(program: Command, deps: Deps): void {
  const store = program.command('store').description(commandDescription('store'));
  store
    .command('migrate')
    .description('Copy the lowdb store (database_path) into an empty PostgreSQL database; the files stay as they are')
    .requiredOption('--to <url>', 'the PostgreSQL database, postgres://user:password@host:5432/database')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: { to: string; config?: string }) => {
      const url = checkPostgresUrl(opts.to, '--to');
      const { config, log } = await loadSetup(deps, opts.config, []);
      // Read as a reader: an older schema is migrated in memory only, nothing is written to the files.
      const source = openLowdbStore(config.databasePath, { log, tighten: false });
      const data = await source.read();
      const archived = (await source.readArchive()).filter((alert) => !Object.hasOwn(data.alerts, alert.id));
      const target = openPgStore(url, { log, poolSize: 1 });
      const where = redactUrl(url);
      try {
        const found = await target.withClient((client) => copyInto(client, where, data, archived));
        const lines = COUNTED.map(([name, key]) => `  ${name.padEnd(22)}${String(found[key]).padStart(8)}\n`);
        deps.stdout.write(
          `Copied ${config.databasePath} into ${where}:\n${lines.join('')}` +
            'The files are left as they were. Set database_url in config.toml (or DATABASE_URL) to use the database.\n',
        );
      } finally {
        await target.close();
      }
    });
  // `irbot store` alone: its subcommands.
  store.action(() => {
    throw new ConfigError('irbot store needs a subcommand: irbot store migrate --to <postgres url>');
  });
}
