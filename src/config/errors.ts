// The one error type a user fixes in env, config.toml, alerts.toml or the arguments: exit 2, one line.
import { neutraliseLine } from '../untrusted-text.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** What is wrong with one value of config.toml; the parser adds the file and the key. */
export class Invalid extends Error {}

/**
 * Quotes a value from a file for a message: control characters escaped as in JSON (`\n`, `\u001b`, `\u009b`), so
 * the message stays on one line and no terminal obeys it; bidi and invisible characters shown (`<U+202E>`).
 */
export function quote(value: string): string {
  const escaped = value.replace(/\p{Cc}/gu, (c) =>
    c < ' ' ? JSON.stringify(c).slice(1, -1) : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return `'${neutraliseLine(escaped)}'`;
}
