// Outcome write-back with the real binary: one listen, a sink down while an alert is posted, chatted and ended, and
// another dismissed; once the sink is up, every event reaches it signed, once, under the key of its failed tries.
import { afterEach, expect, it } from 'vitest';
import { LocalSink } from '../../src/sandbox/local-sink.js';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { makeWorkspace } from '../support/irbot.js';
import { isPost } from '../support/relays.js';

const h = useHarness();
const SECRET = 'whsec_e2e_0123456789abcdef';
let sink: LocalSink | undefined;
afterEach(async () => {
  await sink?.close();
});

it('delivers posted, started, ended and dismissed to a sink that was down, signed, each once', async () => {
  sink = await LocalSink.start({ secret: SECRET });
  const ws = await makeWorkspace({
    slackApiUrl: h.slack.apiUrl,
    openaiBaseUrl: h.openai.baseURL,
    config: `feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nmax_nudges = 1\nllm_timeout_seconds = 5\nslack_rate_scale = 100\n\n[[sinks]]\nurl = "${sink.url}"\nsecret_env = "IRBOT_SINK_SECRET"\n`,
    env: { IRBOT_SINK_SECRET: SECRET },
  });
  sink.setMode({ kind: 'unavailable', retryAfter: 1 });
  const daemon = await h.listen(ws);
  const alert = await h.startChat(ws);
  await h.slack.waitForCall(isPost('U0HAROLD', /quick question/));
  await h.slack.sendDm({ userId: 'U0HAROLD', text: 'yes, it was me, I was migrating the build host' });
  await h.slack.waitForCall(isPost('C0FEED', /^Here is the summary of the chat:/));
  const dismissed = JSON.parse((await runCli(['send-alert', 'privesc', '--json'], ws)).stdout) as {
    id: string;
    ts: string;
  };
  await h.slack.clickButton({
    userId: 'U0ANALYST',
    actionId: 'do_nothing_submit_action',
    value: dismissed.id,
    channel: 'C0FEED',
    messageTs: dismissed.ts,
  });
  // Retried while down (Retry-After: 1), then up.
  const posted = `${alert.id}:posted`;
  await sink.waitFor((requests) => requests.filter((r) => r.key === posted).length >= 2);
  sink.setMode({ kind: 'up' });
  const keys = [
    posted,
    `${alert.id}:started`,
    `${alert.id}:ended`,
    `${dismissed.id}:posted`,
    `${dismissed.id}:dismissed`,
  ];
  await sink.waitFor((requests) => keys.every((key) => requests.some((r) => r.key === key && r.status === 200)));
  expect((await daemon.stop('SIGTERM')).code).toBe(0);

  expect(sink.delivered.map((r) => r.key).sort()).toEqual([...keys].sort());
  expect(sink.requests.filter((r) => r.refused !== undefined)).toEqual([]);
  const tries = sink.requests.filter((r) => r.key === posted);
  expect(tries.at(-1)?.status).toBe(200);
  expect(new Set(tries.map((r) => r.raw)).size).toBe(1);
  const ended = sink.delivered.find((r) => r.key === `${alert.id}:ended`)?.body as { verdict: unknown };
  expect(ended.verdict).toMatchObject({
    outcome: 'answered',
    aware: true,
    verified: null,
    summary: expect.any(String),
  });

  const status = JSON.parse((await runCli(['status', '--all', '--json'], ws)).stdout) as {
    id: string;
    deliveries: { key: string; state: string }[];
  }[];
  expect(status.flatMap((row) => row.deliveries.map((d) => `${d.key} ${d.state}`)).sort()).toEqual(
    keys.map((key) => `${key} delivered`).sort(),
  );
  expect(daemon.stderr).toContain(`delivery ${posted} to sink #1 (http://127.0.0.1:`);
  expect(daemon.stderr).not.toContain(SECRET);
});
