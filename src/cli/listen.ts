// `irbot listen`: the daemon. Serves every alert's buttons and DMs, over Socket Mode or with --http over Slack's
// HTTP events (and with --webhook, alerts over HTTP) until SIGINT/SIGTERM, then drains and exits.
import type * as Commander from 'commander';
import type { Command } from 'commander';
import { requireCjs } from '../cjs.js';
import { parseAlertBatch } from '../config/alerts.js';
import { ConfigError } from '../config/errors.js';
import { sinkSecrets } from '../config/sinks.js';
import { parseListenAddress, requireWebhookToken } from '../intake/options.js';
import { startWebhook, type Webhook } from '../intake/webhook.js';
import { jsonLog, type Log, type LogFormat, logFormatFor, oneLine } from '../log.js';
import { APP_TOKEN_REFUSALS } from '../slack/errors.js';
import type { Store } from '../store/port.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { ExitWith } from './exit.js';
import { buildApp, buildDeliveries, type Serving, StoppedConnecting, serve, socketOf } from './runtime.js';
import { loadSetup, openStore } from './setup.js';

const { Option } = requireCjs('commander') as typeof Commander;

export function addListenCommand(program: Command, deps: Deps): void {
  program
    .command('listen')
    .description(commandDescription('listen'))
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .addOption(
      new Option(
        '--log-format <format>',
        'json: one JSON object per line (for a log pipeline); pretty: for people (default: pretty on a terminal, else json)',
      ).choices(['json', 'pretty']),
    )
    .option(
      '--webhook <[host:]port>',
      'also take alerts over HTTP: POST /alerts with Authorization: Bearer $IRBOT_WEBHOOK_TOKEN (host default 127.0.0.1)',
    )
    .option(
      '--http <[host:]port>',
      "take Slack's events over HTTP instead of Socket Mode: POST /slack/events (Events API and interactivity), signed with $SLACK_SIGNING_SECRET (host default 127.0.0.1)",
    )
    .action(async (opts: { config?: string; webhook?: string; http?: string; logFormat?: LogFormat }) => {
      // Over HTTP, Slack signs each request with the signing secret and no app-level token is used.
      const slackNeeds = opts.http === undefined ? (['socketAppToken'] as const) : (['slackSigningSecret'] as const);
      const loaded = await loadSetup(deps, opts.config, ['slackBotToken', ...slackNeeds, 'openaiApiKey']);
      // listen sends the deliveries (sink events, pages) every command queues: it needs their secrets.
      sinkSecrets(loaded.config.sinks, loaded.vars ?? {});
      const json = logFormatFor(opts.logFormat, deps.stderr) === 'json';
      const setup = json ? { ...loaded, log: jsonLog(deps.stderr, deps.clock) } : loaded;
      const intake =
        opts.webhook === undefined
          ? undefined
          : { address: parseListenAddress(opts.webhook), token: requireWebhookToken(setup.env) };
      const httpAt = opts.http === undefined ? undefined : parseListenAddress(opts.http, '--http');
      // A store that cannot be read stops listen before anything is bound or connected (see `readableStore`).
      const store = await readableStore(openStore(setup.config, setup.log));
      const stopped = deps.nextSignal();
      // At the stop, Slack's retry pauses end at once; an LLM call under way gets a grace to finish (its work is
      // in flight), then is let go, its effect left for the next start (see WriterStopped).
      const stopping = new AbortController();
      const stopWriting = new AbortController();
      void stopped.then(() => {
        stopping.abort();
        setTimeout(() => stopWriting.abort(), llmGraceMs(setup.config.llmTimeoutSeconds)).unref();
      });
      const app = buildApp({ ...setup, stopping: stopping.signal, stopWriting: stopWriting.signal }, deps, store, {
        deliveries: buildDeliveries(setup, store, deps.clock),
      });
      // Bound first: a port in use is a configuration error, reported before Slack is contacted.
      let webhook: Webhook | undefined;
      if (intake) {
        webhook = await startWebhook(app, (body) => parseAlertBatch('json', body, 'request body'), {
          ...intake.address,
          token: intake.token,
          log: setup.log,
          health: () => storeTrouble(store, setup.log),
          clock: deps.clock,
        });
        setup.log(`webhook listening on ${webhook.address.url}`, { event: 'webhook_listening' });
      }
      let serving: Serving;
      try {
        const inbound = httpAt && {
          ...httpAt,
          signingSecret: setup.env.slackSigningSecret ?? '',
          clock: deps.clock,
          health: () => storeTrouble(store, setup.log),
        };
        serving = await serve(app, inbound ?? socketOf(setup), setup.log, stopped);
      } catch (err) {
        await webhook?.close();
        // A signal while Slack was still being reached (systemctl stop, Ctrl-C): a clean stop, not a failure.
        if (!(err instanceof StoppedConnecting)) throw err;
        setup.log(`${await stopped}: stopped before Slack was reached`, { event: 'stopping' });
        await app.idle();
        await app.deliveriesIdle();
        setup.log('stopped', { event: 'stopped' });
        return;
      }
      const via = serving.requestUrl ? `HTTP events at ${serving.requestUrl}` : 'Socket Mode';
      setup.log(`listening on ${via} for feed channel ${setup.config.feedChannelId}`, { event: 'listening' });
      const ended = await Promise.race([
        stopped.then((signal) => ({ signal })),
        (serving.lost ?? new Promise<never>(() => undefined)).then((err) => ({ err })),
      ]);
      if ('signal' in ended) setup.log(`${ended.signal}: finishing what is in flight`, { event: 'stopping' });
      else
        setup.log(`Socket Mode connection lost for good: ${connectionLost(ended.err)}; finishing what is in flight`, {
          event: 'connection_lost',
          level: 'error',
        });
      await webhook?.close();
      await serving.stop();
      setup.log('stopped', { event: 'stopped' });
      // systemd (or any supervisor) then shows why, and restarts it once the token is fixed.
      if ('err' in ended) throw new ExitWith(1);
    });
}

/**
 * The store, once it has been read: a daemon that cannot read it would take alerts and DMs it cannot keep. The
 * store's own errors (corrupt, newer schema, damaged journal) say what to do; others (EACCES) are named with it.
 */
async function readableStore(store: Store): Promise<Store> {
  try {
    await store.read();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Store ${store.path} cannot be read: ${oneLine(err)}`);
  }
  return store;
}

/** 'store unreadable' when the store cannot be read now (logged with why), else undefined: what /healthz says. */
async function storeTrouble(store: Store, log: Log): Promise<string | undefined> {
  try {
    await store.read();
    return undefined;
  } catch (err) {
    log(`the store cannot be read: ${oneLine(err)}`, { event: 'store_unreadable', level: 'error' });
    return 'store unreadable';
  }
}

/** Slack's reason a reconnect was refused, with what to do about it: the app-level token is the one that failed. */
function connectionLost(err: unknown): string {
  const code = (err as { data?: { error?: unknown } } | null)?.data?.error;
  if (typeof code === 'string' && APP_TOKEN_REFUSALS.has(code))
    return `apps.connections.open answered ${code}: check SOCKET_APP_TOKEN (Basic Information → App-Level Tokens, with connections:write), then restart irbot listen`;
  return oneLine(err);
}

/** How long a stopping listen lets an LLM call under way finish: its timeout, at most 10 s (systemd waits 60). */
export function llmGraceMs(llmTimeoutSeconds: number): number {
  return Math.min(10_000, llmTimeoutSeconds * 1000);
}
