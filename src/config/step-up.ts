// config.toml's `[step_up]` table → StepUpConfig: whether an "it was me" needs a Duo push, and how it is asked.
import { ConfigError, quote } from './errors.js';
import type { StepUpConfig, StepUpProvider, UsernameFrom } from './types.js';

interface StepUpKey<T> {
  type: string;
  description: string;
  default?: T;
  /** Returns the value, or a string saying what is wrong with it. */
  read: (value: unknown) => T | { problem: string };
}

/** A Duo API hostname as the Admin Panel shows it: a host name, no scheme, no path. */
const HOSTNAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i;

function integer(min: number, max: number): (value: unknown) => number | { problem: string } {
  return (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? value
      : { problem: `must be an integer from ${min} to ${max}` };
}

export const STEP_UP_KEYS = {
  provider: {
    type: '"none" | "duo"',
    description: 'who confirms an "it was me" with a second factor: "none" (nobody) or "duo" (a Duo push)',
    default: 'none' as StepUpProvider,
    read: (value: unknown): StepUpProvider | { problem: string } =>
      value === 'none' || value === 'duo' ? value : { problem: 'must be "none" or "duo"' },
  },
  api_hostname: {
    type: 'string',
    description: 'the API hostname of your Duo Auth API application, e.g. "api-1a2b3c4d.duosecurity.com"',
    read: (value: unknown): string | { problem: string } => {
      if (typeof value !== 'string') return { problem: 'must be a string, e.g. "api-1a2b3c4d.duosecurity.com"' };
      const host = value.trim();
      if (/^[a-z]+:\/\//i.test(host)) {
        return { problem: 'must be the host name alone, without https:// (e.g. "api-1a2b3c4d.duosecurity.com")' };
      }
      if (!HOSTNAME.test(host)) {
        return { problem: 'must be a host name, e.g. "api-1a2b3c4d.duosecurity.com" (Duo Admin Panel > Applications)' };
      }
      return host.toLowerCase();
    },
  },
  username_from: {
    type: '"email" | "email_local_part" | "slack_id"',
    description:
      "the person's Duo username: their Slack email, its part before the @, or their Slack member ID (U…); emails need the users:read.email scope",
    default: 'email' as UsernameFrom,
    read: (value: unknown): UsernameFrom | { problem: string } =>
      value === 'email' || value === 'email_local_part' || value === 'slack_id'
        ? value
        : { problem: 'must be "email", "email_local_part" or "slack_id"' },
  },
  email_domains: {
    type: 'array of domains',
    description:
      'your own email domains, e.g. ["example.com"], matched exactly (list a subdomain too): a person whose Slack email is at another (a Slack Connect guest) gets no push; required with username_from = "email_local_part"',
    read: (value: unknown): string[] | { problem: string } => {
      const example = 'e.g. email_domains = ["example.com"]';
      if (!Array.isArray(value) || value.length === 0) return { problem: `must list your email domains, ${example}` };
      const domains = value.map((domain: unknown) =>
        typeof domain === 'string' && HOSTNAME.test(domain.trim()) ? domain.trim().toLowerCase() : undefined,
      );
      return domains.every((d) => d !== undefined)
        ? domains
        : { problem: `must list domain names, without "@" or a scheme, ${example}` };
    },
  },
  push_timeout_seconds: {
    type: 'integer 60..3600',
    description: 'seconds the person has to answer a push before it counts as timed out (Duo expires pushes after 60)',
    default: 60,
    // Never less than Duo keeps a push on the phone: one given up on earlier could still be approved (and not
    // count) or reported as fraud (and be lost, the chat closing as a mere timeout).
    read: (value: unknown) =>
      typeof value === 'number' && Number.isInteger(value) && value >= 1 && value < 60
        ? {
            problem: 'must be at least 60: Duo keeps a push on the phone for 60 s, and an answer given then must count',
          }
        : integer(60, 3600)(value),
  },
  retries: {
    type: 'integer 0..5',
    description: 'new pushes a person may ask for (by replying "retry") after one timed out',
    default: 1,
    read: integer(0, 5),
  },
} satisfies Record<string, StepUpKey<unknown>>;

type Keys = typeof STEP_UP_KEYS;
type Read<K extends keyof Keys> = Exclude<ReturnType<Keys[K]['read']>, { problem: string }>;

/** The `step_up` value of config.toml (a table, or absent for the defaults: step-up off). */
export function parseStepUp(value: unknown, file: string): StepUpConfig {
  const where = `${file}: step_up`;
  if (value === undefined) value = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
    throw new ConfigError(`${where}: must be a table: a [step_up] section with provider = "none" or "duo"`);
  }
  const table = value as Record<string, unknown>;
  const known = Object.keys(STEP_UP_KEYS);
  for (const key of Object.keys(table)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${where}: unknown key ${quote(key)} (known keys: ${known.join(', ')})`);
    }
  }
  const get = <K extends keyof Keys>(key: K): Read<K> | undefined => {
    const spec: StepUpKey<unknown> = STEP_UP_KEYS[key];
    const raw = table[key] ?? spec.default;
    if (raw === undefined) return undefined;
    const read = spec.read(raw);
    if (typeof read === 'object' && read !== null && 'problem' in read) {
      throw new ConfigError(`${where}.${key}: ${read.problem}`);
    }
    return read as Read<K>;
  };
  const provider = get('provider') ?? 'none';
  const apiHostname = get('api_hostname');
  if (provider === 'duo' && apiHostname === undefined) {
    throw new ConfigError(
      `${where}.api_hostname: required when provider is "duo" (${STEP_UP_KEYS.api_hostname.description}; Duo Admin Panel > Applications)`,
    );
  }
  const usernameFrom = get('username_from') ?? 'email';
  const emailDomains = get('email_domains');
  // The part before the @ names a Duo user only at your own domains: a guest's bob@partner.com is not your bob.
  if (provider === 'duo' && usernameFrom === 'email_local_part' && emailDomains === undefined) {
    throw new ConfigError(
      `${where}.email_domains: required when username_from is "email_local_part": list your own email domains, e.g. email_domains = ["example.com"] (the part before the @ of bob@partner.com, a Slack Connect guest, would name your own bob)`,
    );
  }
  return {
    provider,
    ...(apiHostname !== undefined && { apiHostname }),
    usernameFrom,
    ...(emailDomains !== undefined && { emailDomains }),
    pushTimeoutSeconds: get('push_timeout_seconds') ?? 60,
    retries: get('retries') ?? 1,
  };
}
