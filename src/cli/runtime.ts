import { App, type AppOptions, type Ports } from '../app.js';
import { Claimant } from '../claims.js';
import { routingKeyProblem } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import { sinkName, sinkSecrets } from '../config/sinks.js';
import type { Config, Env } from '../config/types.js';
import { DeliveryDrain } from '../deliver/drain.js';
import { legacySinkTarget, sinkTarget } from '../deliver/events.js';
import { createPagerDutyTransport } from '../deliver/pagerduty.js';
import type { DeliveryTarget, Transport } from '../deliver/port.js';
import { createSinkTransport } from '../deliver/sink.js';
import { withConcurrencyLimit } from '../llm/limited-writer.js';
import { createOfflineWriter } from '../llm/offline-writer.js';
import type { Writer } from '../llm/port.js';
import { type Log, oneLine } from '../log.js';
import { budgetPathOf, fileBudget } from '../slack/budget.js';
import type { Inbound } from '../slack/envelope.js';
import { createPacer, type Pacer } from '../slack/pacer.js';
import { pgBudget } from '../slack/pg-budget.js';
import type { SlackPort } from '../slack/port.js';
import { rateLimitsFor } from '../slack/rate-limits.js';
import { isPgStore } from '../store/pg/pg-store.js';
import type { Store } from '../store/port.js';
import { verifierFor } from '../verify/factory.js';
import type { Deps } from './deps.js';
import { openStore, type Setup } from './setup.js';

/**
 * An object whose async methods load their implementation on first call: the Slack and OpenAI SDKs load only in
 * commands that use them, so `irbot --help` and `irbot status` start fast.
 */
export function lazy<T extends object>(load: () => Promise<T>): T {
  let loaded: Promise<T> | undefined;
  return new Proxy({} as T, {
    // Not a thenable: awaiting the object itself must not try to load it.
    get: (_, method) =>
      method === 'then'
        ? undefined
        : (...args: unknown[]) => {
            loaded ??= load();
            return loaded.then((target) => (target[method as keyof T] as (...a: unknown[]) => unknown)(...args));
          },
  });
}

export function buildWriter(env: Env, config: Config, stopping?: AbortSignal): Writer {
  const offline = createOfflineWriter();
  const { openaiApiKey } = env;
  if (!openaiApiKey) return offline;
  const writer = lazy(async () => {
    const [{ createOpenAiWriter }, { withFallback }] = await Promise.all([
      import('../llm/openai-writer.js'),
      import('../llm/fallback-writer.js'),
    ]);
    const openai = createOpenAiWriter({
      apiKey: openaiApiKey,
      ...(env.openaiBaseUrl ? { baseURL: env.openaiBaseUrl } : {}),
      ...(config.openaiOrganizationId ? { organization: config.openaiOrganizationId } : {}),
      model: config.openaiModel,
      timeoutMs: config.llmTimeoutSeconds * 1000,
      ...(stopping ? { stopping } : {}),
    });
    // The app logs each fallback with its alert and reason; the error itself is in the reason.
    return withFallback(openai, offline, () => undefined);
  });
  return withConcurrencyLimit(writer, config.llmConcurrency);
}

export function buildSlack(
  token: string,
  slackApiUrl: string,
  log: Log,
  oneShot = false,
  stopping?: AbortSignal,
): SlackPort {
  return lazy(async () => {
    const { createSlackPort, createWebClient } = await import('../slack/web-slack.js');
    return createSlackPort(createWebClient(token, slackApiUrl, log, { oneShot, ...(stopping ? { stopping } : {}) }));
  });
}

/**
 * The pacer of every command: its buckets live beside the store, so that every irbot process (a `listen`, a SIEM's
 * `send-alert` per alert, replicas on other machines) spends one Slack budget with the others instead of each its
 * own: in PostgreSQL with the PostgreSQL store, else in a file beside the JSON store.
 */
export function buildPacer(config: Config, log: Log, store?: Store): Pacer {
  const alone = (what: string, event: string) => (err: unknown) =>
    log(`${what}, this process paces itself alone: ${oneLine(err)}`, { event, level: 'warn' });
  const budget =
    store && isPgStore(store)
      ? pgBudget(
          { query: (text, values) => store.withClient((client) => client.query(text, values)) },
          { onError: alone('the shared Slack budget in PostgreSQL cannot be used for now', 'budget_pg_failed') },
        )
      : fileBudget(budgetPathOf(config.databasePath), {
          onError: alone('the shared Slack budget file cannot be used', 'budget_file_failed'),
        });
  return createPacer({ scale: config.slackRateScale, limits: rateLimitsFor(config.slackHistoryTier), budget });
}

export function buildApp(
  setup: Setup,
  deps: Deps,
  store: Store = openStore(setup.config, setup.log),
  extra: Pick<Ports, 'waiting' | 'oneShot' | 'deliveries'> = {},
): App {
  const { env, config, log } = setup;
  // Every page would be refused: said now, in one line, rather than as a failed delivery per escalation.
  const keyProblem = routingKeyProblem(env);
  if (keyProblem) throw new ConfigError(keyProblem);
  return new App(
    {
      slack: buildSlack(env.slackBotToken ?? '', env.slackApiUrl, log, setup.oneShot === true, setup.stopping),
      llm: buildWriter(env, config, setup.stopWriting),
      store,
      clock: deps.clock,
      newId: deps.newId,
      log,
      pacer: buildPacer(config, log, store),
      verifier: verifierFor(config, env),
      ...extra,
    },
    appOptions(config, env),
  );
}

export function appOptions(config: Config, env: Env): AppOptions {
  return {
    feedChannelId: config.feedChannelId,
    maxNudges: config.maxNudges,
    nudgeAfterMs: config.nudgeAfterMinutes * 60_000,
    responders: config.responders,
    stepUp: config.stepUp,
    ...(config.escalation.mention ? { escalationMention: config.escalation.mention } : {}),
    escalateOn: config.escalation.on,
    pagerduty: env.pagerdutyRoutingKey !== undefined,
    sinks: config.sinks,
    confirmBackoffHours: config.confirmBackoffHours,
    ...(config.workingHours ? { workingHours: config.workingHours } : {}),
    maxWaitMs: config.maxWaitHours * 3_600_000,
    leaseMs: config.leaseSeconds * 1000,
  };
}

/**
 * The drain of the delivery queue, with a transport for each target: each sink of config.toml, signed with the
 * secret its `secret_env` names (a missing one is a ConfigError, before anything starts), and PagerDuty when
 * PAGERDUTY_ROUTING_KEY is set (the key is added to each page as it is sent).
 */
export function buildDeliveries(setup: Setup, store: Store, clock: () => Date): DeliveryDrain {
  const { sinks } = setup.config;
  const secrets = sinkSecrets(sinks, setup.vars ?? {});
  const transports = new Map<DeliveryTarget, Transport>();
  const names = new Map<DeliveryTarget, string>();
  for (const [index, sink] of sinks.entries()) {
    const transport = createSinkTransport({ url: sink.url, secret: secrets[index] ?? '', clock });
    transports.set(sinkTarget(sink), transport);
    names.set(sinkTarget(sink), sinkName(sinks, index));
    // Events queued before sinks were named by what they are go to the sink now at their place.
    transports.set(legacySinkTarget(index), transport);
    names.set(legacySinkTarget(index), sinkName(sinks, index));
  }
  const { pagerdutyRoutingKey, pagerdutyApiUrl } = setup.env;
  if (pagerdutyRoutingKey) {
    transports.set('pagerduty', createPagerDutyTransport({ routingKey: pagerdutyRoutingKey, apiUrl: pagerdutyApiUrl }));
  }
  const describe = (target: DeliveryTarget) => (target === 'pagerduty' ? 'PagerDuty' : (names.get(target) ?? target));
  const claimant = new Claimant({ leaseMs: setup.config.leaseSeconds * 1000 });
  return new DeliveryDrain({ store, clock, log: setup.log, transports, describe, claimant });
}

export function socketOf(setup: Setup): SocketOptions {
  return {
    appToken: setup.env.socketAppToken ?? '',
    slackApiUrl: setup.env.slackApiUrl,
    ...(setup.oneShot ? { oneShot: true } : {}),
  };
}

/** Where Socket Mode connects, and whether a failure to connect is reported within about 30 s. */
export interface SocketOptions {
  appToken: string;
  slackApiUrl: string;
  oneShot?: boolean;
}

/** Where Slack's HTTP events are taken (`listen --http`) instead of Socket Mode, and how they are checked. */
export interface HttpEventsInbound {
  host: string;
  port: number;
  signingSecret: string;
  clock: () => Date;
  /** What keeps irbot from working now, for /healthz and for the answer to an event that could not be recorded. */
  health?: () => Promise<string | undefined>;
}

/** How often leftovers (crashed or detached processes, retries now due) and silence deadlines are looked at. */
export const SWEEP_EVERY_MS = 5_000;

/**
 * The sweep is what takes over the work of a replica that is gone, once its lease has run out: with a short lease
 * it runs every third of one, so that such work waits at most a lease and a third rather than a lease and 5 s.
 */
export function sweepEveryMs(leaseMs: number): number {
  return Math.min(SWEEP_EVERY_MS, leaseMs / 3);
}

export interface Serving {
  /** Stops taking events, finishes what is in flight. */
  stop(): Promise<void>;
  /** Settles with Slack's error once the Socket Mode connection is lost for good (a reconnect refused). */
  lost?: Promise<unknown>;
  /** With HTTP events: the URL Slack is to POST to (the Request URL of Event Subscriptions and Interactivity). */
  requestUrl?: string;
}

interface Connection {
  lost?: Promise<unknown>;
  requestUrl?: string;
  stop(): Promise<void>;
}

/**
 * Where a process takes Slack's events: Socket Mode, HTTP (`listen --http`), or nowhere (`irbot chat` in an HTTP
 * deployment: the replicas behind the Request URL take them, and the chat's view follows the store).
 */
export type EventSource = SocketOptions | HttpEventsInbound | 'store-only';

/** A signal came while Slack was still being reached: nothing was taken yet, and nothing is left to finish. */
export class StoppedConnecting extends Error {
  override readonly name = 'StoppedConnecting';

  constructor() {
    super('stopped before Slack was reached');
  }
}

/**
 * Takes Slack's events over Socket Mode, or over HTTP when `inbound` says where to listen. `stopped`: a signal that
 * ends a Socket Mode connection still being opened (Slack unreachable: its retries would go on for hours), and
 * the start with it (Stopping).
 */
async function connect(app: App, inbound: EventSource, log: Log, stopped?: Promise<unknown>): Promise<Connection> {
  if (inbound === 'store-only') return { stop: async () => undefined };
  const handle = (event: Inbound, ack: () => Promise<void>) => app.handleInbound(event, ack);
  if ('signingSecret' in inbound) {
    const { startHttpEvents, EVENTS_PATH } = await import('../slack/http-events.js');
    const events = await startHttpEvents({ ...inbound, log, handle });
    return { requestUrl: `${events.address.url}${EVENTS_PATH}`, stop: () => events.close() };
  }
  const { connectSocket } = await import('../slack/socket.js');
  const connection = connectSocket({ ...inbound, log, handle });
  const starting = connection.start();
  const first = await Promise.race([
    starting.then(() => 'started' as const),
    (stopped ?? new Promise<never>(() => undefined)).then(() => 'stopped' as const),
  ]);
  if (first === 'stopped') {
    // Its retries end at once; a request Slack has not answered yet ends with its timeout, and is not waited for.
    starting.catch(() => undefined);
    await connection.stop();
    throw new StoppedConnecting();
  }
  return connection;
}

/**
 * Takes Slack's events (Socket Mode, or HTTP) and keeps the store moving: leftovers are drained at once and then
 * periodically, with silence deadlines, so that any process serves every chat.
 */
export async function serve(app: App, inbound: EventSource, log: Log, stopped?: Promise<unknown>): Promise<Serving> {
  const connection = await connect(app, inbound, log, stopped);
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = () => {
    sweeping = app
      .sweep()
      .catch((err) => log(`sweep failed: ${oneLine(err)}`, { event: 'sweep_failed', level: 'error' }));
  };
  sweep();
  const timer = setInterval(sweep, sweepEveryMs(app.leaseMs));
  return {
    ...(connection.lost ? { lost: connection.lost } : {}),
    ...(connection.requestUrl ? { requestUrl: connection.requestUrl } : {}),
    async stop() {
      clearInterval(timer);
      await connection.stop();
      await sweeping;
      app.halt(); // a push being polled is left for the next process, not waited for
      await app.idle();
      await app.deliveriesIdle();
    },
  };
}
