// `[[sinks]]` of config.toml → SinkConfig[], and the signing secrets their `secret_env` names, from the environment.
import type { DeliveryEvent } from '../deliver/port.js';
import { holdSecrets } from '../log.js';
import { ConfigError, Invalid } from './errors.js';
import type { SinkConfig } from './types.js';

/** Every event a sink may ask for; `suppressed` (an alert a snooze kept from the feed) only when asked for. */
export const SINK_EVENTS: readonly DeliveryEvent[] = [
  'posted',
  'started',
  'ended',
  'dismissed',
  'escalated',
  'suppressed',
];
/** A sink that names no `events` gets these. */
const DEFAULT_EVENTS: DeliveryEvent[] = ['posted', 'started', 'ended', 'dismissed', 'escalated'];
const SINK_KEYS = ['url', 'secret_env', 'events'];
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function readSinks(value: unknown): SinkConfig[] {
  if (!Array.isArray(value)) {
    throw new Invalid('must be tables written [[sinks]], each with url, secret_env and events (see the README)');
  }
  return value.map((item: unknown, index) => readSink(item, `#${index + 1}`));
}

function readSink(item: unknown, which: string): SinkConfig {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new Invalid(`${which}: must be a table [[sinks]] with url, secret_env and events`);
  }
  const table = item as Record<string, unknown>;
  for (const key of Object.keys(table)) {
    if (!SINK_KEYS.includes(key)) {
      throw new Invalid(`${which}: unknown key ${JSON.stringify(key)} (known keys: ${SINK_KEYS.join(', ')})`);
    }
  }
  return {
    url: readUrl(table.url, which),
    secretEnv: readSecretEnv(table.secret_env, which),
    events: readEvents(table.events, which),
  };
}

function readUrl(value: unknown, which: string): string {
  const example = 'e.g. url = "https://siem.example.com/irbot/events"';
  if (typeof value !== 'string' || value.trim() === '') throw new Invalid(`${which}: url: required (${example})`);
  // The value is not echoed: its path or query may carry a token.
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid(`${which}: url: is not a URL (${example})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Invalid(`${which}: url: must start with https:// or http:// (${example})`);
  }
  // fetch refuses such a URL at every attempt, and its error repeats the URL whole.
  if (url.username !== '' || url.password !== '') {
    throw new Invalid(
      `${which}: url: must not carry a user name or password (the sink checks each delivery's signature, made with secret_env's secret)`,
    );
  }
  return url.href;
}

function readSecretEnv(value: unknown, which: string): string {
  if (typeof value !== 'string' || !VARIABLE_NAME.test(value)) {
    throw new Invalid(
      `${which}: secret_env: must name the environment variable that holds the sink's signing secret, e.g. secret_env = "IRBOT_SINK_SECRET" (the secret itself goes in the environment or .env, never here)`,
    );
  }
  return value;
}

function readEvents(value: unknown, which: string): DeliveryEvent[] {
  if (value === undefined) return [...DEFAULT_EVENTS];
  const known = SINK_EVENTS.join(', ');
  if (!Array.isArray(value) || value.length === 0) {
    throw new Invalid(`${which}: events: must list some of ${known}, e.g. events = ["ended", "escalated"]`);
  }
  const events = value.map((event: unknown) => {
    if (typeof event !== 'string' || !(SINK_EVENTS as readonly string[]).includes(event)) {
      throw new Invalid(`${which}: events: ${JSON.stringify(event)} is not an event irbot sends (any of ${known})`);
    }
    return event as DeliveryEvent;
  });
  return [...new Set(events)];
}

/** A sink in messages and logs: its number and origin only, since a URL's path or query may carry a token. */
export function sinkName(sinks: readonly SinkConfig[], index: number): string {
  const sink = sinks[index];
  return sink ? `sink #${index + 1} (${new URL(sink.url).origin})` : `sink #${index + 1}`;
}

/**
 * The signing secret of each sink, read from the variable its `secret_env` names (process values already merged
 * over .env). A command that delivers needs them all: a missing one is a ConfigError naming the variable.
 */
export function sinkSecrets(sinks: readonly SinkConfig[], vars: Record<string, string | undefined>): string[] {
  const secrets = sinks.map((sink, index) => {
    const secret = vars[sink.secretEnv];
    if (!secret?.trim()) {
      throw new ConfigError(
        `Missing environment variable ${sink.secretEnv}, the signing secret of ${sinkName(sinks, index)} in config.toml's [[sinks]] (set it in the environment or in .env, or remove the sink)`,
      );
    }
    return secret;
  });
  holdSecrets(secrets);
  return secrets;
}
