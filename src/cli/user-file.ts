// Files a command writes where the person says (init's .env and config.toml, report --html): never through a
// symbolic link, and a path that cannot be written is told as a ConfigError before anything is written.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../config/errors.js';

/** What is at a path: nothing, a file, a symbolic link, or a link whose target does not exist. */
export type TargetKind = 'none' | 'file' | 'link' | 'dangling';

/**
 * What is at `path`, once it is known that it can be written: its folder exists and it is not a folder itself.
 * `fix` ends the message of a path that cannot be, e.g. `give --html a file in an existing folder`.
 */
export async function inspectTarget(path: string, fix: string): Promise<TargetKind> {
  const folder = dirname(path);
  const parent = await stat(folder).catch((err: NodeJS.ErrnoException) => {
    throw pathError(path, err, fix);
  });
  if (!parent.isDirectory()) throw pathError(path, { code: 'ENOTDIR' }, fix);
  let kind: TargetKind;
  try {
    const found = await lstat(path);
    if (found.isDirectory()) throw pathError(path, { code: 'EISDIR' }, fix);
    kind = found.isSymbolicLink() ? 'link' : 'file';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
  if (kind === 'link')
    return stat(path).then(
      () => 'link' as const,
      () => 'dangling' as const,
    );
  return kind;
}

/**
 * Writes `text` to `path`, created with `mode`, never through a symbolic link (O_NOFOLLOW: one put there since the
 * command looked is refused too). `flags`: O_TRUNC to replace a file in place, O_EXCL to make a new one only.
 * `chmod`: also set `mode` on a file that exists, which open leaves as it was.
 */
export async function writeNoFollow(
  path: string,
  text: string,
  options: { flags: number; mode: number; chmod?: boolean; fix: string },
): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | options.flags;
  const handle = await open(path, flags, options.mode).catch((err: NodeJS.ErrnoException) => {
    throw pathError(path, err, options.fix);
  });
  try {
    if (options.chmod) await handle.chmod(options.mode);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with a private (0600) file holding `text`: written whole to a new file beside it, then renamed
 * over it, so a failure midway (a full disk) leaves the old file, or none, and never half of the new one; a link
 * at `path` is refused, and one put there meanwhile is replaced, not written through.
 */
export async function replacePrivateFile(path: string, text: string, fix: string): Promise<void> {
  await checkReplaceable(path, fix);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeNoFollow(temp, text, { flags: constants.O_EXCL, mode: 0o600, chmod: true, fix });
    await rename(temp, path).catch((err: NodeJS.ErrnoException) => {
      throw pathError(path, err, fix);
    });
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Refuses, before any work, what replacePrivateFile would: a path in no folder, a folder, a symbolic link. */
export async function checkReplaceable(path: string, fix: string): Promise<void> {
  const kind = await inspectTarget(path, fix);
  if (kind === 'link' || kind === 'dangling') throw pathError(path, { code: 'ELOOP' }, fix);
}

/** The one line for a path that cannot be written, or `err` itself when the person cannot fix it. */
export function pathError(path: string, err: { code?: string | undefined }, fix: string): Error {
  switch (err.code) {
    case 'ELOOP':
      return new ConfigError(
        `${path} is a symbolic link, and irbot never writes through one: remove it or name another file`,
      );
    case 'EEXIST':
      return new ConfigError(`${path} was created by something else while irbot ran: run the command again`);
    case 'ENOENT':
      return new ConfigError(`${path}: the folder ${dirname(path)} does not exist: create it or ${fix}`);
    case 'ENOTDIR':
      return new ConfigError(`${path}: ${dirname(path)} is not a folder: ${fix}`);
    case 'EISDIR':
    case 'ENOTEMPTY':
      return new ConfigError(`${path} is a folder, not a file: ${fix}`);
    case 'EACCES':
    case 'EPERM':
      return new ConfigError(`${path} cannot be written (permission denied): ${fix}`);
    default:
      return err instanceof Error ? err : new Error(`${path}: ${err.code}`);
  }
}
