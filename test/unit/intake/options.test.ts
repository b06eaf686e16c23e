// Tests of what `listen --webhook` checks before it binds: the address and the token.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { parseListenAddress, requireWebhookToken } from '../../../src/intake/options.js';

describe('parseListenAddress', () => {
  it('reads PORT, HOST:PORT and [IPv6]:PORT, on 127.0.0.1 by default', () => {
    expect(parseListenAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListenAddress('0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseListenAddress('localhost:9000')).toEqual({ host: 'localhost', port: 9000 });
    expect(parseListenAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
  });

  it('names what is wrong in one line', () => {
    for (const bad of ['', 'http://x:1', 'x', ':80', '1:2:3', '[nope]:80', '70000', 'a b:80', '-1']) {
      expect(() => parseListenAddress(bad), bad).toThrow(ConfigError);
    }
    expect(() => parseListenAddress('70000')).toThrow(
      /^--webhook "70000": the port must be from 0 to 65535 \(expected/,
    );
    expect(() => parseListenAddress('x', '--http')).toThrow(/^--http "x": not an address \(expected/);
  });
});

describe('requireWebhookToken', () => {
  const env = { slackApiUrl: 'https://slack.com/api/' };

  it('wants IRBOT_WEBHOOK_TOKEN, of at least 16 characters, and never shows it', () => {
    expect(() => requireWebhookToken(env)).toThrow(
      /^Missing required environment variable: IRBOT_WEBHOOK_TOKEN \(set it in the environment or in \.env/,
    );
    expect(() => requireWebhookToken({ ...env, webhookToken: 'short-secret' })).toThrow(
      new ConfigError('IRBOT_WEBHOOK_TOKEN is too short: use at least 16 characters (e.g. openssl rand -hex 32)'),
    );
    expect(requireWebhookToken({ ...env, webhookToken: 'a-long-enough-secret' })).toBe('a-long-enough-secret');
  });

  it.each(['correct horse battery staple', 'a-long-enough-secret\t'])(
    'refuses a token no Authorization header can carry (%j): every request would fail with 401',
    (webhookToken) => {
      expect(() => requireWebhookToken({ ...env, webhookToken })).toThrow(
        /^IRBOT_WEBHOOK_TOKEN holds a space or a control character, which no Authorization: Bearer header can carry/,
      );
    },
  );
});
