// `irbot listen`: the daemon. Serves every alert's buttons and DMs until SIGINT/SIGTERM, then drains and exits.
import type { Command } from 'commander';
import type { Deps } from './deps.js';
import { buildApp, loadSetup, serve, socketOf } from './runtime.js';

export function addListenCommand(program: Command, deps: Deps): void {
  program
    .command('listen')
    .description('Run the bot: handle alert buttons and direct messages until stopped (SIGINT/SIGTERM)')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: { config?: string }) => {
      const setup = await loadSetup(deps, opts.config, ['slackBotToken', 'socketAppToken', 'openaiApiKey']);
      const app = buildApp(setup, deps);
      const stopped = deps.nextSignal();
      const serving = await serve(app, socketOf(setup), setup.log);
      setup.log(`listening on Socket Mode for feed channel ${setup.config.feedChannelId}`);
      const signal = await stopped;
      setup.log(`${signal}: finishing what is in flight`);
      await serving.stop();
      setup.log('stopped');
    });
}
