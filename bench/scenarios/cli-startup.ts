// Scenario 4: how long the built CLI takes to start, show its help and read an empty store.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, type ScenarioResult } from '../lib/result.js';
import { cliEnv, timeIrbot, timeNode } from '../lib/spawn.js';
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
    return {
      name: 'cli-startup',
      title: 'CLI start-up: spawn to exit of the built bin/irbot',
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: [
        check(`irbot --help, median of ${RUNS}`, round(median(help), 1), 'ms', 150, '<'),
        check(`irbot status (empty store), median of ${RUNS}`, round(median(status), 1), 'ms', 150, '<'),
      ],
      notes: [`For scale: \`node -e ""\` takes ${median(node).toFixed(1)} ms (median of ${RUNS}) on this machine.`],
      raw: {
        nodeBaselineMs: node.map((ms) => round(ms, 1)),
        helpMs: help.map((ms) => round(ms, 1)),
        statusMs: status.map((ms) => round(ms, 1)),
        nodeBaselineMedianMs: round(median(node), 1),
        helpMedianMs: round(median(help), 1),
        statusMedianMs: round(median(status), 1),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
