// Scenario 5: `irbot report` over the store-growth scenario's store (100,000 alerts, 98% in the archive).
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isClosed } from '../../src/chat/engine.js';
import { buildReport } from '../../src/report/stats.js';
import { archivePathOf, openLowdbStore } from '../../src/store/lowdb-store.js';
import { archiveAlert, factsSince } from '../../src/store/port.js';
import { type Check, check, type ScenarioResult } from '../lib/result.js';
import type { Settings } from '../lib/settings.js';
import { timeIrbot } from '../lib/spawn.js';
import { median, round, rssSampler } from '../lib/stats.js';
import { grownStore } from './store-growth.js';

const RUNS = 5;

export async function runReport(settings: Settings): Promise<ScenarioResult> {
  const started = performance.now();
  const rss = rssSampler();
  const dir = await mkdtemp(join(tmpdir(), 'irbot-bench-report-'));
  try {
    const dbPath = join(dir, 'db.json');
    // The store's alerts span the year before `now`; the report's window ends at the real clock, so they are
    // dated to end today: the default window (30 days) then holds a twelfth of them.
    const data = grownStore(settings.storeAlerts, Date.now());
    const closed = Object.values(data.alerts).filter((a) => isClosed(a.chat));
    // All but the last closed alert written to the archive as a year of archiving would have; the last one is
    // archived by the store, which writes the facts of the whole archive beside it, as after an upgrade.
    const last = closed[closed.length - 1];
    for (const alert of closed.slice(0, -1)) delete data.alerts[alert.id];
    const lines = closed.slice(0, -1).map((a) => `${JSON.stringify(a)}\n`);
    await writeFile(archivePathOf(dbPath), lines.join(''), { mode: 0o600 });
    await writeFile(dbPath, JSON.stringify(data), { mode: 0o600 });
    await openLowdbStore(dbPath).transact((d) => last && archiveAlert(d, last.id));
    const archiveBytes = (await stat(archivePathOf(dbPath))).size;
    const config = join(dir, 'config.toml');
    await writeFile(config, 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\n');

    const timed = await timeReports(config, dir);
    // In this process, for the notes: where the time goes, and what reading whole records would cost instead.
    const store = openLowdbStore(dbPath);
    let t = performance.now();
    const alerts = await factsSince(store, null);
    const readMs = performance.now() - t;
    t = performance.now();
    buildReport(alerts, { since: null, template: null, now: new Date() });
    const buildMs = performance.now() - t;

    return {
      name: 'report',
      title: `irbot report over ${settings.storeAlerts.toLocaleString('en')} alerts (${closed.length.toLocaleString('en')} in the archive, ${(archiveBytes / 2 ** 20).toFixed(0)} MB)`,
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: reportChecks(timed),
      notes: [
        `\`irbot report\` is the built bin/irbot spawned with a config pointing at the store (spawn to exit, Node start-up included). In the bench process: reading every alert ${round(readMs, 0)} ms, the statistics over them ${round(buildMs, 0)} ms. The report reads the facts the store keeps beside the archive (one short line per archived alert), never the archived alerts themselves.`,
      ],
      raw: {
        alerts: settings.storeAlerts,
        archived: closed.length,
        archiveBytes,
        ...reportRaw(timed),
        readMs: round(readMs, 1),
        buildMs: round(buildMs, 1),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Cold starts of `irbot report` with `config`: the whole store, the default 30 days, and the whole as HTML. */
export interface ReportTimings {
  all: number[];
  month: number[];
  html: number[];
}

export async function timeReports(config: string, dir: string): Promise<ReportTimings> {
  const all = await timeIrbot(['report', '--since', 'all', '--config', config], RUNS, dir);
  const month = await timeIrbot(['report', '--config', config], RUNS, dir);
  const html = await timeIrbot(
    ['report', '--since', 'all', '--html', join(dir, 'report.html'), '--config', config],
    RUNS,
    dir,
  );
  return { all, month, html };
}

/** The target for each: under a second. */
export function reportChecks({ all, month, html }: ReportTimings): Check[] {
  const cold = (what: string, times: number[]) =>
    check(`irbot report ${what}, cold start, median of ${RUNS}`, round(median(times), 1), 'ms', 1000, '<');
  return [cold('--since all', all), cold('(last 30 days)', month), cold('--since all --html', html)];
}

export function reportRaw({ all, month, html }: ReportTimings): Record<string, number | number[]> {
  const ms = (times: number[]) => times.map((t) => round(t, 1));
  return {
    allMs: ms(all),
    allMedianMs: round(median(all), 1),
    monthMs: ms(month),
    monthMedianMs: round(median(month), 1),
    htmlMs: ms(html),
    htmlMedianMs: round(median(html), 1),
  };
}
