// The embedded store: one JSON file through lowdb, every change under an inter-process lock, written atomically.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import lockfile from 'proper-lockfile';
import { ConfigError } from '../config/errors.js';
import { migrate } from './migrations.js';
import { emptyStore, STORE_VERSION, type Store, type StoreData } from './port.js';

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

export function openLowdbStore(path: string): Store {
  const db = new Low<StoreData>(new AtomicJsonFile(path), emptyStore());

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

  return {
    path,
    read,
    async transact<T>(change: (data: StoreData) => T): Promise<T> {
      await mkdir(dirname(path), { recursive: true });
      // realpath: false lets the lock exist before the store file does; stale locks of crashed processes expire.
      const release = await lockfile.lock(path, {
        realpath: false,
        stale: 10_000,
        retries: { retries: 1000, factor: 1.2, minTimeout: 2, maxTimeout: 50 },
      });
      try {
        const data = structuredClone(await readRaw());
        if (data.version < STORE_VERSION) {
          // Keep the old file as it was, once, before the first write in the new schema.
          await copyFile(path, `${path}.v${data.version}.bak`, constants.COPYFILE_EXCL).catch((err) => {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          });
          migrate(data, STORE_VERSION);
        }
        const result = change(data);
        db.data = data;
        await db.write();
        return result;
      } finally {
        await release();
      }
    },
  };
}
