// The store's files on disk: their names, opened without following a symbolic link, kept at mode 0600.
import fs, { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../config/errors.js';
import type { Log } from '../log.js';

/** Readable and writable by irbot's user only: the store holds what people said. */
export const PRIVATE_MODE = 0o600;

/** A store file that cannot be used as it is: what is wrong with it, and what to do. Exit 2, like a bad config. */
export class StoreFileError extends ConfigError {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}: ${fix}`);
  }
}

/** `irbot-db.json` → `irbot-db.journal`, beside it. */
export function journalPathOf(path: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -'.json'.length)}.journal` : `${path}.journal`;
}

/** `irbot-db.json` → `irbot-db.archive.ndjson`, beside it. */
export function archivePathOf(path: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -'.json'.length)}.archive.ndjson` : `${path}.archive.ndjson`;
}

/** The lock proper-lockfile takes: a folder beside the store file. */
export function lockPathOf(path: string): string {
  return `${path}.lock`;
}

/** The copy of the store file kept before a migration from schema `version`. */
export function backupPathOf(path: string, version: number): string {
  return `${path}.v${version}.bak`;
}

/** `irbot-db.archive.ndjson` → `irbot-db.archive-facts.ndjson`, beside it. */
export function factsPathOf(archiveFile: string): string {
  return `${archiveFile.replace(/(\.archive)?\.ndjson$/, '')}.archive-facts.ndjson`;
}

/** The store's files in its folder now: snapshot, journal, archive, its facts and backups (those that exist), and the lock. */
export function storeFilesIn(path: string): { files: string[]; lock: string } {
  const name = basename(path);
  let names: string[];
  try {
    names = fs.readdirSync(dirname(path));
  } catch {
    names = [];
  }
  const backup = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.v\\d+\\.bak$`);
  const candidates = [path, journalPathOf(path), archivePathOf(path), factsPathOf(archivePathOf(path))];
  const files = [
    ...candidates.filter((file) => names.includes(basename(file))),
    ...names.filter((n) => backup.test(n)).map((n) => join(dirname(path), n)),
  ];
  return { files, lock: lockPathOf(path) };
}

/**
 * Removes the temporary files `writeAtomically` leaves when its process dies between creating and renaming one
 * (`irbot-db.json.<pid>.<hex>.tmp`, a whole snapshot each). Called by a writer under the store's lock, when no
 * other process may be writing one: any found then is left over.
 */
export function removeLeftoverTemps(files: readonly string[]): string[] {
  const removed: string[] = [];
  for (const file of files) {
    const name = basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const temp = new RegExp(`^${name}\\.\\d+\\.[0-9a-f]{8}\\.tmp$`);
    let names: string[];
    try {
      names = fs.readdirSync(dirname(file));
    } catch {
      continue;
    }
    for (const found of names.filter((n) => temp.test(n))) {
      const path = join(dirname(file), found);
      fs.rmSync(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}

/**
 * Makes the folder's entries durable (a file created or renamed in it): without this a power cut can lose the
 * new name though the file's own bytes were fsynced.
 */
export function syncFolder(folder: string): void {
  const fd = fs.openSync(folder, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The one-line refusal of a store file that is a symbolic link. */
export function linkRefused(file: string): StoreFileError {
  return new StoreFileError(
    `Store file ${file} is a symbolic link, which irbot does not follow (it would write to the link's target, or replace the link)`,
    'set database_path to the folder the store really is in, or replace the link with the file itself',
  );
}

/** O_NOFOLLOW refuses a symbolic link as the last part of the path with ELOOP (Linux, macOS; 0 where there is none). */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** A store path that cannot be a file: one of its folders is a file, or it is a folder itself. */
export function notAFile(file: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new StoreFileError(
      `Store file ${file} cannot be made: a folder on its path is a file`,
      'set database_path to a file in a folder',
    );
  }
  return code === 'EISDIR' ? folderRefused(file) : err;
}

export function folderRefused(file: string): StoreFileError {
  return new StoreFileError(`Store file ${file} is a folder`, 'set database_path to a file in it, e.g. irbot-db.json');
}

function refusingLinks(file: string, err: unknown): unknown {
  return (err as NodeJS.ErrnoException).code === 'ELOOP' ? linkRefused(file) : notAFile(file, err);
}

/** open(2) of a store file that never follows a link in its last part; new files get mode 0600. */
export function openStoreFileSync(file: string, flags: number): number {
  try {
    return fs.openSync(file, flags | NOFOLLOW, PRIVATE_MODE);
  } catch (err) {
    throw refusingLinks(file, err);
  }
}

/** As `openStoreFileSync`; null when the file does not exist. */
export async function openStoreFile(file: string, flags: number): Promise<FileHandle | null> {
  try {
    return await open(file, flags | NOFOLLOW, PRIVATE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw refusingLinks(file, err);
  }
}

/** Refuses a symbolic link at `file` (lstat); any other kind of file, or none, passes. */
export function refuseLink(file: string): void {
  let link = false;
  try {
    link = fs.lstatSync(file).isSymbolicLink();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (link) throw linkRefused(file);
}

/** Mode bits that let other users read or write a file. */
export const looseBits = (mode: number | bigint): number => Number(mode) & 0o077;

export interface ModeGuard {
  /**
   * A store file was opened with `mode`: when others may read or write it, `chmod` sets it to 0600 and the log
   * says so once per file. Never throws: a file irbot's user does not own is reported and used as it is.
   */
  opened(file: string, mode: number | bigint, chmod: (mode: number) => void | Promise<void>): Promise<void>;
}

/** Tightens loose store files as they are opened (`tighten: false`: leaves them, for a check that only looks). */
export function modeGuard(options: { tighten?: boolean; log?: Log | undefined }): ModeGuard {
  const told = new Set<string>();
  const tell = (file: string, message: string) => {
    if (told.has(file)) return;
    told.add(file);
    options.log?.(message, { event: 'store_mode', level: 'warn' });
  };
  return {
    async opened(file, mode, chmod) {
      if (options.tighten === false || looseBits(mode) === 0) return;
      const was = (Number(mode) & 0o777).toString(8).padStart(4, '0');
      try {
        await chmod(PRIVATE_MODE);
        tell(file, `Store file ${file} was mode ${was}, open to other users: set it to 0600`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        tell(
          file,
          `Store file ${file} is mode ${was}, open to other users, and could not be set to 0600 (${code}): chmod 600 ${file}`,
        );
      }
    },
  };
}
