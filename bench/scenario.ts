// Runs one scenario in this process and writes its result as JSON: `node scenario.js <name> <out.json>`.
// run.ts starts one process per scenario, so that each gets a fresh heap and its own peak RSS.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScenarioResult } from './lib/result.js';
import { readSettings, type Settings } from './lib/settings.js';
import { ROOT } from './lib/spawn.js';
import { runCampaign } from './scenarios/campaign.js';
import { runCliStartup } from './scenarios/cli-startup.js';
import { runOverhead } from './scenarios/overhead.js';
import { runReport } from './scenarios/report.js';
import { runStoreGrowth } from './scenarios/store-growth.js';
import { runReportPg, runStoreGrowthPg } from './scenarios/store-growth-pg.js';

export const LOG_DIR = join(ROOT, 'dist-bench', 'logs');

function dispatch(name: string, settings: Settings): Promise<ScenarioResult> {
  if (name === 'overhead') return runOverhead(settings, LOG_DIR);
  if (name === 'overhead-pg') return runOverhead(settings, LOG_DIR, { pg: true });
  if (name === 'store-growth') return runStoreGrowth(settings);
  if (name === 'cli-startup') return runCliStartup();
  if (name === 'report') return runReport(settings);
  if (name === 'store-growth-pg') return runStoreGrowthPg(settings);
  if (name === 'report-pg') return runReportPg(settings);
  const n = settings.pgCampaignSize;
  const pgPaced = { ...settings, rateScale: settings.pgRateScale };
  if (name === 'campaign-pg-x1') return runCampaign(n, pgPaced, LOG_DIR, { pg: { replicas: 1 } }, name);
  if (name === 'campaign-pg-x3') return runCampaign(n, pgPaced, LOG_DIR, { pg: { replicas: 3 } }, name);
  if (name === 'campaign-pg-x3-stress') {
    return runCampaign(n, settings, LOG_DIR, { pg: { replicas: 3, stress: true } }, name);
  }
  if (name === 'failover-pg') {
    // lease_seconds at its least (5), so that the takeover is seen within the campaign.
    return runCampaign(n, settings, LOG_DIR, { pg: { replicas: 3, killOne: true, leaseSeconds: 5 } }, name);
  }
  const campaign = /^campaign-(\d+)$/.exec(name);
  if (campaign) return runCampaign(Number(campaign[1]), settings, LOG_DIR);
  throw new Error(`unknown scenario ${name}`);
}

const [name, out] = process.argv.slice(2);
if (!name || !out) {
  process.stderr.write('usage: node scenario.js <name> <out.json>\n');
  process.exit(2);
}
const started = performance.now();
let result: ScenarioResult;
try {
  result = await dispatch(name, readSettings(process.env));
} catch (err) {
  result = {
    name,
    title: name,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    peakRssMb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    checks: [],
    notes: [],
    raw: {},
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  };
}
await writeFile(out, JSON.stringify(result));
// Sockets, timers and SDK retries of an unfinished campaign may still be alive: the numbers are written, so stop.
process.exit(0);
