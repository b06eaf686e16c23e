// What `irbot listen --webhook` (and `--http`) needs before it binds: the address to listen on and the shared token.
import { isIP } from 'node:net';
import { ConfigError } from '../config/errors.js';
import type { Env } from '../config/types.js';

export const DEFAULT_WEBHOOK_HOST = '127.0.0.1';

/** Shorter secrets can be guessed; `openssl rand -hex 32` gives 64 characters. */
export const MIN_WEBHOOK_TOKEN = 16;

export interface ListenAddress {
  host: string;
  port: number;
}

/** `8080`, `0.0.0.0:8080`, `localhost:8080` or `[::1]:8080`; port 0 picks a free port. `option` names it in errors. */
export function parseListenAddress(value: string, option = '--webhook'): ListenAddress {
  const bad = (why: string) =>
    new ConfigError(`${option} ${JSON.stringify(value)}: ${why} (expected [HOST:]PORT, e.g. 127.0.0.1:8080 or 8080)`);
  const match = /^(?:(\[[^\]]*\]|[^:[\]]*):)?(\d+)$/.exec(value.trim());
  if (!match) throw bad('not an address');
  const [, rawHost, rawPort = ''] = match;
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port > 65_535) throw bad('the port must be from 0 to 65535');
  if (rawHost === undefined) return { host: DEFAULT_WEBHOOK_HOST, port };
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (rawHost.startsWith('[') && isIP(host) !== 6) throw bad('brackets hold an IPv6 address');
  if (host === '') throw bad('the host is empty');
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw bad('the host is not a name or an IP address');
  return { host, port };
}

/** The token the webhook's clients must send; a ConfigError names the variable, never its value. */
export function requireWebhookToken(env: Env): string {
  const token = env.webhookToken;
  if (!token) {
    throw new ConfigError(
      'Missing required environment variable: IRBOT_WEBHOOK_TOKEN (set it in the environment or in .env: a shared secret of at least 16 characters that your SIEM sends as Authorization: Bearer …; e.g. openssl rand -hex 32)',
    );
  }
  if (token.length < MIN_WEBHOOK_TOKEN) {
    throw new ConfigError(
      `IRBOT_WEBHOOK_TOKEN is too short: use at least ${MIN_WEBHOOK_TOKEN} characters (e.g. openssl rand -hex 32)`,
    );
  }
  // What a client can send after `Bearer ` (RFC 6750's token68, and more): a space would never match, every
  // request failing with 401 and nothing saying why.
  if (/[\s\p{Cc}]/u.test(token)) {
    throw new ConfigError(
      'IRBOT_WEBHOOK_TOKEN holds a space or a control character, which no Authorization: Bearer header can carry: use letters, digits and punctuation (e.g. openssl rand -hex 32)',
    );
  }
  return token;
}
