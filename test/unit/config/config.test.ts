// Tests of parseConfig and loadConfig: defaults, each key's checks, unknown keys, TOML syntax errors, one-line messages.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, loadConfig, parseConfig, TABLES } from '../../../src/config/config.js';
import { ConfigError, quote } from '../../../src/config/errors.js';

const FILE = '/etc/irbot/config.toml';
const FEED = 'feed_channel_id = "C0FEED"\n';

function problem(text: string, file = FILE): string {
  try {
    parseConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${file}:`)).toBe(true);
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills in every default, resolving paths against the file’s folder', () => {
    expect(parseConfig(FEED, FILE)).toEqual({
      file: FILE,
      feedChannelId: 'C0FEED',
      openaiModel: 'gpt-4.1-mini',
      databasePath: '/etc/irbot/irbot-db.json',
      alertsPath: '/etc/irbot/alerts.toml',
      maxNudges: 3,
      responders: [],
      llmTimeoutSeconds: 30,
      nudgeAfterMinutes: 60,
      escalationMention: undefined,
      escalation: { on: ['not_aware', 'denied', 'unverified'] },
      llmConcurrency: 16,
      slackRateScale: 1,
      slackHistoryTier: 'tier3',
      stepUp: { provider: 'none', usernameFrom: 'email', pushTimeoutSeconds: 60, retries: 1 },
      sinks: [],
      maxSnoozeDays: 30,
      confirmBackoffHours: 0,
      maxWaitHours: 12,
      leaseSeconds: 30,
    });
  });

  it('names a bad max_snooze_days or confirm_backoff_hours with its range', () => {
    expect(problem(`${FEED}max_snooze_days = 0\n`)).toBe(`${FILE}: max_snooze_days: must be an integer from 1 to 365`);
    expect(problem(`${FEED}confirm_backoff_hours = 1.5\n`)).toBe(
      `${FILE}: confirm_backoff_hours: must be an integer from 0 to 8760`,
    );
    expect(problem(`${FEED}max_snooze_days = 1\nconfirm_backoff_hours = 25\n`)).toBe(
      `${FILE}: confirm_backoff_hours: 25 hours is longer than max_snooze_days (1 days): lower it or raise max_snooze_days`,
    );
    expect(parseConfig(`${FEED}max_snooze_days = 1\nconfirm_backoff_hours = 24\n`, FILE).confirmBackoffHours).toBe(24);
  });

  it('reads every key', () => {
    const text = `${FEED}
openai_organization_id = "org-123"
openai_model = "gpt-4.1"
database_path = "/var/lib/irbot/db.json"
alerts_path = "../shared/alerts.toml"
max_nudges = 0
responders = ["U0ALICE", "W0BOB"]
llm_timeout_seconds = 2.5
nudge_after_minutes = 15
escalation_mention = "<!subteam^S0SECOPS|@secops>"
llm_concurrency = 4
slack_rate_scale = 2.5
slack_history_tier = "non_marketplace"
max_snooze_days = 7
confirm_backoff_hours = 21
working_hours = "08:30-17:00"
working_days = ["Mon", "Tue", "Wed", "Thu"]
max_wait_hours = 16
lease_seconds = 120

[step_up]
provider = "duo"
api_hostname = "API-1a2b3c4d.duosecurity.com"
username_from = "email_local_part"
email_domains = ["Example.com"]
push_timeout_seconds = 120
retries = 0

[[sinks]]
url = "https://siem.example.com/irbot"
secret_env = "SIEM_SECRET"
events = ["ended"]
`;
    expect(parseConfig(text, FILE)).toEqual({
      file: FILE,
      feedChannelId: 'C0FEED',
      openaiOrganizationId: 'org-123',
      openaiModel: 'gpt-4.1',
      databasePath: '/var/lib/irbot/db.json',
      alertsPath: '/etc/shared/alerts.toml',
      maxNudges: 0,
      responders: ['U0ALICE', 'W0BOB'],
      llmTimeoutSeconds: 2.5,
      nudgeAfterMinutes: 15,
      escalationMention: '<!subteam^S0SECOPS|@secops>',
      escalation: { on: ['not_aware', 'denied', 'unverified'], mention: '<!subteam^S0SECOPS|@secops>' },
      llmConcurrency: 4,
      slackRateScale: 2.5,
      slackHistoryTier: 'non_marketplace',
      stepUp: {
        provider: 'duo',
        apiHostname: 'api-1a2b3c4d.duosecurity.com',
        usernameFrom: 'email_local_part',
        emailDomains: ['example.com'],
        pushTimeoutSeconds: 120,
        retries: 0,
      },
      sinks: [{ url: 'https://siem.example.com/irbot', secretEnv: 'SIEM_SECRET', events: ['ended'] }],
      maxSnoozeDays: 7,
      confirmBackoffHours: 21,
      workingHours: { start: 8 * 60 + 30, end: 17 * 60, days: [1, 2, 3, 4] },
      maxWaitHours: 16,
      leaseSeconds: 120,
    });
  });

  it.each([
    ['nudge_after_minutes = 0', 'nudge_after_minutes: must be a number of minutes greater than 0'],
    ['lease_seconds = 4', 'lease_seconds: must be an integer from 5 to 3600'],
    ['lease_seconds = 3601', 'lease_seconds: must be an integer from 5 to 3600'],
    ['escalation_mention = "@secops"', 'escalation_mention: must be a Slack mention'],
    ['llm_concurrency = 0', 'llm_concurrency: must be an integer from 1 to 256'],
    ['slack_rate_scale = -1', 'slack_rate_scale: must be a number (1 = Slack’s published limits) greater than 0.01'],
    ['slack_rate_scale = 0.001', 'and at most 1,000'],
    ['slack_rate_scale = 1e9', 'and at most 1,000'],
    // Past these, a wait no longer fits a date (max_wait_hours crashed scheduling) or a timer (llm_timeout_seconds
    // over 2,147,483 s made Node fire every LLM request's timeout at once).
    ['max_wait_hours = 1e12', 'max_wait_hours: must be a number of hours greater than 0 and at most 8,760'],
    ['max_wait_hours = inf', 'max_wait_hours: must be a number of hours greater than 0 and at most 8,760'],
    [
      'nudge_after_minutes = 43201',
      'nudge_after_minutes: must be a number of minutes greater than 0 and at most 43,200',
    ],
    [
      'llm_timeout_seconds = 3000000',
      'llm_timeout_seconds: must be a number of seconds greater than 0 and at most 600',
    ],
    ['llm_timeout_seconds = nan', 'llm_timeout_seconds: must be a number of seconds greater than 0 and at most 600'],
    ['slack_history_tier = "tier2"', 'slack_history_tier: must be "tier3" or "non_marketplace"'],
    ['escalation_mention = "<!channel> <http://evil|x>"', 'escalation_mention: must be a Slack mention'],
  ])('rejects %s', (line, message) => {
    expect(problem(`${FEED}${line}\n`)).toContain(message);
  });

  describe('[escalation]', () => {
    const escalation = (table: string) => parseConfig(`${FEED}[escalation]\n${table}\n`, FILE).escalation;

    it('reads on and turns a user or user group ID into its mention', () => {
      expect(escalation('on = ["failed", "no_answer", "failed"]\nmention = "S0SECOPS"')).toEqual({
        on: ['failed', 'no_answer'],
        mention: '<!subteam^S0SECOPS>',
      });
      expect(escalation('mention = "U0ONCALL"')).toEqual({
        on: ['not_aware', 'denied', 'unverified'],
        mention: '<@U0ONCALL>',
      });
      expect(escalation('mention = "W0ONCALL"').mention).toBe('<@W0ONCALL>');
      expect(escalation('on = []').on).toEqual([]);
      expect(escalation('on = ["not_aware", "no_answer", "denied", "unverified", "failed"]').on).toHaveLength(5);
    });

    it('keeps the older escalation_mention as the mention', () => {
      expect(parseConfig(`${FEED}escalation_mention = "<!here>"\n`, FILE).escalation).toEqual({
        on: ['not_aware', 'denied', 'unverified'],
        mention: '<!here>',
      });
    });

    it.each([
      [
        'on = "not_aware"',
        'escalation: on: must be an array of outcomes (any of not_aware, no_answer, denied, unverified, failed)',
      ],
      [
        'on = ["not_aware", "paged"]',
        "escalation: on: item 2, 'paged', is not an outcome (use any of not_aware, no_answer, denied, unverified, failed)",
      ],
      ['on = [1]', 'escalation: on: item 1, not a string, is not an outcome'],
      ['mention = "<@U0ONCALL>"', "escalation: mention: '<@U0ONCALL>' is not a Slack user ID (U… or W…"],
      ['mention = "<!channel>"', "escalation: mention: '<!channel>' is not a Slack user ID"],
      ['mention = "@secops"', "escalation: mention: '@secops' is not a Slack user ID"],
      ['mention = 7', 'escalation: mention: not a string is not a Slack user ID'],
      ['page = true', "escalation: unknown key 'page' (known keys: on, mention)"],
    ])('rejects %s in one line that names the fix', (table, message) => {
      expect(problem(`${FEED}[escalation]\n${table}\n`)).toContain(message);
    });

    it('rejects escalation that is not a table', () => {
      expect(problem(`${FEED}escalation = "U0ONCALL"\n`)).toContain(
        'escalation: must be a table: [escalation] with on',
      );
    });

    it('rejects both mention keys at once, saying which to keep', () => {
      expect(problem(`${FEED}escalation_mention = "<!here>"\n[escalation]\nmention = "U0ONCALL"\n`)).toBe(
        `${FILE}: escalation_mention and [escalation] mention are both set: keep only [escalation] mention (escalation_mention is its older form)`,
      );
    });
  });

  it('treats an empty organization ID as unset', () => {
    expect(parseConfig(`${FEED}openai_organization_id = ""\n`, FILE).openaiOrganizationId).toBeUndefined();
  });

  it('requires feed_channel_id', () => {
    expect(problem('max_nudges = 1\n')).toBe(
      `${FILE}: feed_channel_id: required (the Slack channel ID of the alert feed, e.g. C0123456789)`,
    );
  });

  it('wants a channel ID that starts with C, or G for an older private channel', () => {
    expect(problem('feed_channel_id = "#alerts"\n')).toContain(
      `${FILE}: feed_channel_id: channel ID must start with 'C' or 'G'`,
    );
    expect(problem('feed_channel_id = "D0DMS"\n')).toContain("channel ID must start with 'C' or 'G'");
    expect(parseConfig('feed_channel_id = "G0PRIVATE"\n', FILE).feedChannelId).toBe('G0PRIVATE');
    expect(parseConfig('feed_channel_id = "C0PUBLIC"\n', FILE).feedChannelId).toBe('C0PUBLIC');
    expect(problem('feed_channel_id = "Calerts"\n')).toContain("feed_channel_id: 'Calerts' is not a Slack channel ID");
    expect(problem('feed_channel_id = 42\n')).toContain('feed_channel_id: must be a string');
  });

  it.each([-1, 21, 1.5, '3'])('rejects max_nudges = %j', (value) => {
    expect(problem(`${FEED}max_nudges = ${JSON.stringify(value)}\n`)).toBe(
      `${FILE}: max_nudges: must be an integer from 0 to 20`,
    );
  });

  it('accepts the ends of the max_nudges range', () => {
    expect(parseConfig(`${FEED}max_nudges = 20\n`, FILE).maxNudges).toBe(20);
  });

  it('rejects responders that are not Slack user or user group IDs', () => {
    expect(problem(`${FEED}responders = ["U0ALICE", "harold"]\n`)).toBe(
      `${FILE}: responders: item 2, 'harold', is not a Slack user ID (U… or W…) or user group ID (S…)`,
    );
    expect(problem(`${FEED}responders = "U0ALICE"\n`)).toContain('responders: must be an array of Slack user or');
    expect(problem(`${FEED}responders = [1]\n`)).toContain('responders: must be an array of Slack user or');
  });

  it('accepts user groups among the responders', () => {
    expect(parseConfig(`${FEED}responders = ["U0ALICE", "S0SECOPS"]\n`, FILE).responders).toEqual([
      'U0ALICE',
      'S0SECOPS',
    ]);
  });

  it.each(['0', '-5', '"30"'])('rejects llm_timeout_seconds = %s', (value) => {
    expect(problem(`${FEED}llm_timeout_seconds = ${value}\n`)).toBe(
      `${FILE}: llm_timeout_seconds: must be a number of seconds greater than 0 and at most 600`,
    );
  });

  it('rejects empty strings where a value is needed', () => {
    expect(problem(`${FEED}openai_model = ""\n`)).toContain('openai_model: must be a model name');
    expect(problem(`${FEED}database_path = " "\n`)).toContain('database_path: must be a file path');
    expect(problem(`${FEED}alerts_path = 3\n`)).toContain('alerts_path: must be a file path');
    expect(problem(`${FEED}openai_organization_id = 3\n`)).toContain('openai_organization_id: must be a string');
  });

  it('names an unknown key and lists the known ones', () => {
    const message = problem(`${FEED}foo = 1\n`);
    const known = [...Object.keys(CONFIG_KEYS), ...Object.keys(TABLES)];
    expect(message).toBe(`${FILE}: unknown key 'foo' (known keys: ${known.join(', ')})`);
    expect(message).toContain('step_up');
    expect(problem(`${FEED}[slack]\ntoken = "x"\n`)).toContain("unknown key 'slack'");
  });

  it('keeps a message on one line even when a key holds a newline', () => {
    expect(problem(`${FEED}"a\\nb" = 1\n`)).toContain("unknown key 'a\\nb'");
  });

  it('reports TOML syntax errors as file:line:column: reason', () => {
    expect(problem(`${FEED}max_nudges = \n`)).toBe(`${FILE}:2:14: Invalid TOML document: invalid value`);
    expect(problem(`${FEED}${FEED}`)).toMatch(/^\/etc\/irbot\/config\.toml:2:1: Invalid TOML document: /);
  });

  it('describes every key in the table', () => {
    for (const spec of Object.values(CONFIG_KEYS)) {
      expect(spec.description).not.toBe('');
      expect(spec.type).not.toBe('');
    }
  });
});

describe('loadConfig', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the file and resolves paths against its folder', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-config-'));
    const file = path.join(dir, 'config.toml');
    await writeFile(file, `${FEED}database_path = "data/db.json"\n`);
    const config = await loadConfig(file);
    expect(config.file).toBe(file);
    expect(config.databasePath).toBe(path.join(dir, 'data', 'db.json'));
    expect(config.alertsPath).toBe(path.join(dir, 'alerts.toml'));
  });

  it('says when the file is missing', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-config-'));
    const file = path.join(dir, 'nope.toml');
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`Configuration file not found: ${file}`);
  });

  it.skipIf(process.getuid?.() === 0)('says when the file cannot be read', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-config-'));
    const file = path.join(dir, 'config.toml');
    await writeFile(file, FEED);
    await chmod(file, 0o000);
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`Configuration file cannot be read (permission denied): ${file}`);
  });
});

describe('database_url', () => {
  it('reads a PostgreSQL URL, and names the key of anything else without its value', () => {
    expect(parseConfig(`${FEED}database_url = "postgresql://irbot:pw@db:5432/irbot"\n`, FILE).databaseUrl).toBe(
      'postgresql://irbot:pw@db:5432/irbot',
    );
    expect(parseConfig(FEED, FILE).databaseUrl).toBeUndefined();
    const message = problem(`${FEED}database_url = "mysql://irbot:secret@db/irbot"\n`);
    expect(message).toMatch(/database_url.*must be a PostgreSQL URL, postgres:\/\/user:password@host:5432\/database/);
    expect(message).not.toContain('secret');
  });
});

describe('quote', () => {
  it('keeps a value on one line, and no control, bidi or invisible character of it reaches a terminal', () => {
    expect(quote('k\u001b[31m\nx')).toBe("'k\\u001b[31m\\nx'");
    // JSON.stringify leaves C1 controls (U+009B is CSI) as they are: escaped here all the same.
    expect(quote('x\u009b2J\u007f')).toBe("'x\\u009b2J\\u007f'");
    expect(quote('invoice\u202efdp.exe ad\u00admin')).toBe("'invoice<U+202E>fdp.exe ad<U+00AD>min'");
  });
});
