// Tests of `[[sinks]]` in config.toml and of reading their secrets: each problem one line naming the fix.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/config/errors.js';
import { sinkName, sinkSecrets } from '../../../src/config/sinks.js';

const FILE = '/etc/irbot/config.toml';
const FEED = 'feed_channel_id = "C0FEED"\n';

function sinks(table: string) {
  return parseConfig(`${FEED}${table}`, FILE).sinks;
}

function problem(table: string): string {
  try {
    parseConfig(`${FEED}${table}`, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('[[sinks]]', () => {
  it('reads each sink, with every event but suppressed by default', () => {
    const text = `
[[sinks]]
url = "https://siem.example.com/irbot?tenant=7"
secret_env = "SIEM_SECRET"
events = ["ended", "escalated", "ended", "suppressed"]

[[sinks]]
url = "http://127.0.0.1:9000/hook"
secret_env = "LOCAL_SINK_SECRET"
`;
    expect(sinks(text)).toEqual([
      {
        url: 'https://siem.example.com/irbot?tenant=7',
        secretEnv: 'SIEM_SECRET',
        events: ['ended', 'escalated', 'suppressed'],
      },
      {
        url: 'http://127.0.0.1:9000/hook',
        secretEnv: 'LOCAL_SINK_SECRET',
        events: ['posted', 'started', 'ended', 'dismissed', 'escalated'],
      },
    ]);
  });

  it.each([
    ['url = "siem.corp.test"\nsecret_env = "S"', `${FILE}: sinks: #1: url: is not a URL`],
    [
      'url = "https://irbot:Hunter2@siem.corp.test/x"\nsecret_env = "S"',
      'sinks: #1: url: must not carry a user name or password',
    ],
    ['url = "ftp://siem.corp.test/x"\nsecret_env = "S"', 'sinks: #1: url: must start with https:// or http://'],
    ['secret_env = "S"', 'sinks: #1: url: required (e.g. url = "https://'],
    ['url = "https://x.example"', 'sinks: #1: secret_env: must name the environment variable'],
    ['url = "https://x.example"\nsecret_env = "s3cr3t value!"', 'secret_env: must name the environment variable'],
    [
      'url = "https://x.example"\nsecret_env = "S"\nevents = ["closed"]',
      `events: "closed" is not an event irbot sends (any of posted, started, ended, dismissed, escalated, suppressed)`,
    ],
    ['url = "https://x.example"\nsecret_env = "S"\nevents = []', 'sinks: #1: events: must list some of posted'],
    [
      'url = "https://x.example"\nsecret_env = "S"\nsecret = "x"',
      'sinks: #1: unknown key "secret" (known keys: url, secret_env, events)',
    ],
  ])('refuses %j', (body, message) => {
    const said = problem(`[[sinks]]\n${body}\n`);
    expect(said).toContain(message);
    // A URL may carry a token or a password: never repeated.
    expect(said).not.toMatch(/siem\.corp\.test|Hunter2/);
  });

  it('numbers the sink that is wrong', () => {
    const text = '[[sinks]]\nurl = "https://a.example"\nsecret_env = "A"\n[[sinks]]\nurl = "nope"\nsecret_env = "B"\n';
    expect(problem(text)).toContain('sinks: #2: url:');
  });

  it('refuses sinks written as one table', () => {
    expect(problem('[sinks]\nurl = "https://a.example"\n')).toContain('sinks: must be tables written [[sinks]]');
  });
});

describe('sinkSecrets', () => {
  const two = sinks(
    '[[sinks]]\nurl = "https://a.example/x?token=abc"\nsecret_env = "A_SECRET"\n[[sinks]]\nurl = "https://b.example"\nsecret_env = "B_SECRET"\n',
  );

  it('reads each secret from the variable its secret_env names', () => {
    expect(sinkSecrets(two, { A_SECRET: 'one', B_SECRET: 'two' })).toEqual(['one', 'two']);
  });

  it('names the missing variable and the sink by its origin only', () => {
    let message = '';
    try {
      sinkSecrets(two, { A_SECRET: 'one', B_SECRET: '  ' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toBe(
      "Missing environment variable B_SECRET, the signing secret of sink #2 (https://b.example) in config.toml's [[sinks]] (set it in the environment or in .env, or remove the sink)",
    );
    expect(sinkName(two, 0)).toBe('sink #1 (https://a.example)');
  });
});
