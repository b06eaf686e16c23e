// The store's inter-process lock: proper-lockfile (a lock directory, stale after a crash), with its few metadata
// calls made synchronously. Each takes microseconds; a round trip through libuv's thread pool costs ten times
// that, and every transaction takes and releases the lock.
import fs from 'node:fs';
import type Lockfile from 'proper-lockfile';
import { requireCjs } from '../cjs.js';
import { lockPathOf, refuseLink } from './files.js';

/** Loaded on the first lock: a command that only reads the store (status, report, transcript) never takes it. */
let lockfile: typeof Lockfile | undefined;
const lockfileOf = (): typeof Lockfile => {
  lockfile ??= requireCjs('proper-lockfile') as typeof Lockfile;
  return lockfile;
};

type Callback<T> = (err: NodeJS.ErrnoException | null, value?: T) => void;

/** Runs a synchronous fs call and answers like its callback form, on the next tick (callers expect async). */
function later<T>(call: () => T, callback: Callback<T>): void {
  let value: T;
  try {
    value = call();
  } catch (err) {
    process.nextTick(callback, err as NodeJS.ErrnoException);
    return;
  }
  process.nextTick(callback, null, value);
}

const syncFs = {
  mkdir: (path: string, callback: Callback<void>) => later(() => fs.mkdirSync(path), callback),
  rmdir: (path: string, callback: Callback<void>) => later(() => fs.rmdirSync(path), callback),
  stat: (path: string, callback: Callback<fs.Stats>) => later(() => fs.statSync(path), callback),
  utimes: (path: string, atime: Date, mtime: Date, callback: Callback<void>) =>
    later(() => fs.utimesSync(path, atime, mtime), callback),
  realpath: (path: string, callback: Callback<string>) => later(() => fs.realpathSync(path), callback),
  rmdirSync: (path: string) => fs.rmdirSync(path),
  statSync: (path: string) => fs.statSync(path),
};

const OPTIONS = {
  // The lock may exist before the store file does.
  realpath: false,
  // A crashed holder's lock is taken over after this long (the holder refreshes it while it lives).
  stale: 10_000,
  fs: syncFs,
};

/** Takes the lock of `path` (its directory `path.lock`), waiting for another holder; resolves to its release. */
export async function lockStore(path: string): Promise<() => Promise<void>> {
  try {
    // First without retries: the retry schedule costs more to set up than an uncontended lock takes.
    return await lockfileOf().lock(path, OPTIONS);
  } catch (err) {
    // A link in place of the lock would be taken for a lock held, or a stale one removed through it.
    refuseLink(lockPathOf(path));
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    return lockfileOf().lock(path, {
      ...OPTIONS,
      retries: { retries: 1000, factor: 1.2, minTimeout: 2, maxTimeout: 50 },
    });
  }
}
