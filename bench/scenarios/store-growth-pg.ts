// Scenarios store-growth-pg and report-pg: the store-growth scenario's 100,000 alerts (98% closed, archived) in a
// PostgreSQL database; `irbot status` and `irbot report` cold start against it, and one store transaction.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isClosed } from '../../src/chat/engine.js';
import { copyInto } from '../../src/store/pg/copy.js';
import { openPgStore } from '../../src/store/pg/pg-store.js';
import { redactUrl } from '../../src/store/pg/url.js';
import type { StoreData } from '../../src/store/port.js';
import { type BenchDatabase, createBenchDatabase } from '../lib/pg-database.js';
import { check, type ScenarioResult } from '../lib/result.js';
import type { Settings } from '../lib/settings.js';
import { timeIrbot } from '../lib/spawn.js';
import { median, round, rssSampler } from '../lib/stats.js';
import { reportChecks, reportRaw, timeReports } from './report.js';
import { grownStore } from './store-growth.js';

const RUNS = 5;

interface Loaded {
  db: BenchDatabase;
  dir: string;
  config: string;
  working: string[];
  archived: number;
  loadSeconds: number;
  databaseMb: number;
}

/**
 * A new database holding `data` as irbot keeps it (closed alerts archived), written by the store's own copy (what
 * `irbot store migrate --to` runs), then ANALYZEd as autovacuum would have by then; a config.toml pointing at it.
 */
async function loaded(data: StoreData): Promise<Loaded> {
  const t0 = performance.now();
  const db = await createBenchDatabase();
  const closed = Object.values(data.alerts).filter((a) => isClosed(a.chat));
  for (const alert of closed) delete data.alerts[alert.id];
  const store = openPgStore(db.url);
  try {
    await store.withClient((client) => copyInto(client, redactUrl(db.url), data, closed));
  } finally {
    await store.close();
  }
  await db.sql('ANALYZE');
  const [size] = await db.sql<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes');
  const dir = await mkdtemp(join(tmpdir(), 'irbot-bench-pg-'));
  const config = join(dir, 'config.toml');
  await writeFile(config, `feed_channel_id = "C0FEED"\ndatabase_url = "${db.url}"\n`);
  return {
    db,
    dir,
    config,
    working: Object.keys(data.alerts),
    archived: closed.length,
    loadSeconds: (performance.now() - t0) / 1000,
    databaseMb: round(Number(size?.bytes ?? 0) / 2 ** 20, 1),
  };
}

async function dispose(l: Loaded | undefined): Promise<void> {
  if (!l) return;
  await l.db.drop();
  await rm(l.dir, { recursive: true, force: true });
}

export async function runStoreGrowthPg(settings: Settings): Promise<ScenarioResult> {
  const started = performance.now();
  const rss = rssSampler();
  let l: Loaded | undefined;
  try {
    l = await loaded(grownStore(settings.storeAlerts));
    const { db, dir, config, working } = l;
    const status = await timeIrbot(['status', '--config', config], RUNS, dir);
    const someId = working[Math.floor(working.length / 2)] ?? '';
    const touch = (d: StoreData) => {
      const alert = d.alerts[someId];
      if (alert) alert.lastActivityAt = new Date().toISOString();
    };
    // A fresh handle (its own pool, its cache loaded by the transaction) in a process that has run for a while.
    const handles: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const store = openPgStore(db.url);
      const t0 = performance.now();
      await store.transact(touch);
      handles.push(performance.now() - t0);
      await store.close();
    }
    // As a long-running `irbot listen` would: the same handle, again and again.
    const store = openPgStore(db.url);
    const warm: number[] = [];
    try {
      await store.transact(touch);
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        await store.transact(touch);
        warm.push(performance.now() - t0);
      }
    } finally {
      await store.close();
    }
    const statusMs = median(status);
    return {
      name: 'store-growth-pg',
      title: `Store growth on PostgreSQL: ${settings.storeAlerts.toLocaleString('en')} alerts (${l.archived.toLocaleString('en')} closed and archived), working set ${working.length.toLocaleString('en')} open alerts, database ${l.databaseMb} MB`,
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: [
        check(`irbot status cold start, median of ${RUNS}`, round(statusMs, 1), 'ms', 300, '<'),
        check(
          `one transaction, fresh handle in a running process, median of ${RUNS}`,
          round(median(handles), 1),
          'ms',
          10,
          '<',
        ),
        check(`one transaction, same handle, median of ${RUNS}`, round(median(warm), 1), 'ms', 10, '<'),
      ],
      notes: [
        `The store-growth scenario’s alerts, written into a database of the bench’s own by the store’s copy (src/store/pg/copy.ts, what \`irbot store migrate --to\` runs) in ${round(l.loadSeconds, 1)} s, then ANALYZEd. \`irbot status\` is the built bin/irbot spawned with database_url in its config.toml (spawn to exit, Node start-up and the connection included); it reads the working set (the open alerts) and lists the ${Math.round(settings.storeAlerts / 200)} active chats.`,
        'A transaction is transact(one alert’s lastActivityAt): a fresh handle (openPgStore, its pool and its cache empty) loads the working set inside its first transaction; the same handle only catches up on what changed since.',
      ],
      raw: {
        alerts: settings.storeAlerts,
        archived: l.archived,
        workingSet: working.length,
        databaseMb: l.databaseMb,
        loadSeconds: round(l.loadSeconds, 1),
        statusMs: status.map((ms) => round(ms, 1)),
        statusMedianMs: round(statusMs, 1),
        transactFreshHandleMs: handles.map((ms) => round(ms, 1)),
        transactWarmMs: warm.map((ms) => round(ms, 1)),
      },
    };
  } finally {
    await dispose(l);
  }
}

export async function runReportPg(settings: Settings): Promise<ScenarioResult> {
  const started = performance.now();
  const rss = rssSampler();
  let l: Loaded | undefined;
  try {
    // Dated to end today, as in the report scenario: the default window (30 days) holds a twelfth of them.
    l = await loaded(grownStore(settings.storeAlerts, Date.now()));
    const { dir, config } = l;
    const timed = await timeReports(config, dir);
    return {
      name: 'report-pg',
      title: `irbot report on PostgreSQL over ${settings.storeAlerts.toLocaleString('en')} alerts (${l.archived.toLocaleString('en')} archived, database ${l.databaseMb} MB)`,
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: reportChecks(timed),
      notes: [
        '`irbot report` is the built bin/irbot spawned with database_url in its config.toml (spawn to exit, Node start-up included), over the database store-growth-pg describes, its alerts dated to end today.',
      ],
      raw: {
        alerts: settings.storeAlerts,
        archived: l.archived,
        databaseMb: l.databaseMb,
        loadSeconds: round(l.loadSeconds, 1),
        ...reportRaw(timed),
      },
    };
  } finally {
    await dispose(l);
  }
}
