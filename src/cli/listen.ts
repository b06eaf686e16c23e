// `irbot listen`: the daemon. Serves every alert's buttons and DMs until SIGINT/SIGTERM, then drains and exits.
import type { Command } from 'commander';
import type { Deps } from './deps.js';
import { buildApp, buildSocket, loadSetup } from './runtime.js';

/** How often leftovers of crashed or detached processes are picked up. */
const RECOVER_EVERY_MS = 5_000;

export function addListenCommand(program: Command, deps: Deps): void {
  program
    .command('listen')
    .description('Run the bot: handle alert buttons and direct messages until stopped (SIGINT/SIGTERM)')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (opts: { config?: string }) => {
      const setup = await loadSetup(deps, opts.config, ['slackBotToken', 'socketAppToken', 'openaiApiKey']);
      const app = buildApp(setup, deps);
      const socket = buildSocket(setup, app);
      const stopped = deps.nextSignal();
      await socket.start();
      setup.log(`listening on Socket Mode for feed channel ${setup.config.feedChannelId}`);
      const recover = () => app.recover().catch((err) => setup.log(`recovery failed: ${String(err)}`));
      void recover();
      const timer = setInterval(recover, RECOVER_EVERY_MS);
      const signal = await stopped;
      setup.log(`${signal}: finishing what is in flight`);
      clearInterval(timer);
      await socket.stop();
      await app.idle();
      setup.log('stopped');
    });
}
