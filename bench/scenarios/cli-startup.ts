// Scenario 4: how long the built CLI takes to start, show its help and read an empty store; and `irbot listen`,
// from spawn to listening on Socket Mode (a local Slack) and from SIGTERM to its exit.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { check, type ScenarioResult } from '../lib/result.js';
import { BIN, cliEnv, timeIrbot, timeNode } from '../lib/spawn.js';
import { median, round, rssSampler } from '../lib/stats.js';

const RUNS = 10;

export async function runCliStartup(): Promise<ScenarioResult> {
  const started = performance.now();
  const rss = rssSampler();
  const dir = await mkdtemp(join(tmpdir(), 'irbot-bench-cli-'));
  try {
    await writeFile(join(dir, 'config.toml'), 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\n');
    const node: number[] = [];
    for (let i = 0; i < RUNS; i++) node.push((await timeNode(['-e', ''], { cwd: dir, env: cliEnv(dir) })).ms);
    const help = await timeIrbot(['--help'], RUNS, dir);
    const status = await timeIrbot(['status'], RUNS, dir);
    const listen = await timeListen(dir, RUNS);
    return {
      name: 'cli-startup',
      title: 'CLI start-up: spawn to exit of the built bin/irbot',
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: [
        check(`irbot --help, median of ${RUNS}`, round(median(help), 1), 'ms', 150, '<'),
        check(`irbot status (empty store), median of ${RUNS}`, round(median(status), 1), 'ms', 150, '<'),
        // Ours, not the issue's: a rolling deploy waits for each replica to start and to stop.
        check(`irbot listen, spawn to listening, median of ${RUNS}`, round(median(listen.up), 1), 'ms', 500, '<'),
        check(`irbot listen, idle, SIGTERM to exit, median of ${RUNS}`, round(median(listen.down), 1), 'ms', 100, '<'),
      ],
      notes: [`For scale: \`node -e ""\` takes ${median(node).toFixed(1)} ms (median of ${RUNS}) on this machine.`],
      raw: {
        nodeBaselineMs: node.map((ms) => round(ms, 1)),
        helpMs: help.map((ms) => round(ms, 1)),
        statusMs: status.map((ms) => round(ms, 1)),
        listenUpMs: listen.up.map((ms) => round(ms, 1)),
        listenDownMs: listen.down.map((ms) => round(ms, 1)),
        nodeBaselineMedianMs: round(median(node), 1),
        helpMedianMs: round(median(help), 1),
        statusMedianMs: round(median(status), 1),
        listenUpMedianMs: round(median(listen.up), 1),
        listenDownMedianMs: round(median(listen.down), 1),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `irbot listen` on an empty store against a local Slack, `times` times: milliseconds from spawn to its
 * "listening" line, and from SIGTERM to its exit (nothing in flight: the connection closed, the store released).
 */
async function timeListen(dir: string, times: number): Promise<{ up: number[]; down: number[] }> {
  const slack = await LocalSlack.start();
  const env = {
    ...cliEnv(dir),
    SLACK_BOT_TOKEN: 'xoxb-local-sandbox',
    SOCKET_APP_TOKEN: 'xapp-local-sandbox',
    OPENAI_API_KEY: 'sk-local-sandbox',
    SLACK_API_URL: slack.apiUrl,
  };
  const up: number[] = [];
  const down: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const start = performance.now();
      const child = spawn(process.execPath, [BIN, 'listen'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const exited = new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
      await new Promise<void>((resolveUp, reject) => {
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          if (/listening on Socket Mode/.test(stderr)) resolveUp();
        });
        void exited.then((code) => reject(new Error(`irbot listen exited ${code}: ${stderr.trim().slice(0, 300)}`)));
      });
      up.push(performance.now() - start);
      const stopping = performance.now();
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`irbot listen exited ${code} on SIGTERM: ${stderr.trim().slice(-300)}`);
      down.push(performance.now() - stopping);
    }
  } finally {
    await slack.close();
  }
  return { up, down };
}
