// The embedded store: a JSON snapshot through lowdb plus an append-only journal, every change under an
// inter-process lock, appended and fsynced before it counts.
import { randomBytes } from 'node:crypto';
import fs, { constants } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

/**
 * fsync of the journal, synchronous like the rest of a commit. It takes a fraction of a millisecond on a local
 * disk; made async, its completion waits its turn behind every other I/O callback of the process (Slack and LLM
 * responses), which in the bench put milliseconds on the slowest events, and the next commit waits for it anyway.
 */
const fdatasync = (fd: number): void => fs.fdatasyncSync(fd);

import { type Adapter, Low } from 'lowdb';
import type { Log } from '../log.js';
import { appendArchive, readArchive, readArchiveFacts } from './archive.js';
import {
  archivePathOf,
  backupPathOf,
  folderRefused,
  journalPathOf,
  linkRefused,
  looseBits,
  type ModeGuard,
  modeGuard,
  notAFile,
  openStoreFile,
  openStoreFileSync,
  removeLeftoverTemps,
  StoreFileError,
  syncFolder,
} from './files.js';
import { applyLines, type Fields, headerLine, JournalDamage, parseHeader, track } from './journal.js';
import { lockStore } from './lock.js';
import { migrate } from './migrations.js';
import { emptyStore, STORE_VERSION, type Store, type StoreData, syncWanted, type TransactOptions } from './port.js';

export { archivePathOf, journalPathOf } from './files.js';

/** lowdb adapter: reads strictly (a corrupt file is an error, never replaced) and writes temp + fsync + rename, mode 0600. */
class AtomicJsonFile implements Adapter<StoreData> {
  constructor(
    private readonly path: string,
    private readonly guard: ModeGuard,
  ) {}

  async read(): Promise<StoreData | null> {
    return (await this.readStamped())?.data ?? null;
  }

  /** The data, and the stamp of the very file it came from (a compaction may replace the file meanwhile). */
  async readStamped(): Promise<{ data: StoreData; stamp: JournalStamp } | null> {
    const handle = await openStoreFile(this.path, constants.O_RDONLY);
    if (!handle) return null;
    try {
      const st = await handle.stat({ bigint: true });
      if (st.isDirectory()) throw folderRefused(this.path);
      await this.guard.opened(this.path, st.mode, (mode) => handle.chmod(mode));
      const text = await handle.readFile('utf8');
      return { data: checkStore(this.path, text), stamp: stampOf(st) };
    } finally {
      await handle.close();
    }
  }

  async write(data: StoreData): Promise<void> {
    await writeAtomically(this.path, JSON.stringify(data));
  }
}

/** Parses and version-checks the store text; anything unexpected is reported, and the file is left as it is. */
export function checkStore(path: string, text: string): StoreData {
  const journal = basename(journalPathOf(path));
  const broken = (what: string) =>
    new StoreFileError(
      `Store file ${path} ${what}`,
      `irbot will not overwrite it: restore it and ${journal} beside it from one backup, or move both away to start a new store`,
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
  if (version > STORE_VERSION) {
    throw new StoreFileError(
      `Store file ${path} was written by a newer irbot (schema ${version}, this one reads ${STORE_VERSION})`,
      'run that irbot version or a later one; this one will not overwrite it',
    );
  }
  if (typeof alerts !== 'object' || alerts === null || typeof seenEvents !== 'object' || seenEvents === null) {
    throw broken('does not hold an irbot store');
  }
  return data as StoreData;
}

interface Pending {
  change: (data: StoreData) => unknown;
  /** False: append without fsync; a later synced commit or `flush` makes it durable (TransactOptions). */
  sync: TransactOptions['sync'];
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** The store file as written: the data, and the generation of the journal that continues it. */
type Snapshot = StoreData & { generation?: number };

/** Which journal file, how long, changed when: equal stamps mean nobody appended since. */
interface JournalStamp {
  ino: bigint;
  size: number;
  mtimeNs: bigint;
}

/** The working set as snapshot plus journal put together, and where the journal stands. */
interface Loaded {
  state: StoreData;
  generation: number;
  /** Number of the last journal line applied. */
  seq: number;
  /** null: there is no journal of this generation yet. */
  journal: JournalStamp | null;
  /** The snapshot file read or written (its size included); a compaction by another process replaces it. */
  snapshot: JournalStamp | null;
  /** The next commit writes a new snapshot (new store, older schema, no journal of this generation). */
  compact: boolean;
  /** Each alert's fields as JSON as last committed, so that a transaction writes only what it changed. */
  heads: Map<string, Fields>;
}

/**
 * When the journal is folded into a new snapshot. A fresh process (a one-shot command) reads both, and replaying
 * a line costs it more than parsing the same bytes of snapshot: the journal is kept to a quarter of the snapshot
 * and a thousand lines, but allowed 256 KiB, so that a small store is not rewritten every few transactions.
 */
export const COMPACTION = { minBytes: 256 * 1024, ratio: 0.25, maxLines: 1000 } as const;

/** Whether a journal of this size and this many lines is to be folded into a snapshot of `snapshotBytes`. */
export function outgrown(journalBytes: number, lines: number, snapshotBytes: number): boolean {
  if (journalBytes <= COMPACTION.minBytes) return false;
  return journalBytes > snapshotBytes * COMPACTION.ratio || lines >= COMPACTION.maxLines;
}

export interface StoreOptions {
  /** Where the store says that it set a file open to other users to mode 0600 (once per file). */
  log?: Log | undefined;
  /** False: files open to other users are left as they are (for `irbot doctor`, which only looks). */
  tighten?: boolean;
}

/** How often `watch` looks at the store's files: events may land on another process. */
const WATCH_INTERVAL_MS = 100;

/** In the tests: after each commit, read the store back from disk and check it equals what is in memory. */
const VERIFY = process.env.IRBOT_STORE_VERIFY === '1';

/**
 * The embedded store. Its file (`irbot-db.json`, written through lowdb) is a snapshot; each transaction appends
 * one line with what it changed to the journal beside it (`irbot-db.journal`), under the lock, fsynced unless
 * asked not to. Once the journal has outgrown its share (see `COMPACTION`), the store writes a new snapshot
 * (temp, fsync, rename) and starts a new journal of the next generation.
 */
export function openLowdbStore(path: string, options: StoreOptions = {}): Store {
  const journalPath = journalPathOf(path);
  const guard = modeGuard(options);
  const file = new AtomicJsonFile(path, guard);
  /** lowdb writes the snapshot (under the lock, in one place); readers read it through the adapter, each their own. */
  const db = new Low<Snapshot>(file, emptyStore());
  /** What this handle last read or wrote, reused while the journal's stamp says nobody else wrote since. */
  let cache: Loaded | null = null;
  let queue: Pending[] = [];
  let running = false;
  /** The journal file this handle appended to without fsync since its last fsync, if any. */
  let unsynced: bigint | null = null;
  let directoryMade = false;

  const readSnapshot = async (): Promise<{ data: StoreData; generation: number; stamp: JournalStamp } | null> => {
    const read = await file.readStamped();
    if (!read) return null;
    const { generation = 0, ...data } = read.data as Snapshot;
    return { data, generation, stamp: read.stamp };
  };

  const damaged = (what: string) =>
    new StoreFileError(
      `Store journal ${journalPath} ${what}`,
      `irbot will not overwrite it: restore it and ${basename(path)} from one backup, or move it away to go on from ${basename(path)} without the changes it holds`,
    );
  /** A journal only ever follows its snapshot, and a snapshot is replaced by a rename, never removed. */
  const orphaned = () =>
    new StoreFileError(
      `Store journal ${journalPath} has no store file ${path} beside it (moved away?), and holds changes to that file only`,
      `put the store file back, or move ${basename(journalPath)} away too to start a new store`,
    );
  const ahead = (journal: number, snapshot: number) =>
    new StoreFileError(
      `Store journal ${journalPath} continues a later store file than ${path} (generation ${journal}, the file ${snapshot}: restored from an older backup?)`,
      `restore the two from one backup, or move ${basename(journalPath)} away to go on from ${basename(path)} as it is`,
    );

  /**
   * Snapshot and journal as on disk now. A writer (under the lock) backs up and migrates an older file and cuts
   * off a torn last line; a reader does neither, and gets `retry` when a compaction ran between its two reads.
   */
  const loadFromDisk = async (writer: boolean): Promise<Loaded | 'retry'> => {
    const snapshot = await readSnapshot();
    const state = snapshot?.data ?? emptyStore();
    const generation = snapshot?.generation ?? 0;
    let compact = snapshot === null;
    if (state.version < STORE_VERSION) {
      if (writer) {
        // Keep the old file as it was, once, before the first write in the new schema.
        const backup = backupPathOf(path, state.version);
        await copyFile(path, backup, constants.COPYFILE_EXCL).catch((err) => {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          if (fs.lstatSync(backup).isSymbolicLink()) throw linkRefused(backup);
        });
        compact = true;
      }
      migrate(state, STORE_VERSION); // a reader migrates in memory only
    }
    const loaded: Loaded = {
      state,
      generation,
      seq: 0,
      journal: null,
      snapshot: snapshot?.stamp ?? null,
      compact,
      heads: new Map(),
    };
    const handle = await openStoreFile(journalPath, writer ? constants.O_RDWR : constants.O_RDONLY);
    if (!handle) return { ...loaded, compact: true };
    try {
      const st = await handle.stat({ bigint: true });
      await guard.opened(journalPath, st.mode, (mode) => handle.chmod(mode));
      const bytes = await handle.readFile();
      // A reader that found no snapshot, or an older one than the journal, may have looked just before a
      // compaction replaced it: if the file is another one now, it reads again. Otherwise the journal is not its.
      const replaced = () => !writer && !sameStamp(statFile(path), loaded.snapshot);
      if (snapshot === null) {
        if (replaced()) return 'retry';
        throw orphaned();
      }
      const firstBreak = bytes.indexOf(0x0a);
      const header = firstBreak < 0 ? null : parseHeader(bytes.subarray(0, firstBreak).toString('utf8'));
      if (!header) throw damaged('does not start with its header line');
      if (header.generation > generation) {
        if (replaced()) return 'retry';
        throw ahead(header.generation, generation);
      }
      // A journal older than the snapshot was folded into it by a compaction that stopped before replacing it.
      if (header.generation < generation) return { ...loaded, compact: true };
      const complete = bytes.lastIndexOf(0x0a) + 1;
      const lines = linesOf(bytes.subarray(firstBreak + 1, complete));
      try {
        applyLines(state, lines, { g: generation, q: 1 });
      } catch (err) {
        if (err instanceof JournalDamage) throw damaged(`is damaged: ${err.message}`);
        throw err;
      }
      const seq = lines.length;
      // A crash mid-append leaves a torn last line, never committed: a writer cuts it off before appending.
      if (writer && complete < bytes.length) await handle.truncate(complete);
      return { ...loaded, seq, journal: stampOf(await handle.stat({ bigint: true })) };
    } finally {
      await handle.close();
    }
  };

  const read = async (): Promise<StoreData> => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const loaded = await loadFromDisk(false);
      if (loaded !== 'retry') return loaded.state;
    }
    throw new Error(`Store ${path} kept being compacted while it was read; try again`);
  };

  /** Under the lock: the working set, from memory when the journal says nobody wrote since, else caught up. */
  const load = async (): Promise<Loaded> => {
    const now = statFile(journalPath);
    // A compaction that stopped between its two writes leaves the journal as it was: the snapshot tells.
    const snapshot = statFile(path);
    const current = cache?.snapshot && snapshot && sameStamp(cache.snapshot, snapshot);
    if (current && cache?.journal && now && sameStamp(cache.journal, now)) return cache;
    if (current && cache?.journal && now && now.ino === cache.journal.ino && now.size > cache.journal.size) {
      const caughtUp = await catchUp(cache, cache.journal).catch(() => null);
      if (caughtUp) return caughtUp;
    }
    cache = null;
    const loaded = await loadFromDisk(true);
    if (loaded === 'retry') throw new Error('unreachable: a writer never retries');
    cache = loaded;
    return loaded;
  };

  /** Applies the lines other processes appended since this handle last looked; null when they do not follow on. */
  const catchUp = async (loaded: Loaded, from: JournalStamp): Promise<Loaded | null> => {
    const handle = await openStoreFile(journalPath, constants.O_RDWR);
    if (!handle) return null;
    try {
      const st = await handle.stat({ bigint: true });
      if (st.ino !== from.ino) return null;
      const tail = Buffer.alloc(Number(st.size) - from.size);
      await handle.read(tail, 0, tail.length, from.size);
      const complete = tail.lastIndexOf(0x0a) + 1;
      const lines = linesOf(tail.subarray(0, complete));
      applyLines(loaded.state, lines, { g: loaded.generation, q: loaded.seq + 1 });
      const seq = loaded.seq + lines.length;
      loaded.heads.clear();
      if (complete < tail.length) await handle.truncate(from.size + complete);
      loaded.seq = seq;
      loaded.journal = stampOf(await handle.stat({ bigint: true }));
      return loaded;
    } catch {
      return null;
    } finally {
      await handle.close();
    }
  };

  /** Writes the working set as a new snapshot, then a fresh journal of the next generation. */
  const compact = async (loaded: Loaded): Promise<void> => {
    // The files as this handle loaded them, or another process wrote since (see `stillOurs`).
    stillOurs(loaded.snapshot, statFile(path), path);
    // A journal of an older generation (a compaction stopped before replacing it) is left as it is, and replaced.
    if (loaded.journal !== null) stillOurs(loaded.journal, statFile(journalPath), journalPath);
    const generation = loaded.generation + 1;
    for (const left of removeLeftoverTemps([path, journalPath])) {
      options.log?.(`removed ${left}, left by an irbot that stopped while writing it`, { event: 'store_temp_removed' });
    }
    db.data = { ...loaded.state, generation };
    await db.write();
    // Committed: the snapshot holds it all, fsynced.
    unsynced = null;
    loaded.generation = generation;
    loaded.snapshot = statFile(path);
    loaded.seq = 0;
    loaded.journal = null;
    loaded.compact = true;
    // A crash or a failure here leaves the old journal, older than the snapshot: it is ignored, and the next
    // commit writes both again.
    const started = await writeAtomically(journalPath, headerLine(generation)).then(
      () => true,
      () => false,
    );
    if (!started) return;
    loaded.journal = statFile(journalPath);
    loaded.compact = loaded.journal === null;
  };

  /**
   * Appends one line and fsyncs; on failure the journal is cut back to where it was. Synchronous calls: each
   * takes microseconds (the fsync a fraction of a millisecond), less than a round trip through libuv's pool.
   */
  const append = async (loaded: Loaded, journal: JournalStamp, line: string, sync: boolean): Promise<void> => {
    const fd = openStoreFileSync(journalPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
    try {
      // Before the `try` that cuts a failed append back: what another process wrote is not this one's to cut.
      stillOurs(journal, stampOf(fs.fstatSync(fd, { bigint: true })), journalPath);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    try {
      writeAll(fd, line);
      if (sync) {
        unsynced = null;
        fdatasync(fd);
      } else unsynced = journal.ino;
      const st = fs.fstatSync(fd, { bigint: true });
      if (looseBits(st.mode) !== 0) await guard.opened(journalPath, st.mode, (mode) => fs.fchmodSync(fd, mode));
      loaded.journal = stampOf(st);
      loaded.seq++;
    } catch (err) {
      try {
        fs.ftruncateSync(fd, journal.size);
      } catch {
        // The next writer reads the journal again and cuts off what does not follow on.
      }
      throw err;
    } finally {
      fs.closeSync(fd);
    }
  };

  /** The store's folder (made once) and its lock. */
  const locked = async () => {
    if (!directoryMade) {
      // Only irbot's user needs to see into a folder it makes.
      await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((err: unknown) => {
        throw notAFile(path, err);
      });
      directoryMade = true;
    }
    return lockStore(path);
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
        const release = await locked().catch((err) => {
          for (const p of batch) p.reject(err);
          return null;
        });
        if (!release) continue;
        try {
          await commit(batch);
        } finally {
          // A lock that cannot be released is stale to the others after a while; this handle goes on.
          await release().catch(() => undefined);
        }
      }
    } finally {
      running = false;
    }
  };

  const commit = async (batch: Pending[]): Promise<void> => {
    let loaded: Loaded;
    try {
      loaded = await load();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    const tracked = track(loaded.state, loaded.heads);
    const results: unknown[] = [];
    try {
      for (const p of batch) results.push(p.change(tracked.view));
    } catch (err) {
      cache = null; // the data holds part of a failed change: it is dropped and read again from disk
      if (batch.length === 1) batch[0]?.reject(err);
      else for (const p of batch) await commit([p]);
      return;
    }
    try {
      const { archiving } = tracked.view;
      const { line, replaced } = tracked.finish(loaded.generation, loaded.seq + 1);
      // Archive first: a crash between the two leaves an alert in both, and the working copy wins on reading.
      if (archiving && Object.keys(archiving).length > 0)
        await appendArchive(archivePathOf(path), Object.values(archiving), guard);
      const { journal } = loaded;
      const sync = batch.some((p, i) => syncWanted(p.sync, results[i]));
      if (loaded.compact || replaced || !journal) await compact(loaded);
      else if (line) await append(loaded, journal, line, sync);
      else if (sync) await flush();
      if (VERIFY) await verify(loaded.state);
      for (const [i, p] of batch.entries()) p.resolve(results[i]);
    } catch (err) {
      cache = null;
      for (const p of batch) p.reject(err);
      return;
    }
    // An outgrown journal is folded into a new snapshot after the callers have their answer, still under the
    // lock: the next transaction waits for it rather than this one. It yields first, so that the callers'
    // continuations (a post to Slack, a call to the LLM) are under way while it writes.
    if (cache === loaded && outgrown(loaded.journal?.size ?? 0, loaded.seq, loaded.snapshot?.size ?? 0)) {
      await new Promise((resolve) => setImmediate(resolve));
      await compact(loaded).catch(() => {
        cache = null;
      });
    }
  };

  /** Makes what this handle appended without fsync durable; a compaction since made it durable already. */
  const flush = async (): Promise<void> => {
    const ino = unsynced;
    if (ino === null) return;
    unsynced = null;
    let fd: number;
    try {
      fd = openStoreFileSync(journalPath, constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      unsynced ??= ino; // still to be made durable: the next flush tries again
      throw err;
    }
    try {
      if (fs.fstatSync(fd, { bigint: true }).ino === ino) fdatasync(fd);
    } catch (err) {
      // An fsync that failed (EIO) made nothing durable: the next flush tries again, rather than thinking it done.
      unsynced ??= ino;
      throw err;
    } finally {
      fs.closeSync(fd);
    }
  };

  /** Test aid: what is on disk must equal what this handle holds. */
  const verify = async (state: StoreData): Promise<void> => {
    const disk = await loadFromDisk(false);
    if (disk === 'retry' || !isDeepStrictEqual(disk.state, state)) {
      const ids = new Set([...Object.keys(state.alerts), ...(disk === 'retry' ? [] : Object.keys(disk.state.alerts))]);
      const differs =
        disk === 'retry' ? [] : [...ids].filter((id) => !isDeepStrictEqual(disk.state.alerts[id], state.alerts[id]));
      throw new Error(`store ${path}: the journal lost a change (alerts that differ: ${differs.join(', ') || 'none'})`);
    }
  };

  return {
    path,
    files: [path, journalPath],
    read,
    readArchive: () => readArchive(archivePathOf(path), guard, undefined, (alert) => alert),
    scanFacts: (createdSince) => readArchiveFacts(archivePathOf(path), guard, createdSince),
    flush,
    watch(onChange) {
      // Polled stats, not fs.watch: a compaction replaces the snapshot by a rename, which an inotify watch loses.
      const listener = () => onChange();
      for (const file of [path, journalPath]) fs.watchFile(file, { interval: WATCH_INTERVAL_MS }, listener);
      return () => {
        for (const file of [path, journalPath]) fs.unwatchFile(file, listener);
      };
    },
    transact<T>(change: (data: StoreData) => T, options: TransactOptions<T> = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const sync = options.sync as TransactOptions['sync'];
        queue.push({ change, sync, resolve: resolve as (value: unknown) => void, reject });
        if (!running) void runQueue();
      });
    },
  };
}

function stampOf(st: { ino: bigint; size: bigint; mtimeNs: bigint }): JournalStamp {
  return { ino: st.ino, size: Number(st.size), mtimeNs: st.mtimeNs };
}

/** The journal lines in `bytes` (whole lines only), without the empty ones. */
function linesOf(bytes: Buffer): string[] {
  return bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '');
}

/** The stamp of a file (of a link itself, never its target), or null when there is none. Synchronous: microseconds. */
/**
 * Another process wrote `path` since this handle loaded it, under the lock both thought they held: this one was
 * paused (SIGSTOP, a frozen VM, a long synchronous stretch) past the lock's stale time, and the other took it over.
 * What this one was about to write would collide with that (a journal line of the same number: a damaged journal)
 * or wipe it out (a snapshot from the old state): it is written nowhere, and the change fails.
 */
export class LockTakenOver extends Error {
  override readonly name = 'LockTakenOver';

  constructor(path: string) {
    super(
      `${path} changed while this process held the store's lock: it was paused past the lock's 10 s and another irbot took the lock over; this change was not written (try it again)`,
    );
  }
}

/** Throws LockTakenOver when the file is not as loaded (`null`: there was none). */
function stillOurs(loaded: JournalStamp | null, now: JournalStamp | null, path: string): void {
  if (loaded === null && now === null) return;
  // Only the file's identity and length: its time moves with an fsync of what this handle appended before.
  if (loaded === null || now === null || loaded.ino !== now.ino || loaded.size !== now.size) {
    throw new LockTakenOver(path);
  }
}

function statFile(path: string): JournalStamp | null {
  try {
    return stampOf(fs.lstatSync(path, { bigint: true }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function sameStamp(a: JournalStamp | null, b: JournalStamp | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/**
 * Temp file, fsync, rename: a reader sees the old file or the new one, never part of one. Mode 0600. Synchronous
 * like the journal's appends (see `fdatasync`): it runs under the lock, with the next commit waiting for it.
 */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      writeAll(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, path);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  // The rename itself is durable once the folder is: without this a power cut could undo it.
  syncFolder(dirname(path));
}

/** Writes all of `text` (a full disk can take part of it and say so), or throws. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) {
    const wrote = fs.writeSync(fd, bytes, done, bytes.length - done);
    if (wrote <= 0) throw new Error(`could not write to the store (${done} of ${bytes.length} bytes written)`);
    done += wrote;
  }
}
