// The README's first command and the sandbox server that lets a new user try every other command.

import { appendFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeWorkspace, runIrbot, startIrbot } from '../support/irbot.js';

/** Each of `parts` is found in `text` after the one before it. */
function expectInOrder(text: string, parts: string[]): void {
  let at = 0;
  for (const part of parts) {
    const found = text.indexOf(part, at);
    expect(found, `${part} after offset ${at} in\n${text}`).toBeGreaterThanOrEqual(0);
    at = found + part.length;
  }
}

describe('irbot sandbox', () => {
  it('plays a whole chat on the local Slack with offline texts, and exits 0', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const result = await runIrbot(['sandbox', 'pivot'], ws, { env: { SLACK_BOT_TOKEN: '', OPENAI_API_KEY: '' } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Incident: Pivoting with user @Harold [Start Chat] [Do Nothing]');
    expect(result.stdout).toMatch(/Sent message to @Harold:\n\s+> \[offline\] Hi Harold!/);
    expect(result.stdout).toContain('Here is the summary of the chat:');
    // With nobody to answer his phone, Harold approves the push.
    expect(result.stdout).toMatch(/Harold's phone │ irbot: Pivoting, alert pivot-\w+ — approve\? \/approve or \/deny/);
    // Read by the offline rules: verified, and still for an analyst to confirm.
    expect(result.stdout).toContain('Chat ended: answered, aware, verified by Duo — needs review.');
    // Each scripted reply comes after the bot's message it answers, and before its relay.
    expectInOrder(result.stdout, [
      '[offline] Hi Harold!',
      'Harold replies: hmm, what is this about?',
      'Received message from @Harold',
      'Sorry to bother you again',
      'Harold replies: yes, that was me',
      'Received message from @Harold',
      'Thanks for your time!',
    ]);
    // The push goes out while the reply is relayed, in no set order with it.
    expectInOrder(result.stdout, [
      'Harold replies: yes, that was me',
      "Harold's phone │ approved",
      'Thanks for your time!',
    ]);
    expect(result.stdout).toContain('approve the Duo push we just sent to your phone');
  });

  it('without a terminal, answers with lines from a pipe kept open as they arrive, the Duo push with /deny', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const run = startIrbot(['sandbox', 'pivot'], ws, { env: { SLACK_BOT_TOKEN: '', OPENAI_API_KEY: '' } });
    try {
      await run.waitFor(/waiting for Harold's reply on stdin/);
      run.write('which host?');
      await run.waitFor(/Received message from @Harold:[\s\S]*which host\?/);
      await run.waitFor(/Sorry to bother you again/);
      run.write('yes, that was me');
      await run.waitFor(/Harold's phone │ irbot: Pivoting/);
      run.write('/deny');
      run.child.stdin.end();
      const result = await run.exited;
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Harold's phone │ denied");
      expect(result.stdout).toMatch(/🚨 \*denied\*: @Harold said it was them but refused the Duo push/);
      expect(result.stdout).toContain(
        'Chat ended: answered, aware, DENIED the Duo push (possible account compromise).',
      );
      expectInOrder(result.stdout, [
        '[offline] Hi Harold!',
        'Harold replies: which host?',
        'Sorry to bother you again',
        'Harold replies: yes, that was me',
      ]);
    } finally {
      await run.stop('SIGKILL');
    }
  });

  it('with --serve on a busy --port, says so in one line and exits 2', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as AddressInfo;
      const result = await runIrbot(['sandbox', '--serve', '--port', String(port)], ws);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `irbot: --port ${port}: port ${port} on 127.0.0.1 is in use; pick another, or leave --port out for any free one\n`,
      );
      expect(result.stdout).toBe('');
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('with --serve run through npx, prints the next commands with npx (irbot is not on PATH then)', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/', config: 'feed_channel_id = "C0FEED"\n' });
    const server = startIrbot(['sandbox', '--serve'], ws, { env: { npm_command: 'exec' } });
    try {
      await server.waitFor(/Ctrl-C stops the sandbox/);
      expect(server.stdout).toContain('\n  npx irbot doctor && npx irbot send-alert pivot && npx irbot listen\n');
    } finally {
      expect((await server.stop('SIGINT')).code).toBe(0);
    }
  });

  it('with --serve, runs servers that doctor passes and the other commands use, Harold typing on stdin', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/', config: 'feed_channel_id = "C0FEED"\n' });
    const server = startIrbot(['sandbox', '--serve'], ws);
    try {
      await server.waitFor(/export OPENAI_BASE_URL=(\S+) OPENAI_API_KEY=(\S+)/);
      const env = Object.fromEntries(
        [...server.stdout.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
      ) as Record<string, string>;
      const doctor = await runIrbot(['doctor'], ws, { env });
      // The local PagerDuty's variables are exported too: doctor checks the routing key's shape.
      expect(doctor.stdout).toMatch(
        /✓ escalation — not_aware, denied, unverified → PagerDuty at http:\/\/127\.0\.0\.1:\d+/,
      );
      expect(doctor.stdout).toContain('All 9 checks passed.');
      expect(doctor.code).toBe(0);

      // The next commands as this irbot is run: on PATH here; through npx (npm_command=exec), with npx.
      expect(server.stdout).toContain('\n  irbot doctor && irbot send-alert pivot && irbot listen\n');

      // Step-up with the sandbox's Duo, as its instructions say.
      expect(server.stdout).toContain('export DUO_API_URL=');
      // And the outcome events to its sink receiver, as printed.
      const sinkUrl = /\[\[sinks\]\] url = "(\S+)" and secret_env = "IRBOT_SANDBOX_SINK_SECRET"/.exec(
        server.stdout,
      )?.[1];
      expect(env.IRBOT_SANDBOX_SINK_SECRET).toBeTruthy();
      await appendFile(
        join(ws.dir, 'config.toml'),
        '[step_up]\nprovider = "duo"\napi_hostname = "api-local.duosecurity.com"\n' +
          `[[sinks]]\nurl = "${sinkUrl}"\nsecret_env = "IRBOT_SANDBOX_SINK_SECRET"\n`,
      );
      const sent = await runIrbot(['send-alert', 'pivot'], ws, { env });
      expect(sent.code).toBe(0);
      const id = sent.stdout.trim();
      await server.waitFor(/Incident: Pivoting with user @Harold/);
      const listen = startIrbot(['listen'], ws, { env });
      try {
        await listen.waitFor(/listening on Socket Mode/);
        server.write(`/start ${id}`);
        await server.waitFor(/DM to Harold │ Hi Harold/);
        server.write('yes, that was me');
        await server.waitFor(
          new RegExp(`Harold's phone │ irbot: Pivoting, alert ${id} — approve\\? /approve or /deny`),
        );
        server.write('/deny');
        await server.waitFor(/Here is the summary of the chat/);
        await server.waitFor(/denied\*: @Harold said it was them but refused the Duo push/);
        // listen's drain sends each event to the sandbox's receiver, which checks its signature.
        await server.waitFor(new RegExp(`Sink +│ ended ${id}:ended → 200, signature checked`));
        await server.waitFor(/PagerDuty +│/);
      } finally {
        await listen.stop('SIGTERM');
      }
    } finally {
      expect((await server.stop('SIGINT')).code).toBe(0);
    }
  });
});
