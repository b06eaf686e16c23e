// Doctor with step-up on, in process against the local Slack, the fake OpenAI server and the local Duo: the Duo
// check (keys set, Duo reachable, keys accepted) and users:read.email, required only when step-up needs emails.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { readEnv } from '../../../src/config/env.js';
import { CHECK_NAMES, checkStepUp, runDoctor } from '../../../src/doctor/checks.js';
import type { CheckResult } from '../../../src/doctor/report.js';
import { LocalDuo } from '../../../src/sandbox/local-duo.js';
import { LocalSlack } from '../../../src/sandbox/local-slack.js';
import { REQUIRED_SCOPES } from '../../../src/slack/scopes.js';
import { type FakeOpenAi, startFakeOpenAi } from '../../support/fake-openai.js';
import { makeWorkspace, type Workspace } from '../../support/irbot.js';

const KEY = 'sk-test-key-123456';
const BASE = 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nresponders = ["U0ANALYST"]\n';
const DUO = '[step_up]\nprovider = "duo"\napi_hostname = "api-1a2b3c4d.duosecurity.com"\n';
const config = parseConfig(`${BASE}${DUO}`, '/srv/irbot/config.toml');

let duo: LocalDuo;
let openai: FakeOpenAi;
const slacks: LocalSlack[] = [];
const workspaces: Workspace[] = [];

beforeAll(async () => {
  duo = await LocalDuo.start();
  openai = await startFakeOpenAi({ models: ['gpt-4.1-mini'], apiKey: KEY });
});
afterAll(() => Promise.all([duo.close(), openai.close()]));
afterEach(async () => {
  await Promise.all(slacks.splice(0).map((s) => s.close()));
  await Promise.all(workspaces.splice(0).map((w) => rm(w.dir, { recursive: true, force: true })));
});

const duoVars = () => ({
  DUO_INTEGRATION_KEY: duo.integrationKey,
  DUO_SECRET_KEY: duo.secretKey,
  DUO_API_URL: duo.apiUrl,
});

describe('checkStepUp', () => {
  const check = (vars: Record<string, string>) => checkStepUp(config, readEnv(vars), '/srv/irbot');

  it('passes when Duo accepts the keys, with one signed /auth/v2/check and no push', async () => {
    duo.calls.length = 0;
    expect(await check(duoVars())).toEqual({
      name: CHECK_NAMES.stepUp,
      ok: true,
      detail: `Duo at DUO_API_URL (${duo.apiUrl}) accepted the keys (/auth/v2/check)`,
    });
    expect(duo.calls.map((c) => [c.path, c.signed])).toEqual([['/auth/v2/check', true]]);
  });

  it('fails with the fix for a missing key, a wrong key, a wrong secret and a Duo it cannot reach', async () => {
    const failed = (result: CheckResult) => {
      expect(result.ok).toBe(false);
      expect(`${result.detail} ${result.fix}`).not.toMatch(/wrong-secret|local-duo-secret/);
      return `${result.detail} → ${result.fix}`;
    };
    expect(failed(await check({ ...duoVars(), DUO_SECRET_KEY: '' }))).toMatch(
      /^Missing required environment variable: DUO_SECRET_KEY .* → set DUO_INTEGRATION_KEY and DUO_SECRET_KEY in \/srv\/irbot\/\.env or the environment$/,
    );
    expect(failed(await check({ ...duoVars(), DUO_INTEGRATION_KEY: 'DIUNKNOWN' }))).toMatch(
      /does not know the integration key \(.*Duo error 40102.*\) → copy its Integration key .* into DUO_INTEGRATION_KEY$/,
    );
    expect(failed(await check({ ...duoVars(), DUO_SECRET_KEY: 'wrong-secret' }))).toMatch(
      /refused the signature: the secret key is wrong or this machine's clock is off \(.*40103.*\) → copy the Secret key .* into DUO_SECRET_KEY, and check the clock$/,
    );
    const gone = await LocalDuo.start();
    await gone.close();
    expect(failed(await check({ ...duoVars(), DUO_API_URL: gone.apiUrl }))).toMatch(
      /^cannot reach Duo at DUO_API_URL .*ECONNREFUSED.* → check step_up\.api_hostname in \/srv\/irbot\/config\.toml, DUO_API_URL and the network$/,
    );
  });
});

describe('runDoctor with step-up', () => {
  async function doctor(config: string, scopes: string[] | undefined, vars: Record<string, string>) {
    const slack = await LocalSlack.start(scopes ? { scopes } : {});
    slacks.push(slack);
    const ws = await makeWorkspace({ slackApiUrl: slack.apiUrl, openaiBaseUrl: openai.baseURL, config });
    workspaces.push(ws);
    const report = await runDoctor({ cwd: ws.dir, processEnv: { ...ws.env, ...vars } });
    return { report, line: (name: string) => report.checks.find((c) => c.name === name) };
  }

  it('checks Duo and users:read.email only when step-up is on', async () => {
    const off = await doctor(BASE, [...REQUIRED_SCOPES], {});
    expect(off.line(CHECK_NAMES.stepUp)).toBeUndefined();
    expect(off.report.ok).toBe(true);

    const on = await doctor(`${BASE}${DUO}`, [...REQUIRED_SCOPES], duoVars());
    expect(on.line(CHECK_NAMES.stepUp)?.ok).toBe(true);
    expect(on.line(CHECK_NAMES.botToken)).toMatchObject({
      ok: false,
      detail: expect.stringContaining(
        "missing scope users:read.email (step-up reads the person's email for their Duo username)",
      ),
      fix: 'add it under OAuth & Permissions and reinstall the app',
    });

    const bySlackId = await doctor(`${BASE}${DUO}username_from = "slack_id"\n`, [...REQUIRED_SCOPES], duoVars());
    expect(bySlackId.report.ok).toBe(true);
    expect(bySlackId.report.checks).toHaveLength(9);
  });
});
