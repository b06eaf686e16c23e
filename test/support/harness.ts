// The world of an end-to-end test: a fresh local Slack, fake OpenAI server and workspace for each test, and every
// irbot process it started killed afterwards.
import { afterEach, beforeEach } from 'vitest';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { type FakeOpenAi, startFakeOpenAi } from './fake-openai.js';
import { makeWorkspace, type Running, startIrbot, type Workspace } from './irbot.js';

export interface Harness {
  slack: LocalSlack;
  openai: FakeOpenAi;
  ws: Workspace;
  /** Starts `irbot <args>` (listen, chat) in `ws` and resolves once its Socket Mode connection is open. */
  connect(args: string[], ws?: Workspace): Promise<Running>;
}

export function useHarness(): Harness {
  const running: Running[] = [];
  const h = {
    async connect(args: string[], ws = h.ws) {
      const before = h.slack.connectionCount;
      const proc = startIrbot(args, ws);
      running.push(proc);
      await h.slack.waitForConnections(before + 1);
      return proc;
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
