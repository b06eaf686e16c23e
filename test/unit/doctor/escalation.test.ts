// The doctor's escalation check: run only where escalation is set up; the routing key's shape, never its value.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { readEnv } from '../../../src/config/env.js';
import { runDoctor } from '../../../src/doctor/checks.js';
import { checkEscalation, hasEscalation } from '../../../src/doctor/escalation.js';

const KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';
const config = (extra = '') => parseConfig(`feed_channel_id = "C0FEED"\n${extra}`, '/etc/irbot/config.toml');

describe('checkEscalation', () => {
  it('is left out where neither a routing key nor a mention is set', () => {
    expect(hasEscalation(readEnv({}), config())).toBe(false);
    expect(hasEscalation(readEnv({ PAGERDUTY_ROUTING_KEY: KEY }), config())).toBe(true);
    expect(hasEscalation(readEnv({}), config('[escalation]\nmention = "S0SECOPS"\n'))).toBe(true);
  });

  it('passes a well-formed key and names where escalations go', () => {
    const env = readEnv({ PAGERDUTY_ROUTING_KEY: KEY, PAGERDUTY_API_URL: 'http://127.0.0.1:9/x' });
    const check = checkEscalation(env, config('[escalation]\nmention = "S0SECOPS"\n'));
    expect(check).toEqual({
      name: 'escalation',
      ok: true,
      detail:
        'not_aware, denied, unverified → <!subteam^S0SECOPS> in the thread and PagerDuty at http://127.0.0.1:9 (routing key well-formed)',
    });
    expect(JSON.stringify(check)).not.toContain(KEY);
  });

  it('fails a malformed key with the fix, never showing it', () => {
    const check = checkEscalation(readEnv({ PAGERDUTY_ROUTING_KEY: 'sekrit-not-a-key' }), config());
    expect(check.ok).toBe(false);
    expect(check.detail).toContain(
      'PAGERDUTY_ROUTING_KEY is not a PagerDuty routing key: it should be 32 letters and digits',
    );
    expect(check.fix).toBe(
      'copy the Integration Key of an Events API v2 integration into PAGERDUTY_ROUTING_KEY, or unset it to page nobody',
    );
    expect(JSON.stringify(check)).not.toContain('sekrit');
  });

  it('says when `on` is empty', () => {
    const check = checkEscalation(readEnv({}), config('[escalation]\non = []\nmention = "U0ONCALL"\n'));
    expect(check.detail).toBe('no outcome ([escalation] on is empty) → <@U0ONCALL> in the thread');
  });
});

describe('runDoctor', () => {
  it('lists the escalation check when a routing key is set, and fails the run on a malformed one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'irbot-doctor-'));
    try {
      await writeFile(join(dir, 'config.toml'), 'feed_channel_id = "C0FEED"\n');
      const report = await runDoctor({ cwd: dir, processEnv: { PAGERDUTY_ROUTING_KEY: 'short' } });
      expect(report.checks.at(-1)).toMatchObject({ name: 'escalation', ok: false });
      const plain = await runDoctor({ cwd: dir, processEnv: {} });
      expect(plain.checks.map((c) => c.name)).not.toContain('escalation');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
