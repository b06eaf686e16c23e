// A Slack that cannot be reached (connection refused, no such host, no TLS): one-shot commands say which URL, exit 1 within
// seconds, record nothing, and never print credentials that are part of the URL.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { runIrbot, type Workspace } from '../support/irbot.js';

const h = useHarness();

/** A port on 127.0.0.1 that nothing listens on: it was free a moment ago. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function timed(args: string[], ws: Workspace, slackApiUrl: string) {
  const started = Date.now();
  const result = await runIrbot(args, ws, { env: { SLACK_API_URL: slackApiUrl } });
  return { ...result, ms: Date.now() - started };
}

const stored = async (ws: Workspace) => JSON.parse((await runCli(['status', '--all', '--json'], ws)).stdout);

describe('a Slack that cannot be reached', () => {
  it('makes send-alert name the URL and exit 1 at once, with nothing recorded', async () => {
    const refused = `http://127.0.0.1:${await closedPort()}/api/`;
    const unknown = 'https://irbot-nonexistent.invalid/api/';
    // TLS spoken to a server that answers plain HTTP: the handshake fails before any request is sent.
    const noTls = h.slack.apiUrl.replace(/^http:/, 'https:');
    for (const [url, code] of [
      [refused, 'ECONNREFUSED'],
      [unknown, /ENOTFOUND|EAI_AGAIN/],
      [noTls, /ERR_SSL_|EPROTO/],
    ] as const) {
      const result = await timed(['send-alert', 'pivot'], h.ws, url);
      expect(result.code).toBe(1);
      const line = result.stderr.trim().split('\n').at(-1) ?? '';
      expect(line).toContain(`could not reach Slack at ${url}`);
      expect(line).toMatch(code);
      expect(result.ms).toBeLessThan(45_000);
    }
    expect(await stored(h.ws)).toEqual([]);
  });

  it('never prints credentials that are part of SLACK_API_URL', async () => {
    const url = `http://irbot:s3cret-pass@127.0.0.1:${await closedPort()}/api/`;
    const result = await timed(['send-alert', 'pivot'], h.ws, url);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('s3cret');
    expect(result.stderr).toContain('could not reach Slack at http://***@127.0.0.1:');
    expect(await stored(h.ws)).toEqual([]);
  });

  it('makes chat name the URL and exit 1, the alert left as it was', async () => {
    const sent = await runIrbot(['send-alert', 'pivot', '--json'], h.ws);
    const { id } = JSON.parse(sent.stdout) as { id: string };
    const url = `http://127.0.0.1:${await closedPort()}/api/`;
    const result = await timed(['chat', id], h.ws, url);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toContain(`could not reach Slack at ${url}`);
    expect(result.ms).toBeLessThan(45_000);
    expect(await stored(h.ws)).toMatchObject([{ id, state: 'posted' }]);
  });
});
