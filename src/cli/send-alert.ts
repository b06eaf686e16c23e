// `irbot send-alert`: posts an alert from alerts.toml to the feed channel.
import type { Command } from 'commander';
import { loadAlerts, pickAlert } from '../config/alerts.js';
import type { Deps } from './deps.js';
import { buildApp, loadSetup } from './runtime.js';

export function addSendAlertCommand(program: Command, deps: Deps): void {
  program
    .command('send-alert')
    .description('Post an alert from alerts.toml to the feed channel (a random one without an id)')
    .argument('[templateId]', 'the id of an [[alerts]] entry in alerts.toml')
    .option('--json', 'print {"id","template","user_id","channel","ts"} on stdout and nothing else')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (templateId: string | undefined, opts: { json?: boolean; config?: string }) => {
      const setup = await loadSetup(deps, opts.config, ['slackBotToken']);
      const template = pickAlert(await loadAlerts(setup.config.alertsPath), templateId, deps.random);
      const { alert } = await buildApp(setup, deps).postAlert(template);
      deps.stdout.write(
        opts.json
          ? `${JSON.stringify({ id: alert.id, template: alert.template, user_id: alert.userId, channel: alert.channelId, ts: alert.ts })}\n`
          : `${alert.id}\n`,
      );
    });
}
