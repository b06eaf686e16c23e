// verifierFor picks none or duo from config.toml and the environment, and fails early without Duo's keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { readEnv } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/config/errors.js';
import { LocalDuo } from '../../../src/sandbox/local-duo.js';
import { duoBaseUrl, verifierFor } from '../../../src/verify/factory.js';
import { verifierUsername } from '../../../src/verify/username.js';

const FEED = 'feed_channel_id = "C0FEED"\n';
const duoConfig = parseConfig(
  `${FEED}[step_up]\nprovider = "duo"\napi_hostname = "api-1a2b3c4d.duosecurity.com"\n`,
  '/srv/config.toml',
);

let duo: LocalDuo;
beforeAll(async () => {
  duo = await LocalDuo.start({ users: { alice: 'approve' } });
});
afterAll(() => duo.close());

describe('verifierFor', () => {
  it('gives the none verifier when step-up is off, whatever the environment', () => {
    expect(verifierFor(parseConfig(FEED, '/srv/config.toml'), readEnv({})).provider).toBe('none');
  });

  it('gives a Duo verifier that reaches DUO_API_URL with the keys from the environment', async () => {
    const env = readEnv({
      DUO_INTEGRATION_KEY: duo.integrationKey,
      DUO_SECRET_KEY: duo.secretKey,
      DUO_API_URL: duo.apiUrl,
    });
    const verifier = verifierFor(duoConfig, env);
    expect(verifier.provider).toBe('duo');
    const started = await verifier.startPush({ username: 'alice', alertName: 'Pivoting', alertId: 'pivot-1' });
    expect(started).toHaveProperty('txid');
    expect(duo.calls.every((c) => c.signed)).toBe(true);
  });

  it('goes to https://<api_hostname> without DUO_API_URL', () => {
    expect(duoBaseUrl(duoConfig, readEnv({}))).toBe('https://api-1a2b3c4d.duosecurity.com');
  });

  it('names a missing or swapped key, never its value, as a ConfigError', () => {
    const problem = (vars: Record<string, string>) => {
      try {
        verifierFor(duoConfig, readEnv(vars));
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problem({ DUO_SECRET_KEY: 'secret-1' })).toBe(
      'Missing required environment variable: DUO_INTEGRATION_KEY (step_up.provider is "duo"; set it in the environment or in .env: the Integration key under Duo Admin Panel > Applications > your Auth API application)',
    );
    expect(problem({ DUO_INTEGRATION_KEY: 'DIKEY' })).toContain(
      'Missing required environment variable: DUO_SECRET_KEY',
    );
    const swapped = problem({ DUO_INTEGRATION_KEY: 'secret-2', DUO_SECRET_KEY: 'DIKEY' });
    expect(swapped).toContain('look swapped');
    expect(swapped).not.toContain('secret-2');
  });
});

describe('verifierUsername', () => {
  const harold = { userId: 'U0HAROLD', email: 'Harold@example.com' };
  it.each([
    ['email', harold, 'Harold@example.com'],
    ['email_local_part', harold, 'Harold'],
    ['slack_id', harold, 'U0HAROLD'],
    ['email', { userId: 'U0X' }, undefined],
    ['email_local_part', { userId: 'U0X', email: ' ' }, undefined],
    ['slack_id', { userId: 'U0X' }, 'U0X'],
  ] as const)('%s of %j is %s', (from, person, expected) => {
    expect(verifierUsername(from, person)).toBe(expected);
  });
});
