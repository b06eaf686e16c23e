// What PostgreSQL's failures mean to the person running irbot: a database it cannot use (exit 2, one line with
// the fix) or a runtime failure (exit 1) carrying PostgreSQL's error code (SQLSTATE).
import { ConfigError } from '../../config/errors.js';

/** A database irbot cannot use as it is: what is wrong, and what to do. Exit 2, like a bad config. */
export class PgStoreError extends ConfigError {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}: ${fix}`);
  }
}

/** A failure of a statement at run time: exit 1, with the SQLSTATE. */
export class PgRuntimeError extends Error {
  override readonly name = 'PgRuntimeError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Node's and PostgreSQL's codes for "there is no server there, or it will not let irbot in". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
/** SQLSTATE 28000 invalid authorization, 28P01 invalid password. */
const AUTH = new Set(['28000', '28P01']);
/** SQLSTATE 3D000 invalid catalog name: no such database. */
const NO_DATABASE = '3D000';

/** Maps an error of `pg` on the database at `where` (its redacted URL) to one of the two kinds above. */
export function pgError(err: unknown, where: string): Error {
  if (err instanceof PgStoreError || err instanceof PgRuntimeError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new PgStoreError(
      `PostgreSQL at ${where} cannot be reached (${code})`,
      'start the server, or fix the host and port in database_url / DATABASE_URL',
    );
  }
  if (typeof code === 'string' && AUTH.has(code)) {
    return new PgStoreError(
      `PostgreSQL at ${where} refused irbot's login (SQLSTATE ${code})`,
      "fix the user and password in database_url / DATABASE_URL, or the server's pg_hba.conf",
    );
  }
  if (code === NO_DATABASE) {
    return new PgStoreError(
      `PostgreSQL at ${where} has no such database (SQLSTATE ${code})`,
      'create it (createdb), or fix the database name in database_url / DATABASE_URL',
    );
  }
  const sqlstate = typeof code === 'string' ? code : undefined;
  return new PgRuntimeError(`PostgreSQL error${sqlstate ? ` ${sqlstate}` : ''} on ${where}: ${message}`, sqlstate);
}
