// The world of an end-to-end test: a fresh local Slack, fake OpenAI server and workspace for each test, and every
// irbot process it started killed afterwards.
import { afterEach, beforeEach } from 'vitest';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { runCli } from './cli.js';
import { type FakeOpenAi, startFakeOpenAi } from './fake-openai.js';
import { makeWorkspace, type Running, startIrbot, type Workspace } from './irbot.js';

export interface Harness {
  slack: LocalSlack;
  openai: FakeOpenAi;
  ws: Workspace;
  /** Starts `irbot <args>` (listen, chat) in `ws` and resolves once its Socket Mode connection is open. */
  connect(args: string[], ws?: Workspace): Promise<Running>;
  /** `irbot listen`, connected. */
  listen(ws?: Workspace): Promise<Running>;
  /** `irbot send-alert pivot`, then Start Chat pressed on it by the analyst (a listening irbot acts on it). */
  startChat(ws?: Workspace): Promise<{ id: string; ts: string }>;
}

export function useHarness(): Harness {
  const running: Running[] = [];
  const h = {
    async connect(args: string[], ws = h.ws) {
      const before = h.slack.connectionCount;
      const proc = startIrbot(args, ws);
      running.push(proc);
      // A process that exits instead of connecting fails the test with what it said.
      const exited = proc.exited.then((r) => {
        throw new Error(`irbot ${args.join(' ')} exited ${r.code} before connecting:\n${r.stderr}${r.stdout}`);
      });
      await Promise.race([h.slack.waitForConnections(before + 1), exited]);
      exited.catch(() => undefined);
      return proc;
    },
    listen: (ws = h.ws) => h.connect(['listen'], ws),
    async startChat(ws = h.ws) {
      const sent = await runCli(['send-alert', 'pivot', '--json'], ws);
      if (sent.code !== 0) throw new Error(`irbot send-alert exited ${sent.code}: ${sent.stderr.trim()}`);
      const alert = JSON.parse(sent.stdout) as { id: string; ts: string };
      await h.slack.clickButton({
        userId: 'U0ANALYST',
        actionId: 'start_chat_submit_action',
        value: alert.id,
        channel: 'C0FEED',
        messageTs: alert.ts,
      });
      return alert;
    },
  } as Harness;
  beforeEach(async () => {
    h.slack = await LocalSlack.start();
    h.openai = await startFakeOpenAi();
    h.ws = await makeWorkspace({ slackApiUrl: h.slack.apiUrl, openaiBaseUrl: h.openai.baseURL });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop('SIGKILL')));
    await h.slack.close();
    await h.openai.close();
  });
  return h;
}
