// A PostgreSQL connection URL: recognised, checked, and shown with its password hidden.
import { ConfigError } from '../../config/errors.js';

/** Whether `value` names a PostgreSQL database rather than a file. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** Checks a URL from `source` (a config key or variable name, named in the message; the value never is). */
export function checkPostgresUrl(value: string, source: string): string {
  if (!isPostgresUrl(value)) {
    throw new ConfigError(
      `${source} must be a PostgreSQL URL starting with postgres:// or postgresql://, e.g. postgres://db.example:5432/irbot`,
    );
  }
  try {
    new URL(value);
  } catch {
    throw new ConfigError(`${source} is not a valid URL: write it as postgres://user:password@host:5432/database`);
  }
  return value;
}

/** The URL with its password (and any `password=` parameter) replaced by `***`: safe to print and log. */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'postgres://(unparsable URL)';
  }
  if (url.password) url.password = '***';
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return url.toString();
}
