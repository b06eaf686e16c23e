// `npm run bench`: runs each scenario in its own process, then writes bench/results.json, bench/REPORT.md and
// bench/campaign.svg and prints a PASS/MISS summary. Misses are findings, not failures: exit 1 only when a
// scenario could not run.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, type ScenarioResult, verdict, withUnit } from './lib/result.js';
import { isCampaign, readSettings, scenarioNames } from './lib/settings.js';
import { ROOT } from './lib/spawn.js';
import { type Results, renderChart, renderReport, summaryLines } from './report.js';

const SCENARIO_JS = fileURLToPath(new URL('./scenario.js', import.meta.url));
const OUT_DIR = join(ROOT, 'bench');

/** Past this the child is stopped and the scenario reported as not finished. */
function hardLimitMs(name: string, deadlineS: number): number {
  return (isCampaign(name) ? deadlineS + 240 : 300) * 1000;
}

function runChild(name: string, out: string, limitMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCENARIO_JS, name, out], { stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', (err) => resolve(err.message));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(
        signal
          ? `stopped by ${signal} after ${Math.round(limitMs / 1000)} s`
          : code === 0
            ? undefined
            : `exited ${code}`,
      );
    });
  });
}

async function runAll(): Promise<Results> {
  const settings = readSettings(process.env);
  const tmp = await mkdtemp(join(tmpdir(), 'irbot-bench-'));
  const scenarios: ScenarioResult[] = [];
  for (const name of scenarioNames(settings)) {
    process.stdout.write(`▶ ${name}\n`);
    const out = join(tmp, `${name}.json`);
    const failure = await runChild(name, out, hardLimitMs(name, settings.deadlineS));
    let result: ScenarioResult;
    try {
      result = JSON.parse(await readFile(out, 'utf8')) as ScenarioResult;
    } catch {
      result = {
        name,
        title: name,
        seconds: 0,
        peakRssMb: 0,
        checks: [],
        notes: [],
        raw: {},
        error: failure ?? 'no result',
      };
    }
    scenarios.push(result);
    if (result.error) process.stdout.write(`  ERROR: ${result.error.split('\n')[0]}\n`);
    for (const c of result.checks) {
      process.stdout.write(
        `  ${verdict(c).padEnd(4)} ${c.metric}: ${withUnit(c.value, c.unit)} (target ${c.target})\n`,
      );
    }
    process.stdout.write(`  (${result.seconds} s, peak RSS ${result.peakRssMb} MB)\n`);
  }
  await rm(tmp, { recursive: true, force: true });
  return {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${settings.only ? ` (BENCH_ONLY=${settings.only.join(',')})` : ''}`,
    machine: machine(),
    settings,
    scenarios,
  };
}

const started = performance.now();
// --report-only renders REPORT.md and the chart again from bench/results.json, without running anything.
const reportOnly = process.argv.includes('--report-only');
const results = reportOnly
  ? (JSON.parse(await readFile(join(OUT_DIR, 'results.json'), 'utf8')) as Results)
  : await runAll();
const chart = renderChart(results);
if (chart) await writeFile(join(OUT_DIR, 'campaign.svg'), chart);
if (!reportOnly) await writeFile(join(OUT_DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(OUT_DIR, 'REPORT.md'), renderReport(results, chart ? 'campaign.svg' : null));
process.stdout.write(
  `\nSummary (${((performance.now() - started) / 1000).toFixed(0)} s; bench/REPORT.md, bench/results.json):\n`,
);
for (const line of summaryLines(results)) process.stdout.write(`  ${line}\n`);
process.exitCode = results.scenarios.some((s) => s.error) ? 1 : 0;
