// Step-up with the real binary against the local Duo: every outcome in one `listen`, then kill -9 with a push
// pending and a restart that polls the same push instead of sending another.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DuoBehaviour, LocalDuo } from '../../src/sandbox/local-duo.js';
import { DEFAULT_USERS, LocalSlack } from '../../src/sandbox/local-slack.js';
import { runCli, untilStatus } from '../support/cli.js';
import { type FakeOpenAi, startFakeOpenAi } from '../support/fake-openai.js';
import { crash, makeWorkspace, type Running, startIrbot, type Workspace } from '../support/irbot.js';
import { isPost } from '../support/relays.js';

const TOKEN = 'e2e-webhook-token-abcdef0123456789';
/** One person per outcome; their Duo username is their Slack email. */
const PEOPLE: { id: string; behaviour: DuoBehaviour }[] = [
  { id: 'approve', behaviour: 'approve' },
  { id: 'deny', behaviour: 'deny' },
  { id: 'fraud', behaviour: 'fraud' },
  { id: 'timeout', behaviour: 'timeout' },
  { id: 'enroll', behaviour: 'not_enrolled' },
  { id: 'down', behaviour: 'down' },
  { id: 'manual', behaviour: 'manual' },
];
const userIdOf = (person: string) => `U0${person.toUpperCase()}`;
const emailOf = (person: string) => `${person}@example.com`;

let slack: LocalSlack;
let openai: FakeOpenAi;
let duo: LocalDuo;
let ws: Workspace;
const running: Running[] = [];

beforeEach(async () => {
  const people = PEOPLE.map(({ id }) => ({
    id: userIdOf(id),
    name: id,
    displayName: id,
    realName: id,
    email: emailOf(id),
  }));
  slack = await LocalSlack.start({ users: [...DEFAULT_USERS, ...people] });
  openai = await startFakeOpenAi();
  duo = await LocalDuo.start({ users: Object.fromEntries(PEOPLE.map((p) => [emailOf(p.id), p.behaviour])) });
  ws = await makeWorkspace({
    slackApiUrl: slack.apiUrl,
    openaiBaseUrl: openai.baseURL,
    config:
      'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nmax_nudges = 1\nllm_timeout_seconds = 5\nslack_rate_scale = 100\n\n' +
      '[step_up]\nprovider = "duo"\napi_hostname = "api-local.duosecurity.com"\nretries = 1\n',
    env: {
      IRBOT_WEBHOOK_TOKEN: TOKEN,
      DUO_API_URL: duo.apiUrl,
      DUO_INTEGRATION_KEY: duo.integrationKey,
      DUO_SECRET_KEY: duo.secretKey,
    },
  });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop('SIGKILL')));
  await Promise.all([slack.close(), openai.close(), duo.close()]);
});

function listen(args: string[] = []): Running {
  const daemon = startIrbot(['listen', ...args], ws);
  running.push(daemon);
  return daemon;
}

const dm = (person: string, text: string) => slack.sendDm({ userId: userIdOf(person), text });
const toPerson = (person: string, pattern: RegExp) => slack.waitForCall(isPost(userIdOf(person), pattern));
const authCalls = (person: string) => duo.callsTo('/auth/v2/auth').filter((c) => c.params.username === emailOf(person));
type Row = { id: string; template: string; state: string; verified: string | null; aware: boolean | null };

describe('step-up with Duo', () => {
  it('approve, deny, fraud, timeout then retry, not enrolled, Duo down, and kill -9 with a push pending', async () => {
    const daemon = listen(['--webhook', '127.0.0.1:0']);
    await daemon.waitFor(/listening on Socket Mode/);
    const port = /webhook listening on http:\/\/127\.0\.0\.1:(\d+)\b/.exec(daemon.stderr)?.[1];
    const alerts = PEOPLE.map(({ id }) => ({ id, name: `Pivoting (${id})`, user_id: userIdOf(id), auto_chat: true }));
    const res = await fetch(`http://127.0.0.1:${port}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    expect(res.status).toBe(202);
    const { ids } = (await res.json()) as { ids: string[] };
    for (const { id } of PEOPLE) {
      await toPerson(id, /Hi /);
      await dm(id, 'yes, that was me');
    }

    // The pending push: replies meanwhile are relayed; then the daemon dies while it polls.
    const pending = await duo.waitForPush(emailOf('manual'));
    expect(pending.pushinfo).toEqual({ from: 'irbot', alert: 'Pivoting (manual)', id: ids[6] });
    await toPerson('manual', /^Thanks! One last step: to confirm it was really you/);
    await dm('manual', 'approving it now');
    await slack.waitForCall(isPost('C0FEED', /^Received message from <@U0MANUAL>:\n> approving it now/));

    // Timeout: the person asks for another push, and approves that one.
    await toPerson('timeout', /^The Duo push timed out\. Reply `retry`/);
    duo.setUser(emailOf('timeout'), 'approve');
    await dm('timeout', 'retry');

    const settled = (rows: Row[]) => rows.filter((r) => r.template !== 'manual').every((r) => r.state === 'ended');
    const rows = await untilStatus<Row[]>(ws, (a) => settled(a as Row[]), 20_000);
    const verified = Object.fromEntries(rows.map((r) => [r.template, [r.state, r.verified]]));
    expect(verified).toEqual({
      approve: ['ended', 'approved'],
      deny: ['ended', 'denied'],
      fraud: ['ended', 'fraud'],
      timeout: ['ended', 'approved'],
      enroll: ['ended', 'not_enrolled'],
      down: ['ended', 'error'],
      manual: ['active', null],
    });
    expect(PEOPLE.map(({ id }) => authCalls(id).length)).toEqual([1, 1, 1, 2, 0, 0, 1]);

    // Said in words on the alert message, and on-call is called for what was not approved.
    const updates = slack.callsTo('chat.update').map((c) => JSON.stringify(c.args.blocks));
    expect(updates.some((b) => b.includes('*denied*: <@U0DENY> said it was them but refused the Duo push'))).toBe(true);
    expect(updates.some((b) => b.includes('<@U0APPROVE> answered and was *aware* of the activity, *verified*'))).toBe(
      true,
    );
    // `unverified` escalates by default ([escalation] on): the ping carries the reason and the verdict.
    await slack.waitForCall(
      isPost(
        'C0FEED',
        /^:rotating_light: \*Escalated \(unverified\):\* [^\n]*\n\*Verdict:\* <@U0ENROLL> said they were \*aware\*, but \*unverified\*/,
      ),
    );

    const transcript = await runCli(['transcript', ids[3] ?? ''], ws);
    expect(transcript.stdout).toMatch(/Duo push 1: timeout/);
    expect(transcript.stdout).toMatch(/Duo push 2 sent to timeout@example\.com/);
    expect(transcript.stdout).toContain('- **Step-up:** verified (Duo push approved)');

    await crash(daemon, ws);
    const again = listen();
    await again.waitFor(/listening on Socket Mode/);
    // The person answers the push the dead daemon sent: only polling that very txid can tell the new one.
    duo.answer(emailOf('manual'), 'approve');
    const [manual] = await untilStatus<Row[]>(ws, (a) =>
      (a as Row[]).some((r) => r.template === 'manual' && r.state === 'ended'),
    ).then((all) => all.filter((r) => r.template === 'manual'));
    expect(manual).toMatchObject({ state: 'ended', verified: 'approved', aware: true });
    expect(authCalls('manual')).toHaveLength(1);
  }, 30_000);
});
