// `irbot send-alert`: posts an alert from alerts.toml, or every alert in a TOML, JSON or NDJSON file, to the feed.
import type { Command } from 'commander';
import { type AlertInput, loadAlerts, pickAlert, type Rejection } from '../config/alerts.js';
import { requireEnv } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import { BatchError, describeStart, type Posted, postAlerts } from '../intake/post.js';
import { previewAlert, renderPreviews } from '../intake/preview.js';
import { readAlertBatch } from '../intake/source.js';
import { oneLine } from '../log.js';
import { neutraliseLine, safeJson } from '../untrusted-text.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { progressLine } from './progress.js';
import { buildApp } from './runtime.js';
import { loadSetup, type Need } from './setup.js';

interface Options {
  file?: string;
  dryRun?: boolean;
  json?: boolean;
  config?: string;
}

export function addSendAlertCommand(program: Command, deps: Deps): void {
  program
    .command('send-alert')
    .description(commandDescription('send-alert'))
    .argument('[templateId]', 'the id of an alert in alerts.toml or in --file (with --file and no id: every alert)')
    .option(
      '--file <path>',
      'post the alerts in this TOML, JSON or NDJSON file (- reads stdin), in order; at most 32 MiB',
      (path: string, previous: string | undefined) => {
        // Commander keeps the last one: a first file's alerts would go unchecked and unsent without a word.
        if (previous !== undefined) {
          throw new ConfigError('--file is given twice: send one file at a time, or join them into one');
        }
        return path;
      },
    )
    .option('--dry-run', 'check the alerts and print what would be posted; contacts nothing, needs no token')
    .option(
      '--json',
      'print {"id","template","user_id","channel","ts","duplicate","suppressed"} (an array with --file) and nothing else',
    )
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (templateId: string | undefined, opts: Options) => {
      const many = opts.file !== undefined && templateId === undefined;
      let alerts: AlertInput[] | undefined;
      // Alerts of --file refused one by one: the others are posted, then the command exits 2.
      let rejected: Rejection[] = [];
      if (opts.file !== undefined) {
        const batch = await readAlertBatch(opts.file, deps);
        const good = batch.accepted.map(({ alert }) => alert);
        const [first] = batch.rejected;
        if (many) {
          // A single bad alert fails alone, as it always has; several are each named on a line.
          if (good.length === 0 && first && batch.rejected.length === 1) throw new ConfigError(first.error);
          alerts = good;
          rejected = batch.rejected;
        } else {
          const refused = batch.rejected.find((r) => r.id === templateId) ?? (good.length === 0 ? first : undefined);
          if (refused) throw new ConfigError(refused.error);
          alerts = [pickAlert(good, templateId, deps.random)];
        }
        for (const { error } of rejected) deps.stderr.write(`${neutraliseLine(error)}\n`);
        if (alerts.length === 0) throw refusedAll(rejected);
        if (opts.dryRun) {
          dryRun(alerts, opts, deps);
          if (rejected.length > 0) throw refusedSome(rejected, alerts.length, 'valid, nothing posted');
          return;
        }
      }
      const setup = await loadSetup(deps, opts.config, opts.dryRun ? [] : ['slackBotToken']);
      alerts ??= [pickAlert(await loadAlerts(setup.config.alertsPath), templateId, deps.random)];
      if (opts.dryRun) return dryRun(alerts, opts, deps);
      // Starting a chat writes the greeting with the LLM; only then is the OpenAI key needed.
      const needs: Need[] = alerts.some((alert) => alert.autoChat) ? ['openaiApiKey'] : [];
      requireEnv(setup.env, needs);

      // `posting 3/10…` for a batch, and Slack's Retry-After waits, on a terminal only.
      const progress = progressLine(deps.stderr);
      const waiting = (ms: number) => progress.show(`Slack is rate limiting; waiting ${Math.ceil(ms / 1000)} s…`);
      const app = buildApp({ ...setup, oneShot: true }, deps, undefined, {
        oneShot: true,
        ...(deps.stderr.isTTY ? { waiting } : {}),
      });
      let posted: Posted[];
      let failure: BatchError | undefined;
      try {
        posted = await postAlerts(app, alerts, (n, of) => of > 1 && progress.show(`posting ${n}/${of}…`));
      } catch (err) {
        if (!(err instanceof BatchError)) throw err;
        posted = err.posted;
        failure = err;
      } finally {
        progress.clear();
      }
      const rows = posted.map(jsonRow);
      // One alert that failed prints nothing on stdout (not `undefined`); a batch prints what it posted, maybe [].
      if (opts.json && (many || rows[0])) deps.stdout.write(`${safeJson(many ? rows : rows[0])}\n`);
      else if (!opts.json) deps.stdout.write(rows.map((row) => `${row.id}\n`).join(''));
      // A suppressed alert is said by the app's log line (the snooze, until when, why).
      for (const { alert, duplicate, suppressed } of posted) {
        if (!duplicate) continue;
        const what = suppressed
          ? `suppressed before by snooze ${suppressed.id} (${suppressed.reason}) with this dedupe_key, not posted now either`
          : 'already posted with this dedupe_key, not posted again';
        deps.stderr.write(`${neutraliseLine(`${alert.id}: ${what}`)}\n`);
      }
      // The chats start in this process: wait for their greetings (replies are handled by `irbot listen`).
      let chatFailure: unknown;
      for (const { alert, chat } of posted) {
        if (!chat) continue;
        try {
          deps.stderr.write(`${neutraliseLine(describeStart(alert.id, await chat))}\n`);
        } catch (err) {
          deps.stderr.write(`${neutraliseLine(`alert ${alert.id}: auto_chat failed: ${oneLine(err)}`)}\n`);
          chatFailure ??= err;
        }
      }
      // One alert fails as it always has, with the Slack error alone; a batch says which alert and what came before.
      if (failure) throw alerts.length === 1 && rejected.length === 0 ? failure.cause : failure;
      if (chatFailure) throw chatFailure;
      if (rejected.length > 0) throw refusedSome(rejected, posted.length, 'posted');
    });
}

/** Every key always there, null when unknown (an alert recorded but not posted has no ts yet). */
function jsonRow({ alert, duplicate, suppressed }: Posted): Record<string, unknown> {
  return {
    id: alert.id,
    template: alert.template ?? null,
    user_id: alert.userId ?? null,
    channel: alert.channelId ?? null,
    ts: alert.ts ?? null,
    duplicate,
    // The snooze that kept it from the feed (src/snoozes.ts); null when it was posted.
    suppressed: suppressed ? { snooze_id: suppressed.id, until: suppressed.until, reason: suppressed.reason } : null,
  };
}

function refusedAll(rejected: Rejection[]): ConfigError {
  return new ConfigError(
    `no alerts posted: all ${rejected.length} were refused (each named above); fix them and retry`,
  );
}

function refusedSome(rejected: Rejection[], done: number, what: string): ConfigError {
  const total = rejected.length + done;
  return new ConfigError(
    `${rejected.length} of ${total} alerts refused (each named above), ${done} ${what}; fix the refused ones and send them again`,
  );
}

function dryRun(alerts: AlertInput[], opts: Options, deps: Deps): void {
  const previews = alerts.map(previewAlert);
  deps.stdout.write(opts.json ? `${safeJson(previews)}\n` : renderPreviews(previews));
}
