// `listen --webhook` stopped (SIGTERM) while Slack cannot be reached and a SIEM's POST /alerts waits on it: the
// Slack client's retries (five in five minutes) end with the stop, the SIEM gets its answer, and the process exits
// at once rather than when systemd's patience runs out.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeWorkspace, type Running, startIrbot } from '../support/irbot.js';

const TOKEN = 'e2e-webhook-token-abcdef0123456789';
let daemon: Running | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
});

/** A local port nothing listens on: Slack "down" (connection refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('SIGTERM while Slack is down and a webhook request waits on it', () => {
  it('answers the request (502: send it again), and exits 0 without sitting out the retries', async () => {
    const ws = await makeWorkspace({
      slackApiUrl: `http://127.0.0.1:${await closedPort()}/api/`,
      env: { IRBOT_WEBHOOK_TOKEN: TOKEN },
    });
    daemon = startIrbot(['listen', '--webhook', '127.0.0.1:0', '--log-format', 'json'], ws);
    await daemon.waitFor(/webhook listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const port = /webhook listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(daemon.stderr)?.[1];
    const answer = fetch(`http://127.0.0.1:${port}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', dedupe_key: 'siem-1' }),
    });
    // The post's first try failed: the client now waits a second, then about 4, 15, 58 and 222, before giving up.
    await daemon.waitFor(/slack: http request failed/);
    daemon.child.kill('SIGTERM');
    // Held for the retries, this would outlast the test's timeout.
    expect((await daemon.exited).code).toBe(0);
    const res = await answer;
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: 'ECONNREFUSED' });
    // Slack provably never got it (refused): nothing is kept, and the 502 asks the SIEM to send it again.
    expect(JSON.parse((await runCli(['status', '--all', '--json'], ws)).stdout)).toEqual([]);
  }, 20_000);
});
