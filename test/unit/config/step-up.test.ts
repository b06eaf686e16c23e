// Tests of config.toml's [step_up] table: defaults, each key's checks, one line naming the key and the fix.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/config/errors.js';
import { STEP_UP_KEYS } from '../../../src/config/step-up.js';

const FILE = '/etc/irbot/config.toml';
const FEED = 'feed_channel_id = "C0FEED"\n';
const DUO = '[step_up]\nprovider = "duo"\napi_hostname = "api-1a2b3c4d.duosecurity.com"\n';

function problem(text: string): string {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('[step_up]', () => {
  it('is off unless asked for, and an empty table is too', () => {
    const off = { provider: 'none', usernameFrom: 'email', pushTimeoutSeconds: 60, retries: 1 };
    expect(parseConfig(FEED, FILE).stepUp).toEqual(off);
    expect(parseConfig(`${FEED}[step_up]\n`, FILE).stepUp).toEqual(off);
  });

  it('reads provider duo with its hostname and the defaults', () => {
    expect(parseConfig(`${FEED}${DUO}`, FILE).stepUp).toEqual({
      provider: 'duo',
      apiHostname: 'api-1a2b3c4d.duosecurity.com',
      usernameFrom: 'email',
      pushTimeoutSeconds: 60,
      retries: 1,
    });
  });

  it('needs api_hostname with provider duo, and says where to find it', () => {
    expect(problem(`${FEED}[step_up]\nprovider = "duo"\n`)).toBe(
      `${FILE}: step_up.api_hostname: required when provider is "duo" (the API hostname of your Duo Auth API application, e.g. "api-1a2b3c4d.duosecurity.com"; Duo Admin Panel > Applications)`,
    );
  });

  it.each([
    ['provider = "okta"', 'step_up.provider: must be "none" or "duo"'],
    ['provider = true', 'step_up.provider: must be "none" or "duo"'],
    [
      'api_hostname = "https://api-1.duosecurity.com"',
      'step_up.api_hostname: must be the host name alone, without https://',
    ],
    ['api_hostname = "api-1.duosecurity.com/auth"', 'step_up.api_hostname: must be a host name'],
    ['api_hostname = 1', 'step_up.api_hostname: must be a string'],
    ['username_from = "name"', 'step_up.username_from: must be "email", "email_local_part" or "slack_id"'],
    // Duo keeps a push on the phone for 60 s: a fraud report after a shorter wait was lost.
    ['push_timeout_seconds = 30', 'step_up.push_timeout_seconds: must be at least 60: Duo keeps a push on the phone'],
    ['push_timeout_seconds = 0', 'step_up.push_timeout_seconds: must be an integer from 60 to 3600'],
    ['push_timeout_seconds = 60.5', 'step_up.push_timeout_seconds: must be an integer from 60 to 3600'],
    ['retries = -1', 'step_up.retries: must be an integer from 0 to 5'],
    ['retries = "1"', 'step_up.retries: must be an integer from 0 to 5'],
    ['duo_secret = "x"', "step_up: unknown key 'duo_secret' (known keys: provider, api_hostname, username_from"],
    // Quoted on one line: the CLI prints a message's first line only, and lost the known keys.
    ['"prov\\nider" = "duo"', "step_up: unknown key 'prov\\nider' (known keys: provider, api_hostname"],
  ])('rejects %s', (line, message) => {
    expect(problem(`${FEED}[step_up]\n${line}\n`)).toContain(`${FILE}: ${message}`);
  });

  it('reads email_domains in lower case, and needs them when the Duo username is the part before the @', () => {
    const local = `${FEED}${DUO}username_from = "email_local_part"\n`;
    expect(parseConfig(`${local}email_domains = ["Example.com", "corp.example"]\n`, FILE).stepUp).toMatchObject({
      usernameFrom: 'email_local_part',
      emailDomains: ['example.com', 'corp.example'],
    });
    expect(problem(local)).toBe(
      `${FILE}: step_up.email_domains: required when username_from is "email_local_part": list your own email domains, e.g. email_domains = ["example.com"] (the part before the @ of bob@partner.com, a Slack Connect guest, would name your own bob)`,
    );
    for (const bad of ['[]', '"example.com"', '["@example.com"]', '["https://example.com"]', '[1]']) {
      expect(problem(`${local}email_domains = ${bad}\n`)).toContain(`${FILE}: step_up.email_domains: must list`);
    }
  });

  it('wants a table', () => {
    expect(problem(`${FEED}step_up = "duo"\n`)).toBe(
      `${FILE}: step_up: must be a table: a [step_up] section with provider = "none" or "duo"`,
    );
  });

  it('describes every key', () => {
    for (const spec of Object.values(STEP_UP_KEYS)) {
      expect(spec.description).not.toBe('');
      expect(spec.type).not.toBe('');
    }
  });
});
