// The embedded store: one JSON file through lowdb, every change under an inter-process lock, written atomically.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, type FileHandle, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import lockfile from 'proper-lockfile';
import { ConfigError } from '../config/errors.js';
import { migrate } from './migrations.js';
import { type AlertRecord, emptyStore, STORE_VERSION, type Store, type StoreData } from './port.js';

/** lowdb adapter: reads strictly (a corrupt file is an error, never replaced) and writes temp + fsync + rename, mode 0600. */
class AtomicJsonFile implements Adapter<StoreData> {
  constructor(private readonly path: string) {}

  async read(): Promise<StoreData | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return checkStore(this.path, text);
  }

  async write(data: StoreData): Promise<void> {
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}

/** Parses and version-checks the store text; anything unexpected is reported, and the file is left as it is. */
export function checkStore(path: string, text: string): StoreData {
  const broken = (what: string) =>
    new ConfigError(
      `Store file ${path} ${what}; irbot will not overwrite it: restore it from a backup or move it away`,
    );
  if (text.trim() === '') throw broken('is empty (truncated?)');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw broken('is not valid JSON (truncated or corrupt)');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw broken('does not hold an irbot store');
  const { version, alerts, seenEvents } = data as Partial<StoreData>;
  if (typeof version !== 'number') throw broken('has no schema version');
  if (version > STORE_VERSION)
    throw broken(`was written by a newer irbot (schema ${version}, this one reads ${STORE_VERSION})`);
  if (typeof alerts !== 'object' || alerts === null || typeof seenEvents !== 'object' || seenEvents === null) {
    throw broken('does not hold an irbot store');
  }
  return data as StoreData;
}

interface Pending {
  change: (data: StoreData) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export function openLowdbStore(path: string): Store {
  const db = new Low<StoreData>(new AtomicJsonFile(path), emptyStore());
  /** The data as this process last wrote or read it, with the file's identity then: re-read only if it changed. */
  let cache: { stamp: string; data: StoreData } | null = null;
  let queue: Pending[] = [];
  let running = false;

  /** The data as on disk, possibly of an older schema. */
  const readRaw = async (): Promise<StoreData> => {
    db.data = emptyStore(); // lowdb keeps the old data when the file is missing
    await db.read();
    return db.data;
  };

  const read = async (): Promise<StoreData> => {
    const data = await readRaw();
    migrate(data, STORE_VERSION); // in memory only: a reader never writes
    return data;
  };

  /** Every write renames a new file into place, so inode, size and mtime together say whether it changed. */
  const stampOf = async (): Promise<string> => {
    try {
      const st = await stat(path, { bigint: true });
      return `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      throw err;
    }
  };

  /** Under the lock: the current data, from memory when no other process wrote since, migrated if old. */
  const load = async (): Promise<StoreData> => {
    const stamp = await stampOf();
    if (cache && cache.stamp === stamp) return cache.data;
    cache = null;
    const data = await readRaw();
    if (data.version < STORE_VERSION) {
      // Keep the old file as it was, once, before the first write in the new schema.
      await copyFile(path, `${path}.v${data.version}.bak`, constants.COPYFILE_EXCL).catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
      migrate(data, STORE_VERSION);
    }
    return data;
  };

  /**
   * Group commit: the changes queued while the previous write was under way are applied together under one
   * lock and written once. If one of them throws, the batch is redone one change at a time, so that the others
   * still land and the failing one changes nothing.
   */
  const runQueue = async (): Promise<void> => {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        await mkdir(dirname(path), { recursive: true });
        // realpath: false lets the lock exist before the store file does; stale locks of crashed processes expire.
        const release = await lockfile
          .lock(path, {
            realpath: false,
            stale: 10_000,
            retries: { retries: 1000, factor: 1.2, minTimeout: 2, maxTimeout: 50 },
          })
          .catch((err) => {
            for (const p of batch) p.reject(err);
            return null;
          });
        if (!release) continue;
        try {
          await commit(batch);
        } finally {
          await release();
        }
      }
    } finally {
      running = false;
    }
  };

  const commit = async (batch: Pending[]): Promise<void> => {
    let data: StoreData;
    try {
      data = await load();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    const results: unknown[] = [];
    try {
      for (const p of batch) results.push(p.change(data));
    } catch (err) {
      cache = null; // the data holds part of a failed change: it is dropped and read again from the file
      if (batch.length === 1) batch[0]?.reject(err);
      else for (const p of batch) await commit([p]);
      return;
    }
    try {
      const { archiving } = data;
      delete data.archiving;
      // Archive first: a crash between the two leaves an alert in both, and the working copy wins on reading.
      if (archiving && Object.keys(archiving).length > 0)
        await appendArchive(archivePathOf(path), Object.values(archiving));
      db.data = data;
      await db.write();
      cache = { stamp: await stampOf(), data };
      for (const [i, p] of batch.entries()) p.resolve(results[i]);
    } catch (err) {
      cache = null;
      for (const p of batch) p.reject(err);
    }
  };

  return {
    path,
    read,
    readArchive: () => readArchive(archivePathOf(path)),
    transact<T>(change: (data: StoreData) => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ change, resolve: resolve as (value: unknown) => void, reject });
        if (!running) void runQueue();
      });
    },
  };
}

/** `irbot-db.json` → `irbot-db.archive.ndjson`, beside it. */
export function archivePathOf(path: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -'.json'.length)}.archive.ndjson` : `${path}.archive.ndjson`;
}

/** Appends one JSON line per alert and fsyncs; created with mode 0600 like the store. */
async function appendArchive(file: string, records: AlertRecord[]): Promise<void> {
  const handle = await open(file, 'a+', 0o600);
  try {
    // A crash mid-append leaves a torn last line whose alert is still in the working set: cut it off.
    const { size } = await handle.stat();
    const whole = await endOfLastLine(handle, size);
    if (whole < size) await handle.truncate(whole);
    await handle.writeFile(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The length of the file up to and including its last newline, scanning back from the end. */
async function endOfLastLine(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0; end -= chunk.length) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const at = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
  }
  return 0;
}

async function readArchive(file: string): Promise<AlertRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const lines = text.split('\n');
  const byId = new Map<string, AlertRecord>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const record = JSON.parse(line) as AlertRecord;
      byId.delete(record.id);
      byId.set(record.id, record);
    } catch {
      // A crash mid-append leaves a torn last line, which was never committed; anything else is damage.
      if (i < lines.length - 1 && lines.slice(i + 1).some((rest) => rest.trim() !== '')) {
        throw new ConfigError(`Archive file ${file} line ${i + 1} is not valid JSON: restore it from a backup`);
      }
    }
  });
  return [...byId.values()];
}
