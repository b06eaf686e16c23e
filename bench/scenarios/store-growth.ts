// Scenario 3: a store grown to many alerts (90% ended): `irbot status` cold start, and one store transaction.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isClosed, newChat } from '../../src/chat/engine.js';
import type { Chat } from '../../src/chat/types.js';
import { archivePathOf, journalPathOf, openLowdbStore, outgrown } from '../../src/store/lowdb-store.js';
import { type AlertRecord, emptyStore, type StoreData, type TranscriptEntry } from '../../src/store/port.js';
import { check, type ScenarioResult } from '../lib/result.js';
import type { Settings } from '../lib/settings.js';
import { cliEnv, timeIrbot, timeNode } from '../lib/spawn.js';
import { median, round, rssSampler } from '../lib/stats.js';

const RUNS = 5;
const ONE_TRANSACTION = fileURLToPath(new URL('../lib/one-transaction.js', import.meta.url));

/** Milliseconds of one transaction in each of RUNS fresh processes (bench/lib/one-transaction.ts). */
async function inFreshProcesses(dbPath: string, id: string, what: 'touch' | 'nothing'): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const run = await timeNode([ONE_TRANSACTION, dbPath, id, what], {
      cwd: dirname(dbPath),
      env: cliEnv(dirname(dbPath)),
    });
    if (run.code !== 0) throw new Error(`one-transaction.js exited ${run.code}: ${run.stderr.trim().slice(0, 300)}`);
    times.push(Number(run.stdout.trim()));
  }
  return times;
}
const GREETING = 'Hi! Our security monitoring noticed a login to the admin console from a new device. Was that you?';
const DAY = 24 * 3600_000;

/** A store of `count` alerts over the last year: 90% ended, 8% dismissed, 1.5% posted, 0.5% active. */
export function grownStore(count: number, now = Date.parse('2025-06-01T00:00:00Z')): StoreData {
  const data = emptyStore();
  const at = (ms: number) => new Date(ms).toISOString();
  for (let i = 0; i < count; i++) {
    const created = now - 365 * DAY + Math.floor((i / count) * 365 * DAY);
    const slot = i % 200; // 180 ended, 16 dismissed, 3 posted, 1 active in every 200
    const userId = slot === 199 ? `U0ACT${String(i).padStart(6, '0')}` : `U0P${String(i % 5000).padStart(5, '0')}`;
    const analyst = { id: 'U0ANALYST', via: 'slack' as const };
    let chat: Chat = newChat();
    const transcript: TranscriptEntry[] = [];
    const say = (from: TranscriptEntry['from'], text: string, minutes: number) =>
      transcript.push({ from, text, at: at(created + minutes * 60_000) });
    if (slot < 180) {
      say('bot', GREETING, 2);
      say('person', 'what is this about?', 5);
      say('bot', 'Just checking in again: were you aware of the login from the new device?', 6);
      say('person', 'yes, that was me on my new laptop', 9);
      say('bot', 'Thanks for your time!', 10);
      say('system', 'Summary: the person confirmed the login from their new laptop; nothing suspicious.', 10);
      chat = {
        ...chat,
        state: 'ended',
        startedBy: analyst,
        startedAt: at(created + 60_000),
        endedAt: at(created + 10 * 60_000),
        outcome: slot % 10 === 0 ? 'no_answer' : 'answered',
        aware: slot % 10 === 0 ? null : true,
        nudges: 1,
        personMessages: 2,
        classifiedUpTo: 2,
        quietSince: at(created + 9 * 60_000),
      };
    } else if (slot < 196) {
      chat = { ...chat, state: 'dismissed', endedBy: analyst, endedAt: at(created + 60_000) };
    } else if (slot === 199) {
      say('bot', GREETING, 2);
      chat = {
        ...chat,
        state: 'active',
        startedBy: analyst,
        startedAt: at(created + 60_000),
        quietSince: at(created + 2 * 60_000),
      };
    }
    const id = `login-${i.toString(16).padStart(6, '0')}`;
    const record: AlertRecord = {
      id,
      template: 'login',
      name: 'Admin console login from a new device',
      description: 'A login to the admin console from a device never seen for this user',
      userId,
      properties: { device: `laptop-${i % 977}`, country: 'NO', ip: `10.${i % 256}.${(i >> 8) % 256}.7` },
      channelId: 'C0FEED',
      ts: `${Math.floor(created / 1000)}.${String(i % 1_000_000).padStart(6, '0')}`,
      createdAt: at(created),
      lastActivityAt: at(created + 10 * 60_000),
      personName: `Person ${i % 5000}`,
      chat,
      transcript,
      outbox: [],
      nextSeq: transcript.length + 3,
    };
    data.alerts[id] = record;
  }
  for (let i = 0; i < 2000; i++) data.seenEvents[`Ev${i}`] = at(now - (i % 86_400) * 1000);
  return data;
}

export async function runStoreGrowth(settings: Settings): Promise<ScenarioResult> {
  const started = performance.now();
  const rss = rssSampler();
  const dir = await mkdtemp(join(tmpdir(), 'irbot-bench-store-'));
  try {
    const dbPath = join(dir, 'db.json');
    const data = grownStore(settings.storeAlerts);
    // As irbot keeps it: closed chats move to the archive ten minutes after they end (App.tick), so the working
    // set that every transaction reads and writes holds the open ones only.
    const closed = Object.values(data.alerts).filter((a) => isClosed(a.chat));
    for (const alert of closed) delete data.alerts[alert.id];
    await writeFile(archivePathOf(dbPath), closed.map((a) => `${JSON.stringify(a)}\n`).join(''), { mode: 0o600 });
    const ids = Object.keys(data.alerts);
    const someId = ids[Math.floor(ids.length / 2)] ?? '';
    await writeFile(dbPath, JSON.stringify(data), { mode: 0o600 });
    // The store's first write makes it as irbot keeps it: a snapshot and the journal that continues it.
    await openLowdbStore(dbPath).transact(() => undefined);
    const bytes = (await stat(dbPath)).size;
    const archiveBytes = (await stat(archivePathOf(dbPath))).size;
    await writeFile(join(dir, 'config.toml'), 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\n');

    const status = await timeIrbot(['status', '--config', join(dir, 'config.toml')], RUNS, dir);

    const touch = (d: StoreData) => {
      const alert = d.alerts[someId];
      if (alert) alert.lastActivityAt = new Date().toISOString();
    };
    // As a one-shot command would: a fresh process, one small change; each leaves a line in the journal.
    const cold = await inFreshProcesses(dbPath, someId, 'touch');
    // A fresh handle in a process that has run for a while (its code warmed up, its heap grown).
    const handles: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await openLowdbStore(dbPath).transact(touch);
      handles.push(performance.now() - t0);
    }
    const store = openLowdbStore(dbPath);
    await store.transact(touch);
    let t = performance.now();
    // As a long-running `irbot listen` would: the same handle, again and again.
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      t = performance.now();
      await store.transact(touch);
      warm.push(performance.now() - t);
    }
    // The worst case for a fresh handle: a journal about to be folded into the snapshot, which it has outgrown.
    const full = openLowdbStore(dbPath);
    // Up to just before the line that would have it folded (see COMPACTION in src/store/lowdb-store.ts).
    const journalNow = async () => {
      const text = await readFile(journalPathOf(dbPath), 'utf8');
      return { size: Buffer.byteLength(text), lines: text.split('\n').length - 2 };
    };
    for (let now = await journalNow(); !outgrown(now.size + 4096, now.lines + 1, bytes); now = await journalNow()) {
      await full.transact(touch);
    }
    const fullJournalBytes = (await stat(journalPathOf(dbPath))).size;
    // A change of nothing, so the journal stays as full as it is.
    const coldFull = await inFreshProcesses(dbPath, someId, 'nothing');
    t = performance.now();
    await openLowdbStore(dbPath).read();
    const readMs = performance.now() - t;

    const statusMs = median(status);
    return {
      name: 'store-growth',
      title: `Store growth: ${settings.storeAlerts.toLocaleString('en')} alerts (98% closed and archived, ${(archiveBytes / 2 ** 20).toFixed(0)} MB); working set ${ids.length.toLocaleString('en')} open alerts, ${(bytes / 2 ** 20).toFixed(1)} MB`,
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: [
        check(`irbot status cold start, median of ${RUNS}`, round(statusMs, 1), 'ms', 300, '<'),
        check(`one transaction, fresh process, median of ${RUNS}`, round(median(cold), 1), 'ms', 10, '<'),
        check(
          `one transaction, fresh handle in a running process, median of ${RUNS}`,
          round(median(handles), 1),
          'ms',
          10,
          '<',
        ),
        check(
          `… fresh process, with the journal as full as it gets (${(fullJournalBytes / 2 ** 20).toFixed(1)} MB), median of ${RUNS}`,
          round(median(coldFull), 1),
          'ms',
          10,
          '<',
        ),
        check(`one transaction, same handle, median of ${RUNS}`, round(median(warm), 1), 'ms', 10, '<'),
      ],
      notes: [
        `\`irbot status\` is the built bin/irbot spawned with a config pointing at the store (spawn to exit, Node start-up included); it lists the ${Math.round(settings.storeAlerts / 200)} active chats.`,
        'A transaction is openLowdbStore(path).transact(one alert’s lastActivityAt), timed inside a process of its own for a one-shot command (bench/lib/one-transaction.ts, Node’s start-up not counted) and in the bench process for a long-running one: lock, read the snapshot and the journal (or catch up on what this handle has not seen), change, append one line to the journal with fsync, unlock. “Journal as full as it gets”: just short of being folded into a new snapshot (at a quarter of the snapshot’s size or a thousand lines, past 256 KiB).',
        'Closed chats (ended, dismissed) live in the archive beside the store (db.archive.ndjson), where irbot moves them ten minutes after they end; `irbot status --all` and `irbot transcript` read it, nothing else does.',
      ],
      raw: {
        alerts: settings.storeAlerts,
        fileBytes: bytes,
        archiveBytes,
        workingSet: ids.length,
        statusMs: status.map((ms) => round(ms, 1)),
        statusMedianMs: round(statusMs, 1),
        transactColdMs: cold.map((ms) => round(ms, 1)),
        transactColdMedianMs: round(median(cold), 1),
        transactFreshHandleMs: handles.map((ms) => round(ms, 1)),
        fullJournalBytes,
        transactColdFullJournalMs: coldFull.map((ms) => round(ms, 1)),
        transactWarmMs: warm.map((ms) => round(ms, 1)),
        transactWarmMedianMs: round(median(warm), 1),
        readColdMs: round(readMs, 1),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
